package hub

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// setJSON edits settings or an area as an import would: only the fields in js change.
func setJSON(tb testing.TB, v any, js string) {
	tb.Helper()
	if err := json.Unmarshal([]byte(js), v); err != nil {
		tb.Fatalf("%s: %v", js, err)
	}
}

// TestEngine_ZeroDelays: a delay configured as 0 is honoured, never replaced by the default.
func TestEngine_ZeroDelays(t *testing.T) {
	t.Run("mains report delay 0 reports at once", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"mains_report_delay":"0s"}`) })
		effs, err := r.step(Input{Kind: InMains, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		evs := eventsOf(effs, KindMainsLost)
		if len(evs) != 1 || !evs[0].Report {
			t.Fatalf("mains lost with a 0 delay: %s, want one reported event", renderAll(effs))
		}
		if effs := r.advance(time.Hour); len(eventsOf(effs, KindMainsLost)) != 0 {
			t.Fatalf("reported twice: %s", renderAll(effs))
		}
	})
	t.Run("abort window 0 reports the entry route at once", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"abort_window":"0s"}`) })
		r.armNow("away by anna")
		r.must("open front_door")
		effs := r.advance(DefaultEntryDelay)
		evs := eventsOf(effs, KindBurglary)
		if len(evs) != 1 || !evs[0].Report {
			t.Fatalf("entry delay ran out with a 0 abort window: %s, want one reported burglary", renderAll(effs))
		}
		if a := r.area(1); !a.ReportAt.IsZero() {
			t.Fatalf("report still pending at +%s", a.ReportAt.Sub(r.now))
		}
		if effs := r.must("disarm by anna"); len(eventsOf(effs, KindAlarmAborted)) != 0 || len(eventsOf(effs, KindCancel)) != 1 {
			t.Fatalf("disarm after the report: %s, want a cancel", renderAll(effs))
		}
	})
	t.Run("cancel window 0 sends no cancel", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"cancel_window":"0s"}`) })
		r.armNow("away by anna")
		if effs := r.must("open living_window"); len(eventsOf(effs, KindBurglary)) != 1 {
			t.Fatalf("instant zone: %s", renderAll(effs))
		}
		r.advance(time.Second)
		if effs := r.must("disarm by anna"); len(eventsOf(effs, KindCancel)) != 0 {
			t.Fatalf("disarm with a 0 cancel window: %s, want no cancel", renderAll(effs))
		}
	})
	t.Run("cancel window 0 sends no cancel at the same instant", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"cancel_window":"0s"}`) })
		r.armNow("away by anna")
		r.must("open living_window")
		if effs := r.must("disarm by anna"); len(eventsOf(effs, KindCancel)) != 0 {
			t.Fatalf("disarm with a 0 cancel window: %s, want no cancel", renderAll(effs))
		}
	})
	t.Run("exit delay 0 arms at once", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"exit_delay":"0s"}`) })
		effs := r.must("arm away by anna")
		if len(eventsOf(effs, KindArm)) != 1 || r.area(1).Mode != ModeArmedAway {
			t.Fatalf("arm with a 0 exit delay: %s, mode %s", renderAll(effs), r.area(1).Mode)
		}
	})
	t.Run("area exit delay 0 wins over the setting", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Areas[1], `{"exit_delay":"0s"}`) })
		effs := r.must("arm away area 2 by anna")
		if len(eventsOf(effs, KindArm)) != 1 || r.area(2).Mode != ModeArmedAway {
			t.Fatalf("arm with a 0 area exit delay: %s, mode %s", renderAll(effs), r.area(2).Mode)
		}
	})
	t.Run("entry delay 0 alarms at once", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Settings, `{"entry_delay":"0s"}`) })
		r.armNow("away by anna")
		effs := r.must("open front_door")
		if len(eventsOf(effs, KindBurglary)) != 1 || !hasSiren(effs, 1, SirenBurglar) {
			t.Fatalf("door with a 0 entry delay: %s, want an alarm at once", renderAll(effs))
		}
	})
	t.Run("area entry delay 0 wins over the setting", func(t *testing.T) {
		r := newEngineRig(t, func(in *Installation) { setJSON(t, &in.Areas[1], `{"entry_delay":"0s"}`) })
		r.must("arm away area 2 by anna")
		r.advance(time.Minute)
		effs := r.must("open garage_door")
		if len(eventsOf(effs, KindBurglary)) != 1 {
			t.Fatalf("garage door with a 0 entry delay: %s, want an alarm at once", renderAll(effs))
		}
	})
	t.Run("unset takes the defaults", func(t *testing.T) {
		r := newEngineRig(t, nil)
		effs, _ := r.step(Input{Kind: InMains, Active: true})
		if evs := eventsOf(effs, KindMainsLost); len(evs) != 1 || evs[0].Report {
			t.Fatalf("mains lost: %s, want reported later", renderAll(effs))
		}
		if got := r.eng.State().Mains.ReportAt.Sub(r.now); got != DefaultMainsDelay {
			t.Fatalf("mains report in %s, want %s", got, DefaultMainsDelay)
		}
		r = newEngineRig(t, nil)
		r.must("arm away by anna")
		if got := r.area(1).ExitUntil.Sub(r.now); got != DefaultExitDelay {
			t.Fatalf("exit delay %s, want %s", got, DefaultExitDelay)
		}
	})
}

// TestInstallation_ZeroBellCutoff: the bell cut-off is 1–15 min, so a configured 0 is an
// error naming the field, not the default.
func TestInstallation_ZeroBellCutoff(t *testing.T) {
	for _, tc := range []struct{ name, js, want string }{
		{"settings", `{"settings":{"bell_cutoff":"0s"}}`, "settings.bell_cutoff"},
		{"area", `{"areas":[{"number":1,"bell_cutoff":"0s"},{"number":2}]}`, "areas[0].bell_cutoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			setJSON(t, inst, tc.js)
			if err := inst.Validate(); !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
