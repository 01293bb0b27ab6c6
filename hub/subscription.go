package hub

import "sync"

// subBuffer is how many events a subscriber may fall behind before it must resync.
const subBuffer = 4096

// Subscription receives the hub's updates. A subscriber that falls behind is never waited
// for: its Update says Lagged, and it reads what it missed from the store.
type Subscription struct {
	h      *Hub
	notify chan struct{}

	mu      sync.Mutex
	snap    *Snapshot
	events  []Event
	effects []Effect
	lagged  bool
	next    uint64 // the first sequence not yet handed out
	closed  bool
}

// Update is what a subscriber gets: the newest snapshot and what happened since the last
// Update. If Lagged, Events is empty and the subscriber should read events from FromSeq on
// from the store (Hub.Store().Events(FromSeq-1, …)); Effects may have been dropped too, so
// act on the snapshot's state (siren patterns are in it).
type Update struct {
	Snapshot *Snapshot
	Events   []Event
	Effects  []Effect
	Lagged   bool
	FromSeq  uint64
	Closed   bool
}

// C is signalled when an update is waiting.
func (s *Subscription) C() <-chan struct{} { return s.notify }

// Next takes the waiting update.
func (s *Subscription) Next() Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Update{Snapshot: s.snap, Events: s.events, Effects: s.effects, Lagged: s.lagged, FromSeq: s.next, Closed: s.closed}
	if !s.lagged && len(s.events) > 0 {
		u.FromSeq = s.events[0].Seq
	}
	s.events, s.effects, s.lagged = nil, nil, false
	s.next = s.snap.State.NextSeq
	return u
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}

func (s *Subscription) offer(snap *Snapshot, events []Event, effects []Effect) {
	s.mu.Lock()
	s.snap = snap
	if s.lagged || len(s.events)+len(events) > subBuffer {
		s.lagged, s.events, s.effects = true, nil, nil
	} else {
		s.events = append(s.events, events...)
		s.effects = append(s.effects, effects...)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
