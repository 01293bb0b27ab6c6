package hub

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitUpdate waits for an update of sub that satisfies ok, and returns it.
func waitUpdate(t *testing.T, sub *Subscription, what string, ok func(Update) bool) Update {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-sub.C():
			if u := sub.Next(); ok(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("no update: %s", what)
		}
	}
}

func sirenOf(o *Outputs, area int) SirenPattern {
	a, _ := o.Area(area)
	return a.Siren
}

// TestHub_SirenBeforeCommit holds the commit of a fire up and checks the output followers
// already have the fire siren, while nothing of it is published as committed or answered.
func TestHub_SirenBeforeCommit(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
	defer s.Close()
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gate, entered := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.commit = func(inst *Installation, st *State, evs []Event) error {
		for _, ev := range evs {
			if ev.Kind == KindFire {
				once.Do(func() { close(entered) })
				<-gate
			}
		}
		return s.CommitInstallation(inst, st, evs)
	}
	outs, committed := h.SubscribeOutputs(), h.Subscribe()
	defer outs.Close()
	defer committed.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	reply := make(chan Result, 1)
	go func() { reply <- do(t, h, "smoke kitchen_smoke") }()
	u := waitUpdate(t, outs, "the fire siren before the commit", func(u Update) bool { return sirenOf(u.Outputs, 1) == SirenFire })
	<-entered // the commit is under way and held
	if u.Committed {
		t.Errorf("an update ahead of the commit says Committed")
	}
	if o := u.Outputs.Box; o.Siren != SirenFire || !o.Strobe {
		t.Errorf("box outputs %+v before the commit, want fire with strobe", o)
	}
	select {
	case r := <-reply:
		t.Fatalf("answered before the commit: %+v", r)
	default:
	}
	if cu := committed.Next(); len(cu.Events) > 0 || cu.Snapshot.State.Areas[0].Siren != SirenOff {
		t.Fatalf("committed subscriber saw the fire before its commit: %+v", cu.Events)
	}
	close(gate)
	if r := <-reply; r.Err != nil || len(r.Events) != 1 || r.Events[0].Kind != KindFire {
		t.Fatalf("reply after the commit: %+v", r)
	}
	waitUpdate(t, committed, "the committed fire", func(u Update) bool {
		return len(u.Events) == 1 && u.Events[0].Kind == KindFire && u.Committed
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// errDiskGone is an injected commit failure.
var errDiskGone = errors.New("injected: input/output error")

// TestHub_FailedCommitKeepsRunning fails every commit for a while (an injected I/O error):
// the hub goes on, sounds the siren, raises the disk fault, answers with ErrNotDurable and
// publishes nothing as committed; when the disk is back every event is committed, in
// order and without a gap, and only then published.
func TestHub_FailedCommitKeepsRunning(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
	defer s.Close()
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failing, attempts := true, 0
	h.commit = func(inst *Installation, st *State, evs []Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if failing {
			return errDiskGone
		}
		return s.CommitInstallation(inst, st, evs)
	}
	outs, committed := h.SubscribeOutputs(), h.Subscribe()
	defer outs.Close()
	defer committed.Close()
	committed.Next()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	r := do(t, h, "arm away 1234")
	if !errors.Is(r.Err, ErrNotDurable) || !errors.Is(r.Err, errDiskGone) || len(r.Events) != 1 || r.Events[0].Kind != KindExitDelay {
		t.Fatalf("arm while the disk fails: %+v, want its events with ErrNotDurable", r)
	}
	if d := h.Durability(); d.Err == nil || d.Pending != 2 {
		t.Fatalf("durability %+v, want the error and 2 events pending (exit delay, disk fault)", d)
	}
	r = do(t, h, "smoke kitchen_smoke")
	if !errors.Is(r.Err, ErrNotDurable) {
		t.Fatalf("fire while the disk fails: %v", r.Err)
	}
	u := waitUpdate(t, outs, "the fire siren from memory", func(u Update) bool { return sirenOf(u.Outputs, 1) == SirenFire })
	if u.Committed {
		t.Error("output update says committed")
	}
	select {
	case <-committed.C():
		if cu := committed.Next(); len(cu.Events) > 0 {
			t.Fatalf("published as committed while the disk fails: %+v", cu.Events)
		}
	default:
	}
	if got := h.Snapshot().State.Areas[0].Mode; got != ModeDisarmed {
		t.Fatalf("the committed snapshot shows %s before anything is durable", got)
	}
	if st, _, _ := s.State(); st.NextSeq > 1 {
		t.Fatalf("store has state at seq %d", st.NextSeq)
	}

	// Back-off: more attempts only as the clock moves on.
	mu.Lock()
	before := attempts
	failing = false
	mu.Unlock()
	clock.Add(time.Second)
	if err := h.Submit(ctx, Input{Kind: InTick}); err != nil {
		t.Fatal(err)
	}
	var got []Event
	waitUpdate(t, committed, "the committed backlog", func(u Update) bool {
		got = append(got, u.Events...)
		return len(got) > 0 && got[len(got)-1].Kind == KindDiskFault && got[len(got)-1].Restore
	})
	mu.Lock()
	if attempts <= before {
		t.Errorf("no retry after the back-off")
	}
	mu.Unlock()
	want := []EventKind{KindExitDelay, KindDiskFault, KindFire, KindDiskFault}
	logged, err := s.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, evs := range [][]Event{got, logged} {
		if len(evs) != len(want) {
			t.Fatalf("events %v, want kinds %v", evs, want)
		}
		for i, ev := range evs {
			if ev.Kind != want[i] || ev.Seq != uint64(i+1) {
				t.Fatalf("event %d: %s seq %d, want %s seq %d", i, ev.Kind, ev.Seq, want[i], i+1)
			}
		}
	}
	if !logged[1].Report || logged[1].Restore || !logged[3].Restore {
		t.Errorf("disk fault events %+v %+v", logged[1], logged[3])
	}
	if d := h.Durability(); d.Err != nil || d.Pending != 0 {
		t.Fatalf("durability after recovery %+v", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestHub_DiskFullThenFreed runs the hub on a small tmpfs filled to the brim: commits fail
// with ENOSPC, the hub goes on from memory; when room is freed, every event is committed in
// order, nothing lost. It needs root (mount); TestHub_FailedCommitKeepsRunning tests the
// same with an injected failure everywhere.
func TestHub_DiskFullThenFreed(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount a 2 MB tmpfs: %v: %s (not permitted here; TestHub_FailedCommitKeepsRunning covers a failing commit)", err, out)
	}
	defer exec.Command("umount", dir).Run()
	s := mustOpenStore(t, filepath.Join(dir, "vakt.db"), 0)
	h, err := New(s, DemoInstallation(testKey), Options{})
	if err != nil {
		t.Fatal(err)
	}
	outs := h.SubscribeOutputs()
	defer outs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	// Fill the file system to the last byte.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	// Battery reports until a commit fails.
	n := 0
	for ; h.Durability().Err == nil; n++ {
		line := "battery_low front_door"
		if n%2 == 1 {
			line += " off"
		}
		if r := do(t, h, line); r.Err != nil && !errors.Is(r.Err, ErrNotDurable) {
			t.Fatal(r.Err)
		}
		if n > 100_000 {
			t.Fatal("the full file system took every commit")
		}
	}
	t.Logf("commit %d failed: %v", n, h.Durability().Err)
	if r := do(t, h, "smoke kitchen_smoke"); !errors.Is(r.Err, ErrNotDurable) {
		t.Fatalf("fire on a full disk: %v, want ErrNotDurable", r.Err)
	}
	waitUpdate(t, outs, "the fire siren on a full disk", func(u Update) bool { return sirenOf(u.Outputs, 1) == SirenFire })
	for i := 0; i < 10; i++ {
		do(t, h, "battery_low back_door")
		do(t, h, "battery_low back_door off")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for h.Durability().Err != nil || h.Durability().Pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still not durable after the room was freed: %+v", h.Durability())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := h.eng.State().NextSeq - 1
	events, err := s.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(events)) != want {
		t.Fatalf("log holds %d events, the hub decided %d", len(events), want)
	}
	var fire, fault, restore bool
	for i, ev := range events {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: a gap", i, ev.Seq)
		}
		fire = fire || ev.Kind == KindFire
		fault = fault || (ev.Kind == KindDiskFault && !ev.Restore)
		restore = restore || (ev.Kind == KindDiskFault && ev.Restore && fault)
	}
	if !fire || !fault || !restore {
		t.Fatalf("fire %v, disk fault %v, restore %v: want all in the log", fire, fault, restore)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenStore(t, filepath.Join(dir, "vakt.db"), 0)
	defer s.Close()
	if st, _, _ := s.State(); st.NextSeq != want+1 || st.Areas[0].Siren != SirenFire {
		t.Fatalf("stored state at seq %d, siren %s", st.NextSeq, st.Areas[0].Siren)
	}
}

// TestHub_ZoneStateWrittenLater: doors opening and closing while disarmed change nothing
// reportable, so they are shown at once but written only with the next event's commit,
// after ZoneWriteEvery, or at shutdown; events are still durable at once.
func TestHub_ZoneStateWrittenLater(t *testing.T) {
	clock := &fakeClock{t: scenarioStart}
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	var mu sync.Mutex
	commits := 0
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now, BeforeCommit: func([]Event) error {
		mu.Lock()
		commits++
		mu.Unlock()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return commits }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	do(t, h, "periodic test") // the start-up turn is behind us
	base := count()
	for range 50 {
		do(t, h, "open living_window")
		do(t, h, "close living_window")
	}
	do(t, h, "open living_window")
	if n := count() - base; n != 0 {
		t.Fatalf("%d commits for zone changes that change nothing reportable", n)
	}
	if !h.Snapshot().State.Zones[2].Active {
		t.Fatal("the open window is not shown at once")
	}
	if st, _, _ := s.State(); st.Zones[2].Active {
		t.Fatal("written at once")
	}
	clock.Add(ZoneWriteEvery)
	do(t, h, "close bedroom_window") // any turn after the bound writes
	if n := count() - base; n != 1 {
		t.Fatalf("%d commits after ZoneWriteEvery, want 1", n)
	}
	if st, _, _ := s.State(); !st.Zones[2].Active {
		t.Fatal("the open window is not written after ZoneWriteEvery")
	}
	do(t, h, "close living_window")
	if r := do(t, h, "battery_low front_door"); r.Err != nil || count()-base != 2 {
		t.Fatalf("an event: %v, %d commits: want it durable at once", r.Err, count()-base)
	}
	if st, _, _ := s.State(); st.Zones[2].Active {
		t.Fatal("the event's commit did not take the closed window along")
	}
	do(t, h, "open front_door")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _, _ := s.State(); !st.Zones[0].Active {
		t.Fatal("the open door is not written at shutdown")
	}
	s.Close()
}
