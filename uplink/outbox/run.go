package outbox

import (
	"context"
	"time"

	"vakt/hub"
)

// DefaultTick wakes the delivery loop without news from the hub, as a safety net.
const DefaultTick = 10 * time.Second

// Subscription is the hub's news, as a hub.Subscription gives it.
type Subscription interface {
	C() <-chan struct{}
	Next() hub.Update
}

var _ Subscription = (*hub.Subscription)(nil)

// Loop is what an uplink plugs into Run.
type Loop struct {
	// Wake makes the loop try at once: a path answered again, a broker connected.
	Wake <-chan struct{}
	// Step delivers: Drain with the uplink's Deliver, and whatever goes with it.
	Step func(ctx context.Context) error
	// Retry returns how long to wait after Step failed attempt times in a row (from 0).
	// timed false waits for Wake or news instead, as when there is no connection to try.
	Retry func(attempt int, err error) (d time.Duration, timed bool)
	// Tick wakes the loop without news, as a safety net; zero means DefaultTick.
	Tick time.Duration
}

// Run is the delivery loop, until ctx ends: it runs Step on news from the hub, on Wake,
// after a retry delay and on a safety tick, and saves the cursor when a save is due and
// when it returns (so close the store after Run). While a retry delay runs, news does not
// wake it, except a new event this outbox wants: that is tried at once, whatever the
// back-off, so an alarm after an outage never waits for it.
func (o *Outbox) Run(ctx context.Context, sub Subscription, l Loop) {
	defer o.Save(true)
	every := l.Tick
	if every <= 0 {
		every = DefaultTick
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	retry.Stop()
	save := time.NewTimer(time.Hour)
	defer save.Stop()
	save.Stop()
	attempt, waiting := 0, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
			if u := sub.Next(); waiting && !o.urgent(u) {
				continue
			}
		case <-l.Wake:
		case <-retry.C:
		case <-tick.C:
			if waiting {
				continue
			}
		case <-save.C:
			o.Save(true)
			continue
		}
		err := l.Step(ctx)
		if d, ok := o.saveDue(); ok {
			save.Reset(d)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			attempt, waiting = 0, false
			retry.Stop()
			continue
		}
		d, timed := l.Retry(attempt, err)
		if !timed {
			attempt, waiting = 0, false
			retry.Stop()
			continue
		}
		attempt++
		retry.Reset(d)
		waiting = true
	}
}

// urgent reports whether an update brings an event this outbox wants (or may: a lagged
// subscriber does not know what it missed).
func (o *Outbox) urgent(u hub.Update) bool {
	if u.Lagged {
		return true
	}
	for _, ev := range u.Events {
		if o.wants(ev) {
			return true
		}
	}
	return false
}
