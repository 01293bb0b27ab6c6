package hub

import (
	"testing"
	"time"
)

// TestEngine_ReportOlderThanArming: an intrusion report the device sent before the area was
// armed (a retained message read again after a restart, a delivery held up on the way)
// updates the zone but never starts an entry delay or an alarm; fire still alarms, and a
// report with no time of its own is taken as new.
func TestEngine_ReportOlderThanArming(t *testing.T) {
	for _, tc := range []struct {
		name       string
		device     string
		signal     Signal
		sentAgo    time.Duration // before the report; 0: no time from the device
		duringExit bool
		want       EventKind // the event the report must raise; 0: none
	}{
		{name: "window opened before arming", device: "living_window", signal: SignalContact, sentAgo: 5 * time.Minute},
		{name: "front door opened before arming", device: "front_door", signal: SignalContact, sentAgo: 5 * time.Minute},
		{name: "motion before arming, during the exit delay", device: "living_motion", signal: SignalMotion, sentAgo: 2 * time.Minute, duringExit: true},
		// A device clock that lags vakt's by less than MaxClockSkew is not taken for staleness:
		// this report was stamped 10 s before the arming, 50 s ago.
		{name: "a device clock 50 s behind is not stale", device: "living_motion", signal: SignalMotion, sentAgo: 50 * time.Second, duringExit: true, want: KindArmingCancelled},
		{name: "window opened after arming", device: "living_window", signal: SignalContact, sentAgo: time.Second, want: KindBurglary},
		{name: "front door opened after arming", device: "front_door", signal: SignalContact, sentAgo: time.Second, want: KindEntryDelay},
		{name: "window with no time of its own", device: "living_window", signal: SignalContact, want: KindBurglary},
		{name: "smoke sent before arming still alarms", device: "kitchen_smoke", signal: SignalSmoke, sentAgo: 5 * time.Minute, want: KindFire},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			if tc.duringExit {
				r.must("arm away by anna")
				r.advance(40 * time.Second)
			} else {
				r.armNow("away")
				r.advance(time.Minute) // armed a while ago
			}
			in := Input{Kind: InReport, Device: tc.device, Signal: tc.signal, Active: true}
			if tc.sentAgo > 0 {
				in.At = r.now.Add(-tc.sentAgo)
			}
			effs, err := r.step(in)
			if err != nil {
				t.Fatal(err)
			}
			if !r.eng.State().Zones[indexOf(r.inst, "zone", tc.device)].Active {
				t.Error("the zone's state was not updated")
			}
			for _, k := range []EventKind{KindBurglary, KindEntryDelay, KindFire, KindArmingCancelled} {
				if n := len(eventsOf(effs, k)); (k == tc.want) != (n > 0) {
					t.Errorf("%d %s events; effects:\n%s", n, k, renderAll(effs))
				}
			}
			if tc.want == 0 {
				if len(sirensOf(effs)) > 0 {
					t.Errorf("sirens for a stale report:\n%s", renderAll(effs))
				}
				want := ModeArmedAway
				if tc.duringExit {
					want = ModeArming
				}
				if m := r.area(1).Mode; m != want {
					t.Errorf("area 1 %s, want %s", m, want)
				}
			}
		})
	}
}
