package rtl433

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"gopkg.in/yaml.v3"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
)

// recorder is a devices.Sink that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	reports   []devices.Report
	malformed []string // addresses
	errs      []error
}

var _ devices.Sink = (*recorder)(nil)

func (r *recorder) Report(rep devices.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rep)
}

func (r *recorder) Stale(driver, address, why string) {
	panic("rtl433 dropped a message from " + address + ": " + why)
}

func (r *recorder) Malformed(driver, address string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if driver != Name {
		panic("malformed from driver " + driver)
	}
	r.malformed = append(r.malformed, address)
	r.errs = append(r.errs, err)
}

// take returns the reports since the last take, as "address signals" lines.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rep := range r.reports {
		out = append(out, rep.Address+" "+signalString(rep.Signals))
	}
	r.reports = nil
	return out
}

func (r *recorder) last() devices.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reports[len(r.reports)-1]
}

// fakeBus hands the driver's subscription to the test.
type fakeBus struct {
	mu   sync.Mutex
	subs []mqttclient.Subscription
}

func (b *fakeBus) Subscribe(s mqttclient.Subscription) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, s)
	return nil
}

// publish delivers a payload to every subscription, as paho would.
func (b *fakeBus) publish(topic string, payload []byte) {
	b.mu.Lock()
	subs := append([]mqttclient.Subscription(nil), b.subs...)
	b.mu.Unlock()
	for _, s := range subs {
		s.Handler(nil, message{topic: topic, payload: payload})
	}
}

var _ Bus = (*fakeBus)(nil)

// message is a paho.Message.
type message struct {
	topic   string
	payload []byte
}

var _ paho.Message = message{}

func (m message) Duplicate() bool   { return false }
func (m message) Qos() byte         { return 0 }
func (m message) Retained() bool    { return false }
func (m message) Topic() string     { return m.topic }
func (m message) MessageID() uint16 { return 0 }
func (m message) Payload() []byte   { return m.payload }
func (m message) Ack()              {}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newDriver(tb testing.TB, cfg Config) (*Driver, *recorder) {
	tb.Helper()
	rec := &recorder{}
	d, err := New(cfg, &fakeBus{}, rec, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return d, rec
}

func equalLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestDriver_AutoRestore: a PIR's motion ends 30 s after its last activation; a new
// activation restarts the time; a device that ends a signal itself cancels the driver's
// restore; overrides per model and per device change or turn off the time.
func TestDriver_AutoRestore(t *testing.T) {
	t.Run("motion", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, rec := newDriver(t, Config{})
			pir := readFixture(t, "kerui_motion")
			d.receive(pir)
			equalLines(t, "activation", rec.take(), "Kerui-Security/840811 motion+")
			time.Sleep(29 * time.Second)
			synctest.Wait()
			equalLines(t, "after 29s", rec.take())
			d.receive(pir) // walking on: the detector sends again
			time.Sleep(29 * time.Second)
			synctest.Wait()
			equalLines(t, "29s after the second activation", rec.take(), "Kerui-Security/840811 motion+")
			time.Sleep(time.Second)
			synctest.Wait()
			equalLines(t, "30s after the second activation", rec.take(), "Kerui-Security/840811 motion-")
			time.Sleep(time.Hour)
			synctest.Wait()
			equalLines(t, "an hour later", rec.take())
		})
	})
	t.Run("device ends it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, rec := newDriver(t, Config{})
			d.receive(readFixture(t, "chuango_door"))
			time.Sleep(10 * time.Second)
			d.receive(readFixture(t, "chuango_closing")) // a DWC-102 says closing itself
			time.Sleep(time.Hour)
			synctest.Wait()
			equalLines(t, "reports", rec.take(), "Chuango-Security/620347 contact+", "Chuango-Security/620347 contact-")
		})
	})
	t.Run("signals apart", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, rec := newDriver(t, Config{})
			d.receive(readFixture(t, "kerui_tamper"))
			time.Sleep(10 * time.Second)
			d.receive(readFixture(t, "kerui_battery"))
			time.Sleep(time.Minute)
			synctest.Wait()
			equalLines(t, "a minute", rec.take(), "Kerui-Security/369601 tamper+", "Kerui-Security/369601 battery_low+",
				"Kerui-Security/369601 tamper-")
			time.Sleep(24 * time.Hour)
			synctest.Wait()
			equalLines(t, "a day", rec.take(), "Kerui-Security/369601 battery_low-")
		})
	})
	t.Run("overrides", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, rec := newDriver(t, Config{Models: map[string]Override{
				"Kerui-Security":        {AutoRestore: map[string]Duration{"motion": Duration(5 * time.Second), "contact": Duration(time.Minute)}},
				"Kerui-Security/369601": {AutoRestore: map[string]Duration{"contact": 0}}, // this door says closed itself
				"Nexus-TH":              {AutoRestore: map[string]Duration{"battery_low": Duration(time.Hour)}},
			}})
			d.receive(readFixture(t, "kerui_motion"))
			d.receive(readFixture(t, "kerui_open"))
			d.receive([]byte(`{"model":"Kerui-Security","id":5,"cmd":14}`)) // another door, model's override
			time.Sleep(5 * time.Second)
			synctest.Wait()
			equalLines(t, "5s", rec.take(), "Kerui-Security/840811 motion+", "Kerui-Security/369601 contact+", "Kerui-Security/5 contact+",
				"Kerui-Security/840811 motion-")
			time.Sleep(time.Hour)
			synctest.Wait()
			equalLines(t, "an hour", rec.take(), "Kerui-Security/5 contact-")
		})
	})
	t.Run("unknown model", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d, rec := newDriver(t, Config{})
			d.receive(readFixture(t, "unknown_skylink"))
			d.receive(readFixture(t, "unknown_vivint"))
			time.Sleep(time.Hour)
			synctest.Wait()
			equalLines(t, "reports", rec.take(), "Skylink HA-434TL motion sensor/1e3e8 motion+",
				"Vivint-Security/0a4f12 contact+ tamper- battery_low-", "Skylink HA-434TL motion sensor/1e3e8 motion-")
		})
	})
}

