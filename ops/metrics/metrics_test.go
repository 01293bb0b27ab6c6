package metrics_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/devices/rtl433"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/metrics"
	"vakt/ui/notify"
	"vakt/ui/web"
	"vakt/uplink"
	"vakt/uplink/station"
)

// house is vakt's parts wired as app.go wires them, on loopback: the hub over a real
// store, a station with two DC-09 receivers, the embedded broker with the rtl_433 driver,
// the simulated devices, notifications to an ntfy server, and the web UI serving /metrics.
type house struct {
	h          *hub.Hub
	sim        *sim.Sim
	url        string
	brokerAddr string
	admin      string // an admin's API token
	user       string // a plain user's API token
}

const rtlPass = "radio-pass-1"

func startHouse(t *testing.T) *house {
	t.Helper()
	m := metrics.New(metrics.Options{Version: "test"})
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{OnCommit: m.ObserveCommit, OnSiren: m.ObserveSiren})
	m.Watch(h)
	var logs hubtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	// The station: a TCP primary and a UDP backup receiver.
	key := make([]byte, 16)
	rand.Read(key)
	st := station.New(io.Discard, key)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rc, err := st.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Unplug("primary"); st.Unplug("backup") })
	ucfg := uplink.Config{Receivers: []uplink.ReceiverConfig{rc}}
	if err := ucfg.Validate(os.Getenv); err != nil {
		t.Fatal(err)
	}
	up, err := uplink.New(ucfg, h, logger)
	if err != nil {
		t.Fatal(err)
	}

	// Notifications: anna's ntfy topic works, erik's answers 500.
	ntfy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "erik") {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(`{"id":"x"}`))
	}))
	t.Cleanup(ntfy.Close)
	ncfg := notify.DefaultConfig()
	ncfg.Ntfy = notify.NtfyConfig{Server: ntfy.URL}
	ncfg.Recipients = []notify.Recipient{
		{User: "anna", Lang: "en", Ntfy: "anna-home"},
		{User: "erik", Lang: "en", Events: []string{notify.ClassAlarm}, Ntfy: "erik-home"},
	}
	nt, err := notify.New(ncfg, h, notify.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}

	// The broker and the rtl_433 driver on it.
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0", Topics: broker.Topics{RTL433: rtl433.DefaultTopic}},
		[]broker.Account{{Username: "vakt", Password: "vakt-pass-12", Role: broker.RoleVakt}, {Username: "radio", Password: rtlPass, Role: broker.RoleRTL433}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	mgr := devices.NewManager(h, devices.Options{Logger: logger})
	s := sim.New(mgr, io.Discard)
	mgr.AddDriver(s)
	rcl, err := mqttclient.New(mqttclient.Config{URL: "tcp://" + b.Addr(), Username: "vakt", Password: "vakt-pass-12"}, "vakt-rtl433", logger)
	if err != nil {
		t.Fatal(err)
	}
	rtl, err := rtl433.New(rtl433.Config{Topic: rtl433.DefaultTopic}, rcl, mgr, logger)
	if err != nil {
		t.Fatal(err)
	}
	mgr.AddDriver(rtl)

	m.Attach(metrics.Parts{Uplink: up, Devices: mgr, Broker: b, Notifier: nt})
	srv, err := web.New(web.Config{Listen: "127.0.0.1:0"}, web.Deps{Hub: h, Devices: mgr, Uplink: up, Logger: logger, Metrics: m.Handler()})
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)
	hubtest.Run(t, "uplink", up.Run)
	hubtest.Run(t, "notify", nt.Run)
	hubtest.Run(t, "devices", mgr.Run)
	hubtest.Run(t, "sim", s.Run)
	hubtest.Run(t, "rtl433", func(ctx context.Context) error {
		if err := rcl.ConnectWait(5 * time.Second); err != nil {
			return err
		}
		defer rcl.Disconnect(250)
		return rtl.Run(ctx)
	})
	hubtest.Run(t, "metrics", m.Run)
	hubtest.Run(t, "web", srv.Run)

	hs := &house{h: h, sim: s, brokerAddr: b.Addr()}
	re := regexp.MustCompile(`url=(http://[0-9.:]+)/`)
	hubtest.Eventually(t, "the web UI listening", func() bool {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			hs.url = m[1]
			return true
		}
		return false
	})
	token := func(user string) string {
		tok, err := hub.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Store().SaveSession(tok, hub.Session{Kind: hub.SessionAPI, User: user, Name: "prometheus", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hs.admin, hs.user = token("anna"), token("erik")
	return hs
}

// scrape gets /metrics with token ("" for none) and returns the status and body.
func (hs *house) scrape(t *testing.T, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", hs.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// families parses the text format, failing the test on any error.
func families(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("text format: %v\n%s", err, text)
	}
	return fams
}

// value is the value of family name's sample with the labels (name=value pairs); ok is
// false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics_ScrapeNeedsAnAdminToken(t *testing.T) {
	hs := startHouse(t)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "not-a-token", http.StatusUnauthorized},
		{"a user's token", hs.user, http.StatusForbidden},
		{"an admin's token", hs.admin, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := hs.scrape(t, tc.token)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code != http.StatusOK && strings.Contains(body, "vakt_") {
				t.Errorf("refused scrape shows metrics: %s", body)
			}
		})
	}
}

