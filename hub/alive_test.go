package hub_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestHub_Alive: Alive answers while the run loop turns, also right after it was stuck; it
// does not while the loop is stuck in a turn (a clock that never returns) or before it
// runs, and says ErrStopped after it ended.
func TestHub_Alive(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	path := hubtest.StorePath(t)
	s, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := hub.New(s, hub.DemoInstallation(key), hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := idle.Alive(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a hub whose loop never ran: Alive = %v, want %v", err, context.Canceled)
	}
	s.Close()

	var gate hubtest.Gate
	h, stop := hubtest.StartHub(t, path, nil, hub.Options{Now: gate.Now})
	if err := h.Alive(context.Background()); err != nil {
		t.Fatalf("running loop: Alive = %v", err)
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
	// The loop is held in its turn: however long Alive waits, it gets no answer.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Alive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stuck loop: Alive = %v, want %v", err, context.DeadlineExceeded)
	}

	gate.Open()
	if err := h.Alive(context.Background()); err != nil {
		t.Fatalf("loop going again: Alive = %v", err)
	}
	// Alive is no input: the flood of pings of a watchdog changes nothing stored.
	before, _ := h.Store().LastSeq()
	for range 100 {
		if err := h.Alive(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if after, _ := h.Store().LastSeq(); after != before {
		t.Errorf("pings logged events: %d → %d", before, after)
	}

	stop()
	if err := h.Alive(context.Background()); !errors.Is(err, hub.ErrStopped) {
		t.Errorf("ended loop: Alive = %v, want %v", err, hub.ErrStopped)
	}
}
