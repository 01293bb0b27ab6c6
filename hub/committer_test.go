package hub

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// heldDisk is a BeforeCommit that holds every commit whose events include hold until
// released, and records what each commit carried.
type heldDisk struct {
	hold    EventKind
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once

	mu      sync.Mutex
	batches [][]Event
}

func newHeldDisk(hold EventKind) *heldDisk {
	return &heldDisk{hold: hold, gate: make(chan struct{}), entered: make(chan struct{})}
}

func (d *heldDisk) before(evs []Event) error {
	d.mu.Lock()
	d.batches = append(d.batches, slices.Clone(evs))
	d.mu.Unlock()
	if slices.ContainsFunc(evs, func(ev Event) bool { return ev.Kind == d.hold }) {
		d.once.Do(func() { close(d.entered) })
		<-d.gate
	}
	return nil
}

func (d *heldDisk) release() { close(d.gate) }

func (d *heldDisk) commits() [][]Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.batches)
}

func eventKinds(evs []Event) []EventKind {
	var ks []EventKind
	for _, ev := range evs {
		ks = append(ks, ev.Kind)
	}
	return ks
}

// doAsync sends line to the hub and delivers the result on the returned channel.
func doAsync(t *testing.T, h *Hub, line string) <-chan Result {
	t.Helper()
	in, err := ParseLine(h.Snapshot().Installation, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	c := make(chan Result, 1)
	go func() { c <- h.Do(context.Background(), in) }()
	return c
}

// TestHub_SirenWhileEarlierCommitHeld: the commit of an earlier input (a battery report)
// is held on the disk; a smoke detection that comes while it is written is stepped and
// its fire siren handed to the outputs at once, without waiting for that commit (DESIGN
// §3: the siren never waits for the disk). Neither is answered nor published as committed
// before it is durable; then both are, in order, and what piled up went in one commit.
func TestHub_SirenWhileEarlierCommitHeld(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
	defer s.Close()
	disk := newHeldDisk(KindDeviceBatteryLow)
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now, BeforeCommit: disk.before})
	if err != nil {
		t.Fatal(err)
	}
	outs, committed := h.SubscribeOutputs(), h.Subscribe()
	defer outs.Close()
	defer committed.Close()
	committed.Next()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	battery := doAsync(t, h, "battery_low front_door")
	<-disk.entered // the battery report's commit is being written, and held there
	fire := doAsync(t, h, "smoke kitchen_smoke")
	waitUpdate(t, outs, "the fire siren while the earlier commit is held", func(u Update) bool { return sirenOf(u.Outputs, 1) == SirenFire })
	water := doAsync(t, h, "water bathroom_water")
	waitUpdate(t, outs, "the water leak decided", func(u Update) bool {
		return slices.ContainsFunc(u.Events, func(ev Event) bool { return ev.Kind == KindWater })
	})
	for name, c := range map[string]<-chan Result{"battery": battery, "fire": fire, "water": water} {
		select {
		case r := <-c:
			t.Fatalf("%s answered while the battery report's commit is held: %+v", name, r)
		default:
		}
	}
	select {
	case <-committed.C():
		if u := committed.Next(); len(u.Events) > 0 || u.Snapshot.State.Areas[0].Siren != SirenOff {
			t.Fatalf("published as committed before the commit: %v", eventKinds(u.Events))
		}
	default:
	}
	if last, _ := s.LastSeq(); last != 0 {
		t.Fatalf("log at seq %d while the first commit is held", last)
	}

	disk.release()
	rb, rf, rw := <-battery, <-fire, <-water
	for _, r := range []Result{rb, rf, rw} {
		if r.Err != nil || len(r.Events) != 1 {
			t.Fatalf("reply %+v", r)
		}
		// A reply comes only once its events are durable.
		if last, _ := s.LastSeq(); last < r.Events[0].Seq {
			t.Fatalf("answered event %d while the log ends at %d", r.Events[0].Seq, last)
		}
	}
	if rb.Events[0].Kind != KindDeviceBatteryLow || rf.Events[0].Kind != KindFire || rw.Events[0].Kind != KindWater {
		t.Fatalf("replies %v %v %v", eventKinds(rb.Events), eventKinds(rf.Events), eventKinds(rw.Events))
	}
	var got []Event
	waitUpdate(t, committed, "the committed events", func(u Update) bool {
		got = append(got, u.Events...)
		return len(got) >= 3
	})
	want := []EventKind{KindDeviceBatteryLow, KindFire, KindWater}
	if !slices.Equal(eventKinds(got), want) {
		t.Fatalf("committed %v, want %v", eventKinds(got), want)
	}
	for i, ev := range got {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("committed event %d has seq %d", i, ev.Seq)
		}
	}
	// Group commit: the fire and the water leak piled up behind the held commit and went
	// to the disk together.
	var sizes []int
	for _, b := range disk.commits() {
		if len(b) > 0 {
			sizes = append(sizes, len(b))
		}
	}
	if !slices.Equal(sizes, []int{1, 2}) {
		t.Errorf("events per commit %v, want [1 2]", sizes)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHub_ShutdownWaitsForCommit: the hub is stopped while a commit is held on the disk
// and more has been decided behind it; Run returns only when both are durable.
func TestHub_ShutdownWaitsForCommit(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	disk := newHeldDisk(KindDeviceBatteryLow)
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now, BeforeCommit: disk.before})
	if err != nil {
		t.Fatal(err)
	}
	outs := h.SubscribeOutputs()
	defer outs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	doAsync(t, h, "battery_low front_door")
	<-disk.entered
	if err := h.Submit(ctx, mustParse(t, h, "smoke kitchen_smoke")); err != nil {
		t.Fatal(err)
	}
	waitUpdate(t, outs, "the fire decided", func(u Update) bool { return sirenOf(u.Outputs, 1) == SirenFire })
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a commit is held", err)
	default:
	}
	disk.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventKinds(evs); !slices.Equal(got, []EventKind{KindDeviceBatteryLow, KindFire}) {
		t.Fatalf("log after shutdown %v", got)
	}
	if st, _, _ := s.State(); st.Areas[0].Siren != SirenFire || st.NextSeq != 3 {
		t.Fatalf("stored state: siren %s, next seq %d", st.Areas[0].Siren, st.NextSeq)
	}
}

