package homeassistant

import (
	"strings"
	"testing"

	"vakt/hub/hubtest"
)

// TestSlug: device ids become safe topic levels and object ids, and different ids never
// share one.
func TestSlug(t *testing.T) {
	ids := []string{"front_door", "0x00158d0001a2b3c4", "a/b", "a+b", "a#b", "a b", "a_b", "#", "+", "/", "",
		"dörr", "$SYS", "a/b/../c", strings.Repeat("x", 65), strings.Repeat("x", 66), "x\x00y"}
	seen := map[string]string{}
	for _, id := range ids {
		s := slug(id)
		if !safeID.MatchString(s) || len(s) > 64 {
			t.Errorf("slug(%q) = %q: not safe", id, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("slug(%q) = slug(%q) = %q", id, other, s)
		}
		seen[s] = id
	}
	if slug("front_door") != "front_door" {
		t.Error("a safe id changed")
	}
}

// TestBridge_HomeAssistantBirth: when Home Assistant starts (online on <prefix>/status),
// vakt announces everything again, even what the broker lost.
func TestBridge_HomeAssistantBirth(t *testing.T) {
	r := newRig(t, DefaultConfig())
	topic := "homeassistant/alarm_control_panel/vakt/area_1/config"
	hubtest.Eventually(t, "area 1 announced", func() bool { _, ok := r.ha.retained(topic); return ok })
	r.ha.publish(topic, true, "") // lost
	r.waitGone(topic)
	r.ha.publish("homeassistant/status", false, "online")
	hubtest.Eventually(t, "area 1 announced again", func() bool { _, ok := r.ha.retained(topic); return ok })
}

// TestBridge_BirthFlood: an account saying online over and over gets everything again at
// most once per resendGap, not once per message.
func TestBridge_BirthFlood(t *testing.T) {
	r := newRig(t, DefaultConfig())
	topic := "homeassistant/alarm_control_panel/vakt/area_1/config"
	hubtest.Eventually(t, "area 1 announced", func() bool { _, ok := r.ha.retained(topic); return ok })
	for range 50 {
		r.ha.publish("homeassistant/status", false, "online")
	}
	hubtest.Eventually(t, "announced again", func() bool { return len(r.ha.payloads(topic)) >= 2 })
	// The burst took far less than resendGap: one resend now, at most one more after it.
	if n := len(r.ha.payloads(topic)); n > 3 {
		t.Fatalf("area 1 announced %d times for 50 birth messages", n)
	}
}
