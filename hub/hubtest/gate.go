package hubtest

import (
	"sync"
	"time"
)

// Gate is a clock (hub.Options.Now) that a test can shut: while it is shut, whoever reads
// it waits in the read until it opens. A hub's run loop reads its clock on every turn, so a
// shut gate and one input make a stuck loop — the real thing a watchdog is for, with no
// hook in the hub. Safe for concurrent use.
type Gate struct {
	mu    sync.Mutex
	shut  chan struct{} // closed by Open; nil while open
	stuck chan struct{} // closed once a reader waits at the shut gate
}

// Now returns the real time, once the gate is open.
func (g *Gate) Now() time.Time {
	g.mu.Lock()
	shut, stuck := g.shut, g.stuck
	if shut != nil {
		select {
		case <-stuck:
		default:
			close(stuck)
		}
	}
	g.mu.Unlock()
	if shut != nil {
		<-shut
	}
	return time.Now()
}

// Shut shuts the gate. The channel it returns is closed once a reader is held at it.
func (g *Gate) Shut() (stuck <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut == nil {
		g.shut, g.stuck = make(chan struct{}), make(chan struct{})
	}
	return g.stuck
}

// Open lets every held reader go, and those after it; opening an open gate does nothing.
func (g *Gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut != nil {
		close(g.shut)
		g.shut, g.stuck = nil, nil
	}
}
