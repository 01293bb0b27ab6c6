package uplink

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

var testCodeKey = bytes.Repeat([]byte{0x5a}, 32)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// startHub runs a real hub with the demo installation on the bbolt file at path until
// stop, which closes the store.
func startHub(t testing.TB, path string) (h *hub.Hub, stop func()) {
	t.Helper()
	return hubtest.StartHub(t, path, hub.DemoInstallation(testCodeKey), hub.Options{})
}

// startUplink runs an uplink for cfg until stop, and returns once Run has opened every
// receiver's cursor, so events submitted afterwards are the receivers' to deliver.
func startUplink(t testing.TB, cfg Config, h *hub.Hub) (u *Uplink, stop func()) {
	t.Helper()
	return startUplinkSaving(t, cfg, h, 20*time.Millisecond) // tests wait for the durable cursor
}

// startUplinkSaving is startUplink with the longest time a moved cursor stays unsaved.
func startUplinkSaving(t testing.TB, cfg Config, h *hub.Hub, saveEvery time.Duration) (u *Uplink, stop func()) {
	t.Helper()
	if err := cfg.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range u.receivers {
		r.box.SaveEvery = saveEvery
	}
	stop = hubtest.Run(t, "uplink run", u.Run)
	for _, rc := range cfg.Receivers {
		hubtest.Eventually(t, "cursor of "+rc.Name, func() bool {
			_, ok, err := h.Store().Cursor("dc09/" + rc.Name)
			return err == nil && ok
		})
	}
	return u, stop
}

// fastPath is a path to s with short intervals, so a test sees failures and recoveries
// quickly.
func fastPath(s *testStation) PathConfig {
	return PathConfig{
		Network:      s.network,
		Addr:         s.addr,
		Key:          strings.ToUpper(hex.EncodeToString(s.key)),
		PollInterval: hub.Duration(300 * time.Millisecond),
		Timeout:      hub.Duration(400 * time.Millisecond),
		Retries:      2,
		RetryBackoff: hub.Duration(20 * time.Millisecond),
	}
}

func oneReceiver(primary, backup *testStation) Config {
	rc := ReceiverConfig{Name: "arc", Account: "1234", Primary: fastPath(primary)}
	if backup != nil {
		b := fastPath(backup)
		rc.Backup = &b
	}
	return Config{Receivers: []ReceiverConfig{rc}}
}

func do(t testing.TB, h *hub.Hub, in hub.Input) []hub.Event {
	t.Helper()
	res := h.Do(context.Background(), in)
	if res.Err != nil {
		t.Fatalf("%+v: %v", in, res.Err)
	}
	return res.Events
}

// toggleBattery makes n reportable events: garage motion's battery low, then restored, …
func toggleBattery(t testing.TB, h *hub.Hub, n int) {
	t.Helper()
	for range n {
		low := false
		for _, d := range h.Snapshot().State.Devices {
			if d.ID == "garage_motion" {
				low = d.BatteryLow
			}
		}
		do(t, h, hub.Input{Kind: hub.InReport, Device: "garage_motion", Signal: hub.SignalBatteryLow, Active: !low})
	}
}

func panicAlarm(t testing.TB, h *hub.Hub) hub.Event {
	t.Helper()
	for _, ev := range do(t, h, hub.Input{Kind: hub.InReport, Device: "panic_button", Signal: hub.SignalPanic, Active: true}) {
		if ev.Kind == hub.KindPanic && ev.Report {
			do(t, h, hub.Input{Kind: hub.InReport, Device: "panic_button", Signal: hub.SignalPanic, Active: false})
			return ev
		}
	}
	t.Fatal("panic button: no panic alarm reported")
	return hub.Event{}
}

// wantData is what a station should read for ev, written out from the formats' rules.
func wantData(ev hub.Event, account, format string) string {
	zone := ev.Zone
	if ev.Kind == hub.KindUplinkFault {
		switch { // which path failed; none for a receiver refusing an event
		case strings.HasSuffix(ev.Device, "/primary"):
			zone = 1
		case strings.HasSuffix(ev.Device, "/backup"):
			zone = 2
		}
	}
	if format == FormatSIA {
		ri := ""
		if ev.Area != 0 {
			ri = fmt.Sprintf("ri%d/", ev.Area)
		}
		return fmt.Sprintf("#%s|N%s%s%02d", account, ri, ev.SIA, zone)
	}
	q := 1
	if ev.Restore {
		q = 3
	}
	return fmt.Sprintf("#%s|%d%03d %02d %03d", account, q, ev.ContactID, ev.Area, zone)
}

// delivery describes what one receiver should get.
type delivery struct {
	account string
	format  string
	after   uint64               // the receiver's cursor when it started
	wants   func(hub.Event) bool // nil: every reportable event
}

