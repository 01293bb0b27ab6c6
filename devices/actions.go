package devices

import (
	"context"
)

const (
	// maxActionQueue bounds the actions one device may have waiting: a keypad's user types
	// a few at most; more are a stuck hub or a flood, and are dropped (the keypad times out).
	maxActionQueue = 8
	// maxActors bounds the devices whose actions are carried out at once, each by a
	// goroutine of its own that ends when its queue is empty.
	maxActors = 64
)

// actionQueue is one device's keypad and lock actions, carried out one at a time in the
// order the device sent them: an arm and the disarm typed after it must not swap.
type actionQueue struct {
	pending []func(context.Context)
}

// act queues f behind the device's earlier actions, starting the device's worker if it has
// none. It never blocks: a full queue, or too many devices acting at once, drops f with a
// warning. The caller must not hold mu.
func (m *Manager) act(k key, what string, f func(context.Context)) {
	m.mu.Lock()
	q := m.actions[k]
	switch {
	case m.actionsClosed:
		m.mu.Unlock()
		return // the manager has stopped
	case q == nil && len(m.actions) >= maxActors:
		m.mu.Unlock()
		m.log.Warn("too many devices acting at once: "+what+" dropped", "device", k.address, "driver", k.driver)
		return
	case q != nil && len(q.pending) >= maxActionQueue:
		m.mu.Unlock()
		m.log.Warn("device sends actions faster than they are carried out: "+what+" dropped", "device", k.address, "driver", k.driver)
		return
	case q == nil:
		q = &actionQueue{}
		m.actions[k] = q
		m.actors.Add(1)
		go m.drain(k, q)
	}
	q.pending = append(q.pending, f)
	m.mu.Unlock()
}

// drain carries out a device's actions in order and ends when none is left.
func (m *Manager) drain(k key, q *actionQueue) {
	defer m.actors.Done()
	for {
		m.mu.Lock()
		if len(q.pending) == 0 {
			delete(m.actions, k)
			m.mu.Unlock()
			return
		}
		f := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		m.mu.Unlock()
		f(m.actx)
	}
}

// stopActions ends the actions in progress, drops those waiting, and waits for the workers.
func (m *Manager) stopActions() {
	m.mu.Lock()
	m.actionsClosed = true // no worker is started after this, so Wait cannot race an Add
	for _, q := range m.actions {
		q.pending = nil
	}
	m.mu.Unlock()
	m.cancelActions()
	m.actors.Wait()
}
