package gpio

import (
	"context"
	"log/slog"
	"sync"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
)

// step is one phase of a pattern: the output on or off for d.
type step struct {
	on bool
	d  time.Duration
}

// pattern is what an output plays, repeating. A single step is held steady.
type pattern struct {
	name  string
	steps []step
}

// Patterns. Temporal-3 (ISO 8201, NFPA 72) is the fire evacuation signal: three 0.5 s
// pulses 0.5 s apart, then 1.5 s of silence, repeating every 4 s.
var (
	patternOff      = &pattern{"off", []step{{on: false}}}
	patternSteady   = &pattern{"steady", []step{{on: true}}}
	patternTemporal = &pattern{"temporal-3", []step{
		{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond},
		{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond},
		{true, 500 * time.Millisecond}, {false, 1500 * time.Millisecond},
	}}
	patternBlink = &pattern{"blink", []step{{true, 500 * time.Millisecond}, {false, 500 * time.Millisecond}}}
)

// output is a relay or lamp playing a pattern. set never blocks: it leaves the wanted
// pattern in a one-slot mailbox and play, owned by Run, picks it up.
type output struct {
	field     string
	pin       pgpio.PinIO
	activeLow bool
	log       *slog.Logger

	mu   sync.Mutex
	want *pattern
	wake chan struct{}

	failing bool // the last write failed; owned by play
}

func newOutput(field string, p pgpio.PinIO, activeLow bool, log *slog.Logger) *output {
	return &output{field: field, pin: p, activeLow: activeLow, log: log.With("pin", field),
		want: patternOff, wake: make(chan struct{}, 1)}
}

func (o *output) set(p *pattern) {
	o.mu.Lock()
	o.want = p
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default: // a wake-up is already pending; it will read the newest pattern
	}
}

func (o *output) wanted() *pattern {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.want
}

// drive switches the output. A failed write is logged once until a write succeeds again;
// the next step or pattern retries.
func (o *output) drive(on bool) {
	err := o.pin.Out(pgpio.Level(on != o.activeLow))
	switch {
	case err != nil && !o.failing:
		o.log.Error("drive output", "on", on, "error", err)
	case err == nil && o.failing:
		o.log.Info("output driven again")
	}
	o.failing = err != nil
}

// play runs the wanted pattern until ctx ends, then switches the output off. Steps are
// timed from absolute deadlines so a long fire alarm does not drift.
func (o *output) play(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		cur  *pattern
		i    int
		next time.Time
	)
	load := func() {
		p := o.wanted()
		if p == cur {
			return
		}
		cur, i = p, 0
		o.drive(p.steps[0].on)
		if len(p.steps) > 1 {
			next = time.Now().Add(p.steps[0].d)
			timer.Reset(p.steps[0].d)
		} else {
			timer.Stop()
		}
	}
	load()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			o.drive(false)
			return
		case <-o.wake:
			load()
		case <-timer.C:
			i = (i + 1) % len(cur.steps)
			o.drive(cur.steps[i].on)
			next = next.Add(cur.steps[i].d)
			timer.Reset(time.Until(next))
		}
	}
}
