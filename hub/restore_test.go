package hub

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestHub_RestartClockBack restarts the hub on its bbolt file with the clock an hour behind
// the one it stopped at, as a Raspberry Pi without RTC does before NTP corrects it: a
// sounding siren stops after at most the bell cut-off, a pending report comes after at most
// its delay, a running exit delay and a lockout last at most their length.
func TestHub_RestartClockBack(t *testing.T) {
	t.Run("siren and mains report", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vakt.db")
		clock := &fakeClock{t: scenarioStart}
		h, stop := startHub(t, path, clock)
		for _, l := range []string{"arm away 1234", "mains off"} {
			if r := do(t, h, l); r.Err != nil {
				t.Fatalf("%s: %v", l, r.Err)
			}
		}
		clock.Add(61 * time.Second)
		if r := do(t, h, "open living_window"); r.Err != nil {
			t.Fatal(r.Err)
		}
		if a := h.Snapshot().State.Areas[0]; a.Siren != SirenBurglar {
			t.Fatalf("siren %s, want burglar", a.Siren)
		}
		stop()

		clock.Add(-time.Hour)
		h, stop = startHub(t, path, clock)
		defer stop()
		now := clock.Now()
		st := h.Snapshot().State
		if a := st.Areas[0]; a.Siren != SirenBurglar || a.SirenUntil.Sub(now) > DefaultBellCutoff {
			t.Fatalf("after restart an hour back: siren %s until +%s, want at most %s", a.Siren, a.SirenUntil.Sub(now), DefaultBellCutoff)
		}
		if d := st.Mains.ReportAt.Sub(now); d > DefaultMainsDelay {
			t.Fatalf("after restart an hour back: mains reported in %s, want at most %s", d, DefaultMainsDelay)
		}
		clock.Add(DefaultBellCutoff)
		if r := do(t, h, "close living_window"); r.Err != nil {
			t.Fatal(r.Err)
		}
		if a := h.Snapshot().State.Areas[0]; a.Siren != SirenOff || a.Mode != ModeArmedAway {
			t.Fatalf("bell cut-off after the restart: siren %s, mode %s; want off, armed_away", a.Siren, a.Mode)
		}
		clock.Add(DefaultMainsDelay)
		if r := do(t, h, "close living_window"); r.Err != nil {
			t.Fatal(r.Err)
		}
		if m := h.Snapshot().State.Mains; !m.Reported {
			t.Fatalf("mains not reported %s after the restart", DefaultMainsDelay+DefaultBellCutoff)
		}
	})
	t.Run("exit delay", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vakt.db")
		clock := &fakeClock{t: scenarioStart}
		h, stop := startHub(t, path, clock)
		if r := do(t, h, "arm away 1234"); r.Err != nil {
			t.Fatal(r.Err)
		}
		stop()
		clock.Add(-time.Hour)
		h, stop = startHub(t, path, clock)
		defer stop()
		clock.Add(DefaultExitDelay)
		if r := do(t, h, "close living_window"); r.Err != nil {
			t.Fatal(r.Err)
		}
		if a := h.Snapshot().State.Areas[0]; a.Mode != ModeArmedAway {
			t.Fatalf("exit delay after a restart an hour back: %s after %s, want armed_away", a.Mode, DefaultExitDelay)
		}
	})
	t.Run("the bounded state is stored", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vakt.db")
		clock := &fakeClock{t: scenarioStart}
		h, stop := startHub(t, path, clock)
		if r := do(t, h, "arm away 1234"); r.Err != nil {
			t.Fatal(r.Err)
		}
		stop()
		clock.Add(-time.Hour)
		h, stop = startHub(t, path, clock)
		if r := do(t, h, "close living_window"); r.Err != nil { // the start-up turn has run
			t.Fatal(r.Err)
		}
		stop()
		s := mustOpenStore(t, path, 0)
		defer s.Close()
		st, _, err := s.State()
		if err != nil {
			t.Fatal(err)
		}
		if d := st.Areas[0].ExitUntil.Sub(clock.Now()); d > DefaultExitDelay {
			t.Fatalf("stored exit delay ends in %s, want at most %s", d, DefaultExitDelay)
		}
	})
	t.Run("lockout", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vakt.db")
		clock := &fakeClock{t: scenarioStart}
		h, stop := startHub(t, path, clock)
		for range 5 {
			if r := do(t, h, "arm away 0000"); !errors.Is(r.Err, ErrWrongCode) {
				t.Fatalf("wrong code: %v", r.Err)
			}
		}
		if r := do(t, h, "arm away 1234"); !errors.Is(r.Err, ErrLockedOut) {
			t.Fatalf("after 5 wrong codes: %v, want locked out", r.Err)
		}
		stop()
		clock.Add(-time.Hour)
		h, stop = startHub(t, path, clock)
		defer stop()
		clock.Add(90 * time.Second)
		if r := do(t, h, "arm away 1234"); r.Err != nil {
			t.Fatalf("90 s after a restart an hour back: %v, want the lockout over", r.Err)
		}
	})
}

