package homekit

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"vakt/hub"
)

// TestBridge_ResetPairings: only an admin (or a granted installer) may reset; a reset makes
// a new setup code, is in the history with who, and the bridge serves again at once.
func TestBridge_ResetPairings(t *testing.T) {
	stopped := New(Config{}, nil, nil, slog.New(slog.DiscardHandler))
	if err := stopped.ResetPairings(context.Background(), hub.Input{User: "anna", How: hub.HowWeb}); !errors.Is(err, ErrNotServing) {
		t.Fatalf("reset of a bridge not running: %v, want ErrNotServing", err)
	}
	r := newRig(t, Config{})
	before := r.b.Setup()
	if n, err := r.b.Paired(); err != nil || n != 0 {
		t.Fatalf("paired %d %v before any pairing", n, err)
	}
	for _, user := range []string{"erik", "nobody", ""} {
		if err := r.b.ResetPairings(context.Background(), hub.Input{User: user, How: hub.HowWeb}); err == nil {
			t.Fatalf("reset by %q went through", user)
		}
	}
	if r.b.Setup() != before {
		t.Fatal("a refused reset changed the setup code")
	}
	if err := r.b.ResetPairings(context.Background(), hub.Input{User: "anna", How: hub.HowWeb}); err != nil {
		t.Fatal(err)
	}
	after := r.b.Setup()
	if after.Code == before.Code || after.ID == before.ID || after.Code == "" {
		t.Fatalf("setup %v after the reset, was %v", after, before)
	}
	stored, err := LoadSetup(r.h.Store())
	if err != nil || stored != after {
		t.Fatalf("stored setup %v %v, shown %v", stored, err, after)
	}
	evs, err := r.h.Store().Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	logged := false
	for _, ev := range evs {
		logged = logged || (ev.Kind == hub.KindConfigChange && ev.User == "anna" && ev.Note == "HomeKit: every pairing removed, new setup code")
	}
	if !logged {
		t.Fatalf("no config_change by anna in the history: %v", evs)
	}
	r.waitListening()
	// the new code survives a restart
	r.restart()
	if r.b.Setup() != after {
		t.Fatalf("setup %v after a restart, want %v", r.b.Setup(), after)
	}
}
