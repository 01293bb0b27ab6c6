package web

import (
	"net/http"
	"strings"
	"testing"

	"vakt/devices"
)

// TestServer_MetricsAdminsOnly: /metrics is served to admins only, and a scraper without a
// session gets 401 (JSON), never the login page's redirect. Without a handler there is no
// /metrics at all.
func TestServer_MetricsAdminsOnly(t *testing.T) {
	r := newRig(t)
	s, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Hub: r.h, Devices: devices.NewManager(r.h, devices.Options{Now: r.clk.Now}), Now: r.clk.Now,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write([]byte("vakt_up 1\n"))
		})})
	if err != nil {
		t.Fatal(err)
	}
	plain := r.s
	r.s = s
	anna, erik, lisa := r.login("anna"), r.login("erik"), r.login("lisa")
	for _, tc := range []struct {
		name string
		c    client
		want int
	}{{"signed out", client{}, http.StatusUnauthorized}, {"user", erik, http.StatusForbidden}, {"limited", lisa, http.StatusForbidden}, {"admin", anna, http.StatusOK}} {
		res, body := r.req(tc.c, "GET", "/metrics", nil)
		if res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, res.StatusCode, tc.want, body)
		}
		if tc.want == http.StatusOK && body != "vakt_up 1\n" {
			t.Errorf("%s: body %q", tc.name, body)
		}
		if tc.want != http.StatusOK && (strings.Contains(body, "vakt_up") || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json")) {
			t.Errorf("%s: refused with %s %q", tc.name, res.Header.Get("Content-Type"), body)
		}
	}
	r.s = plain
	if res, _ := r.req(r.login("anna"), "GET", "/metrics", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("no metrics handler: /metrics is %d, want 404", res.StatusCode)
	}
}
