// Package hubtest holds the helpers that tests across vakt share: a hub on a temporary
// bbolt store with its run loop started, a settable clock, a buffer safe for concurrent
// writers, a run loop started and stopped with the test, and a bounded wait for
// asynchronous effects. They are written once here and imported by every package's tests;
// only package hub's own internal tests cannot import them (hubtest imports hub).
package hubtest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"vakt/hub"
)

// StorePath returns the path of a store file in a new temporary directory, removed when
// the test ends; a test that reopens a store (a restart, a power cut) keeps it.
func StorePath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "vakt.db")
}

// OpenStore opens a real bbolt store in a temporary directory and closes it when the test
// ends.
func OpenStore(tb testing.TB) *hub.Store {
	tb.Helper()
	return OpenStoreCapped(tb, 0)
}

// OpenStoreCapped is OpenStore with a cap on the event log (hub.OpenStore's logCap), for
// tests of what happens when old events are pruned.
func OpenStoreCapped(tb testing.TB, logCap int) *hub.Store {
	tb.Helper()
	s, err := hub.OpenStore(StorePath(tb), logCap)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// StartHub opens the store at path, makes a hub over it with inst (nil: the stored
// installation) and opts, and runs its loop. stop ends the loop, reports its error and
// closes the store, as a shutdown does; it may be called more than once, and is called
// when the test ends. A test that restarts the hub calls stop and StartHub again on the
// same path; one that cuts the power calls stop under running clients.
func StartHub(tb testing.TB, path string, inst *hub.Installation, opts hub.Options) (h *hub.Hub, stop func()) {
	tb.Helper()
	s, err := hub.OpenStore(path, 0)
	if err != nil {
		tb.Fatal(err)
	}
	h, err = hub.New(s, inst, opts)
	if err != nil {
		s.Close()
		tb.Fatal(err)
	}
	stopRun := Run(tb, "hub run", h.Run)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopRun()
			if err := s.Close(); err != nil {
				tb.Errorf("close store: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return h, stop
}

// Run runs loop (a Run(ctx) error method: a hub's, a manager's, a driver's, a broker's)
// on its own goroutine until stop, which cancels its context, waits for it and reports a
// non-nil error as what failing. stop may be called more than once, and is called when the
// test ends; cleanups run last-registered first, so a loop started after another stops
// before it.
func Run(tb testing.TB, what string, loop func(context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- loop(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				tb.Errorf("%s: %v", what, err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
