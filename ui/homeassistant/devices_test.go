package homeassistant

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// removeDevice removes a device (and its zone) from the installation, as the installer
// does in the web UI.
func removeDevice(t *testing.T, h *hub.Hub, id string) {
	t.Helper()
	res := h.Configure(context.Background(), hub.Input{User: "anna", How: hub.HowWeb}, "remove "+id, func(inst *hub.Installation) error {
		inst.Devices = slices.DeleteFunc(inst.Devices, func(d hub.Device) bool { return d.ID == id })
		inst.Zones = slices.DeleteFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == id })
		return nil
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
}

// TestBridge_RemovedDeviceRemoved: removing a device publishes empty retained configs for
// its entities, so Home Assistant removes them, and clears its state topics.
func TestBridge_RemovedDeviceRemoved(t *testing.T) {
	r := newRig(t, DefaultConfig())
	zone, tamper := "homeassistant/binary_sensor/vakt/living_window_zone/config", "homeassistant/binary_sensor/vakt/living_window_tamper/config"
	hubtest.Eventually(t, "the window is announced", func() bool { _, ok := r.ha.retained(zone); return ok })
	removeDevice(t, r.h, "living_window")
	for _, topic := range []string{zone, tamper, "vakt/device/living_window", "vakt/device/living_window/availability"} {
		r.waitGone(topic)
	}
	if _, ok := r.ha.retained("homeassistant/binary_sensor/vakt/front_door_zone/config"); !ok {
		t.Fatal("another device's entity went too")
	}
	hubtest.Eventually(t, "the store's record of published topics is up to date", func() bool {
		rec, err := loadPublished(r.h.Store())
		return err == nil && !rec.topics[zone] && rec.topics["homeassistant/binary_sensor/vakt/front_door_zone/config"]
	})
}

// TestBridge_RestartCleansUp: vakt restarts on the same store after a device was removed
// while it was down; it announces everything again and removes the gone device's
// entities, which only its record in the store remembers.
func TestBridge_RestartCleansUp(t *testing.T) {
	r := newRig(t, DefaultConfig())
	plug := "homeassistant/switch/vakt/coffee_plug_switch/config"
	hubtest.Eventually(t, "the plug is announced", func() bool { _, ok := r.ha.retained(plug); return ok })
	announced := len(r.ha.payloads("homeassistant/alarm_control_panel/vakt/area_1/config"))
	r.restart(func() {
		r.waitRetained("vakt/status", offline) // a clean stop says offline
		// While vakt is down, the installation loses the plug (an import, say).
		h, stop := hubtest.StartHub(t, r.path, nil, hub.Options{Now: r.clock.Now})
		removeDevice(t, h, "coffee_plug")
		stop()
	})
	r.waitGone(plug)
	r.waitGone("vakt/device/coffee_plug")
	r.waitRetained("vakt/status", online)
	if n := len(r.ha.payloads("homeassistant/alarm_control_panel/vakt/area_1/config")); n <= announced {
		t.Fatalf("area 1 announced %d times after the restart, want it again (%d before)", n, announced)
	}
	if _, ok := r.ha.retained("homeassistant/lock/vakt/front_lock_lock/config"); !ok {
		t.Fatal("the lock is gone too")
	}
}

// TestBridge_NodeChangeCleansUp: a new node id and base topic announce every entity
// anew and remove the old ones.
func TestBridge_NodeChangeCleansUp(t *testing.T) {
	r := newRig(t, DefaultConfig())
	old := "homeassistant/alarm_control_panel/vakt/area_1/config"
	hubtest.Eventually(t, "area 1 announced", func() bool { _, ok := r.ha.retained(old); return ok })
	r.stopBridge()
	r.cfg.NodeID = "house"
	r.startBridge()
	r.waitGone(old)
	hubtest.Eventually(t, "area 1 announced anew", func() bool {
		_, ok := r.ha.retained("homeassistant/alarm_control_panel/house/area_1/config")
		return ok
	})
}

// TestBridge_Availability: a missing device is offline in Home Assistant, and online
// again when heard; so are a bus-faulted driver's devices; vakt's own availability is
// offline once it stops.
func TestBridge_Availability(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.waitRetained("vakt/device/front_door/availability", online)
	// Nothing heard for longer than the check-in window: every simulated device is missing.
	r.clock.Add(3 * time.Hour)
	r.mgr.Supervise(context.Background(), r.clock.Now())
	r.waitRetained("vakt/device/front_door/availability", offline)
	r.waitRetained("vakt/device/coffee_plug/availability", offline)
	r.mgr.Report(devices.Report{Driver: "sim", Address: "front_door"}) // heard again
	r.waitRetained("vakt/device/front_door/availability", online)
	// Its bridge off the bus: its devices go unheard, so they are unavailable.
	if err := r.h.Submit(context.Background(), hub.Input{Kind: hub.InBusFault, Device: "sim", Active: true, Path: "test"}); err != nil {
		t.Fatal(err)
	}
	r.waitRetained("vakt/device/front_door/availability", offline)
	if err := r.h.Submit(context.Background(), hub.Input{Kind: hub.InBusFault, Device: "sim", Active: false}); err != nil {
		t.Fatal(err)
	}
	r.waitRetained("vakt/device/front_door/availability", online)
	r.stopBridge()
	r.waitRetained("vakt/status", offline)
}