func (d delivery) expected(t testing.TB, h *hub.Hub) []hub.Event {
	t.Helper()
	events, err := h.Store().Events(d.after, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []hub.Event
	for _, ev := range events {
		if ev.Report && ev.ContactID != 0 && (d.wants == nil || d.wants(ev)) {
			out = append(out, ev)
		}
	}
	return out
}

// firstACKs returns the station's acknowledged event messages by sequence number, first
// time each, in the order acknowledged.
func firstACKs(log *stationLog) []accepted {
	seen := map[int]bool{}
	var out []accepted
	for _, a := range log.events() {
		if !seen[a.msg.seq] {
			seen[a.msg.seq] = true
			out = append(out, a)
		}
	}
	return out
}

// waitDelivered waits until the stations acknowledged every event the receiver should get,
// then checks that each arrived in order (first arrivals; repeats are what at least once
// allows), with the right content, and that nothing else arrived.
func waitDelivered(t testing.TB, h *hub.Hub, log *stationLog, d delivery) []accepted {
	t.Helper()
	hubtest.Eventually(t, "every event acknowledged", func() bool {
		want := d.expected(t, h)
		got := map[int]bool{}
		for _, a := range log.events() {
			got[a.msg.seq] = true
		}
		for _, ev := range want {
			if !got[int(ev.Seq)] {
				return false
			}
		}
		return true
	})
	firsts := firstACKs(log)
	// Read the log again: what was acknowledged by now is in it, and the log may have
	// grown (a path fault restored, say) since the wait ended.
	bySeq := map[int]hub.Event{}
	for _, ev := range d.expected(t, h) {
		bySeq[int(ev.Seq)] = ev
	}
	last := 0
	for _, a := range firsts {
		ev, ok := bySeq[a.msg.seq]
		if !ok {
			t.Errorf("station %s acknowledged seq %d (%q), which it should not get", a.station, a.msg.seq, a.msg.data)
			continue
		}
		if a.msg.seq < last {
			t.Errorf("event %d arrived after event %d: out of order", a.msg.seq, last)
		}
		last = a.msg.seq
		if w := wantData(ev, d.account, d.format); a.msg.data != w {
			t.Errorf("event %d (%s) arrived as %q, want %q", ev.Seq, ev.Kind, a.msg.data, w)
		}
		if a.msg.acct != d.account {
			t.Errorf("event %d header account %q, want %q", ev.Seq, a.msg.acct, d.account)
		}
	}
	return firsts
}

// waitCursor waits until every receiver's durable cursor has reached the end of the log.
func waitCursor(t testing.TB, h *hub.Hub, names ...string) {
	t.Helper()
	hubtest.Eventually(t, "cursors at the end of the log", func() bool {
		last, err := h.Store().LastSeq()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			c, _, err := h.Store().Cursor("dc09/" + n)
			if err != nil || c != last {
				return false
			}
		}
		return true
	})
}

func hasFault(h *hub.Hub, path string) bool {
	return slices.Contains(h.Snapshot().State.UplinkFaults, path)
}

// ackedData reports whether a station acknowledged a message with data.
func ackedData(log *stationLog, station, data string) bool {
	for _, a := range log.events() {
		if (station == "" || a.station == station) && a.msg.data == data {
			return true
		}
	}
	return false
}

func TestUplink_AlarmACKAdvancesCursor(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			st := startStation(t, "primary", network, nil, nil)
			h, _ := startHub(t, hubtest.StorePath(t))
			cfg := oneReceiver(st, nil)
			cfg.Receivers[0].Primary.LocalAddr = "127.0.0.1"
			cfg.Receivers[0].Primary.Receiver = "12"
			cfg.Receivers[0].Primary.Line = "3"
			start, _ := h.Store().LastSeq()
			u, _ := startUplink(t, cfg, h)

			// Status is read while delivery runs: the race detector watches.
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case <-done:
						return
					default:
						u.Status()
					}
				}
			}()

			ev := panicAlarm(t, h)
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			if !ackedData(st.log, "primary", "#1234|1120 01 008") {
				t.Errorf("station did not get the panic alarm as Contact ID 1120 area 01 zone 008: %v", st.log.events())
			}
			for _, m := range st.received() {
				if m.rcvr != "12" || m.line != "3" || m.acct != "1234" || !m.hasTS {
					t.Errorf("frame header R%s L%s #%s (timestamp %v), want R12 L3 #1234 with a timestamp", m.rcvr, m.line, m.acct, m.hasTS)
				}
				if m.id == "ADM-CID" && m.seq != int(ev.Seq) && m.data == "#1234|1120 01 008" {
					t.Errorf("panic alarm sent with DC-09 sequence %d, want the event's %d", m.seq, ev.Seq)
				}
			}
			waitCursor(t, h, "arc")
			s := u.Status()[0]
			p := s.Paths[0]
			if s.QueueDepth != 0 || s.Delivered == 0 || !p.OK || p.Fault || p.LastAck.IsZero() || p.LastRTT <= 0 || p.Name != "primary" || p.Addr != st.addr {
				t.Errorf("status after delivery = %+v", s)
			}
		})
	}
}

func TestUplink_SIAFormat(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	cfg := oneReceiver(st, nil)
	cfg.Receivers[0].Format = FormatSIA
	start, _ := h.Store().LastSeq()
	startUplink(t, cfg, h)
	panicAlarm(t, h)
	toggleBattery(t, h, 2)
	waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatSIA, after: start})
	for _, want := range []string{"#1234|Nri1/PA08", "#1234|Nri2/XT10", "#1234|Nri2/XR10", "#1234|NRP00"} {
		if !ackedData(st.log, "", want) {
			t.Errorf("station did not get %q", want)
		}
	}
	for _, m := range st.received() {
		if m.id != "SIA-DCS" && m.id != "NULL" {
			t.Errorf("message id %q, want SIA-DCS", m.id)
		}
	}
}

