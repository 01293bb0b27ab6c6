package rtl433

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// signalString writes signals as "contact+ tamper-", in signal order.
func signalString(sigs []devices.SignalValue) string {
	s := slices.Clone(sigs)
	slices.SortFunc(s, func(a, b devices.SignalValue) int { return int(a.Signal) - int(b.Signal) })
	var parts []string
	for _, v := range s {
		mark := "-"
		if v.Active {
			mark = "+"
		}
		parts = append(parts, v.Signal.String()+mark)
	}
	return strings.Join(parts, " ")
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// TestModels_Fixtures decodes the event JSON rtl_433 writes for each model of the table
// (field names, types and values as its decoders emit them, several taken from rtl_433's
// test recordings) and checks the address, the signals, what the driver ends itself and
// after how long, battery and temperature.
func TestModels_Fixtures(t *testing.T) {
	tests := []struct {
		fixture string
		address string
		signals string
		// restore lists the active signals the driver ends itself, as "motion=30s".
		restore string
		caps    []devices.Capability // that the report must include
		battery *int
		temp    *float64
	}{
		// Kerui: one command per transmission.
		{fixture: "kerui_open", address: "Kerui-Security/369601", signals: "contact+", caps: []devices.Capability{devices.CapContact}},
		{fixture: "kerui_close", address: "Kerui-Security/369601", signals: "contact-"},
		{fixture: "kerui_motion", address: "Kerui-Security/840811", signals: "motion+", restore: "motion=30s", caps: []devices.Capability{devices.CapMotion}},
		{fixture: "kerui_tamper", address: "Kerui-Security/369601", signals: "tamper+", restore: "tamper=1m0s"},
		{fixture: "kerui_water", address: "Kerui-Security/52381", signals: "water+", restore: "water=5m0s", caps: []devices.Capability{devices.CapWater}},
		{fixture: "kerui_battery", address: "Kerui-Security/369601", signals: "battery_low+", restore: "battery_low=24h0m0s"},
		// As rtl_433 22.11 published it over MQTT with -M level in TestRTL433_InTheLoop.
		{fixture: "kerui_mqtt", address: "Kerui-Security/369601", signals: "contact+"},
		// Honeywell / 2GIG: whole state in every message, with a channel.
		{fixture: "honeywell_open", address: "Honeywell-Security/73942/10", signals: "contact+ tamper- battery_low-",
			caps: []devices.Capability{devices.CapContact, devices.CapTamper, devices.CapBattery}},
		{fixture: "honeywell_heartbeat", address: "Honeywell-Security/183889/8", signals: "contact- tamper- battery_low-"},
		{fixture: "honeywell_tamper_battery", address: "Honeywell-Security/183889/8", signals: "contact- tamper+ battery_low+"},
		// Interlogix: by subtype; a PIR's detection is in the raw message.
		{fixture: "interlogix_contact_open", address: "Interlogix-Security/a7106d", signals: "contact+ tamper- battery_low-"},
		{fixture: "interlogix_contact_closed", address: "Interlogix-Security/a7106d", signals: "contact- tamper- battery_low-"},
		{fixture: "interlogix_motion", address: "Interlogix-Security/468d19", signals: "motion+ tamper- battery_low-", restore: "motion=30s"},
		{fixture: "interlogix_motion_status", address: "Interlogix-Security/468d19", signals: "motion- tamper- battery_low-"},
		{fixture: "interlogix_motion_tamper", address: "Interlogix-Security/468d19", signals: "motion+ tamper+ battery_low-", restore: "motion=30s"},
		{fixture: "interlogix_tamper", address: "Interlogix-Security/468d19", signals: "motion- tamper+ battery_low-"},
		{fixture: "interlogix_smoke", address: "Interlogix-Security/29cd45", signals: "smoke+ battery_low-", caps: []devices.Capability{devices.CapSmoke}},
		{fixture: "interlogix_smoke_status", address: "Interlogix-Security/29cd45", signals: "smoke- battery_low-"},
		// Chuango: the code is the zone type the device is set to.
		{fixture: "chuango_door", address: "Chuango-Security/620347", signals: "contact+", restore: "contact=1m0s"},
		{fixture: "chuango_closing", address: "Chuango-Security/620347", signals: "contact-"},
		{fixture: "chuango_pir", address: "Chuango-Security/120934", signals: "motion+", restore: "motion=30s"},
		{fixture: "chuango_smoke", address: "Chuango-Security/771002", signals: "smoke+", restore: "smoke=5m0s", caps: []devices.Capability{devices.CapSmoke}},
		{fixture: "chuango_tamper", address: "Chuango-Security/620347", signals: "tamper+", restore: "tamper=1m0s"},
		{fixture: "chuango_battery", address: "Chuango-Security/620347", signals: "battery_low+", restore: "battery_low=24h0m0s"},
		{fixture: "chuango_remote_arm", address: "Chuango-Security/334455", signals: ""},
		{fixture: "chuango_remote_alarm", address: "Chuango-Security/334455", signals: "panic+", restore: "panic=1m0s", caps: []devices.Capability{devices.CapPanic}},
		// Visonic PowerCode: supervision messages carry the state.
		{fixture: "visonic_open", address: "Visonic-Powercode/6f4770", signals: "contact+ tamper- battery_low-"},
		{fixture: "visonic_closed_tamper", address: "Visonic-Powercode/6f4770", signals: "contact- tamper+ battery_low-"},
		// DSC: "closed" is the other way round; event 0 is a heartbeat.
		{fixture: "dsc_closed", address: "DSC-Security/2407880", signals: "contact- tamper- battery_low-"},
		{fixture: "dsc_open_heartbeat_battery", address: "DSC-Security/2407880", signals: "contact+ tamper- battery_low+"},
		{fixture: "dsc_tamper", address: "DSC-Security/2407880", signals: "contact- tamper+ battery_low-"},
		// SimpliSafe: numeric state.
		{fixture: "simplisafe_open", address: "SimpliSafe-Sensor/1E4C9", signals: "contact+"},
		{fixture: "simplisafe_closed", address: "SimpliSafe-Sensor/1E4C9", signals: "contact-"},
		// X10: tamper and low battery are written only while set.
		{fixture: "x10_open_tamper", address: "X10-Security/5a3c", signals: "contact+ tamper+ battery_low-"},
		{fixture: "x10_closed_battery", address: "X10-Security/5a3c", signals: "contact- tamper- battery_low+"},
		{fixture: "x10_motion", address: "X10-Security/e1f0", signals: "motion+ tamper- battery_low-"},
		{fixture: "x10_motion_ready", address: "X10-Security/e1f0", signals: "motion- tamper- battery_low-"},
		{fixture: "x10_panic", address: "X10-Security/7b02", signals: "panic+ tamper- battery_low-", restore: "panic=1m0s"},
		// Cavius: Nordic smoke and water detectors.
		{fixture: "cavius_fire", address: "Cavius-Security/1234567", signals: "smoke+ battery_low-", restore: "smoke=5m0s", caps: []devices.Capability{devices.CapSmoke}},
		{fixture: "cavius_water", address: "Cavius-Security/2345678", signals: "water+ battery_low-", restore: "water=5m0s"},
		{fixture: "cavius_battery", address: "Cavius-Security/1234567", signals: "battery_low+"},
		{fixture: "cavius_test", address: "Cavius-Security/1234567", signals: "battery_low-"},
		// Models vakt does not know: the common fields.
		{fixture: "unknown_vivint", address: "Vivint-Security/0a4f12", signals: "contact+ tamper- battery_low-"},
		{fixture: "unknown_nexus", address: "Nexus-TH/11/1", signals: "battery_low-", temp: ptr(21.5), caps: []devices.Capability{devices.CapTemperature}},
		{fixture: "unknown_fahrenheit", address: "Acurite-606TX/48", signals: "battery_low-", temp: ptr(10.0), battery: ptr(50)},
		{fixture: "unknown_generic_motion", address: "Generic-Motion/c1b5e", signals: ""},
		{fixture: "unknown_skylink", address: "Skylink HA-434TL motion sensor/1e3e8", signals: "motion+", restore: "motion=30s"},
	}
	drv, err := New(Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			r, err := Decode(readFixture(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if r.Driver != Name || r.Address != tc.address {
				t.Errorf("driver %q address %q, want %q %q", r.Driver, r.Address, Name, tc.address)
			}
			if got := signalString(r.Signals); got != tc.signals {
				t.Errorf("signals %q, want %q", got, tc.signals)
			}
			var restores []string
			for _, s := range r.Signals {
				if d := drv.restoreAfter(r.Model, r.Address, s.Signal); s.Active && d > 0 {
					restores = append(restores, fmt.Sprintf("%s=%s", s.Signal, d))
				}
			}
			if got := strings.Join(restores, " "); got != tc.restore {
				t.Errorf("restores %q, want %q", got, tc.restore)
			}
			for _, c := range tc.caps {
				if !slices.Contains(r.Caps, c) {
					t.Errorf("caps %v lack %s", r.Caps, c)
				}
			}
			if (r.Battery == nil) != (tc.battery == nil) || (r.Battery != nil && *r.Battery != *tc.battery) {
				t.Errorf("battery %v, want %v", deref(r.Battery), deref(tc.battery))
			}
			if (r.Temperature == nil) != (tc.temp == nil) || (r.Temperature != nil && *r.Temperature != *tc.temp) {
				t.Errorf("temperature %v, want %v", deref(r.Temperature), deref(tc.temp))
			}
			if m, known := Lookup(r.Model); known && r.Vendor != m.Vendor {
				t.Errorf("vendor %q, want %q", r.Vendor, m.Vendor)
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestModels_Table keeps the table sound: every model has a name and vendor, says what its
// signals mean, and suggests a zone from what its devices send.
func TestModels_Table(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range models {
		if m.Name == "" || m.Vendor == "" {
			t.Errorf("%+v: name and vendor", m)
		}
		if seen[m.Name] {
			t.Errorf("%s twice", m.Name)
		}
		seen[m.Name] = true
		if len(m.Fields) == 0 && len(m.Codes) == 0 && m.decode == nil {
			t.Errorf("%s: no field or code means anything", m.Name)
		}
		if (m.CodeField == "") != (len(m.Codes) == 0) {
			t.Errorf("%s: codes without a code field or the other way round", m.Name)
		}
		for s, d := range m.AutoRestore {
			if d <= 0 {
				t.Errorf("%s: auto restore %s: %s", m.Name, s, d)
			}
		}
	}
	for _, name := range []string{"Kerui-Security", "Honeywell-Security", "Interlogix-Security", "Chuango-Security",
		"Visonic-Powercode", "DSC-Security", "SimpliSafe-Sensor"} {
		if !seen[name] {
			t.Errorf("the table lacks %s", name)
		}
	}
}

// TestModels_SuggestZone: what a device sends decides the zone the pairing page suggests;
// a 24-hour Chuango device is suggested as fire, never as an intrusion zone.
func TestModels_SuggestZone(t *testing.T) {
	for fixture, want := range map[string]hub.ZoneType{
		"kerui_open":       hub.ZoneEntryExit,
		"kerui_motion":     hub.ZoneFollower,
		"kerui_water":      hub.ZoneTechnical,
		"chuango_smoke":    hub.ZoneFire,
		"cavius_fire":      hub.ZoneFire,
		"honeywell_open":   hub.ZoneEntryExit,
		"interlogix_smoke": hub.ZoneFire,
	} {
		r, err := Decode(readFixture(t, fixture))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := devices.SuggestZone(r.Caps); !ok || got != want {
			t.Errorf("%s: suggested %v, want %v", fixture, got, want)
		}
	}
}

// TestDecode_Malformed: what is not an rtl_433 event is an error with no address; a
// device event with an unreadable field keeps what it could read.
func TestDecode_Malformed(t *testing.T) {
	for _, p := range []string{``, `{`, `not json`, `[1,2]`, `null`, `"x"`, `{"model": 5}`, `{"model": ""}`,
		`{"id": 1}`, `{"model":"Kerui-Security","id":1}{"model":"x"}`, `{"time":"@0s","enabled":1,"frames":{"count":3}}`} {
		r, err := Decode([]byte(p))
		if err == nil || r.Address != "" {
			t.Errorf("%q: address %q, error %v; want an error and no address", p, r.Address, err)
		}
	}
	r, err := Decode([]byte(`{"model":"Honeywell-Security","id":1,"channel":8,"contact_open":1,"tamper":"maybe","battery_ok":"full"}`))
	if !errors.Is(err, ErrField) {
		t.Fatalf("error %v, want ErrField", err)
	}
	if r.Address != "Honeywell-Security/1/8" || signalString(r.Signals) != "contact+" {
		t.Errorf("address %q signals %q, want the readable part", r.Address, signalString(r.Signals))
	}
	if _, err := Decode([]byte(`{"model":"Interlogix-Security","subtype":"motion","id":"468d19","raw_message":"zz"}`)); !errors.Is(err, ErrField) {
		t.Errorf("bad raw message: %v", err)
	}
}

// FuzzDecode: no payload makes the decoder panic.
func FuzzDecode(f *testing.F) {
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil && strings.HasSuffix(e.Name(), ".json") {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model":"Interlogix-Security","subtype":"motion","raw_message":""}`))
	f.Add([]byte(`{"model":"X","id":{"a":1},"channel":[1],"battery_ok":1e400,"temperature_C":"hot"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err == nil && r.Address == "" {
			t.Errorf("%q: no error and no address", b)
		}
	})
}

// TestDriver_CheckIn: supervised models get their window, known unsupervised ones the
// long one, unknown ones the manager's default, and config overrides both.
func TestDriver_CheckIn(t *testing.T) {
	drv, err := New(Config{Models: map[string]Override{"Kerui-Security": {CheckIn: Duration(4 * time.Hour)}}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]time.Duration{
		"Honeywell-Security":  SupervisedCheckIn,
		"Interlogix-Security": SupervisedCheckIn,
		"DSC-Security":        SupervisedCheckIn,
		"Visonic-Powercode":   SupervisedCheckIn,
		"X10-Security":        SupervisedCheckIn,
		"Chuango-Security":    DefaultUnsupervisedCheckIn,
		"SimpliSafe-Sensor":   DefaultUnsupervisedCheckIn,
		"Cavius-Security":     DefaultUnsupervisedCheckIn,
		"Kerui-Security":      4 * time.Hour,
		"Nexus-TH":            0,
		"":                    0,
	} {
		if got := drv.CheckIn(model); got != want {
			t.Errorf("CheckIn(%q) = %s, want %s", model, got, want)
		}
	}
}
