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

// ErrNotDurable is in a command's Result while the disk fails: the command was carried out
// and its events (in the Result) are decided and kept in memory in order, the local outputs
// show it, but it is not yet durable, so nothing of it is reported or published as
// committed until a retried commit succeeds.
var ErrNotDurable = errors.New("carried out, but not yet durable: the disk fails")

// maxBatch bounds how many inputs share one commit (group commit).
const maxBatch = 256

// Snapshot is an immutable view of the hub after a step, shared by every reader.
type Snapshot struct {
	Time         time.Time
	Installation *Installation
	State        State
	// Ready maps area number to the reasons it cannot be armed away now.
	Ready map[int][]Reason
	// Outputs is what the local outputs show in State.
	Outputs Outputs
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
	// own, when set, is a change a user makes to their own entry (ConfigureOwn).
	own  func(*Installation, string) error
	note string
	// at is when the request reached the hub (monotonic), set only when OnSiren is: the
	// start of the siren latency.
	at time.Time
}

// Hub owns the engine in one goroutine. Drivers and interfaces send inputs; the loop steps
// the engine and hands the decided outputs out at once; a committer goroutine commits state
// and events in one transaction, and only then does the loop answer and publish.
type Hub struct {
	store *Store
	eng   *Engine
	log   *slog.Logger
	now   func() time.Time

	reqs chan request
	done chan struct{}
	// pings is how Alive reaches the loop: taking one proves the loop turns.
	pings chan struct{}
	// restored says New bounded the stored state's deadlines, so the first turn of the
	// loop stores it.
	restored bool

	// commit stores a turn; the store's, or a test's failing one.
	commit func(inst *Installation, st *State, events []Event) error

	// jobs hands commits to the committer, which hands them back on committed.
	jobs      chan *commitJob
	committed chan *commitJob

	// The loop's own: this turn's events and effects; what is decided but not yet handed
	// to the committer (unsaved, pendingEffects, heldReplies); the commit in flight and the
	// replies that wait for it.
	events          []Event
	effects         []Effect
	unsaved         []Event
	pendingEffects  []Effect
	heldReplies     []waiter
	inflight        *commitJob
	inflightReplies []waiter
	dirty           bool  // the state changed since the last handed commit
	instDirty       bool  // the installation too
	commitErr       error // the last commit's error; nil while commits succeed
	retryAt         time.Time
	backoff         time.Duration
	raisedDiskFault bool
	zonesDirty      bool      // a zone's open/closed state changed since the last commit
	zonesDue        time.Time // when it is written at the latest
	durability      atomic.Pointer[Durability]
	outputs         atomic.Pointer[Outputs] // the latest decided, durable or not

	snap atomic.Pointer[Snapshot]
	mu   sync.Mutex
	subs map[*Subscription]struct{}

	onCommit func(took time.Duration, events int, err error)
	onSiren  func(took time.Duration)
}

// Options tune a Hub; zero values take defaults.
type Options struct {
	// Now is the clock; tests pass their own.
	Now func() time.Time
	// Logger receives the loop's errors.
	Logger *slog.Logger
	// BeforeCommit, when set, runs before each commit with its events; an error fails the
	// commit. Tests use it to play a slow or failing disk.
	BeforeCommit func(events []Event) error
	// OnCommit, when set, gets each commit's duration, its number of events and its error,
	// for metrics. It runs on the committer goroutine and must not block.
	OnCommit func(took time.Duration, events int, err error)
	// OnSiren, when set, gets, for each input that starts a siren, the time from the
	// input reaching the hub (Submit, Do) to the decided siren output being handed to the
	// output followers (SubscribeOutputs), for metrics. It runs on the loop and must not
	// block.
	OnSiren func(took time.Duration)
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
		pings: make(chan struct{}),
		subs:  map[*Subscription]struct{}{},
		// One commit in flight: handing one over never blocks the loop.
		jobs:      make(chan *commitJob, 1),
		committed: make(chan *commitJob, 1),
		onCommit:  opts.OnCommit,
		onSiren:   opts.OnSiren,
	}
	h.commit = store.CommitInstallation
	if before := opts.BeforeCommit; before != nil {
		h.commit = func(inst *Installation, st *State, events []Event) error {
			if err := before(events); err != nil {
				return err
			}
			return store.CommitInstallation(inst, st, events)
		}
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
	h.publishSnapshot(h.snapshot(now), nil, nil)
	return h, nil
}