// TestUplink_Verification: an event the verification names (an alarm with photos) carries
// the reference as the DC-09 extended block [V…], encrypted with the data; others carry
// none.
func TestUplink_Verification(t *testing.T) {
	for _, format := range []string{FormatCID, FormatSIA} {
		t.Run(format, func(t *testing.T) {
			key := bytes.Repeat([]byte{0x42}, 16)
			st := startStation(t, "primary", "tcp", key, nil)
			h, _ := startHub(t, hubtest.StorePath(t))
			cfg := oneReceiver(st, nil)
			cfg.Receivers[0].Format = format
			if err := cfg.Validate(func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			u, err := New(cfg, h, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			u.SetVerification(func(ev hub.Event) string {
				if ev.Kind == hub.KindPanic && !ev.Restore {
					return fmt.Sprintf("vakt/home/photos/%d", ev.Seq)
				}
				return ""
			})
			hubtest.Run(t, "uplink run", u.Run)
			hubtest.Eventually(t, "the cursor", func() bool { _, ok, _ := h.Store().Cursor("dc09/" + cfg.Receivers[0].Name); return ok })
			ev := panicAlarm(t, h)
			want := fmt.Sprintf("Vvakt/home/photos/%d", ev.Seq)
			hubtest.Eventually(t, "the panic alarm with its verification", func() bool {
				for _, a := range st.log.events() {
					if a.msg.seq == dc09Seq(ev.Seq) && a.msg.encrypted && len(a.msg.ext) == 1 && a.msg.ext[0] == want {
						return true
					}
				}
				return false
			})
			toggleBattery(t, h, 2)
			hubtest.Eventually(t, "the battery trouble", func() bool {
				for _, a := range st.log.events() {
					if a.msg.seq > dc09Seq(ev.Seq) && a.msg.id != "NULL" {
						if len(a.msg.ext) != 0 {
							t.Fatalf("%q carries %q", a.msg.data, a.msg.ext)
						}
						return true
					}
				}
				return false
			})
		})
	}
}

func TestUplink_NewReceiverStartsAtEndOfLog(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	toggleBattery(t, h, 6) // history from before the station was connected
	before, _ := h.Store().LastSeq()
	u, _ := startUplink(t, oneReceiver(st, nil), h)
	if c, _, _ := h.Store().Cursor("dc09/arc"); c != before {
		t.Fatalf("new receiver's cursor at %d, want the end of the log, %d", c, before)
	}
	toggleBattery(t, h, 2)
	got := waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: before})
	for _, a := range got {
		if a.msg.seq <= int(before) {
			t.Errorf("new station got event %d from before it was connected", a.msg.seq)
		}
	}
	if s := u.Status()[0]; s.Cursor < before {
		t.Errorf("status cursor %d, want at least %d", s.Cursor, before)
	}
}

func TestUplink_LongOutage(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			st := startStation(t, "primary", network, nil, nil)
			h, _ := startHub(t, hubtest.StorePath(t))
			start, _ := h.Store().LastSeq()
			u, _ := startUplink(t, oneReceiver(st, nil), h)
			hubtest.Eventually(t, "first poll", func() bool { return st.log.polls("primary") > 0 })

			st.close()
			toggleBattery(t, h, 40)
			hubtest.Eventually(t, "uplink fault", func() bool { return hasFault(h, "arc/primary") && u.Status()[0].Paths[0].Fault })
			s := u.Status()[0]
			if s.QueueDepth == 0 || s.Paths[0].OK || s.Paths[0].LastError == "" {
				t.Errorf("status during the outage = %+v", s)
			}
			toggleBattery(t, h, 10) // more while down, after the fault

			st.reopen()
			got := waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			hubtest.Eventually(t, "fault restored", func() bool { return !hasFault(h, "arc/primary") })
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			waitCursor(t, h, "arc")
			if len(got) < 50 {
				t.Errorf("station got %d events, want at least 50", len(got))
			}
			if !ackedData(st.log, "", "#1234|1350 00 001") || !ackedData(st.log, "", "#1234|3350 00 001") {
				t.Errorf("the station did not get the path fault and its restore")
			}
			if s := u.Status()[0]; s.Paths[0].Fault || !s.Paths[0].OK {
				t.Errorf("status after the outage = %+v", s)
			}
		})
	}
}

// TestUplink_RestartMidQueue stops the hub and the uplink while a backlog drains, and
// starts them again over the same store: everything arrives, in order, maybe twice. In the
// crash case the store is closed under the running uplink, so the cursor moves it had not
// saved yet are lost, as in a power cut.
func TestUplink_RestartMidQueue(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "stop", true: "crash"}[crash], func(t *testing.T) {
			path := hubtest.StorePath(t)
			st := startStation(t, "primary", "tcp", nil, nil)
			// A slow station, so the restart lands in the middle of the queue.
			st.setAnswer(func(m stMessage) stReply {
				if m.id != "NULL" {
					time.Sleep(2 * time.Millisecond)
				}
				return replyStandard
			})
			cfg := oneReceiver(st, nil)
			h, stopHub := startHub(t, path)
			start, _ := h.Store().LastSeq()
			_, stopUplink := startUplinkSaving(t, cfg, h, time.Hour) // saves every outbox.ReadBatch events
			st.close()
			toggleBattery(t, h, 150)
			st.reopen()
			hubtest.Eventually(t, "delivery under way", func() bool { return len(st.log.events()) >= 30 })
			if crash {
				stopHub() // and close the store: the uplink's last save fails
				stopUplink()
			} else {
				stopUplink()
				stopHub()
			}
			sent := len(firstACKs(st.log))
			if sent >= 150 {
				t.Fatalf("all %d events delivered before the restart: nothing to test", sent)
			}

			st.setAnswer(nil)
			h, _ = startHub(t, path)
			cursor, _, _ := h.Store().Cursor("dc09/arc")
			startUplink(t, cfg, h)
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			waitCursor(t, h, "arc")
			t.Logf("restart after %d events; saved cursor %d; %d sent twice", sent, cursor, len(st.log.events())-len(firstACKs(st.log)))
		})
	}
}

func TestUplink_NAKSkewedClock(t *testing.T) {
	for _, key := range [][]byte{nil, []byte("0123456789abcdef")} {
		t.Run(fmt.Sprintf("key %d bytes", len(key)), func(t *testing.T) {
			st := startStation(t, "primary", "tcp", key, nil)
			st.setSkew(10 * time.Minute)
			h, _ := startHub(t, hubtest.StorePath(t))
			start, _ := h.Store().LastSeq()
			u, _ := startUplink(t, oneReceiver(st, nil), h)
			panicAlarm(t, h)
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			if st.count(replyNAK) == 0 {
				t.Fatal("the station never sent NAK: the skew was not tested")
			}

			// The station's clock jumps back: the next event gets a NAK, and is accepted once
			// the uplink corrects its clock from the NAK.
			naks := st.count(replyNAK)
			st.setSkew(-5 * time.Minute)
			toggleBattery(t, h, 3)
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			if st.count(replyNAK) == naks {
				t.Error("no NAK after the station's clock jumped")
			}
			if s := u.Status()[0]; s.Paths[0].Fault || s.Rejected != 0 {
				t.Errorf("status = %+v", s)
			}
		})
	}
}

