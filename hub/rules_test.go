package hub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The tests in this file each hold one rule that a review of the engine found broken; each
// failed before its fix.

// TestEngine_WalkTestEndsOnArming: no area is ever armed while activations are only listed.
func TestEngine_WalkTestEndsOnArming(t *testing.T) {
	r := newEngineRig(t, nil)
	r.must("walktest on 1234")
	effs := r.must("arm away 1234")
	ends := eventsOf(effs, KindWalkTest)
	if len(ends) != 1 || !ends[0].Restore {
		t.Fatalf("arming did not end the walk test:\n%s", renderAll(effs))
	}
	r.advance(DefaultExitDelay)
	effs = r.must("open living_window")
	if len(eventsOf(effs, KindBurglary)) != 1 || !hasSiren(effs, 1, SirenBurglar) {
		t.Fatalf("armed house deaf after a walk test:\n%s", renderAll(effs))
	}
	if _, ok := r.eng.NextDeadline(); !ok {
		t.Fatal("no deadline left")
	}
}

// TestEngine_ServiceModeOnlyDisarmed: service mode starts only in a disarmed area, and
// arming ends it; tamper in an armed area is always an alarm.
func TestEngine_ServiceModeOnlyDisarmed(t *testing.T) {
	t.Run("refused while armed", func(t *testing.T) {
		r := newEngineRig(t, nil)
		r.armNow("away")
		_, err := r.try("service on 1234")
		if !errors.Is(err, ErrServiceArmed) || !strings.Contains(err.Error(), "House") {
			t.Fatalf("service mode in an armed area: %v", err)
		}
		effs := r.must("tamper bedroom_window")
		if len(eventsOf(effs, KindTamper)) != 1 || !hasSiren(effs, 1, SirenBurglar) {
			t.Fatalf("tamper in an armed area is not an alarm:\n%s", renderAll(effs))
		}
	})
	t.Run("refused during the exit delay", func(t *testing.T) {
		r := newEngineRig(t, nil)
		r.must("arm away 1234")
		if _, err := r.try("service on 1234"); !errors.Is(err, ErrServiceArmed) {
			t.Fatalf("service mode during the exit delay: %v", err)
		}
	})
	t.Run("arming ends it for that area", func(t *testing.T) {
		r := newEngineRig(t, nil)
		r.must("service on 1234")
		r.must("service on area 2 1234")
		effs := r.must("arm away 1234")
		ends := eventsOf(effs, KindServiceMode)
		if len(ends) != 1 || !ends[0].Restore || ends[0].Area != 1 || !ends[0].Report {
			t.Fatalf("arming did not end service mode in area 1:\n%s", renderAll(effs))
		}
		r.advance(DefaultExitDelay)
		effs = r.must("tamper bedroom_window")
		if len(eventsOf(effs, KindTamper)) != 1 || !hasSiren(effs, 1, SirenBurglar) {
			t.Fatalf("tamper after arming out of service mode:\n%s", renderAll(effs))
		}
		// The garage stays in service mode: its tamper is history only.
		effs = r.must("tamper garage_door")
		if tm := eventsOf(effs, KindTamper); len(tm) != 1 || tm[0].Report {
			t.Fatalf("garage tamper in service mode:\n%s", renderAll(effs))
		}
	})
	t.Run("the lid in an armed area", func(t *testing.T) {
		r := newEngineRig(t, nil)
		r.must("service on area 2 1234")
		r.armNow("away")
		effs := r.must("lid open")
		if !hasSiren(effs, 1, SirenBurglar) {
			t.Fatalf("lid tamper with area 1 armed:\n%s", renderAll(effs))
		}
	})
}

// TestEngine_BypassKeepsTamper: a bypass inhibits the zone's intrusion signal only.
func TestEngine_BypassKeepsTamper(t *testing.T) {
	r := newEngineRig(t, nil)
	r.must("open living_window")
	r.must("bypass living_window 1234")
	r.armNow("away")
	if effs := r.must("open living_window"); len(effs) != 0 {
		t.Fatalf("bypassed zone alarmed:\n%s", renderAll(effs))
	}
	effs := r.must("tamper living_window")
	if len(eventsOf(effs, KindTamper)) != 1 || !hasSiren(effs, 1, SirenBurglar) {
		t.Fatalf("tamper of a bypassed zone's device is not an alarm:\n%s", renderAll(effs))
	}
	effs = r.must("battery_low living_window")
	if len(eventsOf(effs, KindDeviceBatteryLow)) != 1 {
		t.Fatalf("low battery of a bypassed device:\n%s", renderAll(effs))
	}

	// Readiness: a bypassed zone's device that is missing or has a fault still blocks.
	r = newEngineRig(t, nil)
	r.must("open living_window")
	r.must("bypass living_window 1234")
	r.must("missing living_window")
	_, err := r.try("arm away 1234")
	var refused *ArmRefusedError
	if !errors.As(err, &refused) || len(refused.Reasons) != 1 || refused.Reasons[0].Kind != "missing_device" {
		t.Fatalf("arm with a bypassed but missing device: %v", err)
	}
}