// Store returns the hub's store, for readers of the log.
func (h *Hub) Store() *Store { return h.store }

// Snapshot returns the latest snapshot; never nil.
func (h *Hub) Snapshot() *Snapshot { return h.snap.Load() }

// Do sends a command and waits until its step is committed (or, while the disk fails, until
// it is carried out: Result.Err is then ErrNotDurable).
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

// SetOwnPassword sets the web password (its hash) of the user whose credential by carries,
// as any user may for themselves; logged as a config_change by that user. The caller has
// checked the user's current password.
func (h *Hub) SetOwnPassword(ctx context.Context, by Input, hash string) Result {
	return h.call(ctx, request{in: by, reply: make(chan Result, 1), note: "own web password changed", own: func(inst *Installation, user string) error {
		for i := range inst.Users {
			if inst.Users[i].ID == user {
				inst.Users[i].Password = hash
				return nil
			}
		}
		return ErrUnknownUser
	}})
}

// SetOwnLang sets the language (Langs, or "" for the browser's) of the user whose
// credential by carries, as any user may for themselves; logged as a config_change.
func (h *Hub) SetOwnLang(ctx context.Context, by Input, lang string) Result {
	return h.call(ctx, request{in: by, reply: make(chan Result, 1), note: "own language: " + lang, own: func(inst *Installation, user string) error {
		for i := range inst.Users {
			if inst.Users[i].ID == user {
				inst.Users[i].Lang = lang
				return nil
			}
		}
		return ErrUnknownUser
	}})
}

