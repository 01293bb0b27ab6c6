// Package sdnotify speaks systemd's notify protocol (sd_notify(3)): vakt, run by a unit of
// Type=notify, says when it is ready and feeds the unit's watchdog while its hub loop
// turns. The protocol is a datagram of newline-separated VAR=value lines to the unix socket
// $NOTIFY_SOCKET names; a path, or an abstract socket written with a leading '@'. Our own
// few lines instead of libsystemd (no cgo) or a dependency.
package sdnotify

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrBadEnv is in the error for a NOTIFY_SOCKET, WATCHDOG_USEC or WATCHDOG_PID that
// systemd would never set.
var ErrBadEnv = errors.New("not as systemd sets it")

// States vakt sends (sd_notify(3)).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends states to the service manager's notify socket.
type Notifier struct {
	addr *net.UnixAddr
}

// FromEnv returns a Notifier for the socket $NOTIFY_SOCKET names, or nil (and no error)
// when it names none: vakt was not started by systemd as Type=notify. A socket that is
// neither a path nor abstract is an error naming the variable.
func FromEnv() (*Notifier, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	switch {
	case name == "":
		return nil, nil
	case name[0] != '/' && name[0] != '@':
		// systemd's vsock: sockets are for virtual machines; vakt runs on the box itself.
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: %w: an absolute path or @abstract name", name, ErrBadEnv)
	}
	// Go's net package writes a leading '@' as the abstract namespace's NUL.
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}, nil
}

// Socket is the socket's name as $NOTIFY_SOCKET gave it; "" for a nil Notifier.
func (n *Notifier) Socket() string {
	if n == nil {
		return ""
	}
	return n.addr.Name
}

// Notify sends the states (Ready, "STATUS=…", …) in one datagram. On a nil Notifier it
// does nothing. Like sd_notify, it opens a socket for each message, so a manager that
// re-executes itself loses none.
func (n *Notifier) Notify(states ...string) error {
	if n == nil {
		return nil
	}
	for _, s := range states {
		if !strings.Contains(s, "=") || strings.Contains(s, "\n") {
			return fmt.Errorf("notify %q: a state is one VAR=value line", s)
		}
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(states, "\n"))); err != nil {
		return fmt.Errorf("notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval returns how often to feed the watchdog: half of $WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises. ok is false when there is no watchdog for this process:
// no WATCHDOG_USEC, or a WATCHDOG_PID naming another process (a child that inherited the
// environment). A value systemd would not set is an error naming it.
func WatchdogInterval() (every time.Duration, ok bool, err error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 || n > math.MaxInt64/uint64(time.Microsecond) {
		return 0, false, fmt.Errorf("WATCHDOG_USEC=%q: %w: a positive number of microseconds", usec, ErrBadEnv)
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, false, fmt.Errorf("WATCHDOG_PID=%q: %w: a process id", pid, ErrBadEnv)
		}
		if p != os.Getpid() {
			return 0, false, nil
		}
	}
	return time.Duration(n) * time.Microsecond / 2, true, nil
}
