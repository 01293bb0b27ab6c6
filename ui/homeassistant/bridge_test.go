package homeassistant

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// areaStates are the alarm panel states Home Assistant accepts.
var areaStates = []string{"disarmed", "armed_home", "armed_away", "armed_night", "armed_vacation", "armed_custom_bypass", "pending", "triggered", "arming", "disarming"}

var valueKey = regexp.MustCompile(`^\{\{ value_json\.([a-z_]+) \}\}$`)

// checkStates returns every way the states held break what each config's component
// accepts: an alarm state Home Assistant does not know, a binary state other than the
// config's payloads, a sensor value that is not a number, a lock state it does not name.
func checkStates(ha *haClient, configs map[string]map[string]any) []string {
	var bad []string
	for topic, c := range configs {
		comp := discoveryTopic.FindStringSubmatch(topic)[2]
		st, _ := c["state_topic"].(string)
		raw, ok := ha.retained(st)
		if !ok {
			bad = append(bad, topic+": no retained state on "+st)
			continue
		}
		if comp == "alarm_control_panel" {
			if !slices.Contains(areaStates, raw) {
				bad = append(bad, topic+": state "+raw)
			}
			continue
		}
		m := valueKey.FindStringSubmatch(c["value_template"].(string))
		if m == nil {
			bad = append(bad, topic+": value_template "+c["value_template"].(string))
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			bad = append(bad, topic+": state not JSON: "+raw)
			continue
		}
		v, has := doc[m[1]]
		if !has {
			bad = append(bad, topic+": state has no "+m[1])
			continue
		}
		switch comp {
		case "binary_sensor":
			if v != c["payload_on"] && v != c["payload_off"] {
				bad = append(bad, topic+": binary state "+raw)
			}
		case "sensor":
			if _, isNum := v.(float64); !isNum {
				bad = append(bad, topic+": sensor value "+raw)
			}
		case "switch":
			if v != nil && v != c["state_on"] && v != c["state_off"] {
				bad = append(bad, topic+": switch state "+raw)
			}
		case "lock":
			if v != nil && v != c["state_locked"] && v != c["state_unlocked"] && v != c["state_jammed"] {
				bad = append(bad, topic+": lock state "+raw)
			}
		}
	}
	return bad
}

