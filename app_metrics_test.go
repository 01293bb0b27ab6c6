package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestRun_Metrics scrapes a running demo's /metrics with an admin's API token, as
// Prometheus would: app.go wires the hub's hooks, the event counter, the station, the
// broker and the devices into it.
func TestRun_Metrics(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"--demo", "--data", dir, "--exit-when-ready"}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("first start: %v\n%s", err, out.String())
	}
	s, err := hub.OpenStore(filepath.Join(dir, "demo.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	token, err := hub.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(token, hub.Session{Kind: hub.SessionAPI, User: "anna", Name: "prometheus", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	logs, _, step, quit := startDemoIn(t, dir)
	defer quit()
	re := regexp.MustCompile(`msg="web UI" part=web url=(http://[0-9.:]+)/`)
	var base string
	hubtest.Eventually(t, "the web UI listening", func() bool {
		m := re.FindStringSubmatch(logs.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	step("arm away 1234", "exit_delay armed_away by anna")
	scrape := func() (int, string) {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var text string
	hubtest.Eventually(t, "the arming counted and delivered to the demo station", func() bool {
		code, body := scrape()
		text = body
		return code == http.StatusOK && strings.Contains(body, `vakt_events_total{kind="exit_delay"} 1`) &&
			strings.Contains(body, `vakt_uplink_queue_depth{receiver="demo-station"} 0`)
	})
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("text format: %v", err)
	}
	for _, name := range []string{"vakt_commit_duration_seconds", "vakt_broker_clients", "vakt_uplink_last_ack_age_seconds",
		"vakt_malformed_messages_total", "vakt_store_written_bytes_total", "vakt_build_info"} {
		if fams[name] == nil {
			t.Errorf("no %s in:\n%s", name, text)
		}
	}
	if f := fams["vakt_broker_clients"]; f != nil && f.Metric[0].GetGauge().GetValue() < 2 {
		t.Errorf("broker clients %v, want the two drivers at least", f.Metric[0].GetGauge().GetValue())
	}
	if f := fams["vakt_malformed_messages_total"]; f != nil && len(f.Metric) < 2 {
		t.Errorf("malformed counters for %d drivers, want zigbee2mqtt and rtl433 at least", len(f.Metric))
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("scrape without a token: %d, want 401", res.StatusCode)
	}
}
