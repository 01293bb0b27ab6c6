package zigbee2mqtt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// IEEE addresses of the devices in testdata/bridge_devices.json.
const (
	ieeeWindow   = "0x00158d000449aa01" // Aqara MCCGQ11LM "Living room window"
	ieeeHall     = "0x00158d0003f2b702" // Aqara RTCGQ11LM "Hall/motion"
	ieeeGarage   = "0x00124b0022cc3b03" // SONOFF SNZB-03 "Garage motion"
	ieeeSmoke    = "0x0015bc001b02a104" // Frient SMSZB-120 "Kitchen smoke"
	ieeeLeak     = "0x00158d0002c3d405" // Aqara SJCGQ11LM "Bathroom leak"
	ieeeSiren    = "0x000d6ffffe8a4b06" // Heiman HS2WD-E "Hall siren"
	ieeeAttic    = "0x0015bc002f00ee07" // Develco SIRZB-110 "Attic siren"
	ieeeKeypad   = "0x0015bc001e00cb08" // Frient KEPZB-110 "Hall keypad"
	ieeePlug     = "0x04cf8cdf3c7a1b09" // Aqara SP-EUC01 "Coffee plug"
	ieeeLock     = "0x000d6f0011aa220a" // Yale YRD256HA20BP "Front door lock"
	ieeeClimate  = "0x00158d00045e6f0b" // Aqara WSDCGQ11LM "Bedroom climate"
	ieeeNewHue   = "0x001788010bcd120c" // joined, interview in progress
	ieeeCoordntr = "0x00124b0024c2f2e1"
)

// recorder is a devices.Sink that keeps what it is given.
type recorder struct {
	mu        sync.Mutex
	reports   []devices.Report
	malformed []string // address: error
	stale     []string // address: why
}

var _ devices.Sink = (*recorder)(nil)

func (r *recorder) Report(rep devices.Report) {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.mu.Unlock()
}

func (r *recorder) Malformed(driver, address string, err error) {
	r.mu.Lock()
	r.malformed = append(r.malformed, address+": "+err.Error())
	r.mu.Unlock()
}

func (r *recorder) Stale(driver, address, why string) {
	r.mu.Lock()
	r.stale = append(r.stale, address+": "+why)
	r.mu.Unlock()
}