// call hands r to the loop and waits for its answer. ctx bounds the wait for a place in the
// queue only: once the loop has the request it is carried out, and the caller learns how
// (the loop answers as soon as the step is committed).
func (h *Hub) call(ctx context.Context, r request) Result {
	if h.onSiren != nil {
		r.at = time.Now()
	}
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

// Alive returns nil as soon as the run loop takes a ping, which it does between turns: a
// loop stuck in a step, or never started, never does, and Alive returns ctx's error (or
// ErrStopped once the loop has ended). A watchdog (systemd's WatchdogSec) is fed only while
// Alive succeeds, so a stuck loop gets vakt restarted. A busy loop answers too: its select
// picks a waiting ping among the inputs. Alive says nothing of the disk; a failing one is
// the disk fault, and the loop goes on (see Run).
func (h *Hub) Alive(ctx context.Context) error {
	select {
	case h.pings <- struct{}{}:
		return nil
	case <-h.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
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
	r := request{in: in}
	if h.onSiren != nil {
		r.at = time.Now()
	}
	select {
	case h.reqs <- r:
		return nil
	case <-h.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run owns the engine until ctx ends. Deadlines that passed while the hub was down fire at
// once. Each turn steps a batch of inputs and hands the decided outputs to the output
// followers at once; the committer goroutine commits the events and state in one
// transaction while the loop goes on stepping, and what is decided meanwhile goes in the
// next commit (group commit). Only when a commit is durable does the loop publish its
// committed snapshot and events and answer the commands it holds. A commit that fails never
// stops the loop (degraded mode): the state stays in memory, the disk fault is raised,
// every event is kept in order and the commit is retried with back-off until the disk takes
// it; meanwhile nothing is published as committed, and replies carry ErrNotDurable. At the
// end Run waits for the commit in flight, makes a last attempt and returns an error only if
// events are still not durable.
func (h *Hub) Run(ctx context.Context) error {
	defer close(h.done)
	defer h.closeSubs()
	var committer sync.WaitGroup
	committer.Go(func() { h.committer(h.jobs, h.committed) })
	defer committer.Wait()
	defer close(h.jobs) // after shutdown has taken the last commit back
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	batch := make([]request, 0, maxBatch)
	results := make([]Result, 0, maxBatch)
	tick := true // run due deadlines at start
	for {
		batch = batch[:0]
		if !tick {
			wait := time.Hour
			if next, ok := h.eng.NextDeadline(); ok {
				wait = next.Sub(h.now())
			}
			if h.inflight == nil {
				// With a commit in flight, its end wakes the loop.
				if h.commitErr != nil {
					wait = min(wait, h.retryAt.Sub(h.now()))
				}
				if h.zonesDirty {
					wait = min(wait, h.zonesDue.Sub(h.now()))
				}
			}
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return h.shutdown()
			case job := <-h.committed:
				timer.Stop()
				h.finish(job)
				h.handOff(h.now(), false)
				continue
			case r := <-h.reqs:
				batch = append(batch, r)
			case <-h.pings:
				timer.Stop()
				continue
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
		h.events, h.effects, results = h.events[:0], h.effects[:0], results[:0]
		changed, configured, zones := h.restored, false, false
		h.restored = false
		var sirenFrom time.Time // the earliest input of the turn that started a siren
		step := func(r request) Result {
			var effs []Effect
			var err error
			if r.configure != nil {
				effs, err = h.eng.Configure(now, r.in, r.note, r.configure)
				configured = configured || err == nil
			} else if r.own != nil {
				effs, err = h.eng.ConfigureOwn(now, r.in, r.note, r.own)
				configured = configured || err == nil
			} else {
				effs, err = h.eng.Step(now, r.in)
			}
			changed = changed || h.eng.Changed()
			zones = zones || h.eng.ZoneChanged()
			start := len(h.events)
			h.take(effs)
			if !r.at.IsZero() && (sirenFrom.IsZero() || r.at.Before(sirenFrom)) && startsSiren(effs) {
				sirenFrom = r.at
			}
			return Result{Events: h.events[start:len(h.events):len(h.events)], Err: err}
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
		if changed || zones || len(h.effects) > 0 {
			// Local outputs at once, in parallel with the commit: the siren never waits
			// for the disk.
			h.publishOutputs()
			if !sirenFrom.IsZero() {
				h.onSiren(time.Since(sirenFrom))
			}
		}
		if changed {
			h.dirty = true
			h.instDirty = h.instDirty || configured
			h.unsaved = append(h.unsaved, h.events...)
		}
		h.pendingEffects = append(h.pendingEffects, h.effects...)
		if zones && !h.zonesDirty {
			// Only a zone's open/closed state (nothing reportable): written with the next
			// commit, within ZoneWriteEvery, or at shutdown.
			h.zonesDirty, h.zonesDue = true, now.Add(ZoneWriteEvery)
		}
		h.handOff(now, false)
		if zones && !h.dirty && h.inflight == nil {
			// A door opened while disarmed is shown at once; only its writing waits.
			h.publishSnapshot(h.snapshot(now), nil, h.pendingEffects)
			h.pendingEffects = nil
		}
		for i, r := range batch {
			if r.reply == nil {
				continue
			}
			res := results[i]
			res.Events = slices.Clone(res.Events)
			h.answer(waiter{reply: r.reply, res: res})
		}
	}
}

// take sorts a step's effects into the turn's events and other effects.
func (h *Hub) take(effs []Effect) {
	for _, e := range effs {
		if e.Kind == EffectEvent {
			h.events = append(h.events, e.Event)
		} else {
			h.effects = append(h.effects, e)
		}
	}
}

// startsSiren says whether a step's effects sound a siren.
func startsSiren(effs []Effect) bool {
	for _, e := range effs {
		if e.Kind == EffectSiren && e.Pattern != SirenOff {
			return true
		}
	}
	return false
}

// ZoneWriteEvery bounds how long a zone's open/closed state that changed nothing reportable
// waits to be written, when no event commit takes it along first (an SD card's life is
// counted in writes).
const ZoneWriteEvery = 5 * time.Minute

// Commit back-off while the disk fails: from commitRetryMin, doubling, to commitRetryMax.
const (
	commitRetryMin = 100 * time.Millisecond
	commitRetryMax = 30 * time.Second
)

// commitFailed enters or stays in degraded mode.
func (h *Hub) commitFailed(now time.Time, err error) {
	if h.commitErr == nil {
		h.log.Error("commit failed: running from memory, retrying; the siren still sounds", "error", err)
		h.backoff = commitRetryMin
	} else {
		h.backoff = min(2*h.backoff, commitRetryMax)
	}
	first := h.commitErr == nil
	h.commitErr = err
	h.retryAt = now.Add(h.backoff)
	if first && !h.eng.State().DiskFault {
		h.raisedDiskFault = true
		h.internalStep(now, Input{Kind: InDiskFault, Active: true, Path: "commit failed: " + err.Error()})
	}
	h.durability.Store(&Durability{Pending: len(h.unsaved), Err: err, RetryAt: h.retryAt})
}

// internalStep steps an input of the hub's own (the disk fault) into the turn.
func (h *Hub) internalStep(now time.Time, in Input) {
	effs, err := h.eng.Step(now, in)
	if err != nil {
		h.log.Error("hub input refused", "error", err)
		return
	}
	if !h.eng.Changed() {
		return
	}
	start, estart := len(h.events), len(h.effects)
	h.take(effs)
	h.unsaved = append(h.unsaved, h.events[start:]...)
	h.pendingEffects = append(h.pendingEffects, h.effects[estart:]...)
	h.dirty = true
	h.publishOutputs()
}

// shutdown waits for the commit in flight, then makes a last attempt to commit what is not
// yet durable, zone states included.
func (h *Hub) shutdown() error {
	h.awaitCommit()
	for h.dirty || h.zonesDirty {
		h.handOff(h.now(), true)
		if !h.awaitCommit() {
			return fmt.Errorf("hub: %d events not durable at shutdown: %w", len(h.unsaved), h.commitErr)
		}
	}
	return nil
}

// Outputs returns what the local outputs show as last decided, durable or not: for
// keypads answering a command, which are local outputs too.
func (h *Hub) Outputs() Outputs {
	if o := h.outputs.Load(); o != nil {
		return *o
	}
	return h.Snapshot().Outputs
}

// Durability says whether everything the hub decided is durable.
type Durability struct {
	// Pending is how many decided events wait for the disk; Err is the last commit's error,
	// nil when everything is durable; RetryAt is the next attempt.
	Pending int
	Err     error
	RetryAt time.Time
}

// Durability returns whether everything decided is durable, for the UI and health checks.
func (h *Hub) Durability() Durability {
	if d := h.durability.Load(); d != nil {
		return *d
	}
	return Durability{}
}

// publishOutputs hands the state's decided outputs, with the turn's events and effects, to
// the output followers before the commit.
func (h *Hub) publishOutputs() {
	o := h.eng.State().Outputs()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.outputs.Store(&o)
	for sub := range h.subs {
		if sub.early {
			sub.offerOutputs(&o, h.events, h.effects)
		}
	}
}

// snapshot makes an immutable snapshot of the engine now: a deep copy of the state.
func (h *Hub) snapshot(now time.Time) *Snapshot {
	s := &Snapshot{Time: now, Installation: h.eng.Installation(), State: h.eng.State().Clone(), Ready: map[int][]Reason{}}
	s.Outputs = s.State.Outputs()
	for _, a := range s.Installation.Areas {
		s.Ready[a.Number] = h.eng.Readiness(a.Number, ModeArmedAway)
	}
	return s
}

// publishSnapshot makes s the committed snapshot and hands it with the events and effects
// that led to it to every subscriber, without ever waiting for one.
func (h *Hub) publishSnapshot(s *Snapshot, events []Event, effects []Effect) {
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

// SubscribeOutputs returns a subscription for a follower of local outputs (sirens, strobes,
// relays, keypads, LEDs): it gets each step's decided Outputs, effects and not yet durable
// events before the commit, and committed snapshots after. Only output followers use it;
// whatever answers, reports or notifies uses Subscribe.
func (h *Hub) SubscribeOutputs() *Subscription {
	s := &Subscription{h: h, notify: make(chan struct{}, 1), early: true}
	h.mu.Lock()
	s.snap = h.Snapshot()
	s.outputs = h.outputs.Load() // what is decided, durable or not
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
