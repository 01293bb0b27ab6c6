package homeassistant

import (
	"strings"
	"testing"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestBridge_BadCommandsIgnored: malformed, oversized, retained, unknown and misdirected
// commands are refused and logged, never reach the hub, and the bridge keeps working.
func TestBridge_BadCommandsIgnored(t *testing.T) {
	r := newRig(t, DefaultConfig())
	before := len(r.events())
	bad := []struct{ topic, payload string }{
		{"vakt/area/1/set", `{"action":"ARM_AWAY","code":`},                      // cut JSON
		{"vakt/area/1/set", `{"action":"ARM_AWAY","code":"1234","user":"anna"}`}, // unknown key
		{"vakt/area/1/set", `{"action":"ARM_AWAY","code":"1234"} {"action":"DISARM"}`},
		{"vakt/area/1/set", `{"action":"SELF_DESTRUCT","code":"1234"}`},
		{"vakt/area/1/set", `ARM_AWAY`}, // a bare action, but a code is required
		{"vakt/area/1/set", `{"action":"ARM_AWAY","code":"` + strings.Repeat("1", 5000) + `"}`},
		{"vakt/area/1/set", strings.Repeat("\xff", 100)},
		{"vakt/area/99/set", `{"action":"ARM_AWAY","code":"1234"}`},
		{"vakt/area/x/set", `{"action":"ARM_AWAY","code":"1234"}`},
		{"vakt/device/nothing_here/set", `ON`},
		{"vakt/device/front_door/set", `ON`}, // a sensor takes no commands
		{"vakt/device/coffee_plug/set", `EXPLODE`},
		{"vakt/device/front_lock/set", `ON`},
	}
	for _, c := range bad {
		r.ha.publish(c.topic, false, c.payload)
	}
	hubtest.Eventually(t, "every bad command refused", func() bool { return r.b.Stats().Refused == uint64(len(bad)) })
	// Home Assistant may not publish on vakt's state topics: the broker refuses it.
	if ok := r.ha.c.Publish("vakt/area/1", 1, true, "triggered"); ok.WaitTimeout(2e9) && ok.Error() == nil && r.ha.c.IsConnectionOpen() {
		if v, _ := r.ha.retained("vakt/area/1"); v == "triggered" {
			t.Fatal("Home Assistant's account wrote vakt's state")
		}
	}
	if got := r.events()[before:]; len(got) != 0 {
		t.Fatalf("bad commands reached the hub: %v", got)
	}
	if m := r.mode(1); m != hub.ModeDisarmed {
		t.Fatalf("mode %s", m)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "Home Assistant command refused") || !strings.Contains(logs, "malformed") {
		t.Fatalf("refusals not logged:\n%s", logs)
	}
	if strings.Contains(logs, strings.Repeat("1", 100)) {
		t.Fatal("a huge payload went to the log")
	}
}

// TestBridge_RetainedCommandIgnored: a command left retained on the broker (a Home
// Assistant misconfigured to retain) is done once, when sent (the broker delivers it live
// as not retained), and never again: a reconnecting bridge gets it flagged retained and
// ignores it.
func TestBridge_RetainedCommandIgnored(t *testing.T) {
	r := newRig(t, DefaultConfig())
	if err := r.do(hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowWeb}).Err; err != nil {
		t.Fatal(err)
	}
	r.waitRetained("vakt/area/1", "arming")
	r.ha.publish("vakt/area/1/set", true, `{"action":"DISARM","code":"1234"}`)
	hubtest.Eventually(t, "the live command is done", func() bool { return r.b.Stats().Accepted == 1 })
	r.waitRetained("vakt/area/1", "disarmed")
	if err := r.do(hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowWeb}).Err; err != nil {
		t.Fatal(err)
	}
	r.waitRetained("vakt/area/1", "arming")
	// A restarted bridge subscribes again and gets the retained DISARM: ignored.
	r.stopBridge()
	r.startBridge()
	hubtest.Eventually(t, "the replayed command is refused", func() bool { return r.b.Stats().Refused == 1 })
	if m := r.mode(1); m != hub.ModeArming {
		t.Fatalf("mode %s: the retained DISARM was done again", m)
	}
	if !strings.Contains(r.logs.String(), "retained command ignored") {
		t.Fatalf("not logged:\n%s", r.logs)
	}
}

// TestBridge_CommandFlood: a flood of commands is refused or dropped (counted), never
// queued without bound, and a command after it is done.
func TestBridge_CommandFlood(t *testing.T) {
	r := newRig(t, DefaultConfig())
	const n = 300
	for range n {
		r.ha.c.Publish("vakt/area/1/set", 0, false, `{"action":"DANCE"}`)
	}
	hubtest.Eventually(t, "every command refused or dropped", func() bool { s := r.b.Stats(); return s.Refused+s.Dropped == n })
	r.ha.publish("vakt/area/1/set", false, `{"action":"ARM_HOME","code":"1234"}`)
	r.waitRetained("vakt/area/1", "arming")
	if n := strings.Count(r.logs.String(), "Home Assistant command refused"); n > 2 {
		t.Fatalf("%d refusal lines for a flood, want them summed", n)
	}
}
