package notify

import (
	"context"
	"slices"
	"time"

	"vakt/hub"
)

// mainsReminder is the seed's promise that the family is reminded when mains has been out
// for a long time: a timer from the mains_lost event's time, stopped by the restore. The
// loss's time comes from the hub's stored state and the last reminded loss from the store,
// so a restart neither forgets a reminder due nor repeats one sent.
type mainsReminder struct {
	after time.Duration
	// now is the hub's clock, which the events' times come from.
	now func() time.Time
	// remind is called once per loss that lasts after.
	remind func(lost time.Time)
	// reminded is the loss last reminded of, before a restart.
	reminded time.Time
	// wake has the timer measured again against now (a clock that jumped).
	wake <-chan struct{}
}

// run follows the mains events on events until ctx ends or events closes.
func (r *mainsReminder) run(ctx context.Context, events <-chan hub.Event) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var lost time.Time
	reminded := r.reminded
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			if !lost.IsZero() {
				timer.Stop()
				timer.Reset(max(lost.Add(r.after).Sub(r.now()), 0))
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind != hub.KindMainsLost || ev.How != hub.HowSystem {
				continue
			}
			timer.Stop()
			lost = time.Time{}
			if !ev.Restore && !ev.Time.Equal(reminded) {
				lost = ev.Time
				timer.Reset(max(ev.Time.Add(r.after).Sub(r.now()), 0))
			}
		case <-timer.C:
			if !lost.IsZero() {
				r.remind(lost)
				reminded, lost = lost, time.Time{}
			}
		}
	}
}

// remindedKey holds the time of the mains loss last reminded of.
const remindedKey = "mains_reminded"

// remindLoop feeds the reminder the hub's mains events, starting from the state: a loss
// that began before a restart is still timed from its own start.
func (n *Notifier) remindLoop(ctx context.Context) {
	sub := n.hub.Subscribe()
	defer sub.Close()
	events := make(chan hub.Event, 16)
	r := &mainsReminder{after: n.cfg.MainsReminder.D(), now: n.now, wake: n.remindWake, remind: func(lost time.Time) {
		n.sendReminder(ctx, lost)
		if err := n.hub.Store().SaveDriverData(storeName, remindedKey, []byte(lost.UTC().Format(time.RFC3339Nano))); err != nil {
			n.log.Error("save the mains reminder", "error", err)
		}
	}}
	if b, err := n.hub.Store().DriverData(storeName, remindedKey); err != nil {
		n.log.Error("read the mains reminder", "error", err)
	} else if b != nil {
		if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
			r.reminded = t
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx, events) }()
	defer func() { <-done }()
	feed := func(ev hub.Event) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if m := n.hub.Snapshot().State.Mains; m.Lost {
		if !feed(hub.Event{Kind: hub.KindMainsLost, How: hub.HowSystem, Time: m.Since}) {
			return
		}
	}
	sub.Next()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return
		}
		evs := u.Events
		if u.Lagged {
			// What was missed is only the mains state: take it from the snapshot.
			m := u.Snapshot.State.Mains
			evs = []hub.Event{{Kind: hub.KindMainsLost, How: hub.HowSystem, Time: m.Since, Restore: !m.Lost}}
		}
		for _, ev := range evs {
			if ev.Kind == hub.KindMainsLost && !feed(ev) {
				return
			}
		}
	}
}

// sendReminder tells everyone who gets mains news that mains is still out, once per
// channel, best effort: a failure counts against the channel's status.
func (n *Notifier) sendReminder(ctx context.Context, lost time.Time) {
	n.log.Warn("mains still out: reminding", "since", lost)
	n.mu.Lock()
	dests := n.dests
	n.mu.Unlock()
	for _, d := range dests {
		if !slices.Contains(d.rcpt.Events, ClassMains) {
			continue
		}
		msg := n.text(d.rcpt).MainsReminder(lost, n.cfg.MainsReminder.D())
		if err := d.ch.Send(ctx, d.to, msg); err != nil {
			n.failed(d, err)
			continue
		}
		n.succeeded(d)
	}
}
