package broker

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// tallyKeys bounds how many distinct keys (addresses, accounts and topics) a tally names
// in one summary; the rest are only counted.
const tallyKeys = 8

// tally logs refusals of one kind in aggregate, so that a flood costs a bounded number of
// log lines: the first refusal of a period is logged with its details, the others of the
// period are counted and summed up in one line when the period is over. Time comes in as
// an argument.
type tally struct {
	log    *slog.Logger
	msg    string
	period time.Duration

	mu    sync.Mutex
	start time.Time // of the open period; zero when none is open
	more  int       // refusals of the period after the first
	keys  map[string]int
}

func newTally(log *slog.Logger, msg string, period time.Duration) *tally {
	return &tally{log: log, msg: msg, period: period, keys: map[string]int{}}
}

// add counts one refusal at now, named by key in a summary; the first of a period is
// logged at once with attrs.
func (t *tally) add(now time.Time, key string, attrs ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushLocked(now)
	if t.start.IsZero() {
		t.start = now
		t.log.Warn(t.msg, attrs...)
		return
	}
	t.more++
	if _, ok := t.keys[key]; ok || len(t.keys) < tallyKeys {
		t.keys[key]++
	}
}

// flush ends the period if it is over, logging the sum of what it did not log.
func (t *tally) flush(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushLocked(now)
}

func (t *tally) flushLocked(now time.Time) {
	if t.start.IsZero() || now.Sub(t.start) < t.period {
		return
	}
	if t.more > 0 {
		names := make([]string, 0, len(t.keys))
		for k, n := range t.keys {
			names = append(names, fmt.Sprintf("%s×%d", k, n))
		}
		sort.Strings(names)
		t.log.Warn(t.msg+" (more of the same)", "count", t.more, "since", t.start.Format(time.RFC3339), "by", strings.Join(names, " "))
	}
	t.start, t.more = time.Time{}, 0
	clear(t.keys)
}
