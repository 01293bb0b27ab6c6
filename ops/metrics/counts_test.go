package metrics_test

import (
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/metrics"
)

// TestMetrics_LaggedSubscriptionCountsExactly: a counter that falls more than the hub's
// subscription buffer behind reads what it missed from the log, and counts every event
// once, no more.
func TestMetrics_LaggedSubscriptionCountsExactly(t *testing.T) {
	m := metrics.New(metrics.Options{})
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{})
	m.Watch(h)
	ctx := context.Background()
	const n = 5000 // past the subscription's buffer of 4096
	for range n {
		if err := h.Submit(ctx, hub.Input{Kind: hub.InManualTest, Code: "1234", How: hub.HowKeypad}); err != nil {
			t.Fatal(err)
		}
	}
	hubtest.Eventually(t, "every test committed", func() bool { return h.Snapshot().State.NextSeq == n+1 })
	hubtest.Run(t, "metrics", m.Run)
	// One more, so the counter sees an update after its lag.
	if res := h.Do(ctx, hub.Input{Kind: hub.InManualTest, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	var v float64
	hubtest.Eventually(t, "every test counted", func() bool {
		var ok bool
		v, ok = counter(t, m, "vakt_events_total", "kind", "manual_test")
		return ok && v >= n+1
	})
	if v != n+1 {
		t.Errorf("counted %v manual tests, want %d", v, n+1)
	}
}

// TestMetrics_Restart: counters start again at zero with the process (Prometheus's rate()
// takes the reset), while what the store keeps (the newest sequence, bytes written since
// open) comes from the store.
func TestMetrics_Restart(t *testing.T) {
	path := hubtest.StorePath(t)
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	ctx := context.Background()
	start := func() (*hub.Hub, *metrics.Metrics, func()) {
		m := metrics.New(metrics.Options{})
		h, stop := hubtest.StartHub(t, path, inst, hub.Options{OnCommit: m.ObserveCommit, OnSiren: m.ObserveSiren})
		m.Watch(h)
		m.Attach(metrics.Parts{})
		stopRun := hubtest.Run(t, "metrics", m.Run)
		return h, m, func() { stopRun(); stop() }
	}
	h, m, stop := start()
	if res := h.Do(ctx, hub.Input{Kind: hub.InPanic, Area: 1, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "the panic counted", func() bool {
		v, _ := counter(t, m, "vakt_alarms_total", "kind", "panic")
		return v == 1
	})
	last := h.Snapshot().State.NextSeq - 1
	stop()

	h, m, stop = start()
	defer stop()
	if v, _ := counter(t, m, "vakt_alarms_total", "kind", "panic"); v != 0 {
		t.Errorf("panic alarms after a restart: %v, want 0 (since start)", v)
	}
	if v, ok := counter(t, m, "vakt_event_log_last_seq"); !ok || uint64(v) != last {
		t.Errorf("last sequence after a restart: %v %v, want %d", v, ok, last)
	}
	if res := h.Do(ctx, hub.Input{Kind: hub.InAcknowledge, Area: 1, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "the acknowledgement counted", func() bool {
		v, _ := counter(t, m, "vakt_events_total", "kind", "acknowledge")
		return v == 1
	})
}

// counter reads one sample of m's registry.
func counter(t *testing.T, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return value(map[string]*dto.MetricFamily{name: f}, name, labels...)
		}
	}
	return 0, false
}
