package hubtest

import (
	"sync"
	"time"
)

// T0 is where a test's clock starts unless the test needs another time: a Tuesday
// evening, when people arm before going out.
var T0 = time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)

// Clock is a settable clock for a hub (hub.Options.Now) or a manager whose run loop runs
// on real goroutines: the test moves it, the loop reads it, so it is safe for concurrent
// use. It is for tests that read state after moving time; a loop whose own timers must
// fire is tested in a testing/synctest bubble instead.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time; pass it as a hub's or a manager's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set sets the clock to t, which may be earlier than its time: a clock that jumps back
// is one of the things a test may want.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
