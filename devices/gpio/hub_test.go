package gpio

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func startBox(tb testing.TB) (*hub.Hub, *Driver, chan pgpio.Level, chan pgpio.Level, func() pgpio.Level, func(time.Duration)) {
	tb.Helper()
	return startBoxWith(tb, hub.Options{})
}

// startBoxWith is startBox with the hub's options (the clock is the box's).
func startBoxWith(tb testing.TB, opts hub.Options) (*hub.Hub, *Driver, chan pgpio.Level, chan pgpio.Level, func() pgpio.Level, func(time.Duration)) {
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
	clock := hubtest.NewClock(hubtest.T0)
	opts.Now = clock.Now
	h, _ := hubtest.StartHub(tb, hubtest.StorePath(tb), inst, opts)
	sink := func(in hub.Input) { h.Submit(tb.Context(), in) }
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
	sub := h.SubscribeOutputs()
	tb.Cleanup(sub.Close) // after the follower stops: cleanups run last first
	hubtest.Run(tb, "gpio driver", drv.Run)
	hubtest.Run(tb, "relay follower", func(ctx context.Context) error { drv.Follow(ctx, sub); return nil })
	advance := func(d time.Duration) {
		clock.Add(d)
		h.Submit(tb.Context(), hub.Input{Kind: hub.InTick})
	}
	return h, drv, door.EdgesChan, smoke.EdgesChan, relay.Read, advance
}

// waitLevel waits until read gives want. It polls far more often than hubtest.Eventually
// because BenchmarkWiredEdgeToRelay times the wait: a coarse poll would be what it measures.
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
	hubtest.Eventually(t, "the door closed in the hub", func() bool { return !h.Snapshot().State.Zones[0].Active })
	arm()
	door <- pgpio.High
	waitLevel(t, relay, pgpio.High)
	advance(hub.DefaultBellCutoff + time.Second)
	waitLevel(t, relay, pgpio.Low)
}

// TestBox_RelayBeforeCommit holds the commit of a burglary: the relay sounds all the same,
// because the box follows the hub's decision, not its disk.
func TestBox_RelayBeforeCommit(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	h, _, door, _, relay, _ := startBoxWith(t, hub.Options{BeforeCommit: func(evs []hub.Event) error {
		for _, ev := range evs {
			if ev.Kind == hub.KindBurglary {
				<-gate
			}
		}
		return nil
	}})
	defer release()
	ctx := context.Background()
	if r := h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	door <- pgpio.High
	waitLevel(t, relay, pgpio.High)
	if a := h.Snapshot().State.Areas[0]; a.Siren != hub.SirenOff {
		t.Fatalf("the burglary is committed (siren %s): the test did not hold the commit", a.Siren)
	}
	release()
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
