package gpio

import (
	"context"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"vakt/hub"
)

func startBox(tb testing.TB) (*hub.Hub, *Driver, chan pgpio.Level, chan pgpio.Level, func() pgpio.Level, func(time.Duration)) {
	tb.Helper()
	door, smoke, relay := newPin(tb, pgpio.Low), newPin(tb, pgpio.Low), newPin(tb, pgpio.Low)
	inst := &hub.Installation{
		Name: "box", CodeKey: []byte("0123456789abcdef0123456789abcdef"),
		Areas: []hub.Area{{Number: 1, Name: "House"}},
		Devices: []hub.Device{
			{ID: "wired_door", Driver: "gpio"},
			{ID: "wired_smoke", Driver: "gpio"},
		},
		Zones: []hub.Zone{
			{Number: 1, Area: 1, Type: hub.ZoneInstant, Device: "wired_door"},
			{Number: 2, Area: 1, Type: hub.ZoneFire, Device: "wired_smoke"},
		},
		Users: []hub.User{{ID: "anna", Number: 1, Role: hub.RoleAdmin}},
	}
	inst.Settings.NoExitDelay = true
	var mu sync.Mutex
	clock := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s, err := hub.OpenStore(filepath.Join(tb.TempDir(), "vakt.db"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := hub.New(s, inst, hub.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sink := func(in hub.Input) { h.Submit(ctx, in) }
	drv, err := New(Config{
		Zones: []ZoneConfig{{Device: "wired_door", Pin: door.N, Pull: PullNone}, {Device: "wired_smoke", Pin: smoke.N, Pull: PullNone}},
		Siren: OutputConfig{Pin: relay.N},
	}, sink, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range drv.inputs {
		in.debounce = 0 // the benchmark times the path, not the debounce window
	}
	sub := h.Subscribe()
	var wg sync.WaitGroup
	for _, f := range []func(){
		func() { h.Run(ctx) },
		func() { drv.Run(ctx) },
		func() { drv.Follow(ctx, sub) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	tb.Cleanup(func() { cancel(); wg.Wait(); sub.Close(); s.Close() })
	advance := func(d time.Duration) {
		mu.Lock()
		clock = clock.Add(d)
		mu.Unlock()
		h.Submit(ctx, hub.Input{Kind: hub.InTick})
	}
	return h, drv, door.EdgesChan, smoke.EdgesChan, relay.Read, advance
}

func waitLevel(tb testing.TB, read func() pgpio.Level, want pgpio.Level) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if read() == want {
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
	tb.Fatalf("relay never went %v", want)
}

// TestBox_SirenFollowsHub: a wired door while armed sounds the relay; disarm silences it;
// bell cut-off silences it too.
func TestBox_SirenFollowsHub(t *testing.T) {
	h, _, door, _, relay, advance := startBox(t)
	ctx := context.Background()
	arm := func() {
		if r := h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	arm()
	door <- pgpio.High // the loop opens
	waitLevel(t, relay, pgpio.High)
	if r := h.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	waitLevel(t, relay, pgpio.Low)
	door <- pgpio.Low
	for deadline := time.Now().Add(10 * time.Second); h.Snapshot().State.Zones[0].Active; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the door never closed in the hub")
		}
	}
	arm()
	door <- pgpio.High
	waitLevel(t, relay, pgpio.High)
	advance(hub.DefaultBellCutoff + time.Second)
	waitLevel(t, relay, pgpio.Low)
}

// BenchmarkWiredEdgeToRelay times a wired door loop opening in an armed area until the
// siren relay is energised: the driver, the hub's step and durable commit, and the relay
// follower. Debounce is excluded.
func BenchmarkWiredEdgeToRelay(b *testing.B) {
	h, _, door, _, relay, _ := startBox(b)
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		if r := h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); r.Err != nil {
			b.Fatal(r.Err)
		}
		b.StartTimer()
		t0 := time.Now()
		door <- pgpio.High
		waitLevel(b, relay, pgpio.High)
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		door <- pgpio.Low
		for h.Snapshot().State.Zones[0].Active {
			time.Sleep(100 * time.Microsecond)
		}
		if r := h.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna"}); r.Err != nil {
			b.Fatal(r.Err)
		}
		waitLevel(b, relay, pgpio.Low)
		b.StartTimer()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// The box's one siren plays what the hub says the box plays: a burglary beats a panic's
// emergency tone, fire beats both.
func TestBoxOutputs_Priority(t *testing.T) {
	snap := func(ps ...hub.SirenPattern) *hub.Snapshot {
		s := &hub.Snapshot{}
		for i, p := range ps {
			s.State.Areas = append(s.State.Areas, hub.AreaState{Number: i + 1, Siren: p})
		}
		return s
	}
	for _, tc := range []struct {
		areas []hub.SirenPattern
		want  hub.SirenPattern
	}{
		{[]hub.SirenPattern{hub.SirenOff, hub.SirenOff}, hub.SirenOff},
		{[]hub.SirenPattern{hub.SirenEmergency, hub.SirenBurglar}, hub.SirenBurglar},
		{[]hub.SirenPattern{hub.SirenBurglar, hub.SirenEmergency}, hub.SirenBurglar},
		{[]hub.SirenPattern{hub.SirenBurglar, hub.SirenFire}, hub.SirenFire},
		{[]hub.SirenPattern{hub.SirenEmergency}, hub.SirenEmergency},
	} {
		if got, _ := BoxOutputs(snap(tc.areas...)); got != tc.want {
			t.Errorf("areas %v: box plays %s, want %s", tc.areas, got, tc.want)
		}
	}
}