// TestEngine_ClockBackDoesNotExtendSiren: while running, a step whose time is before the last
// one (NTP corrected the clock backwards) never makes a siren, delay or report run longer
// than its configured length from that step on.
func TestEngine_ClockBackDoesNotExtendSiren(t *testing.T) {
	r := newEngineRig(t, nil)
	r.armNow("away by anna")
	r.must("open living_window")
	if r.area(1).Siren != SirenBurglar {
		t.Fatalf("siren %s, want burglar", r.area(1).Siren)
	}
	r.now = r.now.Add(-time.Hour)
	if _, err := r.step(Input{Kind: InTick}); err != nil {
		t.Fatal(err)
	}
	if a := r.area(1); a.SirenUntil.Sub(r.now) > DefaultBellCutoff {
		t.Fatalf("after the clock went back an hour: siren until +%s, want at most %s", a.SirenUntil.Sub(r.now), DefaultBellCutoff)
	}
	effs := r.advance(DefaultBellCutoff)
	if !hasSiren(effs, 1, SirenOff) || r.area(1).Siren != SirenOff {
		t.Fatalf("bell cut-off after the clock went back: %s", renderAll(effs))
	}
}

// TestEngine_Restore: every deadline of a stored state ends at most its configured length
// after the restart, and every start time is at most the restart; a state from a clock that
// ran forward is left as it is.
func TestEngine_Restore(t *testing.T) {
	now := scenarioStart
	later := now.Add(time.Hour) // the clock was an hour ahead when the state was stored
	tests := []struct {
		name string
		set  func(*State)
		get  func(*State) time.Time
		max  time.Duration // from now
	}{
		{"exit delay", func(s *State) { s.Areas[0].ExitUntil = later.Add(DefaultExitDelay) }, func(s *State) time.Time { return s.Areas[0].ExitUntil }, DefaultExitDelay},
		{"area exit delay", func(s *State) { s.Areas[1].ExitUntil = later.Add(30 * time.Second) }, func(s *State) time.Time { return s.Areas[1].ExitUntil }, 30 * time.Second},
		{"entry delay", func(s *State) { s.Areas[0].EntryUntil = later.Add(DefaultEntryDelay) }, func(s *State) time.Time { return s.Areas[0].EntryUntil }, DefaultEntryDelay},
		{"area entry delay", func(s *State) { s.Areas[1].EntryUntil = later.Add(20 * time.Second) }, func(s *State) time.Time { return s.Areas[1].EntryUntil }, 20 * time.Second},
		{"siren", func(s *State) {
			s.Areas[0].Siren, s.Areas[0].Mode, s.Areas[0].SirenUntil = SirenBurglar, ModeTriggered, later.Add(DefaultBellCutoff)
		}, func(s *State) time.Time { return s.Areas[0].SirenUntil }, DefaultBellCutoff},
		{"local warning", func(s *State) { s.Areas[0].ReportAt = later.Add(DefaultAbortWindow) }, func(s *State) time.Time { return s.Areas[0].ReportAt }, DefaultAbortWindow},
		{"last report", func(s *State) { s.Areas[0].ReportedAt = later }, func(s *State) time.Time { return s.Areas[0].ReportedAt }, 0},
		{"mains report", func(s *State) { s.Mains = Mains{Lost: true, Since: later, ReportAt: later.Add(DefaultMainsDelay)} }, func(s *State) time.Time { return s.Mains.ReportAt }, DefaultMainsDelay},
		{"mains lost", func(s *State) { s.Mains = Mains{Lost: true, Since: later, ReportAt: later.Add(DefaultMainsDelay)} }, func(s *State) time.Time { return s.Mains.Since }, 0},
		{"installer grant", func(s *State) { s.InstallerUntil = later.Add(MaxInstallerGrant) }, func(s *State) time.Time { return s.InstallerUntil }, MaxInstallerGrant},
		{"service mode", func(s *State) { s.Areas[0].ServiceUntil = later.Add(MaxServiceTime) }, func(s *State) time.Time { return s.Areas[0].ServiceUntil }, MaxServiceTime},
		{"walk test", func(s *State) { s.WalkUntil = later.Add(MaxWalkTest) }, func(s *State) time.Time { return s.WalkUntil }, MaxWalkTest},
		{"first lockout", func(s *State) {
			s.Lockouts = map[string]*Lockout{"keypad": {Level: 1, Until: later.Add(90 * time.Second)}}
		},
			func(s *State) time.Time { return s.Lockouts["keypad"].Until }, 90 * time.Second},
		{"third lockout", func(s *State) {
			s.Lockouts = map[string]*Lockout{"keypad": {Level: 3, Until: later.Add(6 * time.Minute)}}
		},
			func(s *State) time.Time { return s.Lockouts["keypad"].Until }, 6 * time.Minute},
		{"wrong code", func(s *State) { s.Lockouts = map[string]*Lockout{"keypad": {Wrong: []time.Time{later}}} },
			func(s *State) time.Time { return s.Lockouts["keypad"].Wrong[0] }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			eng := NewEngine(inst, State{})
			tc.set(eng.State())
			if !eng.Restore(now) {
				t.Fatal("Restore changed nothing")
			}
			if got := tc.get(eng.State()).Sub(now); got > tc.max {
				t.Fatalf("restored at +%s, want at most +%s", got, tc.max)
			}

			// Stored by a clock behind this one: nothing to bound.
			eng = NewEngine(inst, State{})
			tc.set(eng.State())
			before := eng.State().Clone()
			if eng.Restore(later.Add(time.Minute)) {
				t.Fatalf("Restore changed a state whose deadlines are within bounds: %+v", eng.State())
			}
			if got, want := tc.get(eng.State()), tc.get(&before); !got.Equal(want) {
				t.Fatalf("deadline moved from %s to %s", want, got)
			}
		})
	}
}

// TestEngine_ConfigureShortensRunningDeadlines: a bell cut-off shortened while the siren
// sounds ends it within the new length, at once rather than at the old deadline.
func TestEngine_ConfigureShortensRunningDeadlines(t *testing.T) {
	r := newEngineRig(t, func(in *Installation) { in.Settings.BellCutoff = NewDuration(MaxBellCutoff) })
	r.armNow("away by anna")
	r.must("open living_window")
	r.now = r.now.Add(time.Second)
	if _, err := r.eng.Configure(r.now, Input{User: "anna", How: HowWeb}, "bell cut-off 1m", func(inst *Installation) error {
		inst.Settings.BellCutoff = NewDuration(MinBellCutoff)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if next, _ := r.eng.NextDeadline(); next.Sub(r.now) > MinBellCutoff {
		t.Fatalf("after the bell cut-off became %s the siren sounds %s more", MinBellCutoff, next.Sub(r.now))
	}
}
