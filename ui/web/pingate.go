package web

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// PINs count towards the engine's lockout per session (the keypad rule: 5 wrong in 10 min
// lock it for 90 s, doubling). A caller who opens a new session every few tries would get
// round that, so wrong PINs also count per address: pinsPerAddress wrong within pinWindow
// lock every session of that address for pinLockout, doubling up to pinLockoutMax.
const (
	pinsPerAddress = 10
	pinWindow      = 10 * time.Minute
	pinLockout     = 90 * time.Second
	pinLockoutMax  = 15 * time.Minute
	pinGateCap     = 10000 // addresses kept at most; the idlest go first
)

type pinAddress struct {
	wrong []time.Time
	level int
	until time.Time
}

// pinGate counts wrong PINs by address. Housekeeping takes now as an argument.
type pinGate struct {
	mu sync.Mutex
	m  map[string]*pinAddress
}

func newPINGate() *pinGate { return &pinGate{m: map[string]*pinAddress{}} }

// lockedUntil returns until when addr is locked out at now; zero when it is not.
func (g *pinGate) lockedUntil(addr string, now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if a := g.m[addr]; a != nil && now.Before(a.until) {
		return a.until
	}
	return time.Time{}
}

// fail counts a wrong PIN from addr at now.
func (g *pinGate) fail(addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.m[addr]
	if a == nil {
		if len(g.m) >= pinGateCap {
			g.prune(now)
		}
		a = &pinAddress{}
		g.m[addr] = a
	}
	a.wrong = slices.DeleteFunc(a.wrong, func(t time.Time) bool { return now.Sub(t) >= pinWindow })
	a.wrong = append(a.wrong, now)
	if len(a.wrong) < pinsPerAddress {
		return
	}
	a.wrong = nil
	a.level++
	d := pinLockout << min(a.level-1, 10)
	a.until = now.Add(min(d, pinLockoutMax))
}

// prune forgets addresses with nothing recent; the caller holds mu.
func (g *pinGate) prune(now time.Time) {
	for k, a := range g.m {
		if now.After(a.until) && (len(a.wrong) == 0 || now.Sub(a.wrong[len(a.wrong)-1]) >= pinWindow) {
			delete(g.m, k)
		}
	}
	for k := range g.m { // still full: drop any
		if len(g.m) < pinGateCap {
			break
		}
		delete(g.m, k)
	}
}

// carriesPIN reports whether a state-changing request carries a PIN (a form field, or a
// JSON body with one).
func carriesPIN(c *fiber.Ctx) bool {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return false
	}
	if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return bytes.Contains(c.Body(), []byte(`"pin"`))
	}
	return c.FormValue("pin") != ""
}