// TestEngine_CancelOnlySamePeriod: a cancel (406) goes only for a reported burglary or
// tamper alarm of the armed period being disarmed, within the window, never with duress.
func TestEngine_CancelOnlySamePeriod(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string // after arming away and the exit delay; "advance D" moves the clock
		disarm string
		cancel bool
	}{
		{"burglary", []string{"open living_window"}, "disarm 1234", true},
		{"tamper", []string{"tamper living_window"}, "disarm 1234", true},
		{"fire", []string{"smoke kitchen_smoke"}, "disarm 1234", false},
		{"panic", []string{"panic panic_button"}, "disarm 1234", false},
		{"water", []string{"water bathroom_water"}, "disarm 1234", false},
		{"duress", []string{"open living_window"}, "disarm 9999", false},
		{"earlier armed period", []string{"open living_window", "disarm 1234", "close living_window", "arm away 1234", "advance 60s"}, "disarm 1234", false},
		{"after a silence while disarmed", []string{"disarm 1234", "smoke kitchen_smoke", "disarm 1234", "arm away 1234", "advance 60s"}, "disarm 1234", false},
		{"fire, then burglary", []string{"smoke kitchen_smoke", "open living_window"}, "disarm 1234", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			r.armNow("away")
			for _, l := range tc.lines {
				if d, ok := strings.CutPrefix(l, "advance "); ok {
					dd, _ := time.ParseDuration(d)
					r.advance(dd)
					continue
				}
				r.must(l)
			}
			effs := r.must(tc.disarm)
			if got := len(eventsOf(effs, KindCancel)) == 1; got != tc.cancel {
				t.Fatalf("cancel %v, got\n%s", tc.cancel, renderAll(effs))
			}
		})
	}
}

// TestEngine_CancelAfterInstantDuringLocalWarning: an instant zone reported during the
// entry route's local warning, then a disarm: the station gets the cancel, and the history
// does not claim that nothing was reported.
func TestEngine_CancelAfterInstantDuringLocalWarning(t *testing.T) {
	r := newEngineRig(t, nil)
	r.armNow("away")
	r.must("open front_door")
	r.advance(DefaultEntryDelay) // the entry delay ends: local warning
	effs := r.must("open living_window")
	if b := eventsOf(effs, KindBurglary); len(b) != 1 || !b[0].Report {
		t.Fatalf("instant zone during the local warning not reported:\n%s", renderAll(effs))
	}
	effs = r.must("disarm 1234")
	if c := eventsOf(effs, KindCancel); len(c) != 1 || !c[0].Report {
		t.Fatalf("no cancel after a reported alarm:\n%s", renderAll(effs))
	}
	for _, ev := range eventsOf(effs, KindAlarmAborted) {
		if strings.Contains(ev.Note, "disarmed during the local warning: not reported") {
			t.Fatalf("history claims nothing was reported: %s", ev.Note)
		}
	}
}

// TestEngine_DuressEverywhere: a duress code works wherever a code does; the command does
// what it asks and a silent duress (121) goes out first.
func TestEngine_DuressEverywhere(t *testing.T) {
	tests := []struct {
		name    string
		setup   []string
		cmd     string
		wantErr error
	}{
		{"arm", nil, "arm away 9999", nil},
		{"disarm", []string{"arm away 1234"}, "disarm 9999", nil},
		{"disarm, already disarmed", nil, "disarm 9999", ErrAlreadyDisarmed},
		{"arm, already armed", []string{"arm away 1234"}, "arm away 9999", ErrAlreadyArmed},
		{"bypass", nil, "bypass living_window 9999", nil},
		{"acknowledge", []string{"smoke kitchen_smoke", "disarm 1234", "smoke kitchen_smoke off"}, "ack 9999", nil},
		{"acknowledge, nothing", nil, "ack 9999", ErrNothingToAck},
		{"grant", nil, "grant installer 9999", nil},
		{"test", nil, "test 9999", nil},
		{"service", nil, "service on 9999", nil},
		{"walk test", nil, "walktest on 9999", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			for _, l := range tc.setup {
				r.must(l)
			}
			effs, err := r.try(tc.cmd)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if len(effs) == 0 || effs[0].Kind != EffectEvent || effs[0].Event.Kind != KindDuress {
				t.Fatalf("duress does not go out first:\n%s", renderAll(effs))
			}
			d := effs[0].Event
			if !d.Report || d.ContactID != 121 || d.User != "anna" {
				t.Fatalf("duress event %+v", d)
			}
			if len(eventsOf(effs, KindDuress)) != 1 {
				t.Fatalf("duress twice:\n%s", renderAll(effs))
			}
			if tc.wantErr == nil && len(effs) < 2 {
				t.Fatalf("the command did nothing:\n%s", renderAll(effs))
			}
		})
	}
}