func TestUplink_DUH(t *testing.T) {
	t.Run("primary refuses, backup takes it", func(t *testing.T) {
		log := &stationLog{}
		p := startStation(t, "primary", "tcp", nil, log)
		b := startStation(t, "backup", "tcp", nil, log)
		p.setAnswer(func(m stMessage) stReply {
			if m.id == "NULL" {
				return replyStandard
			}
			return replyDUH
		})
		h, _ := startHub(t, hubtest.StorePath(t))
		start, _ := h.Store().LastSeq()
		u, _ := startUplink(t, oneReceiver(p, b), h)
		toggleBattery(t, h, 4)
		waitDelivered(t, h, log, delivery{account: "1234", format: FormatCID, after: start})
		for _, a := range log.events() {
			if a.station != "backup" {
				t.Errorf("%q acknowledged by %s", a.msg.data, a.station)
			}
		}
		if hasFault(h, "arc/primary") || u.Status()[0].Paths[0].Fault {
			t.Error("a primary that answers DUH was reported as a path fault: it works, it refuses")
		}
	})
	for _, fix := range []string{"station fixed", "kind excluded"} {
		t.Run("refused everywhere, held as a fault, "+fix, func(t *testing.T) {
			st := startStation(t, "primary", "udp", nil, nil)
			var refuse atomic.Bool
			refuse.Store(true)
			st.setAnswer(func(m stMessage) stReply {
				if refuse.Load() && strings.Contains(m.data, "|1120 ") { // the panic alarm
					return replyDUH
				}
				return replyStandard
			})
			path := hubtest.StorePath(t)
			h, stopHub := startHub(t, path)
			start, _ := h.Store().LastSeq()
			cfg := oneReceiver(st, nil)
			u, stop := startUplink(t, cfg, h)
			toggleBattery(t, h, 2)
			alarm := panicAlarm(t, h)
			toggleBattery(t, h, 2)
			const fault = "arc/refused/panic"
			hubtest.Eventually(t, "an uplink fault naming the receiver and the kind", func() bool { return hasFault(h, fault) })
			if _, err := u.AwaitAck(t.Context(), alarm.Seq); !errors.Is(err, ErrRejected) {
				t.Fatalf("AwaitAck of the refused alarm: %v, want ErrRejected", err)
			}
			hubtest.Eventually(t, "the alarm refused again", func() bool { return st.count(replyDUH) > 2 })
			if c := u.Status()[0].Cursor; c >= alarm.Seq {
				t.Fatalf("cursor %d passed the refused alarm %d: skipped", c, alarm.Seq)
			}
			for _, a := range st.log.events() {
				if a.msg.seq > dc09Seq(alarm.Seq) {
					t.Errorf("event %d sent ahead of the held alarm %d", a.msg.seq, alarm.Seq)
				}
			}
			if s := u.Status()[0]; s.Rejected != 1 || !strings.Contains(s.LastError, "DUH") {
				t.Errorf("status = %+v, want one refused event and the DUH as last error", s)
			}
			d := delivery{account: "1234", format: FormatCID, after: start}
			switch fix {
			case "station fixed":
				refuse.Store(false)
			case "kind excluded":
				// The installer leaves panic alarms out for this receiver; a restart.
				stop()
				stopHub()
				h, _ = startHub(t, path)
				cfg.Receivers[0].Kinds = []string{"device_battery_low", "uplink_fault"}
				startUplink(t, cfg, h)
				d.wants = func(ev hub.Event) bool { return ev.Kind != hub.KindPanic }
			}
			waitDelivered(t, h, st.log, d)
			hubtest.Eventually(t, "the fault restored", func() bool { return !hasFault(h, fault) })
			waitCursor(t, h, "arc")
		})
	}
}

// TestUplink_DUHToEverything is a station that refuses every message, polls included (a
// wrong key or account): that is a path fault, and no event is skipped; once the station
// is put right, everything arrives.
func TestUplink_DUHToEverything(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	start, _ := h.Store().LastSeq()
	u, _ := startUplink(t, oneReceiver(st, nil), h)
	hubtest.Eventually(t, "first poll", func() bool { return st.log.polls("primary") > 0 })
	st.setAnswer(func(stMessage) stReply { return replyDUH })
	toggleBattery(t, h, 5)
	hubtest.Eventually(t, "path fault", func() bool { return hasFault(h, "arc/primary") })
	hubtest.Eventually(t, "events refused a few times", func() bool { return st.count(replyDUH) > 10 })
	st.setAnswer(nil)
	waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
	hubtest.Eventually(t, "fault restored", func() bool { return !hasFault(h, "arc/primary") })
	if s := u.Status()[0]; s.Rejected != 0 {
		t.Errorf("status = %+v: events skipped while the station refused everything", s)
	}
}

