package hub

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

func mustOpenStore(tb testing.TB, path string, logCap int) *Store {
	tb.Helper()
	s, err := OpenStore(path, logCap)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// fakeClock is a settable clock for run-loop tests that read state, not timers.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startHub runs a hub over the store at path until the returned stop is called.
func startHub(t *testing.T, path string, clock *fakeClock) (h *Hub, stop func()) {
	t.Helper()
	s := mustOpenStore(t, path, 0)
	h, err := New(s, DemoInstallation(testKey), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.Run(ctx) }()
	return h, func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func do(t *testing.T, h *Hub, line string) Result {
	t.Helper()
	in, err := ParseLine(h.Snapshot().Installation, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return h.Do(context.Background(), in)
}

// TestHub_RestartResumes closes the store between steps, as a power cut would, and checks
// the hub resumes exactly: armed, alarm memory kept, an entry delay that ran out while it
// was down fires at start.
func TestHub_RestartResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	clock := &fakeClock{t: scenarioStart}

	h, stop := startHub(t, path, clock)
	if r := do(t, h, "arm away 1234"); r.Err != nil {
		t.Fatal(r.Err)
	}
	stop()

	clock.Add(61 * time.Second)
	h, stop = startHub(t, path, clock)
	// The exit delay ended while down: the first loop turn arms.
	if r := do(t, h, "open front_door"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if m := h.Snapshot().State.Areas[0].Mode; m != ModePending {
		t.Fatalf("after restart and door: mode %s, want pending", m)
	}
	stop()

	clock.Add(10 * time.Minute) // down through the entry delay
	h, stop = startHub(t, path, clock)
	sub := h.Subscribe()
	// Wait for the start-up tick to have run.
	if r := do(t, h, "close front_door"); r.Err != nil {
		t.Fatal(r.Err)
	}
	a := h.Snapshot().State.Areas[0]
	if a.Mode != ModeTriggered || a.Siren != SirenBurglar || len(a.Memory) != 1 {
		t.Fatalf("entry delay expired while down: area %+v, want triggered with memory", a)
	}
	sub.Close()
	stop()

	clock.Add(time.Minute)
	h, stop = startHub(t, path, clock)
	defer stop()
	if r := do(t, h, "disarm 1234"); r.Err != nil {
		t.Fatal(r.Err)
	}
	a = h.Snapshot().State.Areas[0]
	if a.Mode != ModeDisarmed || len(a.Memory) != 1 {
		t.Fatalf("after disarm: %+v, want disarmed with alarm memory", a)
	}
	events, err := h.Store().Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range events {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d: the log has a gap", i, ev.Seq)
		}
	}
	var kinds []EventKind
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	want := []EventKind{KindExitDelay, KindArm, KindEntryDelay, KindBurglary, KindBurglary, KindCancel, KindDisarm}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("history %v, want %v", kinds, want)
	}
}

func TestHub_BadCommandChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	clock := &fakeClock{t: scenarioStart}
	h, stop := startHub(t, path, clock)
	defer stop()
	before := h.Snapshot().State
	for _, line := range []string{"arm away by nobody", "arm away area 9 1234", "bypass kitchen_smoke 5678", "disarm 1234"} {
		if r := do(t, h, line); r.Err == nil {
			t.Errorf("%s: no error", line)
		}
	}
	if r := h.Do(context.Background(), Input{Kind: InReport, Device: "nope", Signal: SignalContact, Active: true}); !errors.Is(r.Err, ErrUnknownDevice) {
		t.Errorf("unknown device: %v", r.Err)
	}
	if !reflect.DeepEqual(before, h.Snapshot().State) {
		t.Errorf("state changed by refused commands")
	}
	if last, _ := h.Store().LastSeq(); last != 0 {
		t.Errorf("refused commands logged %d events", last)
	}
}

