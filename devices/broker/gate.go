package broker

import (
	"net"
	"sync"
	"time"
)

// failWindow bounds how long failed logins are counted against an address.
const failWindow = time.Minute

// maxFailAddrs bounds the failed-login table; past it, new addresses share one entry, so a
// flood of addresses costs bounded memory and is still held back.
const maxFailAddrs = 4096

// gate admits connections before any byte of MQTT is read: at most so many open per
// address and in total, and none from an address with too many failed logins in the last
// minute. Time comes in as an argument.
type gate struct {
	perAddr, total, failures int

	mu    sync.Mutex
	open  map[string]int
	n     int
	fails map[string]*failCount
}

type failCount struct {
	since time.Time
	n     int
}

func newGate(l Limits) *gate {
	return &gate{perAddr: l.MaxConnectionsPerAddress, total: l.MaxConnections, failures: l.LoginFailuresPerMinute,
		open: map[string]int{}, fails: map[string]*failCount{}}
}

// Reasons a connection is not admitted.
const (
	refusedTotal   = "too many connections"
	refusedAddr    = "too many connections from the address"
	refusedBackoff = "too many failed logins from the address"
)

// admit takes a place for a connection from addr at now, or says why there is none.
func (g *gate) admit(addr string, now time.Time) (reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blockedLocked(addr, now) {
		return refusedBackoff
	}
	if g.n >= g.total {
		return refusedTotal
	}
	if g.open[addr] >= g.perAddr {
		return refusedAddr
	}
	g.n++
	g.open[addr]++
	return ""
}

// release gives back the place of a closed connection.
func (g *gate) release(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.open[addr]--; g.open[addr] <= 0 {
		delete(g.open, addr)
	}
}

// failed counts a failed login from addr at now.
func (g *gate) failed(addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.failKeyLocked(addr, now)
	f := g.fails[key]
	if f == nil || now.Sub(f.since) >= failWindow {
		f = &failCount{since: now}
		g.fails[key] = f
	}
	f.n++
}

// blocked reports whether addr has used up its failed logins at now.
func (g *gate) blocked(addr string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blockedLocked(addr, now)
}

func (g *gate) blockedLocked(addr string, now time.Time) bool {
	f := g.fails[g.failKeyLocked(addr, now)]
	return f != nil && f.n >= g.failures && now.Sub(f.since) < failWindow
}

// failKeyLocked is addr's key in the failed-login table: addr itself, or one shared key
// when the table is full of other addresses.
func (g *gate) failKeyLocked(addr string, now time.Time) string {
	if _, ok := g.fails[addr]; ok || len(g.fails) < maxFailAddrs {
		return addr
	}
	g.pruneLocked(now)
	if len(g.fails) < maxFailAddrs {
		return addr
	}
	return "*"
}

// prune forgets failed logins older than the window.
func (g *gate) prune(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pruneLocked(now)
}

func (g *gate) pruneLocked(now time.Time) {
	for a, f := range g.fails {
		if now.Sub(f.since) >= failWindow {
			delete(g.fails, a)
		}
	}
}

// host returns the address part of a remote address, the unit limits count by.
func host(remote string) string {
	h, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return h
}