// TestUplink_FieldReceiver is a receiver as deployed in the field: its ACKs say "None"
// for the receiver number, clear and encrypted, and it answers a bare "NAK" to an account
// it does not know. Every event arrives once, with no false fault; the NAK makes a path
// fault until the account is known.
func TestUplink_FieldReceiver(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		for _, key := range [][]byte{nil, []byte("0123456789abcdef0123456789abcdef")} {
			t.Run(fmt.Sprintf("%s/key%d", network, len(key)), func(t *testing.T) {
				st := startStation(t, "primary", network, key, nil)
				var known atomic.Bool
				known.Store(true)
				st.setAnswer(func(stMessage) stReply {
					if !known.Load() {
						return replyBareNAK
					}
					return replyFieldACK
				})
				h, _ := startHub(t, hubtest.StorePath(t))
				start, _ := h.Store().LastSeq()
				cfg := oneReceiver(st, nil)
				cfg.Receivers[0].Primary.Timeout = hub.Duration(time.Minute) // a NAK must not wait for it
				u, _ := startUplink(t, cfg, h)
				panicAlarm(t, h)
				toggleBattery(t, h, 3)
				d := delivery{account: "1234", format: FormatCID, after: start}
				waitDelivered(t, h, st.log, d)
				waitCursor(t, h, "arc")
				sent := 0
				for _, m := range st.received() {
					if m.id != "NULL" {
						sent++
					}
				}
				if want := len(d.expected(t, h)); sent != want {
					t.Errorf("station got %d event messages for %d events: repeats of ACKed events", sent, want)
				}
				if s := u.Status()[0]; hasFault(h, "arc/primary") || s.Paths[0].Fault || s.LastError != "" || s.Paths[0].LastError != "" {
					t.Errorf("status = %+v, faults %v: an ACK with None for the receiver taken for an error", s, h.Snapshot().State.UplinkFaults)
				}

				known.Store(false)
				toggleBattery(t, h, 2)
				hubtest.Eventually(t, "NAK made a path fault", func() bool { return hasFault(h, "arc/primary") })
				if s := u.Status()[0]; !strings.Contains(s.Paths[0].LastError, "NAK") {
					t.Errorf("path status = %+v, want the NAK as last error", s.Paths[0])
				}
				known.Store(true)
				waitDelivered(t, h, st.log, d)
				hubtest.Eventually(t, "fault restored", func() bool { return !hasFault(h, "arc/primary") })
			})
		}
	}
}

// TestUplink_AlarmCutsBackoff: after the station was down, the receiver's delivery and
// its path's poller wait out a back-off, here an hour long. The station comes back, and a
// new alarm goes out at once, behind the backlog and in order, rather than an hour later.
func TestUplink_AlarmCutsBackoff(t *testing.T) {
	log := &stationLog{}
	p := startStation(t, "primary", "tcp", nil, log)
	b := startStation(t, "backup", "tcp", nil, log)
	h, _ := startHub(t, hubtest.StorePath(t))
	start, _ := h.Store().LastSeq()
	cfg := oneReceiver(p, b)
	for _, pc := range []*PathConfig{&cfg.Receivers[0].Primary, cfg.Receivers[0].Backup} {
		pc.RetryBackoff = hub.Duration(time.Hour)
		pc.PollInterval = hub.Duration(time.Hour)
		pc.Retries = 100 // no fault event to deliver: the test is about the back-off
	}
	if err := cfg.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r := u.receivers[0]
	r.maxBackoff = time.Hour
	for _, p := range r.paths {
		p.set.maxBackoff = time.Hour
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- u.Run(ctx) }()
	defer func() { cancel(); <-errc }()
	hubtest.Eventually(t, "both paths polled", func() bool { return log.polls("primary") > 0 && log.polls("backup") > 0 })

	p.close()
	b.close()
	toggleBattery(t, h, 3)
	hubtest.Eventually(t, "delivery failed on both paths", func() bool {
		s := u.Status()[0]
		return s.LastError != "" && s.Paths[0].Failures > 0 && s.Paths[1].Failures > 0
	})
	// Now delivery and both pollers wait an hour. The station comes back.
	b.reopen()
	p.reopen()
	panicAlarm(t, h)
	waitDelivered(t, h, log, delivery{account: "1234", format: FormatCID, after: start})
}

func TestUplink_GarbageReplies(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			st := startStation(t, "primary", network, nil, nil)
			var garbage atomic.Int64
			st.setAnswer(func(m stMessage) stReply {
				if garbage.Add(-1) >= 0 {
					return replyGarbage
				}
				return replyStandard
			})
			h, _ := startHub(t, hubtest.StorePath(t))
			start, _ := h.Store().LastSeq()
			u, _ := startUplink(t, oneReceiver(st, nil), h)
			garbage.Store(5)
			toggleBattery(t, h, 6)
			waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
			if st.count(replyGarbage) < 5 {
				t.Errorf("station sent %d garbage replies, want 5", st.count(replyGarbage))
			}
			waitCursor(t, h, "arc")
			hubtest.Eventually(t, "path fault restored", func() bool { return !hasFault(h, "arc/primary") })
			if s := u.Status()[0]; s.Paths[0].LastError == "" {
				t.Errorf("status = %+v, want the garbage as last error", s)
			}
		})
	}
}