// TestHub_SlowSubscriberResyncs never reads a subscription while events flow, then checks
// the loop went on and the subscriber can catch up from the log.
func TestHub_SlowSubscriberResyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	clock := &fakeClock{t: scenarioStart}
	h, stop := startHub(t, path, clock)
	defer stop()
	sub := h.Subscribe()
	defer sub.Close()
	sub.Next()
	for i := 0; i < subBuffer/2+10; i++ {
		do(t, h, "battery_low front_door")
		do(t, h, "battery_low front_door off")
	}
	u := sub.Next()
	if !u.Lagged {
		t.Fatalf("subscriber %d events behind is not lagged", subBuffer+20)
	}
	missed, err := h.Store().Events(u.FromSeq-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(missed) != subBuffer+20 || missed[0].Seq != u.FromSeq {
		t.Fatalf("resync read %d events from %d", len(missed), u.FromSeq)
	}
	do(t, h, "battery_low front_door")
	if u := sub.Next(); u.Lagged || len(u.Events) != 1 {
		t.Fatalf("after resync: lagged=%v events=%d", u.Lagged, len(u.Events))
	}
}

func TestStore_PruneKeepsUndeliveredEvents(t *testing.T) {
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 10)
	defer s.Close()
	if err := s.SetCursor("station", 5); err != nil {
		t.Fatal(err)
	}
	st := State{}
	for seq := uint64(1); seq <= 30; seq++ {
		if err := s.Commit(&st, []Event{{Seq: seq, Kind: KindBurglary}}); err != nil {
			t.Fatal(err)
		}
	}
	if first, _ := s.FirstSeq(); first != 6 {
		t.Fatalf("first kept %d, want 6: the cursor at 5 holds back pruning", first)
	}
	if err := s.SetCursor("station", 30); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(&st, []Event{{Seq: 31}}); err != nil {
		t.Fatal(err)
	}
	if first, _ := s.FirstSeq(); first != 22 {
		t.Fatalf("first kept %d, want 22 (cap 10)", first)
	}
	if err := s.Commit(&st, []Event{{Seq: 40}}); err == nil {
		t.Fatal("a gap in the log was accepted")
	}
	h, err := s.History(0, 3)
	if err != nil || len(h) != 3 || h[0].Seq != 31 || h[2].Seq != 29 {
		t.Fatalf("history: %v %v", h, err)
	}
	if c, ok, _ := s.Cursor("station"); !ok || c != 30 {
		t.Fatalf("cursor %d %v", c, ok)
	}
}

func TestStore_SecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	if _, err := OpenStore(path, 0); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second open: %v, want ErrStoreLocked", err)
	}
}

func TestStore_SecretIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	a, _ := s.Secret("code", 32)
	s.Close()
	s = mustOpenStore(t, path, 0)
	defer s.Close()
	b, _ := s.Secret("code", 32)
	if len(a) != 32 || !reflect.DeepEqual(a, b) {
		t.Fatal("secret changed across reopen")
	}
}

func TestHub_ConfigureIsStoredWithItsEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	clock := &fakeClock{t: scenarioStart}
	h, stop := startHub(t, path, clock)
	r := h.Configure(context.Background(), Input{User: "anna", How: HowWeb}, "adopt shed_door", func(inst *Installation) error {
		inst.Devices = append(inst.Devices, Device{ID: "shed_door", Name: "Back door", Driver: "sim"})
		inst.Zones = append(inst.Zones, Zone{Number: 13, Name: "Shed door", Area: 1, Type: ZoneInstant, Device: "shed_door"})
		return nil
	})
	if r.Err != nil || len(r.Events) != 1 || r.Events[0].Kind != KindConfigChange || r.Events[0].User != "anna" {
		t.Fatalf("configure: %+v", r)
	}
	bad := h.Configure(context.Background(), Input{User: "anna", How: HowWeb}, "zone twice", func(inst *Installation) error {
		inst.Zones = append(inst.Zones, Zone{Number: 13, Area: 1, Type: ZoneInstant, Device: "front_door"})
		return nil
	})
	if !errors.Is(bad.Err, ErrInvalidInstallation) {
		t.Fatalf("invalid change: %v", bad.Err)
	}
	stop()
	h, stop = startHub(t, path, clock)
	defer stop()
	if r := do(t, h, "arm away 1234"); r.Err != nil {
		t.Fatal(r.Err)
	}
	clock.Add(time.Minute)
	do(t, h, "periodic test") // a step after the exit delay
	if r := do(t, h, "open shed_door"); r.Err != nil || len(r.Events) != 1 || r.Events[0].Kind != KindBurglary {
		t.Fatalf("adopted zone after restart: %+v", r)
	}
}
