package notify

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
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