func TestUplink_Failover(t *testing.T) {
	for _, tc := range []struct {
		name, network string
		down, up      func(*testStation)
	}{
		{"closed tcp", "tcp", (*testStation).close, (*testStation).reopen},
		{"closed udp", "udp", (*testStation).close, (*testStation).reopen},
		{"silent tcp", "tcp",
			func(s *testStation) { s.setAnswer(func(stMessage) stReply { return replySilent }) },
			func(s *testStation) { s.setAnswer(nil) }},
		{"silent udp", "udp",
			func(s *testStation) { s.setAnswer(func(stMessage) stReply { return replySilent }) },
			func(s *testStation) { s.setAnswer(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &stationLog{}
			p := startStation(t, "primary", tc.network, []byte("0123456789abcdef"), log)
			b := startStation(t, "backup", tc.network, []byte("fedcba9876543210"), log)
			h, _ := startHub(t, hubtest.StorePath(t))
			start, _ := h.Store().LastSeq()
			u, _ := startUplink(t, oneReceiver(p, b), h)
			d := delivery{account: "1234", format: FormatCID, after: start}
			hubtest.Eventually(t, "both paths polled", func() bool { return log.polls("primary") > 0 && log.polls("backup") > 0 })
			panicAlarm(t, h)
			waitDelivered(t, h, log, d)

			tc.down(p)
			toggleBattery(t, h, 10)
			hubtest.Eventually(t, "primary fault", func() bool { return hasFault(h, "arc/primary") })
			hubtest.Eventually(t, "fault reported over the backup", func() bool { return ackedData(log, "backup", "#1234|1350 00 001") })
			toggleBattery(t, h, 4)
			waitDelivered(t, h, log, d)
			if s := u.Status()[0]; !s.Paths[0].Fault || s.Paths[1].Fault || !s.Paths[1].OK || s.Paths[1].LastAck.IsZero() {
				t.Errorf("status with the primary down = %+v", s)
			}

			tc.up(p)
			hubtest.Eventually(t, "primary restored", func() bool { return !hasFault(h, "arc/primary") })
			hubtest.Eventually(t, "restore reported", func() bool { return ackedData(log, "", "#1234|3350 00 001") })
			n := len(log.events())
			toggleBattery(t, h, 4)
			waitDelivered(t, h, log, d)
			for _, a := range log.events()[n:] {
				if a.station != "primary" {
					t.Errorf("after the primary came back, %q went over the %s", a.msg.data, a.station)
				}
			}
			if s := u.Status()[0]; s.Paths[0].Fault || !s.Paths[0].OK {
				t.Errorf("status after the primary came back = %+v", s)
			}
			if hasFault(h, "arc/backup") {
				t.Error("the backup was reported as failed")
			}
		})
	}
}

func TestUplink_Encryption(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		for _, key := range []string{"000102030405060708090a0b0c0d0e0f", "000102030405060708090a0b0c0d0e0f1011121314151617",
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"} {
			k, _ := hex.DecodeString(key)
			t.Run(fmt.Sprintf("%s AES-%d", network, len(k)*8), func(t *testing.T) {
				st := startStation(t, "primary", network, k, nil)
				h, _ := startHub(t, hubtest.StorePath(t))
				start, _ := h.Store().LastSeq()
				startUplink(t, oneReceiver(st, nil), h)
				panicAlarm(t, h)
				waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start})
				for _, m := range st.received() {
					if !m.encrypted {
						t.Errorf("clear %s message on an encrypted path", m.id)
					}
				}
			})
		}
	}
}

