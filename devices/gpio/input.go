package gpio

import (
	"context"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
)

// idleWait bounds each wait for an edge. It is not a poll: the wait ends at once on an
// edge. It bounds how long shutdown takes on hosts whose Halt cannot interrupt a wait, and
// a timeout doubles as a check for an edge the host lost.
const idleWait = time.Second

// inputKind says what an input's level means to the hub.
type inputKind uint8

const (
	inZone inputKind = iota
	inZoneTamper
	inLid
	inMains
)

// input is one watched loop: a zone, a zone's tamper loop, the lid switch or the mains
// sense line.
type input struct {
	kind   inputKind
	field  string // config field of the pin, for errors and logs
	device string // hub device id, for zones
	pin    pgpio.PinIO
	pull   pgpio.Pull
	// closedLevel is the level of a closed loop: the opposite of the pull's rail, since a
	// closed contact shorts the pin to the other side.
	closedLevel  pgpio.Level
	normallyOpen bool
	debounce     time.Duration
}

func newInput(kind inputKind, field, device string, p pgpio.PinIO, pull pgpio.Pull, normallyOpen bool, debounce time.Duration) *input {
	closed := pgpio.Low // pull-up, or an external pull-up with "none"
	if pull == pgpio.PullDown {
		closed = pgpio.High
	}
	return &input{kind: kind, field: field, device: device, pin: p, pull: pull,
		closedLevel: closed, normallyOpen: normallyOpen, debounce: debounce}
}

// active reports whether the loop is out of its normal state: a normally closed loop
// open, or a normally open loop closed.
func (in *input) active(l pgpio.Level) bool {
	closed := l == in.closedLevel
	return closed == in.normallyOpen
}

// settle waits until the pin has had no edge for the debounce window, so bounces shorter
// than the window are never seen. It returns false when ctx ended.
func (in *input) settle(ctx context.Context) bool {
	if in.debounce <= 0 {
		return ctx.Err() == nil
	}
	// Never pass 0 or -1 to WaitForEdge: hosts disagree on whether they mean "now" or
	// "forever".
	for in.pin.WaitForEdge(in.debounce) {
		if ctx.Err() != nil {
			return false
		}
	}
	return ctx.Err() == nil
}

// watch reports the loop's settled state at start and then every settled change, until
// ctx ends. Edges wake it; it never polls.
func (in *input) watch(ctx context.Context, report func(in *input, active bool), warnEarly func(in *input)) {
	if !in.settle(ctx) {
		return
	}
	active := in.active(in.pin.Read())
	report(in, active)
	warned := false
	for {
		start := time.Now()
		edge := in.pin.WaitForEdge(idleWait)
		if ctx.Err() != nil {
			return
		}
		if !edge {
			if waited := time.Since(start); waited < idleWait/2 {
				// The host's edge detection failed rather than timed out; wait out the
				// rest so a broken pin checks its level once a second instead of spinning.
				if !warned {
					warned = true
					warnEarly(in)
				}
				t := time.NewTimer(idleWait - waited)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			if in.active(in.pin.Read()) == active {
				continue
			}
		}
		if !in.settle(ctx) {
			return
		}
		if a := in.active(in.pin.Read()); a != active {
			active = a
			report(in, a)
		}
	}
}
