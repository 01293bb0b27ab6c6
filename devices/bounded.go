package devices

import (
	"time"
)

const (
	// maxUnknown bounds how many addresses of devices not in the installation are
	// remembered (to log each once); older ones are forgotten first.
	maxUnknown = 1024
	// maxDiscovered bounds the devices offered for adoption; the longest silent goes first.
	maxDiscovered = 256
	// unknownLogsPerMinute is how many unknown devices a minute are logged one by one; the
	// others are summed up in one line, so a flood of transmitters costs bounded lines.
	unknownLogsPerMinute = 10
)

// unknownDevices remembers the addresses of devices not in the installation in bounded
// memory, and limits the log lines about them. Time comes in as an argument; the caller
// holds the manager's lock.
type unknownDevices struct {
	seen  map[key]struct{}
	order []key // a ring of the remembered keys, oldest at next
	next  int

	since  time.Time // the log window
	logged int
	quiet  int
}

// note records k at now. It reports whether to log k on its own, and the number of
// unknown devices of a window just over that were not logged, to be summed up.
func (u *unknownDevices) note(k key, now time.Time) (log bool, quiet int) {
	if _, ok := u.seen[k]; ok {
		return false, 0
	}
	if u.seen == nil {
		u.seen = map[key]struct{}{}
	}
	if len(u.order) < maxUnknown {
		u.order = append(u.order, k)
	} else {
		delete(u.seen, u.order[u.next])
		u.order[u.next] = k
		u.next = (u.next + 1) % maxUnknown
	}
	u.seen[k] = struct{}{}
	if u.since.IsZero() || now.Sub(u.since) >= time.Minute || now.Before(u.since) {
		quiet = u.quiet
		u.since, u.logged, u.quiet = now, 0, 0
	}
	if u.logged < unknownLogsPerMinute {
		u.logged++
		return true, quiet
	}
	u.quiet++
	return false, quiet
}

// makeRoom forgets the discovered device silent longest when there are maxDiscovered.
func makeRoom(discovered map[key]*Discovered) {
	if len(discovered) < maxDiscovered {
		return
	}
	var oldest key
	var at time.Time
	first := true
	for k, d := range discovered {
		if first || d.LastSeen.Before(at) {
			oldest, at, first = k, d.LastSeen, false
		}
	}
	delete(discovered, oldest)
}