func TestUplink_KeyFromEnvironment(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	st := startStation(t, "primary", "tcp", key, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	cfg := oneReceiver(st, nil)
	cfg.Receivers[0].Primary.Key = ""
	cfg.Receivers[0].Primary.KeyEnv = "ARC_KEY"
	if err := cfg.Validate(mapEnv{"ARC_KEY": hex.EncodeToString(key)}.get); err != nil {
		t.Fatal(err)
	}
	u, err := New(cfg, h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- u.Run(ctx) }()
	defer func() { cancel(); <-errc }()
	hubtest.Eventually(t, "encrypted poll acknowledged", func() bool { return st.log.polls("primary") > 0 })
}

// mapEnv is an environment for Validate's getenv.
type mapEnv map[string]string

func (m mapEnv) get(k string) string { return m[k] }

func TestUplink_ManualTestAwaitAck(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	cfg := oneReceiver(st, nil)
	cfg.Receivers[0].Kinds = []string{"manual_test", "panic"}
	u, _ := startUplink(t, cfg, h)

	var test hub.Event
	for _, ev := range do(t, h, hub.Input{Kind: hub.InManualTest, Code: "1234", How: hub.HowWeb}) {
		if ev.Kind == hub.KindManualTest {
			test = ev
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	info, err := u.AwaitAck(ctx, test.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if info.Seq != test.Seq || info.Receiver != "arc" || info.Path != "primary" || info.At.IsZero() || info.RTT <= 0 {
		t.Errorf("AwaitAck = %+v", info)
	}
	if !ackedData(st.log, "primary", "#1234|1601 00 001") {
		t.Errorf("station did not get the manual test as 1601 00 001 (user 1)")
	}
	// Asked again, the answer is remembered.
	if again, err := u.AwaitAck(ctx, test.Seq); err != nil || again != info {
		t.Errorf("AwaitAck again = %+v, %v; want %+v", again, err, info)
	}

	toggleBattery(t, h, 1) // not in this receiver's kinds
	last, _ := h.Store().LastSeq()
	if _, err := u.AwaitAck(ctx, last); !errors.Is(err, ErrNotReported) {
		t.Errorf("AwaitAck of a filtered event: %v, want ErrNotReported", err)
	}
	if _, err := u.AwaitAck(ctx, last+1000); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("AwaitAck of an unknown event: %v, want ErrUnknownEvent", err)
	}

	// A station that does not answer: the UI's wait ends with its context.
	st.setAnswer(func(stMessage) stReply { return replySilent })
	var slow hub.Event
	for _, ev := range do(t, h, hub.Input{Kind: hub.InManualTest, Code: "1234"}) {
		if ev.Kind == hub.KindManualTest {
			slow = ev
		}
	}
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := u.AwaitAck(short, slow.Seq); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("AwaitAck with a silent station: %v, want the context's deadline", err)
	}
	st.setAnswer(nil)
	if info, err := u.AwaitAck(ctx, slow.Seq); err != nil || info.Receiver != "arc" {
		t.Errorf("AwaitAck once the station answers: %+v, %v", info, err)
	}
}

func TestUplink_AwaitAckAfterRestart(t *testing.T) {
	path := hubtest.StorePath(t)
	st := startStation(t, "primary", "tcp", nil, nil)
	h, stopHub := startHub(t, path)
	u, stopUplink := startUplink(t, oneReceiver(st, nil), h)
	ev := panicAlarm(t, h)
	if _, err := u.AwaitAck(t.Context(), ev.Seq); err != nil {
		t.Fatal(err)
	}
	waitCursor(t, h, "arc")
	stopUplink()
	toggleBattery(t, h, 1)
	last, _ := h.Store().LastSeq()
	if _, err := u.AwaitAck(t.Context(), last); !errors.Is(err, ErrStopped) {
		t.Errorf("AwaitAck on a stopped uplink: %v, want ErrStopped", err)
	}
	stopHub()

	h, _ = startHub(t, path)
	u, _ = startUplink(t, oneReceiver(st, nil), h)
	info, err := u.AwaitAck(t.Context(), ev.Seq)
	if err != nil || info.Receiver != "arc" || !info.At.IsZero() {
		t.Errorf("AwaitAck of an event acknowledged before the restart = %+v, %v; want receiver arc, no time", info, err)
	}
}

func TestUplink_KindsFilter(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	cfg := oneReceiver(st, nil)
	cfg.Receivers[0].Kinds = []string{"panic"}
	start, _ := h.Store().LastSeq()
	u, _ := startUplink(t, cfg, h)
	toggleBattery(t, h, 4)
	panicAlarm(t, h)
	toggleBattery(t, h, 4)
	waitDelivered(t, h, st.log, delivery{account: "1234", format: FormatCID, after: start,
		wants: func(ev hub.Event) bool { return ev.Kind == hub.KindPanic }})
	waitCursor(t, h, "arc")
	if s := u.Status()[0]; s.QueueDepth != 0 {
		t.Errorf("filtered events left in the queue: %+v", s)
	}
	if got := len(st.log.events()); got != 1 {
		t.Errorf("station got %d events, want only the panic alarm", got)
	}
}

func TestUplink_TwoReceivers(t *testing.T) {
	a := startStation(t, "a", "tcp", nil, nil)
	b := startStation(t, "b", "udp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	cfg := Config{Receivers: []ReceiverConfig{
		{Name: "arc", Account: "1234", Primary: fastPath(a)},
		{Name: "guard", Account: "ABCDEF", Format: FormatSIA, Kinds: []string{"panic", "fire"}, Primary: fastPath(b)},
	}}
	start, _ := h.Store().LastSeq()
	startUplink(t, cfg, h)
	a.close() // one station down does not hold back the other
	toggleBattery(t, h, 3)
	panicAlarm(t, h)
	waitDelivered(t, h, b.log, delivery{account: "ABCDEF", format: FormatSIA, after: start,
		wants: func(ev hub.Event) bool { return ev.Kind == hub.KindPanic }})
	a.reopen()
	// arc gets everything but guard's own periodic tests: each receiver keeps its schedule.
	waitDelivered(t, h, a.log, delivery{account: "1234", format: FormatCID, after: start,
		wants: func(ev hub.Event) bool { return ev.Kind != hub.KindPeriodicTest || ev.Device != "guard" }})
	waitCursor(t, h, "arc", "guard")
}

func TestUplink_PeriodicTest(t *testing.T) {
	path := hubtest.StorePath(t)
	st := startStation(t, "primary", "tcp", nil, nil)
	h, stopHub := startHub(t, path)
	_, stopUplink := startUplink(t, oneReceiver(st, nil), h)
	// No periodic test in the last interval: one is due at once.
	hubtest.Eventually(t, "periodic test", func() bool { return ackedData(st.log, "", "#1234|1602 00 000") })
	stopUplink()
	stopHub()

	// After a restart the last test is recent: the next one is a day away.
	h, _ = startHub(t, path)
	startUplink(t, oneReceiver(st, nil), h)
	panicAlarm(t, h)
	hubtest.Eventually(t, "panic delivered", func() bool { return ackedData(st.log, "", "#1234|1120 01 008") })
	events, err := h.Store().Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Kind == hub.KindPeriodicTest {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d periodic tests in the log, want 1: a restart must not send another", n)
	}
}

func TestNextTest(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		last, want time.Time
	}{
		{time.Time{}, now},
		{now.Add(-time.Hour), now.Add(23 * time.Hour)},
		{now.Add(time.Hour), now}, // a clock that went back
	} {
		if got := nextTest(tc.last, now, 24*time.Hour); !got.Equal(tc.want) {
			t.Errorf("nextTest(%v) = %v, want %v", tc.last, got, tc.want)
		}
	}
}

func TestUplink_FaultFromBeforeRestartIsRestored(t *testing.T) {
	st := startStation(t, "primary", "tcp", nil, nil)
	h, _ := startHub(t, hubtest.StorePath(t))
	// The last run ended with the primary failed.
	do(t, h, hub.Input{Kind: hub.InUplinkFault, Path: "arc/primary", Active: true})
	startUplink(t, oneReceiver(st, nil), h)
	hubtest.Eventually(t, "fault restored", func() bool { return !hasFault(h, "arc/primary") })
	hubtest.Eventually(t, "restore delivered", func() bool { return ackedData(st.log, "", "#1234|3350 00 001") })
}