// TestBridge_DiscoveryValidates: on a real broker, every discovery config vakt publishes
// for the demo house is valid against Home Assistant's documented schema, written out in
// full, with unique ids and a state that its component accepts.
func TestBridge_DiscoveryValidates(t *testing.T) {
	for _, codeRequired := range []bool{true, false} {
		t.Run(map[bool]string{true: "code required", false: "no code"}[codeRequired], func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.CodeRequired = codeRequired
			r := newRig(t, cfg)
			temp, batt := 21.5, 87
			r.mgr.Report(devices.Report{Driver: "sim", Address: "living_window", Temperature: &temp, Battery: &batt})
			want := []string{
				"homeassistant/alarm_control_panel/vakt/area_1/config",
				"homeassistant/alarm_control_panel/vakt/area_2/config",
				"homeassistant/binary_sensor/vakt/front_door_zone/config",
				"homeassistant/binary_sensor/vakt/front_door_tamper/config",
				"homeassistant/binary_sensor/vakt/hall_motion_zone/config",
				"homeassistant/binary_sensor/vakt/kitchen_smoke_zone/config",
				"homeassistant/binary_sensor/vakt/bathroom_water_zone/config",
				"homeassistant/sensor/vakt/living_window_temperature/config",
				"homeassistant/sensor/vakt/living_window_battery/config",
				"homeassistant/switch/vakt/coffee_plug_switch/config",
				"homeassistant/lock/vakt/front_lock_lock/config",
			}
			hubtest.Eventually(t, "the configs are published", func() bool {
				cs := r.ha.configs("homeassistant")
				for _, w := range want {
					if _, ok := cs[w]; !ok {
						return false
					}
				}
				return true
			})
			// States follow their configs: wait for the last to change.
			r.waitRetained("vakt/device/living_window", `{"battery":87,"tamper":"OFF","temperature":21.5,"zone":"OFF"}`)
			configs := r.ha.configs("homeassistant")
			ids := map[string]string{}
			for topic, c := range configs {
				for _, p := range checkConfig("homeassistant", topic, c) {
					t.Error(p)
				}
				uid, _ := c["unique_id"].(string)
				if other, dup := ids[uid]; dup {
					t.Errorf("unique_id %s on %s and %s", uid, topic, other)
				}
				ids[uid] = topic
			}
			for _, p := range checkStates(r.ha, configs) {
				t.Error(p)
			}
			classes := map[string]string{"front_door": "door", "living_window": "window", "hall_motion": "motion",
				"kitchen_smoke": "smoke", "bathroom_water": "moisture", "panic_button": "safety"}
			for dev, class := range classes {
				if c := configs["homeassistant/binary_sensor/vakt/"+dev+"_zone/config"]; c["device_class"] != class {
					t.Errorf("%s: device_class %v, want %s", dev, c["device_class"], class)
				}
			}
			panel := configs["homeassistant/alarm_control_panel/vakt/area_1/config"]
			dev := panel["device"].(map[string]any)
			if dev["manufacturer"] != "vakt" || dev["sw_version"] != "1.2.3-test" || dev["model"] == nil || dev["name"] != "Demo family" {
				t.Errorf("hub device block %v", dev)
			}
			if panel["name"] != "House" || panel["command_topic"] != "vakt/area/1/set" {
				t.Errorf("area 1 panel %v", panel)
			}
			if codeRequired {
				if panel["code"] != "REMOTE_CODE" || panel["code_arm_required"] != true || panel["code_disarm_required"] != true ||
					panel["command_template"] != `{"action":"{{ action }}","code":"{{ code }}"}` {
					t.Errorf("code settings %v", panel)
				}
			} else if _, has := panel["code"]; has || panel["code_arm_required"] != false || panel["code_disarm_required"] != false {
				t.Errorf("no-code settings %v", panel)
			}
			feats := panel["supported_features"].([]any)
			if len(feats) != 3 || !slices.Contains(feats, any("arm_night")) {
				t.Errorf("supported_features %v", feats)
			}
			// Sirens and keypads are devices but no zone: tamper only.
			if _, ok := configs["homeassistant/binary_sensor/vakt/hall_siren_zone/config"]; ok {
				t.Error("a siren announced as a zone")
			}
		})
	}
}

// TestBridge_AreaStateFlow: Home Assistant sees arming, the armed mode, the entry delay as
// pending and the alarm as triggered, in that order.
func TestBridge_AreaStateFlow(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.waitRetained("vakt/area/1", "disarmed")
	if res := r.do(hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.waitRetained("vakt/area/1", "arming")
	r.advance(61 * time.Second)
	r.waitRetained("vakt/area/1", "armed_away")
	r.mgr.Report(devices.Report{Driver: "sim", Address: "front_door", Signals: []devices.SignalValue{{Signal: hub.SignalContact, Active: true}}})
	r.waitRetained("vakt/area/1", "pending")
	r.waitRetained("vakt/device/front_door", `{"tamper":"OFF","zone":"ON"}`)
	r.advance(31 * time.Second)
	r.waitRetained("vakt/area/1", "triggered")
	got := r.ha.payloads("vakt/area/1")
	if want := []string{"disarmed", "arming", "armed_away", "pending", "triggered"}; !slices.Equal(got, want) {
		t.Fatalf("area 1 states %q, want %q", got, want)
	}
	hubtest.Eventually(t, "the attributes name anna and the alarm", func() bool {
		var attrs areaAttributes
		raw, _ := r.ha.retained("vakt/area/1/attributes")
		return json.Unmarshal([]byte(raw), &attrs) == nil && attrs.ChangedBy == "anna" && attrs.How == "web" && attrs.AlarmMemory > 0
	})
	if err := r.do(hub.Input{Kind: hub.InDisarm, Area: 1, Code: "1234", How: hub.HowWeb}).Err; err != nil {
		t.Fatal(err)
	}
	r.waitRetained("vakt/area/1", "disarmed")
}

// lastKind returns the newest event of kind.
func lastKind(evs []hub.Event, kind hub.EventKind) (hub.Event, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i], true
		}
	}
	return hub.Event{}, false
}

