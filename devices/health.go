package devices

import (
	"time"
)

// MalformedLogEvery is how often at most a device's malformed or dropped messages are
// logged; those in between are counted, and the next line says how many were left out.
const MalformedLogEvery = time.Minute

// logLimit is the log rate limit of one device's malformed or dropped messages.
type logLimit struct {
	last       time.Time
	suppressed int
}

// allow says whether to log now, and how many were left out since the last line.
func (l *logLimit) allow(now time.Time) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < MalformedLogEvery {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// healthOf returns the health of a driver address, made on first use; the caller holds mu.
func (m *Manager) healthOf(k key) *Health {
	h := m.health[k]
	if h == nil {
		h = &Health{}
		m.health[k] = h
	}
	return h
}

// limit returns the log rate limit of what for a driver address; the caller holds mu.
func (m *Manager) limit(what string, k key) *logLimit {
	lk := limitKey{what, k}
	l := m.limits[lk]
	if l == nil {
		l = &logLimit{}
		m.limits[lk] = l
	}
	return l
}

type limitKey struct {
	what string
	key
}

// Malformed counts a payload a driver could not read and logs why, at most once a minute
// per device. It never changes alarm state.
func (m *Manager) Malformed(driver, address string, err error) {
	k := key{driver, address}
	m.mu.Lock()
	m.healthOf(k).Malformed++
	m.malformed[driver]++
	log, suppressed := m.limit("malformed", k).allow(m.now())
	m.mu.Unlock()
	if log {
		m.log.Warn("malformed payload", "driver", driver, "device", address, "error", err, "suppressed", suppressed)
	}
}

// MalformedByDriver returns how many payloads each driver could not read since start, by
// driver name: counters for metrics, which never go down when a device is removed.
func (m *Manager) MalformedByDriver() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(m.malformed))
	for d, n := range m.malformed {
		out[d] = n
	}
	return out
}

// Stale counts a message a driver dropped as older than one already read (or a duplicate),
// and logs it, at most once a minute per device. It never changes alarm state.
func (m *Manager) Stale(driver, address, why string) {
	k := key{driver, address}
	m.mu.Lock()
	m.healthOf(k).Dropped++
	log, suppressed := m.limit("stale", k).allow(m.now())
	m.mu.Unlock()
	if log {
		m.log.Warn("message dropped", "driver", driver, "device", address, "why", why, "suppressed", suppressed)
	}
}

// Health returns a copy of each known device's health, by installation device id.
func (m *Manager) Health() map[string]Health {
	inst := m.hub.Snapshot().Installation
	out := map[string]Health{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range inst.Devices {
		if h := m.health[key{d.Driver, d.AddressOrID()}]; h != nil {
			out[d.ID] = *h
		}
	}
	return out
}

// WatchHealth returns a channel that receives, coalesced, whenever a device's switch, lock
// or temperature changes or a missing device is heard again: what the HomeKit bridge shows
// at once rather than polling for it. stop ends the watch.
func (m *Manager) WatchHealth() (changes <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	if m.watchers == nil {
		m.watchers = map[chan struct{}]struct{}{}
	}
	m.watchers[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.watchers, ch)
		m.mu.Unlock()
	}
}

// healthChanged tells the watchers, never waiting for one; the caller holds mu.
func (m *Manager) healthChanged() {
	for ch := range m.watchers {
		select {
		case ch <- struct{}{}:
		default: // one is pending already: the watcher reads the newest health anyway
		}
	}
}
