package gpio

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"vakt/hub"
)

var pinSeq atomic.Int64

// newPin registers a fake pin under a name no other test uses. EdgesChan is unbuffered,
// so a test's send returns only once the driver has taken the edge. Create it inside the
// synctest bubble that uses it.
func newPin(tb testing.TB, l pgpio.Level) *gpiotest.Pin {
	tb.Helper()
	p := &gpiotest.Pin{N: fmt.Sprintf("FAKE%d", pinSeq.Add(1)), Num: -1, L: l, EdgesChan: make(chan pgpio.Level)}
	mustRegister(tb, p)
	return p
}

func mustRegister(tb testing.TB, p pgpio.PinIO) {
	tb.Helper()
	if err := gpioreg.Register(p); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = gpioreg.Unregister(p.Name()) })
}

// change is an output level and when it was set.
type change struct {
	at time.Duration // since the recorder's start
	l  pgpio.Level
}

// recPin is an output pin that records level changes with the bubble's clock.
type recPin struct {
	*gpiotest.Pin
	start time.Time

	mu      sync.Mutex
	changes []change
}

func newRecPin(tb testing.TB) *recPin {
	tb.Helper()
	p := &recPin{Pin: &gpiotest.Pin{N: fmt.Sprintf("OUT%d", pinSeq.Add(1)), Num: -1}, start: time.Now()}
	mustRegister(tb, p)
	return p
}

func (p *recPin) Out(l pgpio.Level) error {
	p.mu.Lock()
	if n := len(p.changes); n == 0 || p.changes[n-1].l != l {
		p.changes = append(p.changes, change{time.Since(p.start), l})
	}
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recPin) take() []change {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.changes
	p.changes = nil
	return c
}

// recorder is the hub's side of the sink.
type recorder struct {
	mu  sync.Mutex
	got []hub.Input
}

func (r *recorder) put(in hub.Input) {
	r.mu.Lock()
	r.got = append(r.got, in)
	r.mu.Unlock()
}

// take returns what the driver sent since the last take, once every goroutine in the
// bubble has settled.
func (r *recorder) take() []hub.Input {
	synctest.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// running is a Driver started in the test's bubble.
type running struct {
	*Driver
	rec  *recorder
	stop func() error
}

// start runs a driver for cfg inside the current synctest bubble. stop cancels it and
// returns Run's error; cleanup stops it too.
func start(t *testing.T, cfg Config, opts ...Option) *running {
	t.Helper()
	rec := &recorder{}
	d, err := New(cfg, rec.put, testLogger(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &running{Driver: d, rec: rec, stop: stop}
}

func contact(dev string, active bool) hub.Input {
	return hub.Input{Kind: hub.InReport, Device: dev, Signal: hub.SignalContact, Active: active}
}

func tamper(dev string, active bool) hub.Input {
	return hub.Input{Kind: hub.InReport, Device: dev, Signal: hub.SignalTamper, Active: active}
}

// expect compares inputs regardless of order: goroutines per pin report independently.
func expect(t *testing.T, step string, got []hub.Input, want ...hub.Input) {
	t.Helper()
	key := func(in hub.Input) string { return fmt.Sprintf("%+v", in) }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = key(got[i])
	}
	for i := range want {
		w[i] = key(want[i])
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%s: sink got\n\t%s\nwant\n\t%s", step, strings.Join(g, "\n\t"), strings.Join(w, "\n\t"))
	}
}

// BenchmarkEdgeToSink measures a fake pin's edge to the sink call, debounce off: the
// driver's share of "wired input edge → siren relay".
func BenchmarkEdgeToSink(b *testing.B) {
	p := newPin(b, pgpio.Low)
	got := make(chan hub.Input, 1)
	d, err := New(Config{Zones: []ZoneConfig{{Device: "door", Pin: p.N, Pull: PullNone}}},
		func(in hub.Input) { got <- in }, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	d.inputs[0].debounce = 0 // Config cannot say "none": zero means the default
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-got // the state at start
	levels := [2]pgpio.Level{pgpio.High, pgpio.Low}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.EdgesChan <- levels[i&1]
		<-got
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
