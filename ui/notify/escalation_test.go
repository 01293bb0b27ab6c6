package notify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// poke makes every destination try now, as the escalation's retry timer would once the
// hub's clock, which the test moves, had passed the deadline.
func (n *Notifier) poke() {
	select {
	case n.remindWake <- struct{}{}:
	default:
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.dests {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func TestNotifier_EscalationBySMS(t *testing.T) {
	srv := newNtfyServer(t)
	sim := newSimModem(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL,
		Recipient{User: "anna", Lang: "sv", Ntfy: "anna", SMS: "+46701234567"}, // admin
		Recipient{User: "erik", Lang: "en", Events: []string{ClassArming}, Ntfy: "erik", SMS: "+46709876543"},
	)
	cfg.SMS = ModemConfig{Device: sim.Path, Baud: 115200, Timeout: hub.Duration(2 * time.Second), Attempts: 2}
	n, _ := startNotifier(t, cfg, h, clock)
	smsStatus := func(user string) ChannelStatus {
		for _, c := range n.Status().Channels {
			if c.User == user && c.Channel == ChannelSMS {
				return c
			}
		}
		t.Fatalf("no sms status for %s", user)
		return ChannelStatus{}
	}

	// A fire nobody acknowledges: ntfy at once, SMS after escalate_after.
	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	hubtest.Eventually(t, "fire by ntfy", func() bool { return len(srv.got()) == 1 })
	hubtest.Eventually(t, "SMS waits", func() bool { return smsStatus("anna").Waiting })
	clock.Add(time.Minute)
	n.poke()
	time.Sleep(50 * time.Millisecond)
	if got := sim.messages(); len(got) != 0 {
		t.Fatalf("SMS before escalate_after: %q", got)
	}
	clock.Add(time.Minute + time.Second)
	n.poke()
	hubtest.Eventually(t, "fire escalated by SMS", func() bool { return len(sim.messages()) == 1 })
	if got := sim.messages()[0]; got != "+46701234567: BRAND: Kitchen smoke (House) 18:00. Svara OK för att kvittera." {
		t.Errorf("SMS %q", got)
	}
	if smsStatus("anna").Waiting {
		t.Error("still waiting after the escalation")
	}
	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: false})
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowWeb}) // silences
	do(t, h, hub.Input{Kind: hub.InAcknowledge, Area: 1, User: "anna", How: hub.HowWeb})

	// A burglary disarmed within escalate_after: ntfy at once, never an SMS; the disarm
	// goes to erik by ntfy and SMS, since he chose arming news.
	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb})
	do(t, h, hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true})
	hubtest.Eventually(t, "burglary by ntfy", func() bool {
		return slices.ContainsFunc(srv.got(), func(r ntfyRequest) bool { return r.Title == "INBROTT" })
	})
	clock.Add(time.Minute)
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowWeb})
	clock.Add(2 * time.Minute)
	n.poke()
	hubtest.Eventually(t, "erik's SMS of the arm and the disarm", func() bool { return len(sim.messages()) == 3 })
	time.Sleep(50 * time.Millisecond)
	for _, m := range sim.messages()[1:] {
		if !strings.HasPrefix(m, "+46709876543: ") {
			t.Errorf("unexpected SMS %q", m)
		}
	}
	hubtest.Eventually(t, "anna's SMS cursor past the burglary", func() bool { return !smsStatus("anna").Waiting })
}

// alarmSeen returns the alarm_seen events in the log.
func alarmSeen(t *testing.T, h *hub.Hub) []hub.Event {
	t.Helper()
	evs, err := h.Store().Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []hub.Event
	for _, ev := range evs {
		if ev.Kind == hub.KindAlarmSeen {
			out = append(out, ev)
		}
	}
	return out
}

// TestNotifier_AckBySMSReply: anna answers a fire's ntfy notice by SMS "ok": the history
// says she saw it by SMS, and nobody gets the escalation SMS. A reply from an unknown
// number, or one that says something else, acknowledges nothing.
func TestNotifier_AckBySMSReply(t *testing.T) {
	srv := newNtfyServer(t)
	sim := newSimModem(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL,
		Recipient{User: "anna", Lang: "sv", Ntfy: "anna", SMS: "+46701234567"},
		Recipient{User: "erik", Lang: "en", Events: []string{ClassAlarm}, SMS: "+46709876543"},
	)
	cfg.SMS = ModemConfig{Device: sim.Path, Baud: 115200, Timeout: hub.Duration(2 * time.Second), Attempts: 2, Poll: hub.Duration(10 * time.Minute)}
	n, _ := startNotifier(t, cfg, h, clock)
	readInbox := func() {
		n.modem.incoming <- struct{}{}
		hubtest.Eventually(t, "inbox read", func() bool { return sim.stored() == 0 })
	}

	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	hubtest.Eventually(t, "fire by ntfy", func() bool { return len(srv.got()) == 1 })
	sim.receive("+46700000000", "OK")    // a stranger
	sim.receive("+46709876543", "what?") // erik, not an acknowledgement
	readInbox()
	if seen := alarmSeen(t, h); len(seen) != 0 {
		t.Fatalf("acknowledged by %+v", seen)
	}
	sim.receive("0046701234567", "ok")
	readInbox()
	hubtest.Eventually(t, "anna's acknowledgement logged", func() bool { return len(alarmSeen(t, h)) == 1 })
	if ev := alarmSeen(t, h)[0]; ev.User != "anna" || ev.How != hub.HowSMS || ev.Area != 1 || ev.Note != "SMS from 0046701234567" {
		t.Errorf("event %+v", ev)
	}
	if a := h.Snapshot().State.Areas[0]; len(a.FireMemory) == 0 {
		t.Error("the alarm memory is the panel's: an SMS reply must not clear it")
	}
	clock.Add(3 * time.Minute)
	n.poke()
	hubtest.Eventually(t, "SMS cursors past the fire", func() bool {
		last, _ := h.Store().LastSeq()
		a, _, _ := h.Store().Cursor("notify/anna/sms")
		e, _, _ := h.Store().Cursor("notify/erik/sms")
		return a == last && e == last
	})
	if got := sim.messages(); len(got) != 0 {
		t.Errorf("escalated after the acknowledgement: %q", got)
	}
}