// take returns and forgets what was recorded.
func (r *recorder) take() ([]devices.Report, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reps, mal := r.reports, r.malformed
	r.reports, r.malformed = nil, nil
	return reps, mal
}

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// listedDriver returns a driver (no broker) that has read testdata/bridge_devices.json.
func listedDriver(t *testing.T) (*Driver, *recorder) {
	t.Helper()
	rec := &recorder{}
	d := New(Config{}, nil, rec, nil, nil)
	d.process(context.Background(), message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	rec.take()
	return d, rec
}

func sig(s hub.Signal, active bool) devices.SignalValue {
	return devices.SignalValue{Signal: s, Active: active}
}

func ptr[T any](v T) *T { return &v }

func TestDriver_Fixtures(t *testing.T) {
	for _, tc := range []struct {
		fixture, topic string
		want           devices.Report
	}{
		{"aqara_mccgq11lm_open.json", "Living room window", devices.Report{Address: ieeeWindow,
			Signals: []devices.SignalValue{sig(hub.SignalContact, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(102)}},
		{"aqara_mccgq11lm_closed.json", "Living room window", devices.Report{Address: ieeeWindow,
			Signals: []devices.SignalValue{sig(hub.SignalContact, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(98)}},
		{"aqara_rtcgq11lm_occupancy.json", "Hall/motion", devices.Report{Address: ieeeHall,
			Signals: []devices.SignalValue{sig(hub.SignalMotion, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(90)}},
		{"aqara_rtcgq11lm_clear.json", "Hall/motion", devices.Report{Address: ieeeHall,
			Signals: []devices.SignalValue{sig(hub.SignalMotion, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(90)}},
		{"sonoff_snzb-03_occupancy.json", "Garage motion", devices.Report{Address: ieeeGarage,
			Signals: []devices.SignalValue{sig(hub.SignalMotion, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(120)}},
		{"frient_smszb-120_smoke.json", "Kitchen smoke", devices.Report{Address: ieeeSmoke,
			Signals: []devices.SignalValue{sig(hub.SignalSmoke, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(144), Temperature: ptr(22.5)}},
		{"frient_smszb-120_clear.json", "Kitchen smoke", devices.Report{Address: ieeeSmoke,
			Signals: []devices.SignalValue{sig(hub.SignalSmoke, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(144), Temperature: ptr(22.5)}},
		{"aqara_sjcgq11lm_leak.json", "Bathroom leak", devices.Report{Address: ieeeLeak,
			Signals: []devices.SignalValue{sig(hub.SignalWater, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(66)}},
		{"heiman_hs2wd-e_state.json", "Hall siren", devices.Report{Address: ieeeSiren,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(120)}},
		{"develco_sirzb-110_tamper.json", "Attic siren", devices.Report{Address: ieeeAttic,
			Signals: []devices.SignalValue{sig(hub.SignalTamper, true), sig(hub.SignalBatteryLow, false)}, Battery: ptr(93), LinkQuality: ptr(87), Temperature: ptr(19.8)}},
		{"frient_kepzb-110_code.json", "Hall keypad", devices.Report{Address: ieeeKeypad,
			Signals: []devices.SignalValue{sig(hub.SignalTamper, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(152),
			Keypad: &devices.KeypadAction{Action: "arm_away", Code: "1234", Transaction: 12}}},
		{"frient_kepzb-110_rfid.json", "Hall keypad", devices.Report{Address: ieeeKeypad,
			Signals: []devices.SignalValue{sig(hub.SignalTamper, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(152),
			Keypad: &devices.KeypadAction{Action: "disarm", Tag: "04A1B2C3", Transaction: 93}}},
		{"frient_kepzb-110_cleared.json", "Hall keypad", devices.Report{Address: ieeeKeypad,
			Signals: []devices.SignalValue{sig(hub.SignalTamper, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(152)}},
		{"frient_kepzb-110_emergency.json", "Hall keypad", devices.Report{Address: ieeeKeypad,
			Signals: []devices.SignalValue{sig(hub.SignalTamper, false), sig(hub.SignalBatteryLow, false)}, Battery: ptr(100), LinkQuality: ptr(150),
			Keypad: &devices.KeypadAction{Action: "panic"}}},
		{"aqara_sp-euc01_on.json", "Coffee plug", devices.Report{Address: ieeePlug,
			LinkQuality: ptr(200), Switch: ptr(true), Power: ptr(45.2)}},
		{"aqara_sp-euc01_off.json", "Coffee plug", devices.Report{Address: ieeePlug,
			LinkQuality: ptr(200), Switch: ptr(false), Power: ptr(0.0)}},
		{"yale_yrd256ha20bp_keypad_unlock.json", "Front door lock", devices.Report{Address: ieeeLock,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(88), LinkQuality: ptr(95), Lock: "locked",
			LockEvent: &devices.LockEvent{Action: "unlock", Source: "keypad", User: 3}}},
		{"yale_yrd256ha20bp_unlocked.json", "Front door lock", devices.Report{Address: ieeeLock,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(88), LinkQuality: ptr(95), Lock: "unlocked"}},
		{"yale_yrd256ha20bp_jammed.json", "Front door lock", devices.Report{Address: ieeeLock,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(87), LinkQuality: ptr(91), Lock: "jammed"}},
		{"yale_yrd256ha20bp_auto_lock.json", "Front door lock", devices.Report{Address: ieeeLock,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(88), LinkQuality: ptr(95), Lock: "locked",
			LockEvent: &devices.LockEvent{Action: "lock", Source: "auto"}}},
		{"aqara_wsdcgq11lm.json", "Bedroom climate", devices.Report{Address: ieeeClimate,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, false)}, Battery: ptr(91), LinkQuality: ptr(78), Temperature: ptr(21.37)}},
		// No battery_low field: 12 % is low by vakt's own threshold.
		{"aqara_wsdcgq11lm_battery_low.json", "Bedroom climate", devices.Report{Address: ieeeClimate,
			Signals: []devices.SignalValue{sig(hub.SignalBatteryLow, true)}, Battery: ptr(12), LinkQuality: ptr(60), Temperature: ptr(20.91)}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			d, rec := listedDriver(t)
			d.process(context.Background(), message{topic: "zigbee2mqtt/" + tc.topic, payload: fixture(t, tc.fixture)})
			reps, mal := rec.take()
			if len(mal) > 0 {
				t.Errorf("malformed: %v", mal)
			}
			tc.want.Driver = Name
			if len(reps) != 1 || !reflect.DeepEqual(reps[0], tc.want) {
				t.Fatalf("reports\n got %s\nwant %s", dump(reps), dump([]devices.Report{tc.want}))
			}
		})
	}
}

// dump writes reports compactly, for comparisons and failure messages.
func dump(reps []devices.Report) string {
	var b strings.Builder
	for _, r := range reps {
		fmt.Fprintf(&b, "{%s %s ", r.Address, r.Model)
		for _, s := range r.Signals {
			fmt.Fprintf(&b, "%s=%s ", s.Signal, map[bool]string{true: "on", false: "off"}[s.Active])
		}
		if r.Battery != nil {
			fmt.Fprintf(&b, "battery=%d ", *r.Battery)
		}
		if r.LinkQuality != nil {
			fmt.Fprintf(&b, "lqi=%d ", *r.LinkQuality)
		}
		if r.Temperature != nil {
			fmt.Fprintf(&b, "temp=%g ", *r.Temperature)
		}
		if r.Switch != nil {
			fmt.Fprintf(&b, "switch=%v ", *r.Switch)
		}
		if r.Power != nil {
			fmt.Fprintf(&b, "power=%g ", *r.Power)
		}
		if r.Lock != "" {
			fmt.Fprintf(&b, "lock=%s ", r.Lock)
		}
		if r.Keypad != nil {
			fmt.Fprintf(&b, "keypad=%+v ", *r.Keypad)
		}
		if r.LockEvent != nil {
			fmt.Fprintf(&b, "lockevent=%+v ", *r.LockEvent)
		}
		b.WriteString("}")
	}
	return b.String()
}

func TestCatalog_Describe(t *testing.T) {
	rec := &recorder{}
	d := New(Config{}, nil, rec, nil, nil)
	d.process(context.Background(), message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	reps, mal := rec.take()
	if len(mal) > 0 {
		t.Fatalf("malformed: %v", mal)
	}
	got := map[string]devices.Report{}
	for _, r := range reps {
		got[r.Address] = r
	}
	want := map[string]struct {
		model, vendor string
		caps          []devices.Capability
	}{
		ieeeWindow:  {"MCCGQ11LM", "Aqara", []devices.Capability{"contact", "battery"}},
		ieeeHall:    {"RTCGQ11LM", "Aqara", []devices.Capability{"motion", "battery"}},
		ieeeGarage:  {"SNZB-03", "SONOFF", []devices.Capability{"motion", "battery"}},
		ieeeSmoke:   {"SMSZB-120", "Develco", []devices.Capability{"smoke", "battery", "temperature"}},
		ieeeLeak:    {"SJCGQ11LM", "Aqara", []devices.Capability{"water", "battery"}},
		ieeeSiren:   {"HS2WD-E", "Heiman", []devices.Capability{"battery", "siren"}},
		ieeeAttic:   {"SIRZB-110", "Develco", []devices.Capability{"battery", "temperature", "siren"}},
		ieeeKeypad:  {"KEYZB-110", "Develco", []devices.Capability{"tamper", "battery", "keypad"}},
		ieeePlug:    {"SP-EUC01", "Aqara", []devices.Capability{"switch"}},
		ieeeLock:    {"YRD256HA20BP", "Yale", []devices.Capability{"battery", "lock"}},
		ieeeClimate: {"WSDCGQ11LM", "Aqara", []devices.Capability{"battery", "temperature"}},
	}
	if len(got) != len(want) {
		t.Errorf("%d devices reported, want %d (no coordinator, none mid-interview): %s", len(got), len(want), dump(reps))
	}
	for ieee, w := range want {
		r := got[ieee]
		if r.Model != w.model || r.Vendor != w.vendor || !slices.Equal(r.Caps, w.caps) || len(r.Signals) > 0 {
			t.Errorf("%s: got %s %s %v, want %s %s %v", ieee, r.Vendor, r.Model, r.Caps, w.vendor, w.model, w.caps)
		}
		if got, _ := devices.SuggestZone(r.Caps); ieee == ieeeSmoke && got != hub.ZoneFire {
			t.Errorf("smoke detector suggested as %s", got)
		}
	}
	cat := d.cat
	for ieee, want := range map[string]bool{ieeePlug: true, ieeeLock: true, ieeeWindow: false, ieeeSiren: false} {
		if cat.byIEEE[ieee].Gettable != want {
			t.Errorf("%s gettable = %v, want %v", ieee, !want, want)
		}
	}
	if m := cat.byIEEE[ieeeSiren].SirenModes; !slices.Equal(m, []string{"stop", "emergency"}) {
		t.Errorf("HS2WD-E modes %v", m)
	}
	if !cat.byIEEE[ieeeAttic].Squawk || cat.byIEEE[ieeeSiren].Squawk {
		t.Error("squawk: only the SIRZB-110 has one")
	}

	// The same list again (a reconnect, a rename elsewhere) reports nothing: it is not a
	// check-in of every device.
	d.process(context.Background(), message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	if reps, _ := rec.take(); len(reps) != 0 {
		t.Errorf("unchanged list reported %d devices", len(reps))
	}
	// A rename: the IEEE address stays, the new name is read.
	renamed := strings.Replace(string(fixture(t, "bridge_devices.json")), `"Living room window"`, `"Sitting room window"`, 1)
	d.process(context.Background(), message{topic: "zigbee2mqtt/bridge/devices", payload: []byte(renamed), retained: true})
	d.process(context.Background(), message{topic: "zigbee2mqtt/Sitting room window", payload: fixture(t, "aqara_mccgq11lm_open.json")})
	if reps, _ := rec.take(); len(reps) != 1 || reps[0].Address != ieeeWindow {
		t.Errorf("after rename: %s", dump(reps))
	}
}

func TestDriver_MalformedChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		// fields is what is still reported, "" for nothing at all.
		want      string
		malformed bool
	}{
		{"not JSON", `{"contact":fals`, "", true},
		{"a list", `[{"contact":false}]`, "", true},
		{"a bare string", `"open"`, "", true},
		{"a number", `1`, "", true},
		{"empty (retained state cleared)", ``, "", false},
		{"contact of the wrong type", `{"contact":"open","battery":90,"linkquality":40}`, "{0x00158d000449aa01  battery_low=off battery=90 lqi=40 }", true},
		{"battery out of range", `{"contact":true,"battery":300}`, "{0x00158d000449aa01  contact=off }", true},
		{"state nobody knows", `{"state":"HALF"}`, "{0x00158d000449aa01  }", true},
		{"unknown fields only", `{"illuminance_lux":12,"update":{"state":"idle"},"some_future_field":[1,2]}`, "{0x00158d000449aa01  }", false},
		{"nulls", `{"contact":null,"battery":null,"action":null,"action_code":null}`, "{0x00158d000449aa01  }", false},
		{"bad last_seen", `{"contact":true,"last_seen":"yesterday"}`, "{0x00158d000449aa01  contact=off }", true},
		{"keypad code of the wrong type", `{"action":"disarm","action_code":{"pin":1234}}`, "{0x00158d000449aa01  }", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, rec := listedDriver(t)
			d.process(context.Background(), message{topic: "zigbee2mqtt/Living room window", payload: []byte(tc.payload)})
			reps, mal := rec.take()
			if got := dump(reps); got != tc.want {
				t.Errorf("reported %q, want %q", got, tc.want)
			}
			if (len(mal) > 0) != tc.malformed {
				t.Errorf("malformed %v, want %v", mal, tc.malformed)
			}
			for _, m := range mal {
				if !strings.HasPrefix(m, ieeeWindow+": ") {
					t.Errorf("malformed counted for %q, want the device", m)
				}
			}
		})
	}
}

func TestDriver_Topics(t *testing.T) {
	d, rec := listedDriver(t)
	d.process(context.Background(), message{topic: "zigbee2mqtt/bridge/groups", payload: []byte(`[{"id":1,"friendly_name":"Downstairs lights","members":[]}]`), retained: true})
	ctx := context.Background()
	open := fixture(t, "aqara_mccgq11lm_open.json")
	for _, topic := range []string{
		"zigbee2mqtt/Living room window/set",
		"zigbee2mqtt/Living room window/set/warning",
		"zigbee2mqtt/Living room window/get",
		"zigbee2mqtt/Hall/motion/get/state",
		"zigbee2mqtt/bridge/info",
		"zigbee2mqtt/bridge/logging",
		"zigbee2mqtt/bridge/event",
		"zigbee2mqtt/bridge/response/device/rename",
		"zigbee2mqtt/Downstairs lights",                // a group, not a device
		"zigbee2mqtt/Living room window/contact",       // attribute output
		"homeassistant/binary_sensor/x/contact/config", // not under the base topic
	} {
		if commandTopic(topic) {
			continue // dropped before the loop
		}
		d.process(ctx, message{topic: topic, payload: open})
	}
	if reps, mal := rec.take(); len(reps) > 0 || len(mal) > 0 {
		t.Fatalf("sub-topics taken for state: %s %v", dump(reps), mal)
	}
	for topic, addr := range map[string]string{
		"zigbee2mqtt/Hall/motion":        ieeeHall,   // a friendly name with a slash
		"zigbee2mqtt/0x00158D000449AA01": ieeeWindow, // addressed by IEEE address
		"zigbee2mqtt/Shed door":          "Shed door",
		"zigbee2mqtt/0x00158d0009999999": "0x00158d0009999999",
		"zigbee2mqtt/sunset/settings":    "sunset/settings",
		"zigbee2mqtt/Living room window": ieeeWindow,
		"zigbee2mqtt/Garden/getty":       "Garden/getty",
	} {
		d.process(ctx, message{topic: topic, payload: open})
		reps, _ := rec.take()
		if len(reps) != 1 || reps[0].Address != addr {
			t.Errorf("%s: %s, want one report for %s", topic, dump(reps), addr)
		}
	}
}

// TestDriver_HoldsUntilListed: a message that comes before the first device list is read
// under the device's IEEE address once the list arrives.
func TestDriver_HoldsUntilListed(t *testing.T) {
	rec := &recorder{}
	d := New(Config{BaseTopic: "z2m/home"}, nil, rec, nil, nil)
	ctx := context.Background()
	d.process(ctx, message{topic: "z2m/home/Living room window", payload: fixture(t, "aqara_mccgq11lm_open.json")})
	d.process(ctx, message{topic: "z2m/home/Living room window/availability", payload: []byte(`{"state":"offline"}`), retained: true})
	if reps, _ := rec.take(); len(reps) != 0 {
		t.Fatalf("reported before the list: %s", dump(reps))
	}
	d.process(ctx, message{topic: "z2m/home/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	reps, _ := rec.take()
	var got []string
	for _, r := range reps {
		if r.Model == "" {
			got = append(got, dump([]devices.Report{r}))
		}
	}
	want := []string{"{0x00158d000449aa01  contact=on battery_low=off battery=100 lqi=102 }", "{0x00158d000449aa01  missing=on }"}
	if !slices.Equal(got, want) {
		t.Fatalf("released %q, want %q", got, want)
	}
	// Without a list the driver gives up holding after a while (release), reporting by name.
	d2 := New(Config{}, nil, rec, nil, nil)
	d2.process(ctx, message{topic: "zigbee2mqtt/Shed door", payload: fixture(t, "aqara_mccgq11lm_open.json")})
	d2.release(ctx)
	if reps, _ := rec.take(); len(reps) != 1 || reps[0].Address != "Shed door" {
		t.Fatalf("after giving up: %s", dump(reps))
	}
}

func TestDriver_OutOfOrderByLastSeen(t *testing.T) {
	d, rec := listedDriver(t)
	ctx := context.Background()
	at := func(ts, body string) message {
		return message{topic: "zigbee2mqtt/Living room window", payload: []byte(`{` + body + `,"last_seen":"` + ts + `"}`)}
	}
	d.process(ctx, at("2026-11-24T18:00:02.250Z", `"contact":true`))
	d.process(ctx, at("2026-11-24T18:00:01.100Z", `"contact":false`)) // older: delivered late
	d.process(ctx, at("2026-11-24T18:00:02.250Z", `"contact":true`))  // a duplicate: read, the hub ignores it
	d.process(ctx, message{topic: "zigbee2mqtt/Living room window", payload: []byte(`{"contact":false,"last_seen":1795543203000}`)})
	reps, mal := rec.take()
	want := "{0x00158d000449aa01  contact=off }{0x00158d000449aa01  contact=off }{0x00158d000449aa01  contact=on }"
	if got := dump(reps); got != want || len(mal) > 0 {
		t.Fatalf("got %s %v\nwant %s", got, mal, want)
	}
	if len(rec.stale) != 1 || !strings.HasPrefix(rec.stale[0], "0x00158d000449aa01: ") {
		t.Errorf("dropped messages counted: %q, want the one delivered late", rec.stale)
	}
}

func TestDriver_KeypadDuplicateIsOneRequest(t *testing.T) {
	d, rec := listedDriver(t)
	clock := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return clock }
	ctx := context.Background()
	code := fixture(t, "frient_kepzb-110_code.json")
	d.process(ctx, message{topic: "zigbee2mqtt/Hall keypad", payload: code})
	d.process(ctx, message{topic: "zigbee2mqtt/Hall keypad", payload: code})
	clock = clock.Add(keypadRepeat)
	d.process(ctx, message{topic: "zigbee2mqtt/Hall keypad", payload: code}) // the sequence number came round again
	reps, _ := rec.take()
	var n int
	for _, r := range reps {
		if r.Keypad != nil {
			n++
		}
	}
	if len(reps) != 3 || n != 2 {
		t.Fatalf("%d reports with %d keypad requests, want 3 with 2", len(reps), n)
	}
}

func TestDriver_Availability(t *testing.T) {
	d, rec := listedDriver(t)
	ctx := context.Background()
	avail := func(p string, retained bool) string {
		d.process(ctx, message{topic: "zigbee2mqtt/Hall siren/availability", payload: []byte(p), retained: retained})
		reps, mal := rec.take()
		if len(mal) > 0 {
			return "malformed"
		}
		return dump(reps)
	}
	for i, step := range []struct {
		payload  string
		retained bool
		want     string
	}{
		{`{"state":"online"}`, true, ""}, // retained on subscribe: old news
		{`{"state":"offline"}`, true, "{0x000d6ffffe8a4b06  missing=on }"},
		{`{"state":"offline"}`, true, ""}, // again after a reconnect: said already
		{`online`, true, "{0x000d6ffffe8a4b06  missing=off }"},
		{`{"state":"online"}`, false, "{0x000d6ffffe8a4b06  missing=off }"},
		{`offline`, false, "{0x000d6ffffe8a4b06  missing=on }"},
		{``, true, ""}, // cleared on rename
		{`{"state":"sleeping"}`, false, "malformed"},
	} {
		if got := avail(step.payload, step.retained); got != step.want {
			t.Errorf("step %d %s: got %q, want %q", i, step.payload, got, step.want)
		}
	}
	// The device's next live message says it is back.
	d.process(ctx, message{topic: "zigbee2mqtt/Hall siren", payload: fixture(t, "heiman_hs2wd-e_state.json")})
	reps, _ := rec.take()
	if got := dump(reps); got != "{0x000d6ffffe8a4b06  battery_low=off missing=off battery=100 lqi=120 }" {
		t.Errorf("back: %s", got)
	}
}

func TestParseState_ReturnsFieldErrors(t *testing.T) {
	_, ok, err := parseState([]byte(`{"smoke":1,"water_leak":true}`))
	var typ interface{ Unwrap() []error }
	if !ok || err == nil || !errors.As(err, &typ) || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}
