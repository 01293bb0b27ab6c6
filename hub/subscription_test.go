package hub

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSubscribe_NeverMissesAnEvent subscribes while a step is being published, many times
// over: whatever the interleaving, the subscription's first snapshot is the hub's at the time
// it registered, and the next update's events follow it without a gap (or say Lagged).
func TestSubscribe_NeverMissesAnEvent(t *testing.T) {
	now := scenarioStart
	for i := range 20 {
		s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
		h, err := New(s, DemoInstallation(testKey), Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		step := func(line string) []Event {
			in, err := ParseLine(h.eng.Installation(), line)
			if err != nil {
				t.Fatal(err)
			}
			effs, err := h.eng.Step(now, in)
			if err != nil {
				t.Fatal(err)
			}
			var evs []Event
			for _, e := range effs {
				if e.Kind == EffectEvent {
					evs = append(evs, e.Event)
				}
			}
			return evs
		}
		// Subscribe while the subscribers' lock is held, so that it gets as far as it can
		// and waits; then publish a step, as the run loop does, and let both go.
		h.mu.Lock()
		subc := make(chan *Subscription)
		go func() { subc <- h.Subscribe() }()
		time.Sleep(2 * time.Millisecond)
		evs := step("battery_low front_door")
		h.mu.Unlock()
		h.publishSnapshot(h.snapshot(now), evs, nil)
		sub := <-subc
		u1 := sub.Next()
		if got, want := u1.Snapshot.State.NextSeq, h.Snapshot().State.NextSeq; got != want {
			t.Fatalf("run %d: first update's snapshot is at seq %d, the hub's at %d", i, got, want)
		}
		evs = step("battery_low front_door off")
		h.publishSnapshot(h.snapshot(now), evs, nil)
		u2 := sub.Next()
		if !u2.Lagged && u2.FromSeq != u1.Snapshot.State.NextSeq {
			t.Fatalf("run %d: events from %d follow a snapshot at %d, not lagged: events lost", i, u2.FromSeq, u1.Snapshot.State.NextSeq)
		}
		sub.Close()
		s.Close()
	}
}