// TestDriver_RunAndStop: Run subscribes to the configured topic; events reach the sink
// until Run returns; a restore pending then is dropped and later events are ignored.
func TestDriver_RunAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus, rec := &fakeBus{}, &recorder{}
		d, err := New(Config{Topic: "radio/+/events"}, bus, rec, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		if len(bus.subs) != 1 || bus.subs[0].Topic != "radio/+/events" {
			t.Fatalf("subscriptions %+v", bus.subs)
		}
		bus.publish("radio/a/events", readFixture(t, "kerui_motion"))
		equalLines(t, "while running", rec.take(), "Kerui-Security/840811 motion+")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		bus.publish("radio/a/events", readFixture(t, "kerui_open"))
		time.Sleep(time.Hour)
		synctest.Wait()
		equalLines(t, "after Run", rec.take())
	})
}

// TestDriver_Malformed: a payload that is no device event is counted without an address,
// one with a bad field is counted for its device and the rest reported; nothing panics.
func TestDriver_Malformed(t *testing.T) {
	d, rec := newDriver(t, Config{})
	for _, p := range []string{`{"model":`, `[]`, `null`, `{"time":"@0s","frames":{"count":1}}`, "\xff\xfe"} {
		d.receive([]byte(p))
	}
	d.receive([]byte(`{"model":"DSC-Security","id":2407880,"closed":1,"tamper":"??","battery_ok":1}`))
	rec.mu.Lock()
	malformed := append([]string(nil), rec.malformed...)
	lastErr := rec.errs[len(rec.errs)-1]
	rec.mu.Unlock()
	equalLines(t, "malformed", malformed, "", "", "", "", "", "DSC-Security/2407880")
	if !errors.Is(lastErr, ErrField) || !strings.Contains(lastErr.Error(), "tamper") {
		t.Errorf("error %v, want ErrField naming tamper", lastErr)
	}
	equalLines(t, "reports", rec.take(), "DSC-Security/2407880 contact- battery_low-")
}

// TestDriver_Learn: outside learn mode reports carry only address and signals, so the
// manager logs a neighbour's sensor but does not offer it; while learning they carry the
// model, vendor and capabilities, which the manager takes as the device joining.
func TestDriver_Learn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, rec := newDriver(t, Config{})
		door := readFixture(t, "kerui_open")
		d.receive(door)
		if r := rec.last(); r.Model != "" || r.Vendor != "" || r.Caps != nil || r.Address != "Kerui-Security/369601" || len(r.Signals) != 1 {
			t.Errorf("outside learn mode: %+v", r)
		}
		if err := d.Pair(t.Context(), 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		d.receive(door)
		if r := rec.last(); r.Model != "Kerui-Security" || r.Vendor != "Kerui" || len(r.Caps) == 0 {
			t.Errorf("learning: %+v", r)
		}
		d.receive(readFixture(t, "unknown_nexus"))
		if r := rec.last(); r.Model != "Nexus-TH" || r.Address != "Nexus-TH/11/1" {
			t.Errorf("learning an unknown model: %+v", r)
		}
		time.Sleep(2 * time.Minute)
		d.receive(door)
		if r := rec.last(); r.Model != "" {
			t.Errorf("after learn mode: %+v", r)
		}
	})
}