func TestDC09Seq(t *testing.T) {
	for seq, want := range map[uint64]int{0: 9999, 1: 1, 2: 2, 9998: 9998, 9999: 9999, 10000: 1, 20000: 2} {
		if got := dc09Seq(seq); got != want {
			t.Errorf("dc09Seq(%d) = %d, want %d", seq, got, want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		limit   time.Duration
		want    time.Duration
	}{
		{0, time.Hour, time.Second},
		{1, time.Hour, 2 * time.Second},
		{5, time.Hour, 32 * time.Second},
		{6, MaxRetryBackoff, time.Minute},
		{60, MaxRetryBackoff, time.Minute},
		{12, time.Hour, time.Hour},
		{3, 5 * time.Second, 5 * time.Second},
	} {
		if got := retryDelay(time.Second, tc.attempt, tc.limit); got != tc.want {
			t.Errorf("retryDelay(1s, %d, %v) = %v, want %v", tc.attempt, tc.limit, got, tc.want)
		}
	}
}

func TestReceiver_Message(t *testing.T) {
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ev       hub.Event
		cid, sia string
	}{
		{hub.Event{Seq: 7, Time: at, Area: 1, Kind: hub.KindArm, Restore: true, ContactID: 401, SIA: "CL", Zone: 2},
			"#1234|3401 01 002", "#1234|Nri1/CL02"},
		{hub.Event{Seq: 8, Time: at, Area: 1, Kind: hub.KindDisarm, ContactID: 401, SIA: "OP", Zone: 2},
			"#1234|1401 01 002", "#1234|Nri1/OP02"},
		{hub.Event{Seq: 9, Time: at, Area: 2, Kind: hub.KindFire, ContactID: 110, SIA: "FA", Zone: 11},
			"#1234|1110 02 011", "#1234|Nri2/FA11"},
		{hub.Event{Seq: 10, Time: at, Kind: hub.KindMainsLost, Restore: true, ContactID: 301, SIA: "AR"},
			"#1234|3301 00 000", "#1234|NAR00"},
		{hub.Event{Seq: 11, Time: at, Kind: hub.KindUplinkFault, ContactID: 350, SIA: "YC", Device: "arc/backup"},
			"#1234|1350 00 002", "#1234|NYC02"},
		{hub.Event{Seq: 12, Time: at, Area: 1, Kind: hub.KindBurglary, ContactID: 130, SIA: "BA", Zone: 123},
			"#1234|1130 01 123", "#1234|Nri1/BA123"},
	} {
		for _, format := range []string{FormatCID, FormatSIA} {
			r := &receiver{format: format, account: "1234", msgID: map[string]string{FormatCID: "ADM-CID", FormatSIA: "SIA-DCS"}[format]}
			msg, err := r.message(tc.ev)
			if err != nil {
				t.Errorf("%s %s: %v", format, tc.ev.Kind, err)
				continue
			}
			want := map[string]string{FormatCID: tc.cid, FormatSIA: tc.sia}[format]
			if msg.Data != want || msg.Seq != int(tc.ev.Seq) || msg.ID != r.msgID {
				t.Errorf("%s %s: message %+v, want data %q seq %d", format, tc.ev.Kind, msg, want, tc.ev.Seq)
			}
		}
	}
}

// TestUplink_TransmissionTestNamesEveryReceiver: the transmission test reports each
// configured receiver, acknowledged (when, over which path) or not, and succeeds only
// when every receiver acknowledged.
func TestUplink_TransmissionTestNamesEveryReceiver(t *testing.T) {
	log := &stationLog{}
	a := startStation(t, "a", "tcp", nil, log)
	b := startStation(t, "b", "tcp", nil, log)
	bb := startStation(t, "b-backup", "tcp", nil, log)
	h, _ := startHub(t, hubtest.StorePath(t))
	second := ReceiverConfig{Name: "guard", Account: "ABCDEF", Primary: fastPath(b)}
	backup := fastPath(bb)
	second.Backup = &backup
	cfg := Config{Receivers: []ReceiverConfig{
		{Name: "arc", Account: "1234", Primary: fastPath(a)},
		second,
		{Name: "fire-only", Account: "1234", Kinds: []string{"fire"}, Primary: fastPath(a)},
	}}
	u, _ := startUplink(t, cfg, h)
	manualTest := func() uint64 {
		for _, ev := range do(t, h, hub.Input{Kind: hub.InManualTest, Code: "1234", How: hub.HowWeb}) {
			if ev.Kind == hub.KindManualTest {
				return ev.Seq
			}
		}
		t.Fatal("no manual test event")
		return 0
	}
	await := func(seq uint64, timeout time.Duration) TestResult {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		res, err := u.AwaitTest(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// guard's primary is down: the test goes over its backup.
	b.close()
	res := await(manualTest(), 20*time.Second)
	if len(res.Receivers) != 3 {
		t.Fatalf("result names %d receivers, want 3: %+v", len(res.Receivers), res)
	}
	byName := map[string]ReceiverResult{}
	for _, r := range res.Receivers {
		byName[r.Receiver] = r
	}
	if r := byName["arc"]; !r.Acked || r.Path != "primary" || r.At.IsZero() || len(r.Paths) != 1 {
		t.Errorf("arc: %+v", r)
	}
	if r := byName["guard"]; !r.Acked || r.Path != "backup" || r.At.IsZero() || len(r.Paths) != 2 {
		t.Errorf("guard: %+v, want acknowledged over the backup", r)
	}
	if r := byName["fire-only"]; r.Acked || r.Error == "" {
		t.Errorf("fire-only: %+v, want not acknowledged: it does not take tests", r)
	}
	if res.OK() {
		t.Error("OK with a receiver that did not acknowledge")
	}
	// Status names each receiver's last acknowledged test: guard's over its backup.
	for _, st := range u.Status() {
		switch lt := st.LastTest; st.Name {
		case "guard":
			// A later test event (the uplink's own, after the primary's fault) may be
			// the last acknowledged by now; it went over the backup too.
			if lt == nil || lt.Seq < res.Seq || lt.Path != "backup" || lt.At.IsZero() {
				t.Errorf("guard's last test %+v, want #%d or later over the backup", lt, res.Seq)
			}
		case "fire-only":
			if lt != nil {
				t.Errorf("fire-only's last test %+v: it takes none", lt)
			}
		}
	}

	// With guard entirely down, the test names it as not acknowledged, within the time-out.
	cfg.Receivers = cfg.Receivers[:2]
	bb.close()
	seq := manualTest()
	res = await(seq, 500*time.Millisecond)
	for _, r := range res.Receivers {
		switch r.Receiver {
		case "arc":
			if !r.Acked {
				t.Errorf("arc: %+v", r)
			}
		case "guard":
			if r.Acked || r.Error == "" {
				t.Errorf("guard: %+v, want no acknowledgement", r)
			}
		}
	}
	if res.OK() {
		t.Error("OK with guard down")
	}
	b.reopen()
	hubtest.Eventually(t, "guard acknowledges", func() bool {
		for _, r := range await(seq, 500*time.Millisecond).Receivers {
			if r.Receiver == "guard" && !r.Acked {
				return false
			}
		}
		return true
	})
}
