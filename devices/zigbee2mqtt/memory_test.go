package zigbee2mqtt

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// withLastSeen returns a fixture's payload with Zigbee2MQTT's last_seen (ISO 8601) added.
func withLastSeen(tb testing.TB, name string, t time.Time) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(tb, name), &m); err != nil {
		tb.Fatal(err)
	}
	m["last_seen"] = t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// zoneActive says whether the hub has the zone of a device active.
func (r *rig) zoneActive(device string) bool {
	snap := r.hub.Snapshot()
	for i, z := range snap.Installation.Zones {
		if z.Device == device {
			return snap.State.Zones[i].Active
		}
	}
	r.tb.Fatalf("no zone for %s", device)
	return false
}

// armAway arms area 1 with Anna's code and lets the exit delay pass.
func (r *rig) armAway() {
	r.tb.Helper()
	res := r.hub.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowCode, Iface: "test"})
	if res.Err != nil {
		r.tb.Fatal(res.Err)
	}
	r.tick(61 * time.Second)
	hubtest.Eventually(r.tb, "armed away", func() bool { return r.area(1).Mode == hub.ModeArmedAway })
}

// TestRestart_RemembersRenamedDevices is the README's set-up: vakt's embedded broker, which
// retains nothing over a restart of vakt, and Zigbee2MQTT, which publishes bridge/devices
// only when it starts itself. A device adopted and then renamed is still known after vakt
// restarts, at once: its smoke alarm sounds the fire pattern. The next list from
// Zigbee2MQTT replaces the remembered one.
func TestRestart_RemembersRenamedDevices(t *testing.T) {
	url, stopBroker := startEmbeddedStop(t)
	r := newRig(t, url, testInstallation())
	r.z2m.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	r.z2m.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)

	// Renamed in Zigbee2MQTT's frontend: the response names the old and the new name.
	const renamed = "Kitchen/smoke detector"
	r.z2m.publish("bridge/response/device/rename", []byte(`{"data":{"from":"Kitchen smoke","homeassistant_rename":false,"to":"`+renamed+`"},"status":"ok","transaction":"k2pqx-1"}`), false)
	r.z2m.fixture(renamed, "frient_smszb-120_clear.json")
	hubtest.Eventually(t, "the renamed detector heard", func() bool { return r.mgr.Health()["kitchen_smoke"].Temperature != nil })

	// vakt restarts, and its broker with it.
	r.stop()
	stopBroker()
	url, _ = startEmbeddedStop(t)
	r = r.restart(url)
	r.z2m.fixture(renamed, "frient_smszb-120_smoke.json")
	r.z2m.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"fire"`)
	hubtest.Eventually(t, "fire logged", func() bool { return r.count(hub.KindFire) == 1 })

	// Zigbee2MQTT restarts and publishes its list, with another name: that list is the one
	// remembered now.
	list := bytes.Replace(fixture(t, "bridge_devices.json"), []byte(`"Kitchen smoke"`), []byte(`"Kök"`), 1)
	r.z2m.publish("bridge/devices", list, true)
	r.z2m.fixture("Kök", "frient_smszb-120_clear.json")
	hubtest.Eventually(t, "fire restored", func() bool { return !r.zoneActive("kitchen_smoke") })
	b, err := r.store.DriverData(Name, memDevices)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"Kök"`)) || bytes.Contains(b, []byte(renamed)) {
		t.Errorf("remembered list not replaced: %s", b)
	}
}