// TestDriver_OneWay: there is nothing to send to; learn mode is always available.
func TestDriver_OneWay(t *testing.T) {
	d, _ := newDriver(t, Config{})
	if d.Name() != "rtl433" {
		t.Errorf("name %q", d.Name())
	}
	err := d.Send(t.Context(), devices.Command{Kind: devices.CmdSiren, Address: "Kerui-Security/1"})
	if !errors.Is(err, ErrOneWay) {
		t.Errorf("send: %v, want ErrOneWay", err)
	}
	if err := d.Pair(t.Context(), time.Minute); err != nil {
		t.Errorf("pair: %v", err)
	}
}

// TestConfig_Validate: bad settings are errors naming the field.
func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, ""},
		{Config{Topic: "rtl_433/+/events", UnsupervisedCheckIn: Duration(7 * 24 * time.Hour),
			Models: map[string]Override{"Kerui-Security": {AutoRestore: map[string]Duration{"motion": Duration(time.Minute), "contact": 0}, CheckIn: Duration(time.Hour)}}}, ""},
		{Config{UnsupervisedCheckIn: Duration(time.Second)}, "rtl433.unsupervised_check_in: 1s, want 1m to 8760h"},
		{Config{UnsupervisedCheckIn: Duration(366 * 24 * time.Hour)}, "rtl433.unsupervised_check_in: 8784h0m0s, want 1m to 8760h"},
		{Config{Models: map[string]Override{"Kerui-Security": {AutoRestore: map[string]Duration{"smell": 1}}}}, `rtl433.models["Kerui-Security"].auto_restore.smell: unknown signal`},
		{Config{Models: map[string]Override{"Kerui-Security": {AutoRestore: map[string]Duration{"motion": -1}}}}, `auto_restore.motion: -1ns, want 0s to 24h`},
		{Config{Models: map[string]Override{"Kerui-Security": {AutoRestore: map[string]Duration{"motion": Duration(25 * time.Hour)}}}}, `auto_restore.motion: 25h0m0s, want 0s to 24h`},
		{Config{Models: map[string]Override{"Kerui-Security": {CheckIn: Duration(time.Second)}}}, `rtl433.models["Kerui-Security"].check_in: 1s, want 1m to 8760h`},
		{Config{Models: map[string]Override{"Kerui-Security/1": {CheckIn: Duration(time.Hour)}}}, `in the installation`},
		{Config{Models: map[string]Override{"": {}}}, `empty model name`},
	} {
		err := tc.cfg.Validate("rtl433")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
		if _, nerr := New(tc.cfg, nil, nil, nil); (nerr == nil) != (err == nil) {
			t.Errorf("New and Validate disagree: %v, %v", nerr, err)
		}
	}
}

// TestConfig_YAML: the section reads from config.yaml as documented.
func TestConfig_YAML(t *testing.T) {
	const doc = `
topic: rtl_433/+/events
unsupervised_check_in: 168h
models:
  Kerui-Security:
    auto_restore: {motion: 45s, contact: 0s}
    check_in: 4h
  Kerui-Security/369601:
    auto_restore: {tamper: 10m}
`
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	d, _ := newDriver(t, cfg)
	for _, tc := range []struct {
		model, address string
		sig            hub.Signal
		want           time.Duration
	}{
		{"Kerui-Security", "Kerui-Security/1", hub.SignalMotion, 45 * time.Second},
		{"Kerui-Security", "Kerui-Security/1", hub.SignalContact, 0},
		{"Kerui-Security", "Kerui-Security/1", hub.SignalTamper, RestoreTamper},
		{"Kerui-Security", "Kerui-Security/369601", hub.SignalTamper, 10 * time.Minute},
		{"Kerui-Security", "Kerui-Security/369601", hub.SignalMotion, 45 * time.Second},
	} {
		if got := d.restoreAfter(tc.model, tc.address, tc.sig); got != tc.want {
			t.Errorf("%s %s: restore after %s, want %s", tc.address, tc.sig, got, tc.want)
		}
	}
	if d.cfg.Topic != "rtl_433/+/events" || d.CheckIn("Kerui-Security") != 4*time.Hour || d.CheckIn("Chuango-Security") != 168*time.Hour {
		t.Errorf("config %+v", d.cfg)
	}
	if def, _ := newDriver(t, Config{}); def.cfg.Topic != DefaultTopic {
		t.Errorf("default topic %q", def.cfg.Topic)
	}
}
