package hub

import (
	"path/filepath"
	"slices"
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

// TestUpdate_CommittedEvents: a lagged update reads what it missed from the store, up to
// its snapshot and no further (the next update brings the rest, so nothing is seen twice);
// an update that kept up gives its own events.
func TestUpdate_CommittedEvents(t *testing.T) {
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
	defer s.Close()
	events := make([]Event, 8)
	for i := range events {
		events[i] = Event{Seq: uint64(i + 1), Time: time.Unix(int64(i+1), 0), Kind: KindPanic}
	}
	if err := s.Commit(&State{NextSeq: 9}, events); err != nil {
		t.Fatal(err)
	}
	lagged := Update{Lagged: true, FromSeq: 3, Snapshot: &Snapshot{State: State{NextSeq: 6}}}
	got, err := lagged.CommittedEvents(s)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, ev := range got {
		seqs = append(seqs, ev.Seq)
	}
	if !slices.Equal(seqs, []uint64{3, 4, 5}) {
		t.Errorf("lagged update from 3, snapshot before 6: events %v, want [3 4 5]", seqs)
	}
	kept := Update{Events: events[6:], FromSeq: 7, Snapshot: &Snapshot{State: State{NextSeq: 9}}}
	if got, _ := kept.CommittedEvents(s); len(got) != 2 || got[0].Seq != 7 {
		t.Errorf("an update that kept up: %v", got)
	}
	if got, _ := (Update{Lagged: true, FromSeq: 9, Snapshot: &Snapshot{State: State{NextSeq: 9}}}).CommittedEvents(s); len(got) != 0 {
		t.Errorf("nothing missed: %v", got)
	}
}