// TestEngine_MainsDoesNotPreventArming: on battery "you can use the alarm as usual".
func TestEngine_MainsDoesNotPreventArming(t *testing.T) {
	r := newEngineRig(t, nil)
	r.must("mains off")
	effs := r.must("arm away 1234")
	ex := eventsOf(effs, KindExitDelay)
	if len(ex) != 1 || !strings.Contains(ex[0].Note, "armed with: mains lost") {
		t.Fatalf("arming on battery:\n%s", renderAll(effs))
	}
	r.advance(DefaultExitDelay)
	if a := r.area(1); a.Mode != ModeArmedAway {
		t.Fatalf("area is %s", a.Mode)
	}

	// The setting makes mains prevent arming again; the other grade 2 reasons still do.
	r = newEngineRig(t, func(in *Installation) { in.Settings.PreventArmingOn = []string{"mains", "tamper"} })
	r.must("mains off")
	if _, err := r.try("arm away 1234"); err == nil || !strings.Contains(err.Error(), "mains") {
		t.Fatalf("arm with mains in prevent_arming_on: %v", err)
	}
	r = newEngineRig(t, nil)
	r.must("lid open")
	if _, err := r.try("arm away 1234"); err == nil {
		t.Fatal("armed with the lid open")
	}

	inst := DemoInstallation(testKey)
	inst.Settings.PreventArmingOn = []string{"mains", "bogus"}
	if err := inst.Validate(); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown prevent_arming_on reason: %v", err)
	}
}

// TestEngine_ArmingCancelledSaysNotArmed: a cancelled exit delay is never silent.
func TestEngine_ArmingCancelledSaysNotArmed(t *testing.T) {
	r := newEngineRig(t, nil)
	r.must("arm away 1234")
	effs := r.must("motion living_motion")
	c := eventsOf(effs, KindArmingCancelled)
	if len(c) != 1 || !strings.Contains(c[0].Note, "NOT ARMED: Living room motion") {
		t.Fatalf("arming cancelled:\n%s", renderAll(effs))
	}
	if a := r.area(1); a.NotArmed != "Living room motion" {
		t.Fatalf("the area does not say why it is not armed: %+v", a)
	}
	r.must("motion living_motion off")
	r.must("arm away 1234")
	if a := r.area(1); a.NotArmed != "" {
		t.Fatalf("NOT ARMED kept after arming again: %q", a.NotArmed)
	}
}

// TestEngine_NamesNotNumbers: events, errors and refusal reasons carry names; a user number
// is never printed as a zone.
func TestEngine_NamesNotNumbers(t *testing.T) {
	r := newEngineRig(t, nil)
	r.must("open living_window")
	_, err := r.try("arm away 1234")
	if err == nil || !strings.Contains(err.Error(), "Living room window") || strings.Contains(err.Error(), "zone 3") {
		t.Fatalf("refusal without the zone's name: %v", err)
	}
	if !strings.Contains(err.Error(), "House") {
		t.Fatalf("refusal without the area's name: %v", err)
	}
	r.must("close living_window")
	effs := r.must("arm away 1234")
	ex := eventsOf(effs, KindExitDelay)[0]
	if ex.Zone != 0 || ex.UserNumber != 1 || strings.Contains(ex.String(), "zone") || !strings.Contains(ex.String(), "anna") {
		t.Fatalf("user event: %+v\n%s", ex, ex)
	}
	r.advance(DefaultExitDelay)
	effs = r.must("open living_window")
	b := eventsOf(effs, KindBurglary)[0]
	if b.ZoneName != "Living room window" || !strings.Contains(b.String(), "Living room window") {
		t.Fatalf("alarm event without the zone's name: %+v\n%s", b, b)
	}
	effs = r.must("battery_low hall_siren")
	lb := eventsOf(effs, KindDeviceBatteryLow)[0]
	if lb.DeviceName != "Hall siren" || !strings.Contains(lb.String(), "Hall siren") {
		t.Fatalf("device event without the device's name: %+v\n%s", lb, lb)
	}
}
