package hub_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestHub_ScheduleAcrossRestart stops and starts a hub on a real store around a schedule's
// time: back within the grace it arms (once, not again on the next start); back an hour
// later it logs the arming as missed and leaves the house as it was.
func TestHub_ScheduleAcrossRestart(t *testing.T) {
	ctx := context.Background()
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	clock := hubtest.NewClock(time.Date(2026, 11, 24, 21, 50, 0, 0, loc))
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	inst.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedAway, Arm: hub.NewClockTime(22, 0), Days: []hub.Weekday{0, 1, 2, 3, 4, 5, 6}}}
	path := hubtest.StorePath(t)
	opts := hub.Options{Now: clock.Now}

	// start runs the hub at the clock's time until its first tick is committed, and returns
	// the events logged since seq after.
	var last uint64
	start := func() (*hub.Hub, func(), []hub.Event) {
		t.Helper()
		h, stop := hubtest.StartHub(t, path, inst, opts)
		if res := h.Do(ctx, hub.Input{Kind: hub.InTick}); res.Err != nil {
			t.Fatal(res.Err)
		}
		evs, err := h.Store().Events(last, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			last = evs[len(evs)-1].Seq
		}
		return h, stop, evs
	}
	kinds := func(evs []hub.Event) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Kind.String()+"/"+ev.How.String())
		}
		return strings.Join(s, " ")
	}

	_, stop, _ := start()
	stop() // off at 21:50, through the warning and the arming time

	clock.Set(time.Date(2026, 11, 24, 22, 3, 0, 0, loc))
	h, stop, evs := start()
	if got := kinds(evs); got != "exit_delay/schedule" {
		t.Fatalf("back at 22:03: events %q, want the scheduled arming (exit_delay/schedule)", got)
	}
	if a := h.Snapshot().State.Areas[0]; a.Set != hub.ModeArmedAway || a.How != hub.HowSchedule {
		t.Fatalf("area 1: %+v", a)
	}
	stop()

	clock.Set(time.Date(2026, 11, 24, 22, 4, 30, 0, loc))
	h, stop, evs = start()
	if got := kinds(evs); got != "arm/schedule" {
		t.Fatalf("back at 22:04:30: events %q, want only the end of the exit delay, no second arming", got)
	}
	res := h.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 1, Code: "1234", How: hub.HowKeypad})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	last = res.Events[len(res.Events)-1].Seq
	stop()

	// Off from the next evening before the warning until long after the arming time.
	clock.Set(time.Date(2026, 11, 25, 23, 10, 0, 0, loc))
	h, stop, evs = start()
	if got := kinds(evs); got != "schedule_missed/schedule" {
		t.Fatalf("back at 23:10 the next day: events %q, want schedule_missed", got)
	}
	if !strings.Contains(evs[0].Note, "Wed 22:00") {
		t.Errorf("the missed schedule's note %q does not say when", evs[0].Note)
	}
	if a := h.Snapshot().State.Areas[0]; a.Set != hub.ModeDisarmed {
		t.Fatalf("armed an hour late: %+v", a)
	}
	next := h.Snapshot().State.ScheduleAt
	if want := time.Date(2026, 11, 26, 21, 55, 0, 0, loc); !next.Equal(want) {
		t.Fatalf("next schedule %s, want %s", next, want)
	}
	stop()
}

// TestHub_ScheduleRunsOnItsOwn: the run loop wakes at the schedule's deadline by itself, with
// nobody ticking it (testing/synctest's clock; a real store).
func TestHub_ScheduleRunsOnItsOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble starts on Saturday 1 January 2000, 00:00 UTC: 01:00 in Stockholm.
		inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
		inst.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedAway, Arm: hub.NewClockTime(1, 30), Days: []hub.Weekday{6}}}
		h, stop := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{})
		defer stop()
		kinds := func() string {
			evs, err := h.Store().Events(0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, ev := range evs {
				s = append(s, ev.Kind.String())
			}
			return strings.Join(s, " ")
		}
		time.Sleep(25*time.Minute - time.Second)
		synctest.Wait()
		if got := kinds(); got != "" {
			t.Fatalf("at 01:24:59: %q", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := kinds(); got != "schedule_warning" {
			t.Fatalf("at 01:25: %q, want the warning", got)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := kinds(); got != "schedule_warning exit_delay" {
			t.Fatalf("at 01:30: %q, want the arming", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if a := h.Snapshot().State.Areas[0]; a.Mode != hub.ModeArmedAway || a.How != hub.HowSchedule {
			t.Fatalf("at 01:31: area 1 %+v", a)
		}
		if next, want := h.Snapshot().State.ScheduleAt, time.Date(2000, 1, 8, 0, 25, 0, 0, time.UTC); !next.Equal(want) {
			t.Fatalf("next schedule %s, want next Saturday's warning %s", next, want)
		}
	})
}
