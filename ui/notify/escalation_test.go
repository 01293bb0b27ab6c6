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
	if got := sim.messages()[0]; got != "+46701234567: BRAND: Kitchen smoke (House) 18:00" {
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
