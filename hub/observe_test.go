package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestHub_ObservesCommitsAndSirens checks the metrics hooks: every commit is observed with
// its events, and an input that starts a siren is observed once, while one that does not
// (arming) is not.
func TestHub_ObservesCommitsAndSirens(t *testing.T) {
	var mu sync.Mutex
	var commits, events, sirens int
	opts := hub.Options{
		OnCommit: func(took time.Duration, n int, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil && took >= 0 {
				commits++
				events += n
			}
		},
		OnSiren: func(took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if took >= 0 {
				sirens++
			}
		},
	}
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef")), opts)
	ctx := context.Background()
	res := h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	mu.Lock()
	if sirens != 0 || commits == 0 || events < len(res.Events) {
		t.Errorf("after arming: %d sirens, %d commits, %d events", sirens, commits, events)
	}
	mu.Unlock()
	if err := h.Submit(ctx, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true}); err != nil {
		t.Fatal(err)
	}
	hubtest.Eventually(t, "the fire siren observed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sirens == 1
	})
	// The same smoke again starts no siren: it already sounds.
	res = h.Do(ctx, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sirens != 1 {
		t.Errorf("%d sirens observed, want 1", sirens)
	}
}
