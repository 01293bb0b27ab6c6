package notify

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestMainsReminder_SixHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fired := make(chan time.Time, 4)
		r := &mainsReminder{after: 6 * time.Hour, now: time.Now, remind: func(lost time.Time) { fired <- lost }}
		events := make(chan hub.Event)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); r.run(ctx, events) }()
		expect := func(what string, want time.Time) {
			t.Helper()
			synctest.Wait()
			select {
			case got := <-fired:
				if want.IsZero() || !got.Equal(want) {
					t.Fatalf("%s: reminded of the loss at %v", what, got)
				}
			default:
				if !want.IsZero() {
					t.Fatalf("%s: no reminder", what)
				}
			}
		}
		lost := func(at time.Time) hub.Event {
			return hub.Event{Kind: hub.KindMainsLost, How: hub.HowSystem, Time: at}
		}

		t1 := time.Now()
		events <- lost(t1)
		time.Sleep(6*time.Hour - time.Second)
		expect("at 5:59:59", time.Time{})
		time.Sleep(time.Second)
		expect("at 6:00:00", t1)
		events <- lost(t1) // the same loss again, as after a lagged update
		time.Sleep(7 * time.Hour)
		expect("the same loss again", time.Time{})

		events <- hub.Event{Kind: hub.KindMainsLost, How: hub.HowSystem, Restore: true, Time: time.Now()}
		events <- lost(time.Now())
		time.Sleep(5 * time.Hour)
		events <- hub.Event{Kind: hub.KindMainsLost, How: hub.HowSystem, Restore: true, Time: time.Now()}
		time.Sleep(2 * time.Hour)
		expect("restored after 5 h", time.Time{})

		events <- hub.Event{Kind: hub.KindMainsLost, Report: true, Time: time.Now()} // the station's report
		time.Sleep(7 * time.Hour)
		expect("the station's report is no loss", time.Time{})

		t2 := time.Now().Add(-7 * time.Hour) // lost before a restart
		events <- lost(t2)
		expect("a loss older than 6 h at start", t2)
		cancel()
		<-done
	})
}

// TestNotifier_MainsReminderAcrossRestarts: the 6 h reminder is timed from the loss as the
// store holds it, through restarts of the hub and the notifier: not early after a restart
// at 5 h, at once after a restart past a due time missed while down, and never twice.
func TestNotifier_MainsReminderAcrossRestarts(t *testing.T) {
	srv := newNtfyServer(t)
	clock := hubtest.NewClock(hubtest.T0)
	path := hubtest.StorePath(t)
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "en", Events: []string{ClassMains}, Ntfy: "erik"})
	var stopHub, stopN func()
	var n *Notifier
	var h *hub.Hub
	start := func(inst *hub.Installation) {
		h, stopHub = hubtest.StartHub(t, path, inst, hub.Options{Now: clock.Now})
		n, stopN = startNotifier(t, cfg, h, clock)
	}
	restart := func() {
		stopN()
		stopHub()
		start(nil)
	}
	reminders := func() []string {
		var out []string
		for _, r := range srv.got() {
			if r.Title == "Mains still out" {
				out = append(out, r.Body)
			}
		}
		return out
	}
	settle := func() {
		n.poke()
		time.Sleep(50 * time.Millisecond)
	}

	start(demo())
	do(t, h, hub.Input{Kind: hub.InMains, Active: true}) // lost at 18:00
	hubtest.Eventually(t, "mains lost", func() bool { return len(srv.got()) == 1 })
	clock.Add(5 * time.Hour)
	restart()
	settle()
	if got := reminders(); len(got) != 0 {
		t.Fatalf("reminded at 5 h: %q", got)
	}
	clock.Add(time.Hour)
	n.poke()
	hubtest.Eventually(t, "reminder at 6 h after a restart at 5 h", func() bool { return len(reminders()) == 1 })
	if got := reminders()[0]; got != "Mains has been out for 6 h, since 18:00" {
		t.Errorf("reminder %q", got)
	}
	clock.Add(time.Hour)
	restart()
	settle()
	if got := reminders(); len(got) != 1 {
		t.Fatalf("reminded again after a restart: %q", got)
	}

	// Restored, lost again at 02:00, and the notifier is down when its reminder is due.
	do(t, h, hub.Input{Kind: hub.InMains, Active: false})
	clock.Add(time.Hour)
	do(t, h, hub.Input{Kind: hub.InMains, Active: true})
	hubtest.Eventually(t, "restored and lost again", func() bool { return len(srv.got()) == 4 })
	stopN()
	stopHub()
	clock.Add(7 * time.Hour)
	start(nil)
	hubtest.Eventually(t, "the reminder missed while down, at once", func() bool { return len(reminders()) == 2 })
	if got := reminders()[1]; got != "Mains has been out for 6 h, since 02:00" {
		t.Errorf("reminder %q", got)
	}
}
