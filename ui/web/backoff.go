package web

import (
	"sync"
	"time"
)

// Login back-off: after freeLogins wrong passwords an account (or an address) waits
// before the next try, 1 s doubling to at most 15 min; a success clears it.
const (
	freeLogins  = 3
	maxBackoff  = 15 * time.Minute
	backoffKeep = time.Hour // an entry idle this long is forgotten
	backoffCap  = 10000     // entries kept at most; the oldest go first
)

type attempt struct {
	wrong int
	last  time.Time
	until time.Time
}

// backoff counts wrong passwords by key (an account or an address). Housekeeping takes
// now as an argument, so tests pass any time they like.
type backoff struct {
	mu sync.Mutex
	m  map[string]*attempt
}

func newBackoff() *backoff { return &backoff{m: map[string]*attempt{}} }

// wait returns how long key must still wait at now; 0 means it may try.
func (b *backoff) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.m[key]
	if a == nil || !now.Before(a.until) {
		return 0
	}
	return a.until.Sub(now)
}

// fail counts a wrong password for key at now.
func (b *backoff) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.m[key]
	if a == nil || now.Sub(a.last) > backoffKeep {
		if len(b.m) >= backoffCap {
			b.prune(now)
		}
		a = &attempt{}
		b.m[key] = a
	}
	a.wrong++
	a.last = now
	if a.wrong >= freeLogins {
		d := time.Second << min(a.wrong-freeLogins, 20)
		a.until = now.Add(min(d, maxBackoff))
	}
}

// succeed clears key.
func (b *backoff) succeed(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, key)
}

// prune forgets idle entries, and if still full the oldest; the caller holds mu.
func (b *backoff) prune(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, a := range b.m {
		if now.Sub(a.last) > backoffKeep && now.After(a.until) {
			delete(b.m, k)
			continue
		}
		if oldestKey == "" || a.last.Before(oldest) {
			oldestKey, oldest = k, a.last
		}
	}
	if len(b.m) >= backoffCap {
		delete(b.m, oldestKey)
	}
}