func TestMetrics_FamiliesAfterAnEvening(t *testing.T) {
	hs := startHouse(t)
	ctx := context.Background()

	// Before anything happens every family of the hub is there, at zero.
	_, text := hs.scrape(t, hs.admin)
	fams := families(t, text)
	for _, name := range []string{"vakt_events_total", "vakt_alarms_total", "vakt_commit_duration_seconds",
		"vakt_siren_latency_seconds", "vakt_malformed_messages_total", "vakt_broker_clients", "vakt_store_written_bytes_total",
		"vakt_uplink_queue_depth", "vakt_notify_deliveries_total", "vakt_notify_failures_total", "vakt_build_info", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no family %s at start:\n%s", name, text)
		}
	}
	if v, ok := value(fams, "vakt_alarms_total", "kind", "fire"); !ok || v != 0 {
		t.Errorf("fire alarms at start: %v %v", v, ok)
	}
	if v, ok := value(fams, "vakt_malformed_messages_total", "driver", "rtl433"); !ok || v != 0 {
		t.Errorf("rtl433 malformed at start: %v %v", v, ok)
	}

	// Anna arms; the kitchen smoke detector goes off; rtl_433 sends garbage.
	if res := hs.h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hs.sim.Trigger("kitchen_smoke", hub.SignalSmoke, true)
	pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + hs.brokerAddr).SetUsername("radio").SetPassword(rtlPass).SetClientID("rtl_433-test"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	for range 3 {
		if tok := pub.Publish(rtl433.DefaultTopic, 1, false, []byte(`{"model": "Kerui-Security", "id": `)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	// Wait until every part has done its share, then check what the scrape says.
	want := func(fams map[string]*dto.MetricFamily) error {
		checks := []struct {
			name   string
			labels []string
			ok     func(float64) bool
		}{
			{"vakt_events_total", []string{"kind", "exit_delay"}, func(v float64) bool { return v == 1 }},
			{"vakt_events_total", []string{"kind", "fire"}, func(v float64) bool { return v == 1 }},
			{"vakt_alarms_total", []string{"kind", "fire"}, func(v float64) bool { return v == 1 }},
			{"vakt_alarms_total", []string{"kind", "burglary"}, func(v float64) bool { return v == 0 }},
			{"vakt_siren_latency_seconds", nil, func(v float64) bool { return v == 1 }},
			{"vakt_commit_duration_seconds", nil, func(v float64) bool { return v >= 2 }},
			{"vakt_malformed_messages_total", []string{"driver", "rtl433"}, func(v float64) bool { return v == 3 }},
			{"vakt_broker_clients", nil, func(v float64) bool { return v >= 2 }},
			{"vakt_store_written_bytes_total", nil, func(v float64) bool { return v >= 4096 }},
			{"vakt_store_writes_total", nil, func(v float64) bool { return v >= 2 }},
			{"vakt_uplink_queue_depth", []string{"receiver", "demo-station"}, func(v float64) bool { return v == 0 }},
			{"vakt_uplink_delivered_total", []string{"receiver", "demo-station"}, func(v float64) bool { return v >= 2 }},
			{"vakt_uplink_last_ack_age_seconds", []string{"receiver", "demo-station", "path", "primary"}, func(v float64) bool { return v >= 0 && v < 3600 }},
			{"vakt_uplink_path_up", []string{"receiver", "demo-station", "path", "primary"}, func(v float64) bool { return v == 1 }},
			{"vakt_device_last_seen_age_seconds", []string{"device", "kitchen_smoke"}, func(v float64) bool { return v >= 0 && v < 3600 }},
			{"vakt_notify_deliveries_total", []string{"user", "anna", "channel", "ntfy"}, func(v float64) bool { return v == 1 }},
			{"vakt_notify_failures_total", []string{"user", "erik", "channel", "ntfy"}, func(v float64) bool { return v >= 1 }},
			{"vakt_notify_deliveries_total", []string{"user", "erik", "channel", "ntfy"}, func(v float64) bool { return v == 0 }},
		}
		for _, c := range checks {
			v, ok := value(fams, c.name, c.labels...)
			if !ok || !c.ok(v) {
				return fmt.Errorf("%s%v = %v (present %v)", c.name, c.labels, v, ok)
			}
		}
		return nil
	}
	var last error
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last scrape: %v", last)
		}
	})
	hubtest.Eventually(t, "every family with its value", func() bool {
		code, text := hs.scrape(t, hs.admin)
		if code != http.StatusOK {
			last = fmt.Errorf("status %d", code)
			return false
		}
		last = want(families(t, text))
		return last == nil
	})
	if last != nil {
		t.Fatal(last)
	}
	_, text = hs.scrape(t, hs.admin)
	if !bytes.Contains([]byte(text), []byte(`vakt_build_info{version="test"} 1`)) {
		t.Errorf("no build info:\n%s", text)
	}
}