// TestBridge_PlugsAndLocks: Home Assistant switches a plug and locks a lock through the
// hub, logged as Home Assistant's; unlocking an armed area's lock needs allow_disarm.
func TestBridge_PlugsAndLocks(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(map[bool]string{true: "disarm allowed", false: "disarm off"}[allow], func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AllowDisarm = allow
			r := newRig(t, cfg)
			r.ha.publish("vakt/device/coffee_plug/set", false, "ON")
			hubtest.Eventually(t, "the plug is switched", func() bool { return r.b.Stats().Accepted == 1 })
			ev, ok := lastKind(r.events(), hub.KindDeviceCommand)
			if !ok || ev.Device != "coffee_plug" || ev.How != hub.HowHomeAssistant || ev.User != "anna" {
				t.Fatalf("device command event %+v", ev)
			}
			on := true
			r.mgr.Report(devices.Report{Driver: "sim", Address: "coffee_plug", Switch: &on, Lock: ""})
			r.waitRetained("vakt/device/coffee_plug", `{"switch":"ON"}`)
			r.mgr.Report(devices.Report{Driver: "sim", Address: "front_lock", Lock: "locked"})
			r.waitRetained("vakt/device/front_lock", `{"lock":"LOCKED"}`)
			if err := r.do(hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedHome, Code: "1234", How: hub.HowWeb}).Err; err != nil {
				t.Fatal(err)
			}
			r.ha.publish("vakt/device/front_lock/set", false, "UNLOCK")
			hubtest.Eventually(t, "the unlock is answered", func() bool { s := r.b.Stats(); return s.Accepted+s.Refused == 2 })
			ev, _ = lastKind(r.events(), hub.KindDeviceCommand)
			if allow != (ev.Device == "front_lock") {
				t.Fatalf("allow_disarm %v: last device command %+v", allow, ev)
			}
			if !allow && !strings.Contains(r.logs.String(), "allow_disarm") {
				t.Fatalf("refusal not logged:\n%s", r.logs)
			}
		})
	}
}

// TestBridge_DisarmNotAllowed: with allow_disarm off, Home Assistant arms but never
// disarms, even with a right code.
func TestBridge_DisarmNotAllowed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AllowDisarm = false
	r := newRig(t, cfg)
	r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_HOME","code":"1234"}`)
	r.waitRetained("vakt/area/1", "arming")
	r.ha.publish("vakt/area/1/set", false, `{"action":"DISARM","code":"1234"}`)
	hubtest.Eventually(t, "the disarm is refused", func() bool { return r.b.Stats().Refused == 1 })
	if m := r.mode(1); m != hub.ModeArming {
		t.Fatalf("mode %s", m)
	}
}

// TestBridge_NoCodeActsAsUser: with code_required off, a command without a code acts as
// the configured user; a code, when given, is still checked.
func TestBridge_NoCodeActsAsUser(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CodeRequired, cfg.User = false, "erik"
	r := newRig(t, cfg)
	r.ha.publish("vakt/area/2/set", false, `{"action":"ARM_AWAY"}`)
	r.waitRetained("vakt/area/2", "arming")
	if ev, ok := lastKind(r.events(), hub.KindExitDelay); !ok || ev.User != "erik" || ev.How != hub.HowHomeAssistant {
		t.Fatalf("exit delay %+v", ev)
	}
	r.ha.publish("vakt/area/2/set", false, `{"action":"DISARM","code":"0000"}`)
	hubtest.Eventually(t, "the wrong code is refused", func() bool { return r.b.Stats().Refused == 1 })
	if _, ok := lastKind(r.events(), hub.KindWrongCode); !ok {
		t.Fatal("the wrong code was not counted")
	}
}

// TestBridge_StrayConfigCleared: a retained config under vakt's node id that vakt does
// not want and its store does not remember (a store restored from an older backup) is
// found on the broker at start and cleared; another node's is left alone.
func TestBridge_StrayConfigCleared(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.stopBridge()
	stray, other := "homeassistant/binary_sensor/vakt/ghost_zone/config", "homeassistant/binary_sensor/garage_pi/ghost_zone/config"
	for _, topic := range []string{stray, other} {
		r.ha.publish(topic, true, `{"name":null,"unique_id":"ghost","state_topic":"vakt/device/ghost"}`)
		r.waitRetained(topic, `{"name":null,"unique_id":"ghost","state_topic":"vakt/device/ghost"}`)
	}
	r.startBridge()
	r.waitGone(stray)
	if _, ok := r.ha.retained(other); !ok {
		t.Fatal("another node's config was cleared")
	}
}

// TestBridge_WillOnCut: vakt's connection is cut without a goodbye (a crash, a pulled
// cable): the broker says offline for it (its last will), so Home Assistant shows every
// entity unavailable; vakt reconnects and says online again.
func TestBridge_WillOnCut(t *testing.T) {
	r := newRig(t, DefaultConfig())
	proxy := hubtest.NewProxy(t, r.addr)
	r.stopBridge()
	r.bridgeAddr = proxy.Addr()
	r.startBridge()
	n := len(r.ha.payloads("vakt/status"))
	proxy.Cut()
	hubtest.Eventually(t, "offline, then online again", func() bool {
		got := r.ha.payloads("vakt/status")[n:]
		return len(got) >= 2 && got[0] == offline && got[len(got)-1] == online
	})
}