func mustParse(t *testing.T, h *Hub, line string) Input {
	t.Helper()
	in, err := ParseLine(h.Snapshot().Installation, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return in
}

// TestHub_RepliedNeverLost plays a crash: several senders keep the hub busy, so commits
// run behind the steps and group what piles up, and the store is closed under the running
// hub (the process dies; nothing is shut down). Every event that was answered without an
// error, and every event published as committed, is in the log on reopening, in order and
// without a gap; afterwards the hub only answers ErrNotDurable.
func TestHub_RepliedNeverLost(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	committed := h.Subscribe()
	defer committed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	var (
		mu      sync.Mutex
		replied []Event
		crashed = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	crash := func() { once.Do(func() { s.Close(); close(crashed) }) }
	for _, dev := range []string{"front_door", "living_window", "bedroom_window", "kitchen_smoke"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			on := mustParse(t, h, "battery_low "+dev)
			off := mustParse(t, h, "battery_low "+dev+" off")
			for i := 0; ; i++ {
				in := on
				if i%2 == 1 {
					in = off
				}
				r := h.Do(ctx, in)
				switch {
				case r.Err == nil:
					mu.Lock()
					replied = append(replied, r.Events...)
					n := len(replied)
					mu.Unlock()
					if n >= 200 {
						crash()
					}
				case errors.Is(r.Err, ErrNotDurable):
				default:
					t.Errorf("%s: %v", dev, r.Err)
					return
				}
				select {
				case <-crashed:
					if i > 400 {
						return
					}
				default:
				}
			}
		}()
	}
	wg.Wait()
	var published []Event
	for {
		select {
		case <-committed.C():
			u := committed.Next()
			if u.Lagged {
				t.Fatal("the committed subscriber lagged")
			}
			published = append(published, u.Events...)
			continue
		default:
		}
		break
	}
	if d := h.Durability(); d.Err == nil {
		t.Fatal("the hub did not notice the closed store")
	}
	cancel()
	<-done // an error: events decided after the crash are not durable

	s = mustOpenStore(t, path, 0)
	defer s.Close()
	logged, err := s.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[uint64]Event{}
	for i, ev := range logged {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("log entry %d has seq %d: a gap", i, ev.Seq)
		}
		bySeq[ev.Seq] = ev
	}
	mu.Lock()
	defer mu.Unlock()
	if len(replied) < 200 {
		t.Fatalf("only %d events answered before the crash", len(replied))
	}
	for what, evs := range map[string][]Event{"answered": replied, "published as committed": published} {
		for _, ev := range evs {
			if got, ok := bySeq[ev.Seq]; !ok || got.Kind != ev.Kind || got.Device != ev.Device || got.Restore != ev.Restore {
				t.Fatalf("%s event %d (%s %s) lost in the crash: log has %d events", what, ev.Seq, ev.Kind, ev.Device, len(logged))
			}
		}
	}
	t.Logf("%d events answered, %d published, %d in the log", len(replied), len(published), len(logged))
}
