package outbox

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// appendEvents logs n events after the last; every third is history only (Report unset).
func appendEvents(tb testing.TB, s *hub.Store, n int) {
	tb.Helper()
	last, err := s.LastSeq()
	if err != nil {
		tb.Fatal(err)
	}
	events := make([]hub.Event, n)
	for i := range events {
		seq := last + uint64(i) + 1
		events[i] = hub.Event{Seq: seq, Time: time.Unix(int64(seq), 0), Kind: hub.KindPanic, Report: seq%3 != 0}
	}
	if err := s.Commit(&hub.State{NextSeq: last + uint64(n) + 1}, events); err != nil {
		tb.Fatal(err)
	}
}

func reported(ev hub.Event) bool { return ev.Report }

func TestOutbox_DrainInOrder(t *testing.T) {
	s := hubtest.OpenStore(t)
	appendEvents(t, s, 10)
	o := New(s, "test/a", reported, nil)
	if err := o.Open(); err != nil {
		t.Fatal(err)
	}
	if c := o.Cursor(); c != 10 {
		t.Fatalf("a new outbox starts at %d, want the end of the log, 10", c)
	}
	appendEvents(t, s, 200)
	var got []uint64
	fail := uint64(100) // fails once, at event 100
	deliver := func(_ context.Context, batch []hub.Event, done func(hub.Event)) error {
		for _, ev := range batch {
			if ev.Seq == fail {
				fail = 0
				return errors.New("station down")
			}
			got = append(got, ev.Seq)
			done(ev)
		}
		return nil
	}
	if err := o.Drain(t.Context(), deliver); err == nil {
		t.Fatal("Drain: no error from a failed delivery")
	}
	if c := o.Cursor(); c != 98 {
		t.Errorf("cursor after the failure at 100 = %d, want 98 (99 is history only, not yet passed)", c)
	}
	if err := o.Drain(t.Context(), deliver); err != nil {
		t.Fatal(err)
	}
	var want []uint64
	for seq := uint64(11); seq <= 210; seq++ {
		if seq%3 != 0 {
			want = append(want, seq)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("delivered %v,\nwant %v", got, want)
	}
	if err := o.Save(true); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := s.Cursor("test/a"); c != 210 {
		t.Errorf("saved cursor %d, want 210", c)
	}
	if ok, _ := o.Passed(210); !ok {
		t.Error("Passed(210) = false after the drain")
	}
}

// TestOutbox_SavesInBatches: a drain of many events does not commit once per event.
func TestOutbox_SavesInBatches(t *testing.T) {
	s := &countingStore{Store: hubtest.OpenStore(t)}
	o := New(s, "test/a", reported, nil)
	o.SaveEvery = time.Hour
	if err := o.Open(); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s.Store, 640)
	s.saves = 0
	err := o.Drain(t.Context(), func(_ context.Context, batch []hub.Event, done func(hub.Event)) error {
		for _, ev := range batch {
			done(ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.saves > 640/ReadBatch {
		t.Errorf("%d cursor saves for 640 events, want at most %d", s.saves, 640/ReadBatch)
	}
}

type countingStore struct {
	*hub.Store
	saves int
}

func (s *countingStore) SetCursor(name string, seq uint64) error {
	s.saves++
	return s.Store.SetCursor(name, seq)
}

// fakeSub is a hub subscription fed by the test.
type fakeSub struct {
	c  chan struct{}
	mu sync.Mutex
	u  hub.Update
}

func newFakeSub() *fakeSub { return &fakeSub{c: make(chan struct{}, 1)} }

func (f *fakeSub) C() <-chan struct{} { return f.c }

func (f *fakeSub) Next() hub.Update {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.u
	f.u = hub.Update{}
	return u
}

func (f *fakeSub) send(events ...hub.Event) {
	f.mu.Lock()
	f.u.Events = append(f.u.Events, events...)
	f.mu.Unlock()
	select {
	case f.c <- struct{}{}:
	default:
	}
}

// TestOutbox_NewAlarmCutsRetryWait: while the loop waits out a back-off (an hour here),
// news from the hub without a wanted event does not wake it, and a new wanted event (an
// alarm) is tried at once: the fake clock has not moved.
func TestOutbox_NewAlarmCutsRetryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := hubtest.OpenStore(t)
		o := New(s, "test/a", reported, nil)
		if err := o.Open(); err != nil {
			t.Fatal(err)
		}
		sub := newFakeSub()
		var mu sync.Mutex
		steps, down := 0, true
		var delivered []uint64
		loop := Loop{
			Step: func(ctx context.Context) error {
				mu.Lock()
				steps++
				mu.Unlock()
				return o.Drain(ctx, func(_ context.Context, batch []hub.Event, done func(hub.Event)) error {
					mu.Lock()
					defer mu.Unlock()
					if down {
						return errors.New("station down")
					}
					for _, ev := range batch {
						delivered = append(delivered, ev.Seq)
						done(ev)
					}
					return nil
				})
			},
			Retry: func(int, error) (time.Duration, bool) { return time.Hour, true },
			Tick:  24 * time.Hour,
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go o.Run(ctx, sub, loop)
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			return steps
		}

		appendEvents(t, s, 2) // 1 reported, 2 reported
		sub.send(hub.Event{Seq: 1, Report: true}, hub.Event{Seq: 2, Report: true})
		synctest.Wait()
		if n := count(); n != 1 {
			t.Fatalf("%d attempts, want 1, failed, now waiting an hour", n)
		}
		start := time.Now()

		appendEvents(t, s, 1) // 3: history only
		sub.send(hub.Event{Seq: 3})
		synctest.Wait()
		if n := count(); n != 1 {
			t.Fatalf("history-only news cut the back-off short: %d attempts", n)
		}

		mu.Lock()
		down = false // the station is back
		mu.Unlock()
		appendEvents(t, s, 1) // 4: the alarm
		sub.send(hub.Event{Seq: 4, Report: true})
		synctest.Wait()
		if n := count(); n != 2 {
			t.Fatalf("%d attempts after the alarm, want 2: the alarm waits for the back-off", n)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the alarm was tried %v into the back-off, want at once", d)
		}
		mu.Lock()
		got := slices.Clone(delivered)
		mu.Unlock()
		if !slices.Equal(got, []uint64{1, 2, 4}) {
			t.Errorf("delivered %v, want the backlog then the alarm: [1 2 4]", got)
		}
		cancel()
		synctest.Wait()
	})
}

// TestDeleteStale_LogCapWorksAgain: a cursor left by a receiver no longer configured holds
// back pruning; deleting it at start lets the log shrink to its cap again.
func TestDeleteStale_LogCapWorksAgain(t *testing.T) {
	s := hubtest.OpenStoreCapped(t, 10)
	for _, name := range []string{"dc09/arc", "dc09/old", "mqtt/home", "mqtt/renamed"} {
		if err := s.SetCursor(name, 0); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(t, s, 50)
	if first, _ := s.FirstSeq(); first != 1 {
		t.Fatalf("first event %d, want 1: cursors at 0 hold back pruning", first)
	}
	for _, name := range []string{"dc09/arc", "mqtt/home"} {
		if err := s.SetCursor(name, 50); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := DeleteStale(s, []string{"dc09/arc", "mqtt/home"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{"dc09/old", "mqtt/renamed"}) {
		t.Errorf("deleted %v, want [dc09/old mqtt/renamed]", deleted)
	}
	cursors, err := s.Cursors()
	if err != nil {
		t.Fatal(err)
	}
	if len(cursors) != 2 || cursors["dc09/arc"] != 50 || cursors["mqtt/home"] != 50 {
		t.Errorf("cursors left %v", cursors)
	}
	appendEvents(t, s, 1)
	if first, _ := s.FirstSeq(); first <= 40 {
		t.Errorf("first event %d after the stale cursors went: the log cap (10) still held back", first)
	}
}

// TestPrepare_NewDestinationGetsWhatFollows: a destination configured for the first time
// starts at the end of the log as it was before the hub ran, so an event logged before the
// destination opens (an alarm in the first moments of a first start) is still delivered.
func TestPrepare_NewDestinationGetsWhatFollows(t *testing.T) {
	s := hubtest.OpenStore(t)
	appendEvents(t, s, 5) // the installation's past: not for a new destination
	if err := s.SetCursor("dc09/gone", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor("dc09/arc", 3); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(s, []string{"dc09/arc", "dc09/new"}, nil); err != nil {
		t.Fatal(err)
	}
	cursors, err := s.Cursors()
	if err != nil {
		t.Fatal(err)
	}
	if len(cursors) != 2 || cursors["dc09/arc"] != 3 || cursors["dc09/new"] != 5 {
		t.Fatalf("cursors %v, want dc09/arc kept at 3, dc09/new created at 5, dc09/gone deleted", cursors)
	}
	appendEvents(t, s, 3) // logged before the destination opens: 6 history only, 7 and 8 reported
	o := New(s, "dc09/new", func(ev hub.Event) bool { return ev.Report }, nil)
	if err := o.Open(); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	if err := o.Drain(context.Background(), func(_ context.Context, batch []hub.Event, done func(hub.Event)) error {
		for _, ev := range batch {
			got = append(got, ev.Seq)
			done(ev)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []uint64{7, 8}) {
		t.Errorf("delivered %v, want the events logged after Prepare that are reported: [7 8]", got)
	}
}
