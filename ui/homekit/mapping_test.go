package homekit

import (
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestMapping_BothWays(t *testing.T) {
	for _, tc := range []struct {
		mode   hub.Mode
		target int
	}{
		{hub.ModeArmedHome, targetStay},
		{hub.ModeArmedAway, targetAway},
		{hub.ModeArmedNight, targetNight},
		{hub.ModeDisarmed, targetDisarm},
	} {
		if got := stateOf(tc.mode); got != tc.target {
			t.Errorf("stateOf(%s) = %d, want %d", tc.mode, got, tc.target)
		}
		if got, err := modeOf(tc.target); err != nil || got != tc.mode {
			t.Errorf("modeOf(%d) = %s %v, want %s", tc.target, got, err, tc.mode)
		}
	}
	for _, bad := range []int{-1, 4, 99} {
		if _, err := modeOf(bad); err == nil {
			t.Errorf("modeOf(%d): no error", bad)
		}
	}
}

func TestMapping_AreaStates(t *testing.T) {
	alarm := []hub.Alarm{{Zone: 1}}
	for _, tc := range []struct {
		name            string
		area            hub.AreaState
		current, target int
	}{
		{"disarmed", hub.AreaState{Mode: hub.ModeDisarmed, Set: hub.ModeDisarmed}, stateDisarmed, targetDisarm},
		{"exit delay: arming, not armed yet", hub.AreaState{Mode: hub.ModeArming, Set: hub.ModeArmedAway}, stateDisarmed, targetAway},
		{"armed night", hub.AreaState{Mode: hub.ModeArmedNight, Set: hub.ModeArmedNight}, stateNight, targetNight},
		{"entry delay: still armed", hub.AreaState{Mode: hub.ModePending, Set: hub.ModeArmedHome}, stateStay, targetStay},
		{"alarm sounding", hub.AreaState{Mode: hub.ModeTriggered, Set: hub.ModeArmedAway, Siren: hub.SirenBurglar}, stateTriggered, targetAway},
		{"disarmed, alarm unacknowledged", hub.AreaState{Mode: hub.ModeDisarmed, Set: hub.ModeDisarmed, Memory: alarm}, stateTriggered, targetDisarm},
		{"acknowledged", hub.AreaState{Mode: hub.ModeDisarmed, Set: hub.ModeDisarmed}, stateDisarmed, targetDisarm},
		{"fire while disarmed", hub.AreaState{Mode: hub.ModeDisarmed, Set: hub.ModeDisarmed, FireMemory: alarm}, stateTriggered, targetDisarm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if cur, tgt := areaStates(&tc.area); cur != tc.current || tgt != tc.target {
				t.Fatalf("areaStates = %d %d, want %d %d", cur, tgt, tc.current, tc.target)
			}
		})
	}
}

// TestBridge_SwitchArmedModes: with homekit.allow_disarm, HomeKit switches an armed area to
// another armed mode (through an exit delay, shown as Disarm → the new mode); without it,
// or when the area is not ready for the new mode, or in an entry delay, the switch is
// vetoed and the area stays armed as it was.
func TestBridge_SwitchArmedModes(t *testing.T) {
	armedHome := func(t *testing.T, cfg Config) *rig {
		r := newRig(t, cfg)
		if code := r.write(1, targetStay); code != 0 {
			t.Fatalf("arm home: status %d", code)
		}
		r.advance(61 * time.Second)
		r.want(1, stateStay, targetStay)
		return r
	}
	t.Run("allowed", func(t *testing.T) {
		r := armedHome(t, Config{AllowDisarm: true})
		if code := r.write(1, targetAway); code != 0 {
			t.Fatalf("switch to away: status %d", code)
		}
		r.want(1, stateDisarmed, targetAway)
		r.advance(61 * time.Second)
		r.want(1, stateAway, targetAway)
		if code := r.write(1, targetNight); code != 0 {
			t.Fatalf("switch to night: status %d", code)
		}
		r.advance(61 * time.Second)
		r.want(1, stateNight, targetNight)
		if a := r.h.Snapshot().State.Areas[0]; a.Set != hub.ModeArmedNight || a.How != hub.HowHomeKit || a.User != "anna" {
			t.Fatalf("area %+v, want armed night by anna through HomeKit", a)
		}
	})
	t.Run("disarm not allowed", func(t *testing.T) {
		r := armedHome(t, Config{})
		if code := r.write(1, targetAway); code != -70402 {
			t.Fatalf("switch with allow_disarm off: status %d, want -70402", code)
		}
		r.want(1, stateStay, targetStay)
		if m := r.mode(1); m != hub.ModeArmedHome {
			t.Fatalf("mode %s, want armed_home", m)
		}
	})
	t.Run("not ready for away", func(t *testing.T) {
		r := armedHome(t, Config{AllowDisarm: true})
		r.report("living_motion", hub.SignalMotion, true) // someone home: fine in home, not in away
		before := len(r.events(hub.KindDisarm))
		if code := r.write(1, targetAway); code != -70402 {
			t.Fatalf("switch to away with motion inside: status %d, want -70402", code)
		}
		r.want(1, stateStay, targetStay)
		if m := r.mode(1); m != hub.ModeArmedHome || len(r.events(hub.KindDisarm)) != before {
			t.Fatalf("mode %s, disarmings %d: the refused switch disarmed", m, len(r.events(hub.KindDisarm))-before)
		}
	})
	t.Run("entry delay", func(t *testing.T) {
		r := armedHome(t, Config{AllowDisarm: true})
		r.report("front_door", hub.SignalContact, true)
		hubtest.Eventually(t, "the entry delay runs", func() bool { return r.mode(1) == hub.ModePending })
		if code := r.write(1, targetNight); code != -70402 {
			t.Fatalf("switch in the entry delay: status %d, want -70402", code)
		}
		if m := r.mode(1); m != hub.ModePending {
			t.Fatalf("mode %s, want pending", m)
		}
	})
}

// TestBridge_RestartDuringExitDelay: after a restart in the exit delay the Home app sees
// what it saw before (current Disarm, target the mode asked for, "Arming"), then armed.
func TestBridge_RestartDuringExitDelay(t *testing.T) {
	r := newRig(t, Config{})
	if code := r.write(1, targetNight); code != 0 {
		t.Fatalf("arm night: status %d", code)
	}
	r.want(1, stateDisarmed, targetNight)
	r.restart()
	r.want(1, stateDisarmed, targetNight)
	r.advance(61 * time.Second)
	r.want(1, stateNight, targetNight)
	// and a restart once armed shows armed at once, never a new Security System's Stay
	r.restart()
	r.want(1, stateNight, targetNight)
}

// events returns the history's events of kind k.
func (r *rig) events(k hub.EventKind) []hub.Event {
	r.t.Helper()
	evs, err := r.h.Store().Events(0, 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []hub.Event
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}