// TestBridge_CommandWithCode: Home Assistant arms with a right code, and the history says
// who and "home_assistant"; it disarms with it too.
func TestBridge_CommandWithCode(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_AWAY","code":"5678"}`)
	r.waitRetained("vakt/area/1", "arming")
	ev, ok := lastKind(r.events(), hub.KindExitDelay)
	if !ok || ev.User != "erik" || ev.How != hub.HowHomeAssistant || ev.Mode != hub.ModeArmedAway {
		t.Fatalf("exit delay event %+v", ev)
	}
	if !strings.Contains(ev.String(), "via home_assistant") {
		t.Fatalf("history line %q does not say Home Assistant", ev.String())
	}
	r.advance(61 * time.Second)
	r.waitRetained("vakt/area/1", "armed_away")
	if ev, ok := lastKind(r.events(), hub.KindArm); !ok || ev.How != hub.HowHomeAssistant || ev.User != "erik" {
		t.Fatalf("arm event %+v", ev)
	}
	r.ha.publish("vakt/area/1/set", false, `{"action":"DISARM","code":"5678"}`)
	r.waitRetained("vakt/area/1", "disarmed")
	if ev, ok := lastKind(r.events(), hub.KindDisarm); !ok || ev.How != hub.HowHomeAssistant || ev.User != "erik" {
		t.Fatalf("disarm event %+v", ev)
	}
	if s := r.b.Stats(); s.Accepted != 2 || s.Refused != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestBridge_WrongCodeCounted: a wrong code is refused and counted by the engine's
// wrong-code rules under the interface home_assistant: five lock it out, and then even the
// right code is refused until the lockout ends.
func TestBridge_WrongCodeCounted(t *testing.T) {
	r := newRig(t, DefaultConfig())
	for i := range 5 {
		r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_AWAY","code":"0000"}`)
		hubtest.Eventually(t, "the wrong code is refused", func() bool { return r.b.Stats().Refused == uint64(i+1) })
	}
	var wrong int
	for _, ev := range r.events() {
		if ev.Kind == hub.KindWrongCode {
			wrong++
			if ev.How != hub.HowHomeAssistant || ev.Note != Iface {
				t.Fatalf("wrong code event %+v", ev)
			}
		}
	}
	if wrong != 5 {
		t.Fatalf("%d wrong-code events, want 5", wrong)
	}
	if ev, ok := lastKind(r.events(), hub.KindWrongCodes); !ok || !strings.Contains(ev.Note, "home_assistant locked") {
		t.Fatalf("lockout event %+v", ev)
	}
	r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_AWAY","code":"1234"}`)
	hubtest.Eventually(t, "the right code is refused while locked out", func() bool { return r.b.Stats().Refused == 6 })
	if m := r.mode(1); m != hub.ModeDisarmed {
		t.Fatalf("mode %s after a locked-out command", m)
	}
	if !strings.Contains(r.logs.String(), "Home Assistant command refused") || strings.Contains(r.logs.String(), "0000") {
		t.Fatalf("log does not say refused, or shows the code:\n%s", r.logs)
	}
}

// TestBridge_DuressCode: a duress code from Home Assistant disarms and reports duress, as
// at a keypad.
func TestBridge_DuressCode(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_HOME","code":"1234"}`)
	r.waitRetained("vakt/area/1", "arming")
	r.ha.publish("vakt/area/1/set", false, `{"action":"DISARM","code":"9999"}`)
	r.waitRetained("vakt/area/1", "disarmed")
	ev, ok := lastKind(r.events(), hub.KindDuress)
	if !ok || ev.User != "anna" || ev.How != hub.HowHomeAssistant || !ev.Report {
		t.Fatalf("duress event %+v", ev)
	}
}
