package mqtt

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	// refusedPerMinute is how many refused commands a minute are answered and logged one
	// by one; the others are only counted, and summed up in one line when the minute is
	// over, so that a flood costs bounded answers and log lines.
	refusedPerMinute = 10
	refusalWindow    = time.Minute
)

// refusals limits the answers and log lines refused commands cost. Time comes in as an
// argument; it is safe for paho's handler and the command loop at once.
type refusals struct {
	log *slog.Logger

	mu      sync.Mutex
	start   time.Time // of the window; zero when none is open
	n       int       // refusals in the window
	reasons map[string]int
}

// allow counts a refusal for reason at now and reports whether it may be answered and
// logged on its own.
func (r *refusals) allow(now time.Time, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked(now)
	if r.start.IsZero() {
		r.start = now
	}
	r.n++
	if r.n <= refusedPerMinute {
		return true
	}
	if r.reasons == nil {
		r.reasons = map[string]int{}
	}
	r.reasons[reason]++ // reasons are a handful of fixed words
	return false
}

// flush ends the window if it is over, logging the sum of what it did not log.
func (r *refusals) flush(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLocked(now)
}

func (r *refusals) flushLocked(now time.Time) {
	if r.start.IsZero() || now.Sub(r.start) < refusalWindow {
		return
	}
	if quiet := r.n - refusedPerMinute; quiet > 0 {
		var by []string
		for k, n := range r.reasons {
			by = append(by, fmt.Sprintf("%s×%d", k, n))
		}
		sort.Strings(by)
		r.log.Warn("remote commands refused without an answer: too many", "count", quiet, "refused", r.n,
			"since", r.start.Format(time.RFC3339), "reasons", strings.Join(by, ", "))
	}
	r.start, r.n = time.Time{}, 0
	clear(r.reasons)
}
