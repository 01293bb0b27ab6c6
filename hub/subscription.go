package hub

import "sync"

// subBuffer is how many events a subscriber may fall behind before it must resync.
const subBuffer = 4096

// Subscription receives the hub's updates. A subscriber that falls behind is never waited
// for: its Update says Lagged, and it reads what it missed from the store.
//
// There are two kinds (DESIGN §3, "local outputs at once; what leaves the house after the
// commit"). Hub.Subscribe gets committed snapshots and events only: everything that answers,
// reports or notifies uses it. Hub.SubscribeOutputs is for the followers of local outputs
// (the device manager's sirens and keypads, the box's relay and LED): it gets each step's
// decided Outputs, effects and events as soon as the step decides them, in parallel with the
// commit, and never the committed events again.
type Subscription struct {
	h      *Hub
	notify chan struct{}
	// early marks an output follower's subscription.
	early bool

	mu      sync.Mutex
	snap    *Snapshot
	outputs *Outputs
	events  []Event
	effects []Effect
	lagged  bool
	next    uint64 // the first sequence not yet handed out
	closed  bool
}

// Update is what a subscriber gets: the newest committed snapshot, the newest decided
// outputs, and what happened since the last Update. If Lagged, Events is empty and the
// subscriber should read events from FromSeq on from the store (Hub.Store().Events(FromSeq-1,
// …)); Effects may have been dropped too, so act on Outputs.
type Update struct {
	// Snapshot is the newest committed snapshot.
	Snapshot *Snapshot
	// Outputs is what the local outputs show now. For an output subscription it may run
	// ahead of Snapshot (the step that decided it is not yet durable); otherwise it is
	// Snapshot's.
	Outputs *Outputs
	// Events and Effects happened since the last Update. Committed says the events are
	// durable: always for Subscribe. For SubscribeOutputs they are not (Committed is
	// false): act on them only locally (re-assert a siren), never answer or report them.
	Events    []Event
	Effects   []Effect
	Committed bool
	Lagged    bool
	FromSeq   uint64
	Closed    bool
}

// CommittedEvents returns the update's events. For a lagged update of a Subscribe
// subscription, which carries none, it reads what was missed from the store, up to the
// update's snapshot: later events come with the next update, so none is seen twice.
func (u Update) CommittedEvents(s *Store) ([]Event, error) {
	if !u.Lagged {
		return u.Events, nil
	}
	next := u.Snapshot.State.NextSeq
	if next <= u.FromSeq {
		return nil, nil
	}
	return s.Events(u.FromSeq-1, int(next-u.FromSeq))
}

// C is signalled when an update is waiting.
func (s *Subscription) C() <-chan struct{} { return s.notify }

// Next takes the waiting update.
func (s *Subscription) Next() Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Update{Snapshot: s.snap, Outputs: s.outputs, Events: s.events, Effects: s.effects,
		Committed: !s.early, Lagged: s.lagged, FromSeq: s.next, Closed: s.closed}
	if u.Outputs == nil {
		u.Outputs = &s.snap.Outputs
	}
	if !s.lagged && len(s.events) > 0 {
		u.FromSeq = s.events[0].Seq
	}
	s.events, s.effects, s.lagged = nil, nil, false
	if s.early {
		if len(u.Events) > 0 {
			s.next = u.Events[len(u.Events)-1].Seq + 1
		}
	} else {
		s.next = s.snap.State.NextSeq
	}
	return u
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}

// offer hands a committed snapshot with its events and effects to the subscription. An
// output follower had them already (offerOutputs), so it takes only the snapshot.
func (s *Subscription) offer(snap *Snapshot, events []Event, effects []Effect) {
	s.mu.Lock()
	s.snap = snap
	if !s.early {
		s.add(events, effects)
	}
	s.mu.Unlock()
	s.signal()
}

// offerOutputs hands a step's decided outputs, effects and (not yet durable) events to an
// output follower.
func (s *Subscription) offerOutputs(o *Outputs, events []Event, effects []Effect) {
	s.mu.Lock()
	s.outputs = o
	s.add(events, effects)
	s.mu.Unlock()
	s.signal()
}

// add appends what happened; the caller holds s.mu.
func (s *Subscription) add(events []Event, effects []Effect) {
	if s.lagged || len(s.events)+len(events) > subBuffer {
		s.lagged, s.events, s.effects = true, nil, nil
		return
	}
	s.events = append(s.events, events...)
	s.effects = append(s.effects, effects...)
}

func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
