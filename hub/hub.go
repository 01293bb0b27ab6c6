package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrStopped means the hub's run loop has ended.
var ErrStopped = errors.New("hub stopped")

// maxBatch bounds how many inputs share one commit (group commit).
const maxBatch = 256

// Snapshot is an immutable view of the hub after a step, shared by every reader.
type Snapshot struct {
	Time         time.Time
	Installation *Installation
	State        State
	// Ready maps area number to the reasons it cannot be armed away now.
	Ready map[int][]Reason
}

// Result is what a command got: the events it caused, or why it failed.
type Result struct {
	Events []Event
	Err    error
}

type request struct {
	in    Input
	reply chan Result
	// configure, when set, edits a copy of the installation instead of stepping in.
	configure func(*Installation) error
	note      string
}

// Hub owns the engine in one goroutine. Drivers and interfaces send inputs; the loop steps
// the engine, commits state and events in one transaction, then answers and publishes.
type Hub struct {
	store *Store
	eng   *Engine
	log   *slog.Logger
	now   func() time.Time

	reqs chan request
	done chan struct{}
	// restored says New bounded the stored state's deadlines, so the first turn of the
	// loop stores it.
	restored bool

	snap atomic.Pointer[Snapshot]
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Options tune a Hub; zero values take defaults.
type Options struct {
	// Now is the clock; tests pass their own.
	Now func() time.Time
	// Logger receives the loop's errors.
	Logger *slog.Logger
}

// New returns a hub over the store's installation and state. inst is used (and stored) when
// the store has no installation yet. New does not start anything.
func New(store *Store, inst *Installation, opts Options) (*Hub, error) {
	stored, err := store.Installation()
	if err != nil {
		return nil, err
	}
	if stored == nil {
		if inst == nil {
			return nil, fmt.Errorf("new hub: %w: no installation", ErrInvalidInstallation)
		}
		if err := store.SaveInstallation(inst); err != nil {
			return nil, err
		}
		stored = inst
	}
	if err := stored.Validate(); err != nil {
		return nil, fmt.Errorf("stored installation: %w", err)
	}
	st, _, err := store.State()
	if err != nil {
		return nil, err
	}
	last, err := store.LastSeq()
	if err != nil {
		return nil, err
	}
	if st.NextSeq <= last {
		// The state is committed with its events, so this means a damaged store: never
		// reuse a sequence the station may have seen.
		st.NextSeq = last + 1
	}
	h := &Hub{
		store: store,
		eng:   NewEngine(stored, st),
		log:   opts.Logger,
		now:   opts.Now,
		reqs:  make(chan request, maxBatch),
		done:  make(chan struct{}),
		subs:  map[*Subscription]struct{}{},
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	now := h.now()
	// The clock may have gone back since the state was stored (no RTC, NTP not yet in).
	h.restored = h.eng.Restore(now)
	h.publish(now, nil, nil)
	return h, nil
}

// Store returns the hub's store, for readers of the log.
func (h *Hub) Store() *Store { return h.store }

// Snapshot returns the latest snapshot; never nil.
func (h *Hub) Snapshot() *Snapshot { return h.snap.Load() }

// Do sends a command and waits until its step is committed.
func (h *Hub) Do(ctx context.Context, in Input) Result {
	return h.call(ctx, request{in: in, reply: make(chan Result, 1)})
}

// Configure changes the installation as the admin or granted installer whose credential by
// carries (Code, Tag or User, with How and Iface; How HowSystem for vakt's own offline tools):
// change edits a deep copy, which the loop validates, applies and stores with a config_change
// event (saying who and what) in one transaction.
func (h *Hub) Configure(ctx context.Context, by Input, note string, change func(*Installation) error) Result {
	return h.call(ctx, request{in: by, reply: make(chan Result, 1), configure: change, note: note})
}

// call hands r to the loop and waits for its answer. ctx bounds the wait for a place in the
// queue only: once the loop has the request it is carried out, and the caller learns how
// (the loop answers as soon as the step is committed).
func (h *Hub) call(ctx context.Context, r request) Result {
	select {
	case h.reqs <- r:
	case <-h.done:
		return Result{Err: ErrStopped}
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
	select {
	case res := <-r.reply:
		return res
	case <-h.done:
		return Result{Err: ErrStopped}
	}
}

// CloneInstallation returns a deep copy of inst.
func CloneInstallation(inst *Installation) (*Installation, error) {
	b, err := json.Marshal(inst)
	if err != nil {
		return nil, err
	}
	c := new(Installation)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Submit hands a driver's input to the loop without waiting for the result. It blocks only
// while the loop's queue is full, so nothing a sensor says is dropped.
func (h *Hub) Submit(ctx context.Context, in Input) error {
	select {
	case h.reqs <- request{in: in}:
		return nil
	case <-h.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run owns the engine until ctx ends or a commit fails. Deadlines that passed while the hub
// was down fire at once.
func (h *Hub) Run(ctx context.Context) error {
	defer close(h.done)
	defer h.closeSubs()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	batch := make([]request, 0, maxBatch)
	results := make([]Result, 0, maxBatch)
	var events []Event
	var effects []Effect
	tick := true // run due deadlines at start
	for {
		batch = batch[:0]
		if !tick {
			if next, ok := h.eng.NextDeadline(); ok {
				timer.Reset(time.Until(next))
			} else {
				timer.Reset(time.Hour)
			}
			select {
			case <-ctx.Done():
				return nil
			case r := <-h.reqs:
				batch = append(batch, r)
			case <-timer.C:
			}
			timer.Stop()
		}
		tick = false
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-h.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		now := h.now()
		events, effects, results = events[:0], effects[:0], results[:0]
		changed, configured := h.restored, false
		h.restored = false
		step := func(r request) Result {
			var effs []Effect
			var err error
			if r.configure != nil {
				effs, err = h.eng.Configure(now, r.in, r.note, r.configure)
				configured = configured || err == nil
			} else {
				effs, err = h.eng.Step(now, r.in)
			}
			changed = changed || h.eng.Changed()
			start := len(events)
			for _, e := range effs {
				if e.Kind == EffectEvent {
					events = append(events, e.Event)
				} else {
					effects = append(effects, e)
				}
			}
			return Result{Events: events[start:len(events):len(events)], Err: err}
		}
		if len(batch) == 0 {
			step(request{in: Input{Kind: InTick}})
		}
		for _, r := range batch {
			res := step(r)
			if res.Err != nil && r.reply == nil {
				h.log.Warn("input refused", "device", r.in.Device, "error", res.Err)
			}
			results = append(results, res)
		}
		if changed {
			var inst *Installation
			if configured {
				inst = h.eng.Installation()
			}
			if err := h.store.CommitInstallation(inst, h.eng.State(), events); err != nil {
				// Nothing of this batch is durable, so nothing of it is announced: the
				// supervisor restarts vakt from the last commit.
				err = fmt.Errorf("hub: %w", err)
				for _, r := range batch {
					if r.reply != nil {
						r.reply <- Result{Err: err}
					}
				}
				return err
			}
		}
		// Publish first, so that whoever gets a reply reads a snapshot that includes it.
		if changed {
			h.publish(now, events, effects)
		}
		for i, r := range batch {
			if r.reply != nil {
				res := results[i]
				res.Events = slices.Clone(res.Events)
				r.reply <- res
			}
		}
	}
}

// publish makes a new snapshot and hands it with the step's events and effects to every
// subscriber, without ever waiting for one.
func (h *Hub) publish(now time.Time, events []Event, effects []Effect) {
	s := &Snapshot{Time: now, Installation: h.eng.Installation(), State: h.eng.State().Clone(), Ready: map[int][]Reason{}}
	for _, a := range s.Installation.Areas {
		s.Ready[a.Number] = h.eng.Readiness(a.Number, ModeArmedAway)
	}
	// Store and offer under one lock, so that Subscribe sees either this snapshot or the
	// offer of its events, never neither.
	h.mu.Lock()
	defer h.mu.Unlock()
	h.snap.Store(s)
	for sub := range h.subs {
		sub.offer(s, events, effects)
	}
}

// Subscribe returns a subscription to snapshots, events and effects. Close it when done.
// It registers and reads the snapshot it starts from under the lock publish holds, so no
// event published in between is lost.
func (h *Hub) Subscribe() *Subscription {
	s := &Subscription{h: h, notify: make(chan struct{}, 1)}
	h.mu.Lock()
	s.snap = h.Snapshot()
	s.next = s.snap.State.NextSeq
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	s.signal()
	return s
}

func (h *Hub) closeSubs() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	}
}
