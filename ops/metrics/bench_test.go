package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/metrics"
)

// BenchmarkScrape is one scrape of /metrics's handler (gather and encode) for the demo
// installation with every device heard from: what a Prometheus scrape costs the gateway.
func BenchmarkScrape(b *testing.B) {
	m := metrics.New(metrics.Options{Version: "bench"})
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	h, _ := hubtest.StartHub(b, hubtest.StorePath(b), inst, hub.Options{OnCommit: m.ObserveCommit, OnSiren: m.ObserveSiren})
	m.Watch(h)
	mgr := devices.NewManager(h, devices.Options{})
	for _, d := range inst.Devices {
		mgr.Report(devices.Report{Driver: d.Driver, Address: d.AddressOrID(), Time: time.Now()})
	}
	m.Attach(metrics.Parts{Devices: mgr})
	handler := m.Handler()
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
