package sdnotify_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/sdnotify"
	"vakt/ops/sdnotify/sdnotifytest"
)

// TestServe_WatchdogFollowsTheHubLoop runs a real hub and Serve on a notify socket the test
// owns: READY=1 with the status first; WATCHDOG=1 while the loop turns; when the loop is
// stuck in a turn (its clock does not return) no WATCHDOG=1 at all, and the status says
// so; when it turns again the pings and the status come back; STOPPING=1 at the end.
func TestServe_WatchdogFollowsTheHubLoop(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	sock := sdnotifytest.Listen(t, name)
	t.Setenv("NOTIFY_SOCKET", name)
	t.Setenv("WATCHDOG_USEC", "200000") // a ping every 100 ms
	t.Setenv("WATCHDOG_PID", "")

	var gate hubtest.Gate
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation(bytes.Repeat([]byte{1}, 32)), hub.Options{Now: gate.Now})
	var log hubtest.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	stop := hubtest.Run(t, "serve", func(ctx context.Context) error {
		return sdnotify.Serve(ctx, h.Alive, "armed: nothing", logger)
	})

	if got := sock.Next(); got != "READY=1\nSTATUS=armed: nothing" {
		t.Fatalf("first message %q, want READY=1 with the status", got)
	}
	isPing := func(m string) bool { return m == sdnotify.Watchdog }
	for range 3 { // a loaded machine may miss one, but the pings come
		sock.Until(isPing)
	}

	stuck := gate.Shut()
	if err := h.Submit(context.Background(), hub.Input{Kind: hub.InTick}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stuck:
	case <-time.After(hubtest.Patience):
		t.Fatal("the loop never read its clock")
	}
	// A check begun before the loop stuck may still feed once; every later one fails.
	notAnswering := func(m string) bool { return strings.HasPrefix(m, "STATUS=hub loop not answering since ") }
	sock.Until(notAnswering)
	for range 3 {
		if got := sock.Next(); !notAnswering(got) {
			t.Fatalf("stuck loop: %q, want no ping, only the status", got)
		}
	}
	if !strings.Contains(log.String(), "hub loop not answering") {
		t.Errorf("the log does not say the loop is stuck:\n%s", log.String())
	}

	gate.Open()
	got := sock.Until(func(m string) bool { return !notAnswering(m) })
	if m := got[len(got)-1]; m != "WATCHDOG=1\nSTATUS=armed: nothing" {
		t.Fatalf("loop going again: %q, want the ping and the status back", m)
	}
	sock.Until(isPing)

	stop()
	got = sock.Until(func(m string) bool { return m != sdnotify.Watchdog })
	if m := got[len(got)-1]; m != "STOPPING=1\nSTATUS=stopping" {
		t.Fatalf("at the end: %q, want STOPPING=1", m)
	}
}

// TestServe_NoWatchdog: with a notify socket but no watchdog (or one for another process),
// Serve says READY=1, never pings, and says STOPPING=1 at the end.
func TestServe_NoWatchdog(t *testing.T) {
	for _, pid := range []string{"", "1"} {
		name := filepath.Join(t.TempDir(), "notify")
		sock := sdnotifytest.Listen(t, name)
		t.Setenv("NOTIFY_SOCKET", name)
		if pid == "" {
			t.Setenv("WATCHDOG_USEC", "")
		} else {
			t.Setenv("WATCHDOG_USEC", "100000")
		}
		t.Setenv("WATCHDOG_PID", pid)
		alive := func(context.Context) error { t.Error("no watchdog, yet alive was asked"); return nil }
		stop := hubtest.Run(t, "serve", func(ctx context.Context) error {
			return sdnotify.Serve(ctx, alive, "ok", slog.New(slog.DiscardHandler))
		})
		if got := sock.Next(); got != "READY=1\nSTATUS=ok" {
			t.Fatalf("%q", got)
		}
		stop()
		if got := sock.Next(); got != "STOPPING=1\nSTATUS=stopping" {
			t.Fatalf("WATCHDOG_PID=%q: %q after READY, want STOPPING=1", pid, got)
		}
	}
}

// TestServe_BadEnvKeepsRunning: a NOTIFY_SOCKET or WATCHDOG_USEC systemd would not set is
// logged, naming it, and Serve runs on until the end without failing vakt.
func TestServe_BadEnvKeepsRunning(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "relative")
	t.Setenv("WATCHDOG_USEC", "soon")
	var log hubtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sdnotify.Serve(ctx, func(context.Context) error { return nil }, "ok", slog.New(slog.NewTextHandler(&log, nil)))
	}()
	hubtest.Eventually(t, "both bad variables logged", func() bool {
		return strings.Contains(log.String(), "NOTIFY_SOCKET") && strings.Contains(log.String(), "WATCHDOG_USEC")
	})
	select {
	case err := <-done:
		t.Fatalf("Serve ended before its context: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
