package sdnotify_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vakt/ops/sdnotify"
	"vakt/ops/sdnotify/sdnotifytest"
)

// abstractName is an abstract socket name no other test run uses.
func abstractName(t *testing.T) string {
	return fmt.Sprintf("@vakt-sdnotify-test-%d-%s", os.Getpid(), t.Name())
}

func TestNotifier_PathAndAbstractSockets(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), abstractName(t)} {
		sock := sdnotifytest.Listen(t, name)
		t.Setenv("NOTIFY_SOCKET", name)
		n, err := sdnotify.FromEnv()
		if err != nil || n == nil {
			t.Fatalf("%s: FromEnv = %v, %v", name, n, err)
		}
		if n.Socket() != name {
			t.Errorf("Socket = %q, want %q", n.Socket(), name)
		}
		if err := n.Notify(sdnotify.Ready, "STATUS=all well"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := sock.Next(); got != "READY=1\nSTATUS=all well" {
			t.Errorf("%s: got %q", name, got)
		}
		if err := n.Notify(sdnotify.Watchdog); err != nil {
			t.Fatal(err)
		}
		if got := sock.Next(); got != "WATCHDOG=1" {
			t.Errorf("%s: got %q", name, got)
		}
	}
}

// TestNotifier_BadInput: no socket is no notifier and no error; a socket systemd would not
// name, a state that is not one line, and a socket nobody listens on are errors naming
// what; nothing is sent for a bad state.
func TestNotifier_BadInput(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := sdnotify.FromEnv()
	if n != nil || err != nil {
		t.Fatalf("no NOTIFY_SOCKET: FromEnv = %v, %v", n, err)
	}
	if err := n.Notify(sdnotify.Ready); err != nil {
		t.Errorf("nil Notifier: %v", err)
	}
	for _, bad := range []string{"relative/notify", "vsock:2:1234"} {
		t.Setenv("NOTIFY_SOCKET", bad)
		if _, err := sdnotify.FromEnv(); !errors.Is(err, sdnotify.ErrBadEnv) || !strings.Contains(err.Error(), "NOTIFY_SOCKET") {
			t.Errorf("NOTIFY_SOCKET=%s: %v", bad, err)
		}
	}

	name := filepath.Join(t.TempDir(), "notify")
	sock := sdnotifytest.Listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	n, _ = sdnotify.FromEnv()
	for _, bad := range []string{"READY", "STATUS=two\nlines"} {
		if err := n.Notify(sdnotify.Watchdog, bad); err == nil {
			t.Errorf("state %q sent", bad)
		}
	}
	n.Notify("STATUS=after the bad ones")
	if got := sock.Next(); got != "STATUS=after the bad ones" {
		t.Errorf("a bad state was sent: %q", got)
	}

	gone := filepath.Join(t.TempDir(), "nobody")
	t.Setenv("NOTIFY_SOCKET", gone)
	n, _ = sdnotify.FromEnv()
	if err := n.Notify(sdnotify.Ready); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("socket nobody listens on: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		every           time.Duration
		ok, bad         bool
	}{
		{name: "none"},
		{name: "half of WatchdogSec=30", usec: "30000000", every: 15 * time.Second, ok: true},
		{name: "for this process", usec: "30000000", pid: me, every: 15 * time.Second, ok: true},
		{name: "for another process", usec: "30000000", pid: "1"},
		{name: "not a number", usec: "30s", bad: true},
		{name: "zero", usec: "0", bad: true},
		{name: "negative", usec: "-5", bad: true},
		{name: "overflowing a duration", usec: "9223372036854775807", bad: true},
		{name: "bad pid", usec: "30000000", pid: "me", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			every, ok, err := sdnotify.WatchdogInterval()
			if tc.bad {
				if !errors.Is(err, sdnotify.ErrBadEnv) || !strings.Contains(err.Error(), "WATCHDOG_") {
					t.Fatalf("err = %v, want one naming the variable", err)
				}
				return
			}
			if err != nil || ok != tc.ok || every != tc.every {
				t.Fatalf("= %v, %v, %v; want %v, %v", every, ok, err, tc.every, tc.ok)
			}
		})
	}
}