// TestNotifier_AckInPushover: anna acknowledges the fire in the Pushover app; the receipt
// poll logs it as hers, by Pushover, on her device, and erik's SMS escalation stops.
func TestNotifier_AckInPushover(t *testing.T) {
	po := newPushoverServer(t)
	sim := newSimModem(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := DefaultConfig()
	cfg.Pushover.Token, cfg.Pushover.API = poToken, po.URL
	cfg.SMS = ModemConfig{Device: sim.Path, Baud: 115200, Timeout: hub.Duration(2 * time.Second), Attempts: 2}
	cfg.Recipients = []Recipient{
		{User: "anna", Lang: "sv", PushoverUser: poUser},
		{User: "erik", Lang: "en", Events: []string{ClassAlarm}, SMS: "+46709876543"},
	}
	n, err := New(cfg, h, Options{Now: clock.Now, Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	n.pushover.cfg.Poll = hub.Duration(10 * time.Millisecond) // below the config's bound, for the test
	n.minRetry = 10 * time.Millisecond
	hubtest.Run(t, "notify", n.Run)
	hubtest.Eventually(t, "cursors", func() bool {
		_, ok, _ := h.Store().Cursor("notify/erik/sms")
		return ok
	})
	hubtest.Eventually(t, "pushover running", func() bool { n.pushover.mu.Lock(); defer n.pushover.mu.Unlock(); return n.pushover.running })

	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	hubtest.Eventually(t, "acknowledged in Pushover", func() bool { return len(alarmSeen(t, h)) == 1 })
	if got := po.got(); len(got) != 1 || got[0].Get("priority") != "2" {
		t.Fatalf("pushover got %v", got)
	}
	if ev := alarmSeen(t, h)[0]; ev.User != "anna" || ev.How != hub.HowPushover || ev.Area != 1 || ev.Note != "Pushover on annas-iphone" {
		t.Errorf("event %+v", ev)
	}
	clock.Add(3 * time.Minute)
	n.poke()
	hubtest.Eventually(t, "erik's SMS cursor past the fire", func() bool {
		last, _ := h.Store().LastSeq()
		e, _, _ := h.Store().Cursor("notify/erik/sms")
		return e == last
	})
	if got := sim.messages(); len(got) != 0 {
		t.Errorf("escalated after the acknowledgement: %q", got)
	}
}

// TestNotifier_AckInTheWebUI: the panel's acknowledgement (with the PIN, as the web UI
// sends it) stops the escalation too; the history has it as anna's, by web.
func TestNotifier_AckInTheWebUI(t *testing.T) {
	srv := newNtfyServer(t)
	sim := newSimModem(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "anna", Lang: "en", Ntfy: "anna", SMS: "+46701234567"})
	cfg.SMS = ModemConfig{Device: sim.Path, Baud: 115200, Timeout: hub.Duration(2 * time.Second), Attempts: 2}
	n, _ := startNotifier(t, cfg, h, clock)

	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	hubtest.Eventually(t, "fire by ntfy", func() bool { return len(srv.got()) == 1 })
	clock.Add(time.Minute)
	res := h.Do(t.Context(), hub.Input{Kind: hub.InAcknowledge, Area: 1, User: "anna", Code: "1234", How: hub.HowWeb})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Events) == 0 || res.Events[len(res.Events)-1].Kind != hub.KindAcknowledge || res.Events[len(res.Events)-1].How != hub.HowWeb {
		t.Fatalf("events %+v", res.Events)
	}
	clock.Add(2 * time.Minute)
	n.poke()
	hubtest.Eventually(t, "SMS cursor past the fire", func() bool {
		last, _ := h.Store().LastSeq()
		a, _, _ := h.Store().Cursor("notify/anna/sms")
		return a == last
	})
	if got := sim.messages(); len(got) != 0 {
		t.Errorf("escalated after the acknowledgement: %q", got)
	}
}