// TestRestart_StaleRetainedNeverTriggers: a window's open state left retained on mosquitto,
// then closed by a later message, is read again when vakt restarts. vakt remembers the
// newest last_seen it acted on, so that old state opens nothing: no alarm in a house armed
// before the window ever opened.
func TestRestart_StaleRetainedNeverTriggers(t *testing.T) {
	m := startMosquitto(t)
	r := newRig(t, m.url(), testInstallation())
	r.z2m.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	r.z2m.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	r.armAway()

	opened := time.Now().Add(-2 * time.Minute) // after the arming by the hub's clock
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_open.json", opened), true)
	hubtest.Eventually(t, "burglary", func() bool { return r.count(hub.KindBurglary) == 1 })
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_closed.json", opened.Add(time.Minute)), false)
	hubtest.Eventually(t, "window closed", func() bool { return !r.zoneActive("living_window") })
	if res := r.hub.Do(context.Background(), hub.Input{Kind: hub.InDisarm, Area: 1, Code: "1234", How: hub.HowCode, Iface: "test"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.armAway()

	r = r.restart(m.url())
	// A live message on the same topic comes after the retained one: once it is read, the
	// retained one was too.
	live := withLastSeen(t, "aqara_mccgq11lm_closed.json", time.Now())
	live = bytes.Replace(live, []byte(`"battery":100`), []byte(`"battery":55`), 1)
	n := 0
	hubtest.Eventually(t, "live message read", func() bool {
		if n++; n%40 == 1 { // every 200 ms, until the driver's subscription is back
			r.z2m.publish("Living room window", live, false)
		}
		h := r.mgr.Health()["living_window"]
		return h.Battery != nil && *h.Battery == 55
	})
	if n := r.count(hub.KindBurglary); n != 1 {
		t.Errorf("%d burglaries: the stale retained state triggered (kinds %v)", n, r.kinds())
	}
	if a := r.area(1); a.Mode != hub.ModeArmedAway {
		t.Errorf("area 1 %s after the restart", a.Mode)
	}
}

// TestDriver_LastSeenAheadOfClock: a last_seen an hour ahead of vakt's clock (a wrong clock
// on Zigbee2MQTT's host) does not block the device: its later messages, with true times,
// are still read.
func TestDriver_LastSeenAheadOfClock(t *testing.T) {
	r := newRig(t, startEmbedded(t), testInstallation())
	r.z2m.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	r.z2m.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	now := time.Now()
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_open.json", now.Add(time.Hour)), false)
	hubtest.Eventually(t, "window open", func() bool { return r.zoneActive("living_window") })
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_closed.json", now), false)
	hubtest.Eventually(t, "window closed", func() bool { return !r.zoneActive("living_window") })
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_open.json", now.Add(time.Second)), false)
	hubtest.Eventually(t, "window open again", func() bool { return r.zoneActive("living_window") })
}

// TestEndToEnd_OlderThanArmingNeverTriggers: a window's message that Zigbee2MQTT stamped
// before the house was armed (delivered late, or retained) opens the zone but sounds
// nothing; one stamped after the arming alarms.
func TestEndToEnd_OlderThanArmingNeverTriggers(t *testing.T) {
	r := newRig(t, startEmbedded(t), testInstallation())
	r.z2m.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	r.z2m.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	armedAt := r.clock.Now()
	r.armAway()
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_open.json", armedAt.Add(-5*time.Minute)), false)
	hubtest.Eventually(t, "window open", func() bool { return r.zoneActive("living_window") })
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_closed.json", armedAt.Add(-4*time.Minute)), false)
	hubtest.Eventually(t, "window closed", func() bool { return !r.zoneActive("living_window") })
	if n := r.count(hub.KindBurglary); n != 0 || r.area(1).Mode != hub.ModeArmedAway {
		t.Fatalf("%d burglaries, area %s, for a window opened before the arming", n, r.area(1).Mode)
	}
	r.z2m.publish("Living room window", withLastSeen(t, "aqara_mccgq11lm_open.json", armedAt.Add(2*time.Minute)), false)
	r.z2m.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"burglar"`)
	hubtest.Eventually(t, "burglary", func() bool { return r.count(hub.KindBurglary) == 1 })
}

// TestDriver_WarnsUnknownName: a name that is neither in the device list nor an IEEE
// address is logged as a warning with the name, once.
func TestDriver_WarnsUnknownName(t *testing.T) {
	logs := &hubtest.Buffer{}
	rec := &recorder{}
	d := New(Config{}, nil, rec, nil, slog.New(slog.NewTextHandler(logs, nil)))
	ctx := context.Background()
	d.process(ctx, message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	for range 2 {
		d.process(ctx, message{topic: "zigbee2mqtt/Shed door", payload: fixture(t, "aqara_mccgq11lm_open.json")})
	}
	if n := strings.Count(logs.String(), `level=WARN msg="message from a name not in Zigbee2MQTT's device list: reported under that name" driver=zigbee2mqtt name="Shed door"`); n != 1 {
		t.Errorf("want one warning naming the device; got\n%s", logs.String())
	}
	reps, _ := rec.take()
	if len(reps) == 0 || reps[len(reps)-1].Address != "Shed door" {
		t.Errorf("not reported under its name: %s", dump(reps))
	}
}

// TestDriver_LastSeenAheadWarns: the warning for a last_seen ahead of the clock names the
// device, and the report carries no device time (the hub orders it by arrival).
func TestDriver_LastSeenAheadWarns(t *testing.T) {
	logs := &hubtest.Buffer{}
	rec := &recorder{}
	d := New(Config{}, nil, rec, nil, slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	d.process(ctx, message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	rec.take()
	d.process(ctx, message{topic: "zigbee2mqtt/Living room window", payload: withLastSeen(t, "aqara_mccgq11lm_open.json", now.Add(2*time.Minute))})
	d.process(ctx, message{topic: "zigbee2mqtt/Living room window", payload: withLastSeen(t, "aqara_mccgq11lm_closed.json", now.Add(30*time.Second))})
	reps, _ := rec.take()
	if len(reps) != 2 || !reps[0].Time.IsZero() || !reps[1].Time.Equal(now.Add(30*time.Second)) {
		t.Errorf("reports %s with times %v", dump(reps), func() (ts []time.Time) {
			for _, r := range reps {
				ts = append(ts, r.Time)
			}
			return
		}())
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"last_seen ahead of vakt's clock") || !strings.Contains(logs.String(), "device="+ieeeWindow) {
		t.Errorf("no warning naming the device:\n%s", logs.String())
	}
}

// fakeMemory is a Memory in a map that counts writes.
type fakeMemory struct {
	mu     sync.Mutex
	kv     map[string][]byte
	writes map[string]int
}

var _ Memory = (*fakeMemory)(nil)

func (m *fakeMemory) DriverData(driver, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.kv[driver+"/"+key]), nil
}

func (m *fakeMemory) SaveDriverData(driver, key string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		m.kv, m.writes = map[string][]byte{}, map[string]int{}
	}
	m.kv[driver+"/"+key] = bytes.Clone(v)
	m.writes[key]++
	return nil
}

// TestDriver_LastSeenWrittenLazily: a hundred messages cost no write of last_seen until the
// lazy write is due; the device list is written when it changes, not when it is read again.
func TestDriver_LastSeenWrittenLazily(t *testing.T) {
	mem := &fakeMemory{}
	d := New(Config{}, nil, &recorder{}, mem, nil)
	ctx := context.Background()
	for range 2 {
		d.process(ctx, message{topic: "zigbee2mqtt/bridge/devices", payload: fixture(t, "bridge_devices.json"), retained: true})
	}
	start := time.Now().Truncate(time.Millisecond).UTC()
	for i := range 100 {
		d.process(ctx, message{topic: "zigbee2mqtt/Living room window", payload: withLastSeen(t, "aqara_mccgq11lm_open.json", start.Add(time.Duration(i)*time.Millisecond))})
	}
	if mem.writes[memDevices] != 1 || mem.writes[memLastSeen] != 0 || d.flush == nil {
		t.Fatalf("writes %v, lazy write pending %v", mem.writes, d.flush != nil)
	}
	if err := d.saveSeen(); err != nil {
		t.Fatal(err)
	}
	// What the next run reads back.
	d2 := New(Config{}, nil, &recorder{}, mem, nil)
	d2.load()
	if want := start.Add(99 * time.Millisecond); !d2.seen[ieeeWindow].Equal(want) || !d2.listed || d2.cat.byName["Kitchen smoke"] == nil {
		t.Errorf("read back: seen %v (want %v), listed %v", d2.seen[ieeeWindow], want, d2.listed)
	}
}
