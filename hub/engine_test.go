package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// engineRig drives one engine over the demo installation at a clock the test moves.
type engineRig struct {
	tb   testing.TB
	inst *Installation
	eng  *Engine
	now  time.Time
}

// newEngineRig returns a rig at scenarioStart (a Tuesday, 18:00). edit, if not nil, changes
// the demo installation before the engine starts; the result must still validate.
func newEngineRig(tb testing.TB, edit func(*Installation)) *engineRig {
	tb.Helper()
	inst := DemoInstallation(testKey)
	if edit != nil {
		edit(inst)
	}
	if err := inst.Validate(); err != nil {
		tb.Fatalf("edited demo installation: %v", err)
	}
	return &engineRig{tb: tb, inst: inst, eng: NewEngine(inst, State{}), now: scenarioStart}
}

// step applies in at the rig's time and returns a copy of the effects.
func (r *engineRig) step(in Input) ([]Effect, error) {
	effs, err := r.eng.Step(r.now, in)
	return slices.Clone(effs), err
}

// try parses a script line and applies it.
func (r *engineRig) try(line string) ([]Effect, error) {
	r.tb.Helper()
	in, err := ParseLine(r.inst, line)
	if err != nil {
		r.tb.Fatalf("parse %q: %v", line, err)
	}
	return r.step(in)
}

// must applies a script line that has to succeed.
func (r *engineRig) must(line string) []Effect {
	r.tb.Helper()
	effs, err := r.try(line)
	if err != nil {
		r.tb.Fatalf("%s at +%s: %v", line, r.now.Sub(scenarioStart), err)
	}
	return effs
}

// advance moves the clock by d as the run loop does: it ticks at every deadline on the way
// and at the end, and returns the effects of all those ticks.
func (r *engineRig) advance(d time.Duration) []Effect {
	r.tb.Helper()
	end := r.now.Add(d)
	var all []Effect
	for {
		next, ok := r.eng.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		r.now = next
		effs, err := r.step(Input{Kind: InTick})
		if err != nil {
			r.tb.Fatalf("tick: %v", err)
		}
		all = append(all, effs...)
	}
	r.now = end
	effs, err := r.step(Input{Kind: InTick})
	if err != nil {
		r.tb.Fatalf("tick: %v", err)
	}
	return append(all, effs...)
}

// armNow arms area 1 in mode m by anna and runs the exit delay out.
func (r *engineRig) armNow(mode string) {
	r.tb.Helper()
	r.must("arm " + mode + " by anna")
	if d, ok := r.eng.NextDeadline(); ok && !r.eng.State().Areas[0].ExitUntil.IsZero() {
		r.advance(d.Sub(r.now))
	}
	if a := r.area(1); !a.Mode.Armed() {
		r.tb.Fatalf("area 1 is %s after arming %s", a.Mode, mode)
	}
}

func (r *engineRig) area(n int) AreaState {
	r.tb.Helper()
	for _, a := range r.eng.State().Areas {
		if a.Number == n {
			return a
		}
	}
	r.tb.Fatalf("no area %d", n)
	return AreaState{}
}

func (r *engineRig) stateJSON() string {
	r.tb.Helper()
	b, err := json.Marshal(r.eng.State())
	if err != nil {
		r.tb.Fatal(err)
	}
	return string(b)
}

func eventsOf(effs []Effect, kind EventKind) []Event {
	var evs []Event
	for _, e := range effs {
		if e.Kind == EffectEvent && e.Event.Kind == kind {
			evs = append(evs, e.Event)
		}
	}
	return evs
}

func sirensOf(effs []Effect) []Effect {
	var s []Effect
	for _, e := range effs {
		if e.Kind == EffectSiren {
			s = append(s, e)
		}
	}
	return s
}

func hasSiren(effs []Effect, area int, p SirenPattern) bool {
	for _, e := range effs {
		if e.Kind == EffectSiren && e.Area == area && e.Pattern == p {
			return true
		}
	}
	return false
}

// userOf, zoneOf and indexOf find the demo's users, zones and devices by name, so that the
// tests survive additions to the demo.
func userOf(in *Installation, id string) *User {
	for i := range in.Users {
		if in.Users[i].ID == id {
			return &in.Users[i]
		}
	}
	panic("no user " + id)
}

func zoneOf(in *Installation, device string) *Zone {
	return &in.Zones[indexOf(in, "zone", device)]
}

// indexOf returns the index of a device, a zone (by its device) or a user in the
// installation's lists.
func indexOf(in *Installation, list, id string) int {
	switch list {
	case "device":
		for i, d := range in.Devices {
			if d.ID == id {
				return i
			}
		}
	case "zone":
		for i, z := range in.Zones {
			if z.Device == id {
				return i
			}
		}
	case "user":
		for i, u := range in.Users {
			if u.ID == id {
				return i
			}
		}
	}
	panic(fmt.Sprintf("no %s %s", list, id))
}

func renderAll(effs []Effect) string {
	lines := make([]string, len(effs))
	for i, e := range effs {
		lines[i] = renderEffect(e)
	}
	return strings.Join(lines, "\n")
}

// TestEngine_ZoneTypeModes checks which zone types alarm in which mode: armed_home is the
// perimeter only, armed_night adds the Night zones, armed_away arms everything, and the
// 24-hour zones alarm in every mode, disarmed included.
func TestEngine_ZoneTypeModes(t *testing.T) {
	// The demo has no tamper zone: add a cabinet lid switch.
	addTamperZone := func(inst *Installation) {
		inst.Devices = append(inst.Devices, Device{ID: "cabinet_lid", Name: "Cabinet lid", Driver: "sim"})
		inst.Zones = append(inst.Zones, Zone{Number: 901, Name: "Cabinet lid", Area: 1, Type: ZoneTamper, Device: "cabinet_lid"})
		inst.Settings.NoExitDelay = true
	}
	// What an activation does: "-" nothing, "chime", "entry" (entry delay), or the alarm
	// kind, with "tamper_alarm" (sounds, as armed) and "tamper_trouble" (reported, silent).
	zones := []struct {
		line string
		zone int
		want [4]string // disarmed, home, night, away
	}{
		{"open front_door", 1, [4]string{"chime", "entry", "entry", "entry"}},                                  // entry/exit, perimeter
		{"motion hall_motion", 2, [4]string{"-", "-", "burglary", "burglary"}},                                 // follower, interior, night
		{"open living_window", 3, [4]string{"-", "burglary", "burglary", "burglary"}},                          // instant, perimeter
		{"motion living_motion", 4, [4]string{"-", "-", "-", "burglary"}},                                      // instant, interior
		{"open bedroom_window", 5, [4]string{"-", "burglary", "burglary", "burglary"}},                         // instant, perimeter
		{"smoke kitchen_smoke", 6, [4]string{"fire", "fire", "fire", "fire"}},                                  // 24h fire
		{"water bathroom_water", 7, [4]string{"water", "water", "water", "water"}},                             // 24h technical
		{"panic panic_button", 8, [4]string{"panic", "panic", "panic", "panic"}},                               // 24h panic, silent
		{"open cabinet_lid", 901, [4]string{"tamper_trouble", "tamper_alarm", "tamper_alarm", "tamper_alarm"}}, // 24h tamper
		{"open garage_door", 9, [4]string{"-", "-", "-", "-"}},                                                 // other area, disarmed
	}
	modes := []string{"disarmed", "home", "night", "away"}
	for _, z := range zones {
		for mi, mode := range modes {
			t.Run(fmt.Sprintf("%s/%s", strings.Fields(z.line)[1], mode), func(t *testing.T) {
				r := newEngineRig(t, addTamperZone)
				if mode != "disarmed" {
					r.armNow(mode)
				}
				effs := r.must(z.line)
				got := classify(effs)
				if got != z.want[mi] {
					t.Fatalf("%s in %s: got %s, want %s\n%s", z.line, mode, got, z.want[mi], renderAll(effs))
				}
				for _, e := range effs {
					if e.Kind != EffectEvent {
						continue
					}
					ev := e.Event
					switch ev.Kind {
					case KindBurglary, KindFire, KindWater, KindPanic, KindTamper:
						if !ev.Report || ev.Zone != z.zone {
							t.Errorf("%s: want a report for zone %d, got %+v", ev.Kind, z.zone, ev)
						}
					}
				}
				a := r.area(1)
				switch got {
				case "burglary", "tamper_alarm":
					if !hasSiren(effs, 1, SirenBurglar) || a.Mode != ModeTriggered || len(a.Memory) != 1 {
						t.Errorf("want burglar siren, triggered, 1 in memory; got siren effects %v, %s, memory %d", sirensOf(effs), a.Mode, len(a.Memory))
					}
				case "fire":
					if !hasSiren(effs, 1, SirenFire) || a.Mode != ModeTriggered || len(a.FireMemory) != 1 {
						t.Errorf("want fire siren, triggered, 1 in fire memory; got siren effects %v, %s, fire memory %d", sirensOf(effs), a.Mode, len(a.FireMemory))
					}
				case "entry":
					if a.Mode != ModePending || len(sirensOf(effs)) != 0 {
						t.Errorf("want pending and no siren, got %s, %v", a.Mode, sirensOf(effs))
					}
				default:
					if len(sirensOf(effs)) != 0 || a.Siren != SirenOff {
						t.Errorf("want no siren, got %v (area siren %s)", sirensOf(effs), a.Siren)
					}
				}
			})
		}
	}
}

// classify names what a zone activation did; see TestEngine_ZoneTypeModes.
func classify(effs []Effect) string {
	got := "-"
	for _, e := range effs {
		if e.Kind == EffectChime && got == "-" {
			got = "chime"
		}
		if e.Kind != EffectEvent {
			continue
		}
		switch k := e.Event.Kind; k {
		case KindEntryDelay:
			return "entry"
		case KindTamper:
			if len(sirensOf(effs)) > 0 {
				return "tamper_alarm"
			}
			return "tamper_trouble"
		case KindBurglary, KindFire, KindWater, KindPanic:
			return k.String()
		}
	}
	return got
}

func TestEngine_ExitDelay(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Installation)
		area int
		want time.Duration // 0: armed at once
	}{
		{"default", nil, 1, DefaultExitDelay},
		{"area override", nil, 2, 30 * time.Second},
		{"setting", func(in *Installation) { in.Settings.ExitDelay = NewDuration(90 * time.Second) }, 1, 90 * time.Second},
		{"maximum", func(in *Installation) { in.Settings.ExitDelay = NewDuration(MaxExitDelay) }, 1, MaxExitDelay},
		{"one second", func(in *Installation) { in.Settings.ExitDelay = NewDuration(time.Second) }, 1, time.Second},
		{"none arms at once", func(in *Installation) { in.Settings.NoExitDelay = true }, 1, 0},
		{"area override wins over none", func(in *Installation) { in.Settings.NoExitDelay = true }, 2, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			effs := r.must(fmt.Sprintf("arm away area %d by anna", tc.area))
			if tc.want == 0 {
				arm := eventsOf(effs, KindArm)
				if len(arm) != 1 || !arm[0].Report || len(eventsOf(effs, KindExitDelay)) != 0 {
					t.Fatalf("want an arm report at once and no exit delay, got\n%s", renderAll(effs))
				}
				if a := r.area(tc.area); a.Mode != ModeArmedAway || !a.ExitUntil.IsZero() {
					t.Fatalf("area %d: mode %s exit until %v, want armed_away at once", tc.area, a.Mode, a.ExitUntil)
				}
				return
			}
			ed := eventsOf(effs, KindExitDelay)
			if len(ed) != 1 || len(eventsOf(effs, KindArm)) != 0 {
				t.Fatalf("want one exit_delay event, got\n%s", renderAll(effs))
			}
			if a := r.area(tc.area); a.Mode != ModeArming || !a.ExitUntil.Equal(r.now.Add(tc.want)) {
				t.Fatalf("area %d: %s until %v, want arming until +%s", tc.area, a.Mode, a.ExitUntil.Sub(r.now), tc.want)
			}
			if effs := r.advance(tc.want - time.Nanosecond); len(effs) != 0 || r.area(tc.area).Mode != ModeArming {
				t.Fatalf("just before the end of the exit delay: %s\n%s", r.area(tc.area).Mode, renderAll(effs))
			}
			effs = r.advance(time.Nanosecond)
			if len(eventsOf(effs, KindArm)) != 1 || r.area(tc.area).Mode != ModeArmedAway {
				t.Fatalf("at the end of the exit delay: %s\n%s", r.area(tc.area).Mode, renderAll(effs))
			}
		})
	}
}

func TestEngine_EntryDelay(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Installation)
		area  int
		door  string
		delay time.Duration // 0: alarm at once
	}{
		{"default", nil, 1, "front_door", DefaultEntryDelay},
		{"area override", nil, 2, "garage_door", 20 * time.Second},
		{"setting maximum", func(in *Installation) { in.Settings.EntryDelay = NewDuration(MaxEntryDelay) }, 1, "front_door", MaxEntryDelay},
		{"none alarms at once with local warning", func(in *Installation) { in.Settings.NoEntryDelay = true }, 1, "front_door", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			r.must(fmt.Sprintf("arm away area %d by anna", tc.area))
			r.advance(MaxExitDelay)
			if a := r.area(tc.area); a.Mode != ModeArmedAway {
				t.Fatalf("area %d is %s", tc.area, a.Mode)
			}
			opened := r.now
			effs := r.must("open " + tc.door)
			if tc.delay > 0 {
				if len(eventsOf(effs, KindEntryDelay)) != 1 || len(sirensOf(effs)) != 0 {
					t.Fatalf("want an entry delay, got\n%s", renderAll(effs))
				}
				if a := r.area(tc.area); a.Mode != ModePending || !a.EntryUntil.Equal(opened.Add(tc.delay)) {
					t.Fatalf("want pending until +%s, got %s until +%s", tc.delay, a.Mode, a.EntryUntil.Sub(opened))
				}
				if tc.area == 1 {
					// The follower waits for the entry delay.
					if effs := r.must("motion hall_motion"); len(effs) != 0 {
						t.Fatalf("follower during the entry delay:\n%s", renderAll(effs))
					}
				}
				if effs := r.advance(tc.delay - time.Second); len(effs) != 0 {
					t.Fatalf("before the end of the entry delay:\n%s", renderAll(effs))
				}
				effs = r.advance(time.Second)
			}
			// The alarm: siren at once, reported only after the local warning.
			b := eventsOf(effs, KindBurglary)
			if len(b) != 1 || b[0].Report || !hasSiren(effs, tc.area, SirenBurglar) {
				t.Fatalf("want an unreported burglary with the siren, got\n%s", renderAll(effs))
			}
			a := r.area(tc.area)
			if a.Mode != ModeTriggered || !a.ReportAt.Equal(r.now.Add(DefaultAbortWindow)) {
				t.Fatalf("want triggered with a report in %s, got %s report at +%s", DefaultAbortWindow, a.Mode, a.ReportAt.Sub(r.now))
			}
			if effs := r.advance(DefaultAbortWindow - time.Second); len(eventsOf(effs, KindBurglary)) != 0 {
				t.Fatalf("reported before the local warning ended:\n%s", renderAll(effs))
			}
			effs = r.advance(time.Second)
			if b := eventsOf(effs, KindBurglary); len(b) != 1 || !b[0].Report || b[0].ContactID != 130 {
				t.Fatalf("want the burglary reported after the local warning, got\n%s", renderAll(effs))
			}
		})
	}
}

// TestEngine_AlarmDuringDelays: a fire (or an audible panic) sounding during the exit or
// entry delay neither hides the delay nor turns it into a burglary: the family may still
// leave through the exit route, and whoever came in must still disarm in time.
func TestEngine_AlarmDuringDelays(t *testing.T) {
	type step struct {
		line    string
		advance time.Duration
		want    []string // rendered effects, in order; nil means none
		mode    string   // area 1 mode after the step, if not empty
		setup   bool     // effects not checked
	}
	longExit := func(in *Installation) { in.Settings.ExitDelay = NewDuration(MaxExitDelay) }
	const (
		armed   = "event arm restore area=1 mode=armed_away user=anna how=web report=3401/CL"
		fire    = "event fire area=1 zone=6 \"Kitchen smoke\" report=1110/FA"
		warning = "event burglary area=1 zone=1 \"Front door\" (local warning, reported in 30s unless disarmed)"
	)
	arm := step{line: "arm away by anna", setup: true}
	exit := step{advance: DefaultExitDelay, setup: true}
	tests := []struct {
		name  string
		edit  func(*Installation)
		steps []step
	}{
		{"leaving through the front door during a fire in the exit delay", nil, []step{
			arm,
			{line: "smoke kitchen_smoke", want: []string{"siren area=1 fire", fire}, mode: "triggered"},
			{line: "motion hall_motion"},
			{line: "open front_door"},
			{line: "close front_door"},
			{line: "motion hall_motion off"},
			{advance: DefaultExitDelay, want: []string{armed}, mode: "triggered"},
			{advance: DefaultBellCutoff, want: []string{"siren area=1 off"}, mode: "armed_away"},
		}},
		{"an intrusion zone during a fire in the exit delay cancels the arming", nil, []step{
			arm,
			{line: "smoke kitchen_smoke", setup: true},
			{line: "motion living_motion", want: []string{"event arming_cancelled area=1 zone=4 \"Living room motion\" user=anna (NOT ARMED: Living room motion tripped during the exit delay)"}, mode: "triggered"},
			{advance: DefaultBellCutoff, want: []string{"siren area=1 off"}, mode: "disarmed"},
		}},
		{"a fire cut off before the end of a long exit delay", longExit, []step{
			arm,
			{line: "smoke kitchen_smoke", setup: true},
			{advance: DefaultBellCutoff, want: []string{"siren area=1 off"}, mode: "arming"},
			{line: "open front_door", mode: "arming"},
			{line: "close front_door"},
			{advance: MaxExitDelay - DefaultBellCutoff, want: []string{armed}, mode: "armed_away"},
		}},
		{"a fire during the entry delay: the entry delay goes on", nil, []step{
			arm, exit,
			{line: "open front_door", want: []string{"event entry_delay area=1 zone=1 \"Front door\" (30s to disarm)"}, mode: "pending"},
			{line: "smoke kitchen_smoke", want: []string{"siren area=1 fire", fire}, mode: "triggered"},
			{line: "motion hall_motion"}, // the follower still waits
			{advance: DefaultEntryDelay, want: []string{warning}, mode: "triggered"},
			{advance: DefaultAbortWindow, want: []string{"event burglary area=1 zone=1 \"Front door\" report=1130/BA (local warning ended)"}},
		}},
		{"a fire during the entry delay, disarmed in time", nil, []step{
			arm, exit,
			{line: "open front_door", setup: true},
			{line: "smoke kitchen_smoke", setup: true},
			{advance: DefaultEntryDelay - time.Second},
			{line: "disarm by anna", want: []string{
				// No cancel: the fire's report is not one a code holder can call off.
				"siren area=1 off",
				"event disarm area=1 user=anna how=web report=1401/OP",
			}, mode: "disarmed"},
		}},
		{"an audible panic during the entry delay", func(in *Installation) { zoneOf(in, "panic_button").Audible = true }, []step{
			arm, exit,
			{line: "open front_door", setup: true},
			{line: "panic panic_button", want: []string{"event panic area=1 zone=8 \"Panic button\" report=1120/PA", "siren area=1 emergency"}, mode: "triggered"},
			{line: "motion hall_motion"},
			{advance: DefaultEntryDelay, want: []string{"siren area=1 burglar", warning}, mode: "triggered"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			for _, s := range tc.steps {
				var effs []Effect
				what := s.line
				if s.advance != 0 {
					effs = r.advance(s.advance)
					what = "advance " + s.advance.String()
				} else {
					effs = r.must(s.line)
				}
				if got, want := renderAll(effs), strings.Join(s.want, "\n"); got != want && !s.setup {
					t.Fatalf("%s:\ngot\n%s\nwant\n%s", what, got, want)
				}
				if got := r.area(1).Mode.String(); s.mode != "" && got != s.mode {
					t.Fatalf("%s: area 1 is %s, want %s", what, got, s.mode)
				}
			}
		})
	}
}

func TestEngine_BellCutoff(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Installation)
		area   int
		zone   string
		cutoff time.Duration
	}{
		{"default", nil, 1, "living_window", DefaultBellCutoff},
		{"setting", func(in *Installation) { in.Settings.BellCutoff = NewDuration(5 * time.Minute) }, 1, "living_window", 5 * time.Minute},
		{"area override", func(in *Installation) {
			in.Settings.BellCutoff = NewDuration(5 * time.Minute)
			in.Areas[1].BellCutoff = NewDuration(MinBellCutoff)
		}, 2, "garage_motion", MinBellCutoff},
		{"other area keeps the setting", func(in *Installation) {
			in.Settings.BellCutoff = NewDuration(5 * time.Minute)
			in.Areas[1].BellCutoff = NewDuration(MinBellCutoff)
		}, 1, "living_window", 5 * time.Minute},
		{"maximum", func(in *Installation) { in.Areas[0].BellCutoff = NewDuration(MaxBellCutoff) }, 1, "living_window", MaxBellCutoff},
		{"fire too", func(in *Installation) { in.Areas[0].BellCutoff = NewDuration(2 * time.Minute) }, 1, "kitchen_smoke", 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			r.must(fmt.Sprintf("arm away area %d by anna", tc.area))
			r.advance(MaxExitDelay)
			verb := "open"
			switch {
			case strings.HasSuffix(tc.zone, "motion"):
				verb = "motion"
			case strings.HasSuffix(tc.zone, "smoke"):
				verb = "smoke"
			}
			effs := r.must(verb + " " + tc.zone)
			if len(sirensOf(effs)) != 1 {
				t.Fatalf("want the siren on, got\n%s", renderAll(effs))
			}
			if a := r.area(tc.area); !a.SirenUntil.Equal(r.now.Add(tc.cutoff)) {
				t.Fatalf("siren until +%s, want +%s", a.SirenUntil.Sub(r.now), tc.cutoff)
			}
			r.advance(tc.cutoff - time.Second)
			if a := r.area(tc.area); a.Siren == SirenOff {
				t.Fatalf("siren off a second before the cut-off")
			}
			effs = r.advance(time.Second)
			if !hasSiren(effs, tc.area, SirenOff) || r.area(tc.area).Siren != SirenOff {
				t.Fatalf("want the siren off at the cut-off, got\n%s", renderAll(effs))
			}
			// The house is left protected.
			if a := r.area(tc.area); a.Mode != ModeArmedAway {
				t.Fatalf("after the cut-off the area is %s, want armed_away", a.Mode)
			}
		})
	}
}

func TestEngine_SwingerLimit(t *testing.T) {
	for _, limit := range []int{0, 1, 2, 5} {
		want := limit
		if want == 0 {
			want = DefaultSwinger
		}
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			r := newEngineRig(t, func(in *Installation) { in.Settings.SwingerLimit = limit })
			r.armNow("away")
			alarms, shutdowns := 0, 0
			for i := 0; i < want+3; i++ {
				effs := r.must("open living_window")
				alarms += len(eventsOf(effs, KindBurglary))
				s := eventsOf(effs, KindSwingerShutdown)
				shutdowns += len(s)
				if len(s) > 0 && alarms != want {
					t.Errorf("swinger shutdown after %d alarms, want after %d", alarms, want)
				}
				r.must("close living_window")
				r.advance(4 * time.Minute) // past the cut-off
			}
			if alarms != want || shutdowns != 1 {
				t.Fatalf("got %d alarms and %d shutdowns, want %d and 1", alarms, shutdowns, want)
			}
			// Another zone is not affected, and a new armed period starts afresh.
			if effs := r.must("open bedroom_window"); len(eventsOf(effs, KindBurglary)) != 1 {
				t.Fatalf("another zone after the shutdown:\n%s", renderAll(effs))
			}
			r.must("close bedroom_window")
			r.must("disarm by anna")
			r.armNow("away")
			if effs := r.must("open living_window"); len(eventsOf(effs, KindBurglary)) != 1 {
				t.Fatalf("new armed period:\n%s", renderAll(effs))
			}
		})
	}
}

// TestEngine_Lockout runs several lockouts in a row on one keypad: 90 s, doubling, at most
// 15 minutes.
func TestEngine_Lockout(t *testing.T) {
	r := newEngineRig(t, nil)
	wrong := func() []Effect {
		t.Helper()
		effs, err := r.try("arm away 0000 from kp1")
		if !errors.Is(err, ErrWrongCode) {
			t.Fatalf("wrong code: %v", err)
		}
		return effs
	}
	for i, want := range []time.Duration{90 * time.Second, 3 * time.Minute, 6 * time.Minute, 12 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute} {
		t.Run(fmt.Sprintf("lockout %d", i+1), func(t *testing.T) {
			for j := 0; j < 4; j++ {
				if effs := wrong(); len(eventsOf(effs, KindWrongCodes)) != 0 {
					t.Fatalf("locked after %d wrong codes", j+1)
				}
				r.advance(time.Second)
			}
			effs := wrong()
			lock := eventsOf(effs, KindWrongCodes)
			if len(lock) != 1 || !lock[0].Report || lock[0].ContactID != 461 {
				t.Fatalf("want a 461 report, got\n%s", renderAll(effs))
			}
			if note := fmt.Sprintf("kp1 locked for %s", want); lock[0].Note != note {
				t.Fatalf("note %q, want %q", lock[0].Note, note)
			}
			l := r.eng.State().Lockouts["kp1"]
			if l == nil || !l.Until.Equal(r.now.Add(want)) {
				t.Fatalf("lockout %+v, want until +%s", l, want)
			}
			// Even the right code is refused on the locked keypad, but not on another.
			r.advance(want - time.Second)
			if _, err := r.try("arm away 1234 from kp1"); !errors.Is(err, ErrLockedOut) {
				t.Fatalf("right code during the lockout: %v", err)
			}
			if _, err := r.try("test 1234 from kp2"); err != nil {
				t.Fatalf("right code on another keypad: %v", err)
			}
			r.advance(time.Second)
		})
	}
	t.Run("wrong codes older than 10 minutes do not count", func(t *testing.T) {
		r := newEngineRig(t, nil)
		for j := 0; j < 4; j++ {
			r.try("arm away 0000 from kp1")
		}
		r.advance(10 * time.Minute)
		effs, _ := r.try("arm away 0000 from kp1")
		if len(eventsOf(effs, KindWrongCodes)) != 0 {
			t.Fatalf("locked by wrong codes older than 10 minutes:\n%s", renderAll(effs))
		}
	})
	t.Run("the right code resets the count", func(t *testing.T) {
		r := newEngineRig(t, nil)
		for j := 0; j < 4; j++ {
			r.try("arm away 0000 from kp1")
		}
		r.must("arm away 1234 from kp1")
		effs, _ := r.try("disarm 0000 from kp1")
		if len(eventsOf(effs, KindWrongCodes)) != 0 {
			t.Fatalf("locked after the right code:\n%s", renderAll(effs))
		}
	})
}

func TestEngine_UserWindows(t *testing.T) {
	at := func(day time.Weekday, hhmm string) time.Time {
		h, m := 0, 0
		fmt.Sscanf(hhmm, "%d:%d", &h, &m)
		// 2026-11-22 is a Sunday.
		return time.Date(2026, 11, 22+int(day), h, m, 0, 0, time.UTC)
	}
	tests := []struct {
		name    string
		windows []Window
		role    Role
		when    time.Time
		ok      bool
	}{
		{"demo window open", nil, RoleLimited, at(time.Tuesday, "18:00"), true},
		{"demo window opens at 07:00", nil, RoleLimited, at(time.Monday, "07:00"), true},
		{"demo window before 07:00", nil, RoleLimited, at(time.Monday, "06:59"), false},
		{"demo window closes at 21:00", nil, RoleLimited, at(time.Friday, "21:00"), false},
		{"demo window last minute", nil, RoleLimited, at(time.Friday, "20:59"), true},
		{"demo window not on Saturday", nil, RoleLimited, at(time.Saturday, "12:00"), false},
		{"over midnight, evening", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Wednesday, "23:30"), true},
		{"over midnight, at 22:00", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Wednesday, "22:00"), true},
		{"over midnight, at midnight", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Thursday, "00:00"), true},
		{"over midnight, morning", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Thursday, "05:59"), true},
		{"over midnight, closes at 06:00", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Thursday, "06:00"), false},
		{"over midnight, daytime", []Window{{From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Thursday, "12:00"), false},
		{"over midnight on Friday, Friday night", []Window{{Days: []time.Weekday{time.Friday}, From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Friday, "23:00"), true},
		{"over midnight on Friday, Thursday night", []Window{{Days: []time.Weekday{time.Friday}, From: 22 * 60, To: 6 * 60}}, RoleLimited, at(time.Thursday, "23:00"), false},
		{"two windows, second", []Window{{From: 6 * 60, To: 8 * 60}, {From: 15 * 60, To: 17 * 60}}, RoleLimited, at(time.Monday, "16:00"), true},
		{"two windows, between", []Window{{From: 6 * 60, To: 8 * 60}, {From: 15 * 60, To: 17 * 60}}, RoleLimited, at(time.Monday, "12:00"), false},
		{"windows bind only limited users", []Window{{From: 6 * 60, To: 8 * 60}}, RoleUser, at(time.Monday, "12:00"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, func(in *Installation) {
				if tc.windows != nil {
					userOf(in, "lisa").Windows = tc.windows
				}
				userOf(in, "lisa").Role = tc.role
			})
			r.now = tc.when
			effs, err := r.try("arm away 2468")
			if tc.ok {
				if err != nil {
					t.Fatalf("%s %s: %v", tc.when.Weekday(), tc.when.Format("15:04"), err)
				}
				return
			}
			if !errors.Is(err, ErrNotAllowed) || len(effs) != 0 {
				t.Fatalf("%s %s: got %v and\n%s\nwant not allowed and nothing", tc.when.Weekday(), tc.when.Format("15:04"), err, renderAll(effs))
			}
		})
	}
}

// TestEngine_OverMidnightWindowWithDays is the part of a night window after midnight when the
// window names its days: a "Friday 22:00–06:00" window should still be open at 01:00 on
// Saturday morning. Window.contains checks the weekday of the moment, not of the start.
func TestEngine_OverMidnightWindowWithDays(t *testing.T) {
	r := newEngineRig(t, func(in *Installation) {
		userOf(in, "lisa").Windows = []Window{{Days: []time.Weekday{time.Friday}, From: 22 * 60, To: 6 * 60}}
	})
	r.now = time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) // Saturday 01:00
	if _, err := r.try("arm away 2468"); err != nil {
		t.Fatalf("Saturday 01:00 in a Friday 22:00–06:00 window: %v", err)
	}
}

func TestEngine_ArmOnlyUser(t *testing.T) {
	r := newEngineRig(t, func(in *Installation) { userOf(in, "erik").ArmOnly = true })
	r.must("arm away 5678")
	r.advance(DefaultExitDelay)
	r.must("open living_window")
	for _, line := range []string{"disarm 5678", "disarm by erik", "ack 5678", "bypass bedroom_window 5678"} {
		t.Run(line, func(t *testing.T) {
			before := r.stateJSON()
			effs, err := r.try(line)
			if !errors.Is(err, ErrNotAllowed) || len(effs) != 0 {
				t.Fatalf("got %v and\n%s\nwant not allowed and nothing", err, renderAll(effs))
			}
			if after := r.stateJSON(); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
	if a := r.area(1); a.Siren != SirenBurglar {
		t.Fatalf("an arm-only user silenced the siren: %s", a.Siren)
	}
}

func TestEngine_InstallerGrant(t *testing.T) {
	r := newEngineRig(t, nil)
	steps := []struct {
		line    string
		advance time.Duration
		err     error
	}{
		{line: "service on 7777", err: ErrInstallerNotActive},
		{line: "walktest on by ivan", err: ErrInstallerNotActive},
		{line: "grant installer 2h 5678", err: ErrNotAllowed},
		{line: "grant installer 2h 7777", err: ErrInstallerNotActive},
		{line: "grant installer 2h 1234"},
		{line: "service on 30m 7777"},
		{advance: 30 * time.Minute},
		{advance: 90*time.Minute - time.Second},
		{line: "test 7777"},
		{advance: time.Second}, // the grant ends
		{line: "test 7777", err: ErrInstallerNotActive},
		{line: "grant installer by anna"},
		{line: "revoke installer by anna"},
		{line: "test by ivan", err: ErrInstallerNotActive},
		{line: "revoke installer by anna", err: ErrInstallerNotActive},
	}
	for _, s := range steps {
		if s.advance != 0 {
			r.advance(s.advance)
			continue
		}
		_, err := r.try(s.line)
		if (s.err == nil) != (err == nil) || (s.err != nil && !errors.Is(err, s.err)) {
			t.Fatalf("+%s %s: got %v, want %v", r.now.Sub(scenarioStart), s.line, err, s.err)
		}
	}
}

func TestEngine_Bypass24hZone(t *testing.T) {
	tests := []struct {
		name  string
		grant bool
		line  string
		err   error
	}{
		{"admin", false, "bypass kitchen_smoke 1234", ErrNotAllowed},
		{"admin by session", false, "bypass kitchen_smoke by anna", ErrNotAllowed},
		{"user", false, "bypass kitchen_smoke 5678", ErrNotAllowed},
		{"limited", false, "bypass kitchen_smoke 2468", ErrNotAllowed},
		{"installer without grant", false, "bypass kitchen_smoke 7777", ErrInstallerNotActive},
		{"admin with a grant running", true, "bypass kitchen_smoke 1234", ErrNotAllowed},
		{"water by user", false, "bypass bathroom_water 5678", ErrNotAllowed},
		{"panic by user", false, "bypass panic_button 5678", ErrNotAllowed},
		{"installer with grant", true, "bypass kitchen_smoke 7777", nil},
		{"installer with grant, water", true, "bypass bathroom_water by ivan", nil},
		{"intrusion zone by user", false, "bypass living_window 5678", nil},
		{"intrusion zone by limited user", false, "bypass living_window 2468", ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			if tc.grant {
				r.must("grant installer by anna")
			}
			before := r.stateJSON()
			effs, err := r.try(tc.line)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || len(effs) != 0 {
					t.Fatalf("got %v and\n%s\nwant %v and nothing", err, renderAll(effs), tc.err)
				}
				if after := r.stateJSON(); after != before {
					t.Fatalf("state changed:\n%s\n%s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b := eventsOf(effs, KindBypass)
			if len(b) != 1 || !b[0].Report || b[0].ContactID != 570 {
				t.Fatalf("want a bypass report, got\n%s", renderAll(effs))
			}
			if tc.line == "bypass kitchen_smoke 7777" {
				if effs := r.must("smoke kitchen_smoke"); len(effs) != 0 {
					t.Fatalf("a bypassed fire zone alarmed:\n%s", renderAll(effs))
				}
				// The other fire zone still works.
				if effs := r.must("smoke garage_smoke"); !hasSiren(effs, 2, SirenFire) {
					t.Fatalf("garage smoke:\n%s", renderAll(effs))
				}
			}
		})
	}
}

// TestEngine_Duress: the duress code disarms exactly as the normal code does, shows nothing
// different on the premises, and reports 121 to the station.
func TestEngine_Duress(t *testing.T) {
	tests := []struct {
		name  string
		setup []string
		adv   time.Duration
	}{
		{"armed", nil, 0},
		{"exit delay", nil, -1},
		{"entry delay", []string{"open front_door"}, 0},
		{"local warning", []string{"open front_door"}, DefaultEntryDelay},
		{"siren sounding", []string{"open living_window"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := func(code string) ([]Effect, AreaState) {
				r := newEngineRig(t, nil)
				r.must("arm away 1234")
				if tc.adv >= 0 {
					r.advance(DefaultExitDelay)
				}
				for _, l := range tc.setup {
					r.must(l)
				}
				if tc.adv > 0 {
					r.advance(tc.adv)
				}
				return r.must("disarm " + code), r.area(1)
			}
			normal, normalArea := run("1234")
			// Under duress no cancel goes: the station must not think a code holder is safe.
			normal = slices.DeleteFunc(normal, func(e Effect) bool { return e.Kind == EffectEvent && e.Event.Kind == KindCancel })
			duress, duressArea := run("9999")
			d := eventsOf(duress, KindDuress)
			if len(d) != 1 || !d[0].Report || d[0].ContactID != 121 || d[0].User != "anna" {
				t.Fatalf("want a 121 report for anna, got\n%s", renderAll(duress))
			}
			// Apart from the duress event (and the sequence numbers it shifts), the duress
			// code does what the normal code does: same sirens, same area state.
			var rest []Effect
			for _, e := range duress {
				if e.Kind == EffectEvent && e.Event.Kind == KindDuress {
					continue
				}
				if e.Kind == EffectEvent && e.Event.Kind == KindCancel {
					t.Fatalf("a cancel under duress:\n%s", renderAll(duress))
				}
				if e.Kind == EffectEvent {
					e.Event.Seq--
				}
				rest = append(rest, e)
			}
			if got, want := renderAll(rest), renderAll(normal); got != want {
				t.Fatalf("duress disarm differs from a normal one:\n%s\nwant\n%s", got, want)
			}
			for _, e := range duress {
				if e.Kind == EffectSiren && e.Pattern != SirenOff {
					t.Fatalf("duress sounded the siren: %+v", e)
				}
			}
			gotArea, _ := json.Marshal(duressArea)
			wantArea, _ := json.Marshal(normalArea)
			if string(gotArea) != string(wantArea) {
				t.Fatalf("area after duress:\n%s\nwant\n%s", gotArea, wantArea)
			}
		})
	}
	t.Run("already disarmed", func(t *testing.T) {
		r := newEngineRig(t, nil)
		effs, err := r.try("disarm 9999")
		if !errors.Is(err, ErrAlreadyDisarmed) || len(effs) != 1 || len(eventsOf(effs, KindDuress)) != 1 {
			t.Fatalf("got %v and\n%s", err, renderAll(effs))
		}
	})
}

// TestEngine_CancelWindow: disarming within 5 minutes of an alarm report sends a cancel
// (Contact ID 406); later, or before the report, it does not.
func TestEngine_CancelWindow(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Installation)
		zone   string
		after  time.Duration // from the alarm to the disarm
		cancel bool
		abort  bool
	}{
		{"instant, at once", nil, "open living_window", 0, true, false},
		{"instant, within", nil, "open living_window", 4*time.Minute + 59*time.Second, true, false},
		{"instant, at 5m", nil, "open living_window", DefaultCancelAfter, true, false},
		{"instant, after 5m", nil, "open living_window", DefaultCancelAfter + time.Second, false, false},
		{"entry route, in local warning", nil, "open front_door", DefaultEntryDelay + DefaultAbortWindow - time.Second, false, true},
		{"entry route, at the report", nil, "open front_door", DefaultEntryDelay + DefaultAbortWindow, true, false},
		{"entry route, 5m after the report", nil, "open front_door", DefaultEntryDelay + DefaultAbortWindow + DefaultCancelAfter, true, false},
		{"entry route, after 5m", nil, "open front_door", DefaultEntryDelay + DefaultAbortWindow + DefaultCancelAfter + time.Second, false, false},
		{"entry delay, nothing reported", nil, "open front_door", DefaultEntryDelay - time.Second, false, false},
		{"setting, within", func(in *Installation) { in.Settings.CancelAfter = NewDuration(time.Minute) }, "open living_window", time.Minute, true, false},
		{"setting, after", func(in *Installation) { in.Settings.CancelAfter = NewDuration(time.Minute) }, "open living_window", time.Minute + time.Second, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			r.armNow("away")
			r.must(tc.zone)
			if tc.after > 0 {
				r.advance(tc.after)
			}
			effs := r.must("disarm by anna")
			c := eventsOf(effs, KindCancel)
			if tc.cancel != (len(c) == 1) {
				t.Fatalf("cancel %v, got\n%s", tc.cancel, renderAll(effs))
			}
			if tc.cancel && (!c[0].Report || c[0].ContactID != 406 || c[0].User != "anna") {
				t.Fatalf("want a 406 report by anna, got %+v", c[0])
			}
			if tc.abort != (len(eventsOf(effs, KindAlarmAborted)) == 1) {
				t.Fatalf("alarm aborted %v, got\n%s", tc.abort, renderAll(effs))
			}
			for _, e := range effs {
				if e.Kind == EffectEvent && e.Event.Kind == KindBurglary {
					t.Fatalf("disarm reported a burglary:\n%s", renderAll(effs))
				}
			}
			if d := eventsOf(effs, KindDisarm); len(d) != 1 || !d[0].Report {
				t.Fatalf("want the disarm reported, got\n%s", renderAll(effs))
			}
		})
	}
}

func TestEngine_Mains(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Installation)
		restore time.Duration
		report  bool
	}{
		{"restored at once", nil, 0, false},
		{"restored just before the delay", nil, DefaultMainsDelay - time.Second, false},
		{"restored at the delay", nil, DefaultMainsDelay, true},
		{"restored after the delay", nil, 3 * time.Hour, true},
		{"short delay, before", func(in *Installation) { in.Settings.MainsDelay = NewDuration(10 * time.Minute) }, 9 * time.Minute, false},
		{"short delay, after", func(in *Installation) { in.Settings.MainsDelay = NewDuration(10 * time.Minute) }, 10 * time.Minute, true},
		{"six hours, after", func(in *Installation) { in.Settings.MainsDelay = NewDuration(MaxMainsDelay) }, MaxMainsDelay, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, tc.edit)
			effs := r.must("mains off")
			lost := eventsOf(effs, KindMainsLost)
			if len(lost) != 1 || lost[0].Report || lost[0].Restore {
				t.Fatalf("mains off: want a local event only, got\n%s", renderAll(effs))
			}
			if repeat := r.must("mains off"); len(repeat) != 0 {
				t.Fatalf("repeated mains off:\n%s", renderAll(repeat))
			}
			var reports []Event
			if tc.restore > 0 {
				// Tick every minute, as the run loop's timer would.
				for d := time.Duration(0); d < tc.restore; {
					step := min(time.Minute, tc.restore-d)
					d += step
					for _, ev := range eventsOf(r.advance(step), KindMainsLost) {
						reports = append(reports, ev)
					}
				}
			}
			effs = r.must("mains on")
			restored := eventsOf(effs, KindMainsLost)
			if len(restored) != 1 || !restored[0].Restore {
				t.Fatalf("mains on: want a restore, got\n%s", renderAll(effs))
			}
			if tc.report {
				if len(reports) != 1 || !reports[0].Report || reports[0].ContactID != 301 || reports[0].Restore {
					t.Fatalf("want one 301 report during the outage, got %+v", reports)
				}
				if !restored[0].Report {
					t.Fatalf("a reported outage must report its restore: %+v", restored[0])
				}
			} else {
				if len(reports) != 0 {
					t.Fatalf("reported before the delay: %+v", reports)
				}
				if restored[0].Report {
					t.Fatalf("restore of an unreported outage was reported: %+v", restored[0])
				}
			}
			if _, ok := r.eng.NextDeadline(); ok {
				t.Fatalf("a deadline is left after the restore: %+v", r.eng.State().Mains)
			}
		})
	}
}

func TestInstallation_Validate(t *testing.T) {
	// edit breaks the demo installation and returns what the error must name ("" if the
	// result is still valid).
	dev := func(in *Installation, id string) (*Device, int) {
		i := indexOf(in, "device", id)
		return &in.Devices[i], i
	}
	zone := func(in *Installation, device string) (*Zone, int) {
		i := indexOf(in, "zone", device)
		return &in.Zones[i], i
	}
	user := func(in *Installation, id string) (*User, int) {
		i := indexOf(in, "user", id)
		return &in.Users[i], i
	}
	tests := []struct {
		name string
		edit func(*Installation) string
	}{
		{"demo", func(*Installation) string { return "" }},
		{"exit delay 255s", func(in *Installation) string { in.Settings.ExitDelay = NewDuration(MaxExitDelay); return "" }},
		{"entry delay 45s", func(in *Installation) string { in.Settings.EntryDelay = NewDuration(MaxEntryDelay); return "" }},
		{"bell cutoff 1m", func(in *Installation) string { in.Settings.BellCutoff = NewDuration(time.Minute); return "" }},
		{"bell cutoff 15m", func(in *Installation) string { in.Areas[1].BellCutoff = NewDuration(MaxBellCutoff); return "" }},
		{"exit delay 256s", func(in *Installation) string {
			in.Settings.ExitDelay = NewDuration(256 * time.Second)
			return "settings.exit_delay 4m16s"
		}},
		{"negative exit delay", func(in *Installation) string {
			in.Settings.ExitDelay = NewDuration(-time.Second)
			return "settings.exit_delay -1s"
		}},
		{"entry delay 46s", func(in *Installation) string {
			in.Settings.EntryDelay = NewDuration(46 * time.Second)
			return "settings.entry_delay 46s"
		}},
		{"bell cutoff 30s", func(in *Installation) string {
			in.Settings.BellCutoff = NewDuration(30 * time.Second)
			return "settings.bell_cutoff 30s"
		}},
		{"bell cutoff 16m", func(in *Installation) string {
			in.Settings.BellCutoff = NewDuration(16 * time.Minute)
			return "settings.bell_cutoff 16m0s"
		}},
		{"mains delay 7h", func(in *Installation) string {
			in.Settings.MainsDelay = NewDuration(7 * time.Hour)
			return "settings.mains_report_delay 7h0m0s"
		}},
		{"negative swinger limit", func(in *Installation) string {
			in.Settings.SwingerLimit = -1
			return "settings.swinger_limit -1"
		}},
		{"area exit delay", func(in *Installation) string {
			in.Areas[1].ExitDelay = NewDuration(300 * time.Second)
			return "areas[1].exit_delay 5m0s"
		}},
		{"area entry delay 46s", func(in *Installation) string {
			in.Areas[0].EntryDelay = NewDuration(46 * time.Second)
			return "areas[0].entry_delay 46s"
		}},
		{"area bell cutoff 30s", func(in *Installation) string {
			in.Areas[1].BellCutoff = NewDuration(30 * time.Second)
			return "areas[1].bell_cutoff 30s"
		}},
		{"area number 0", func(in *Installation) string { in.Areas[0].Number = 0; return "areas[0].number 0" }},
		{"area number 100", func(in *Installation) string { in.Areas[1].Number = 100; return "areas[1].number 100" }},
		{"duplicate area", func(in *Installation) string { in.Areas[1].Number = 1; return "areas[1].number 1 used twice" }},
		{"empty device id", func(in *Installation) string {
			d, i := dev(in, "living_motion")
			d.ID = ""
			return fmt.Sprintf("devices[%d].id is empty", i)
		}},
		{"duplicate device", func(in *Installation) string {
			d, i := dev(in, "bedroom_window")
			d.ID = "front_door"
			return fmt.Sprintf(`devices[%d].id "front_door" used twice`, i)
		}},
		{"device in unknown area", func(in *Installation) string {
			d, i := dev(in, "hall_siren")
			d.Area = 5
			return fmt.Sprintf("devices[%d].area 5", i)
		}},
		{"zone number 0", func(in *Installation) string {
			z, i := zone(in, "living_window")
			z.Number = 0
			return fmt.Sprintf("zones[%d].number 0", i)
		}},
		{"zone number 1000", func(in *Installation) string {
			z, i := zone(in, "living_window")
			z.Number = 1000
			return fmt.Sprintf("zones[%d].number 1000", i)
		}},
		{"duplicate zone number", func(in *Installation) string {
			z, i := zone(in, "hall_motion")
			z.Number = 1
			return fmt.Sprintf("zones[%d].number 1 used twice", i)
		}},
		{"zone in unknown area", func(in *Installation) string {
			z, i := zone(in, "bedroom_window")
			z.Area = 3
			return fmt.Sprintf("zones[%d].area 3", i)
		}},
		{"zone type missing", func(in *Installation) string {
			z, i := zone(in, "kitchen_smoke")
			z.Type = 0
			return fmt.Sprintf("zones[%d].type", i)
		}},
		{"zone type unknown", func(in *Installation) string {
			z, i := zone(in, "kitchen_smoke")
			z.Type = 99
			return fmt.Sprintf("zones[%d].type", i)
		}},
		{"unknown device", func(in *Installation) string {
			z, i := zone(in, "living_motion")
			z.Device = "cellar_door"
			return fmt.Sprintf(`zones[%d].device "cellar_door" is not a known device`, i)
		}},
		{"device in two zones", func(in *Installation) string {
			z, i := zone(in, "living_motion")
			z.Device = "front_door"
			return fmt.Sprintf(`zones[%d].device "front_door" is in another zone`, i)
		}},
		{"empty user id", func(in *Installation) string {
			u, i := user(in, "erik")
			u.ID = ""
			return fmt.Sprintf("users[%d].id is empty", i)
		}},
		{"duplicate user id", func(in *Installation) string {
			u, i := user(in, "erik")
			u.ID = "anna"
			return fmt.Sprintf(`users[%d].id "anna" used twice`, i)
		}},
		{"user language sv", func(in *Installation) string { u, _ := user(in, "lisa"); u.Lang = "sv"; return "" }},
		{"user language de", func(in *Installation) string {
			u, i := user(in, "lisa")
			u.Lang = "de"
			return fmt.Sprintf(`users[%d].lang "de"`, i)
		}},
		{"user number 0", func(in *Installation) string {
			u, i := user(in, "lisa")
			u.Number = 0
			return fmt.Sprintf("users[%d].number 0", i)
		}},
		{"duplicate user number", func(in *Installation) string {
			u, i := user(in, "ivan")
			u.Number = 1
			return fmt.Sprintf("users[%d].number 1 used twice", i)
		}},
		{"user role missing", func(in *Installation) string {
			u, i := user(in, "erik")
			u.Role = RoleNone
			return fmt.Sprintf("users[%d].role is missing", i)
		}},
		{"user area unknown", func(in *Installation) string {
			u, i := user(in, "lisa")
			u.Areas = []int{1, 4}
			return fmt.Sprintf("users[%d].areas: area 4", i)
		}},
		{"window to 0", func(in *Installation) string {
			u, i := user(in, "lisa")
			u.Windows[0].To = 0
			return fmt.Sprintf("users[%d].windows[0]", i)
		}},
		{"window from 24:00", func(in *Installation) string {
			u, i := user(in, "lisa")
			u.Windows[0].From = 24 * 60
			return fmt.Sprintf("users[%d].windows[0]", i)
		}},
		{"missing code key", func(in *Installation) string { in.CodeKey = nil; return "code_key" }},
		{"short code key", func(in *Installation) string { in.CodeKey = testKey[:15]; return "code_key" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			want := tc.edit(inst)
			err := inst.Validate()
			if want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want an invalid installation naming %q", err, want)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	inst := DemoInstallation(testKey)
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			line string
			is   error
			want string
		}{
			{"", ErrBadInput, "empty command"},
			{"   ", ErrBadInput, "empty command"},
			{"arm", ErrBadInput, "arm needs a mode"},
			{"arm sideways 1234", ErrBadInput, `arm "sideways"`},
			{"arm disarmed 1234", ErrBadInput, `arm "disarmed"`},
			{"arm pending 1234", ErrBadInput, `arm "pending"`},
			{"arm away area x 1234", ErrBadInput, `area "x" is not a number`},
			{"arm away 1234 via pigeon", ErrBadInput, `unknown method "pigeon"`},
			{"grant installer 2hx 1234", ErrBadInput, `duration "2hx"`},
			{"bypass", ErrBadInput, "bypass needs a zone"},
			{"bypass cellar_door 1234", ErrUnknownZone, `zone "cellar_door"`},
			{"grant 1234", ErrBadInput, "grant installer"},
			{"revoke", ErrBadInput, "revoke installer"},
			{"service 1234", ErrBadInput, "service on|off"},
			{"walktest maybe 1234", ErrBadInput, "walktest on|off"},
			{"mains", ErrBadInput, "mains off|on"},
			{"mains down", ErrBadInput, "mains off|on"},
			{"mains off now", ErrBadInput, "mains off|on"},
			{"lid ajar", ErrBadInput, "lid open|close"},
			{"hub battery", ErrBadInput, "hub battery low|ok"},
			{"hub fan low", ErrBadInput, "hub battery low|ok"},
			{"uplink fault", ErrBadInput, "uplink fault|ok PATH"},
			{"uplink broken eth0", ErrBadInput, "uplink fault|ok PATH"},
			{"siren", ErrBadInput, "siren fault|ok"},
			{"panic area two", ErrBadInput, `area "two" is not a number`},
			{"panic now please", ErrBadInput, `unexpected "now please"`},
			{"open", ErrBadInput, "open DEVICE [off]"},
			{"open front_door cellar_door now", ErrBadInput, "open DEVICE [off]"},
			{"open cellar_door", ErrUnknownDevice, `open "cellar_door"`},
			{"smoke kitchen_smok", ErrUnknownDevice, `smoke "kitchen_smok"`},
			{"motion hall_motion maybe", ErrBadInput, `want on or off, not "maybe"`},
			{"frobnicate", ErrBadInput, `unknown command "frobnicate"`},
			{"arm away 12ab", ErrMalformedCode, `"12ab"`},
			{"disarm 123456789", ErrMalformedCode, `"123456789"`},
			{"Open front_door", ErrBadInput, `unknown command "Open"`},
		}
		for _, tc := range tests {
			t.Run(tc.line, func(t *testing.T) {
				_, err := ParseLine(inst, tc.line)
				if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %v naming %q", err, tc.is, tc.want)
				}
			})
		}
	})
	t.Run("inputs", func(t *testing.T) {
		tests := []struct {
			line string
			want Input
		}{
			{"arm night area 2 force 1234 from kp1", Input{Kind: InArm, Area: 2, Mode: ModeArmedNight, Force: true, Code: "1234", How: HowKeypad, Iface: "kp1"}},
			{"arm stay by anna", Input{Kind: InArm, Area: 1, Mode: ModeArmedHome, User: "anna", How: HowWeb}},
			{"disarm tag 04A1B2C3", Input{Kind: InDisarm, Area: 1, Tag: "04A1B2C3", How: HowTag}},
			{"silence by erik via homekit", Input{Kind: InDisarm, Area: 1, User: "erik", How: HowHomeKit}},
			{"bypass 3 5678", Input{Kind: InBypass, Area: 1, Zone: 3, Code: "5678", How: HowKeypad}},
			{"bypass living_window by erik", Input{Kind: InBypass, Area: 1, Zone: 3, User: "erik", How: HowWeb}},
			{"grant installer 2h 1234", Input{Kind: InGrantInstaller, Area: 1, Active: true, Duration: 2 * time.Hour, Code: "1234", How: HowKeypad}},
			{"revoke installer by anna", Input{Kind: InGrantInstaller, Area: 1, User: "anna", How: HowWeb}},
			{"walktest on 10m by ivan", Input{Kind: InWalkTest, Area: 1, Active: true, Duration: 10 * time.Minute, User: "ivan", How: HowWeb}},
			{"panic area 2", Input{Kind: InPanic, Area: 2, How: HowKeypad}},
			{"panic panic_button", Input{Kind: InReport, Device: "panic_button", Signal: SignalPanic, Active: true}},
			{"smoke kitchen_smoke off", Input{Kind: InReport, Device: "kitchen_smoke", Signal: SignalSmoke}},
			{"close front_door", Input{Kind: InReport, Device: "front_door", Signal: SignalContact}},
			{"battery_low garage_motion on", Input{Kind: InReport, Device: "garage_motion", Signal: SignalBatteryLow, Active: true}},
			{"lid open", Input{Kind: InReport, Device: HubDevice, Signal: SignalTamper, Active: true}},
			{"mains off", Input{Kind: InMains, Active: true, How: HowSystem}},
			{"uplink fault eth0", Input{Kind: InUplinkFault, Active: true, Path: "eth0"}},
			{"periodic test", Input{Kind: InPeriodicTest, Area: 1}},
		}
		for _, tc := range tests {
			t.Run(tc.line, func(t *testing.T) {
				got, err := ParseLine(inst, tc.line)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
					t.Fatalf("got  %+v\nwant %+v", got, tc.want)
				}
			})
		}
	})
}

// TestEngine_FailedCommandChangesNothing: a refused command leaves the state exactly as it
// was; a wrong code only counts towards the lockout.
func TestEngine_FailedCommandChangesNothing(t *testing.T) {
	// setup gives the state some substance: area 1 armed with a bypass, an alarm in memory,
	// a wrong code already counted on the keypad, and mains lost.
	setup := func(r *engineRig) {
		r.must("bypass bedroom_window by anna")
		r.armNow("away")
		r.must("open living_window")
		r.advance(4 * time.Minute)
		r.must("mains off")
		r.try("ack 0000 from kp9")
		r.advance(time.Second)
	}
	tests := []struct {
		name string
		line string
		in   Input // when line is empty
		err  error
	}{
		{"wrong area", "arm away area 7 1234", Input{}, ErrUnknownArea},
		{"wrong area to disarm", "disarm area 7 by anna", Input{}, ErrUnknownArea},
		{"already armed", "arm home 1234", Input{}, ErrAlreadyArmed},
		{"already disarmed", "disarm area 2 1234", Input{}, ErrAlreadyDisarmed},
		{"unknown user", "disarm by nobody", Input{}, ErrUnknownUser},
		// ParseLine refuses malformed codes itself; other interfaces hand them to the engine.
		{"malformed code", "", Input{Kind: InDisarm, Area: 1, Code: "12ab", How: HowWeb}, ErrMalformedCode},
		{"short code", "", Input{Kind: InDisarm, Area: 1, Code: "123", How: HowKeypad}, ErrMalformedCode},
		{"long code", "", Input{Kind: InDisarm, Area: 1, Code: "123456789", How: HowHomeKit}, ErrMalformedCode},
		{"no credential", "disarm", Input{}, ErrNoCredential},
		{"bypass 24h zone by admin", "bypass kitchen_smoke 1234", Input{}, ErrNotAllowed},
		{"bypass 24h zone by user", "bypass bathroom_water by erik", Input{}, ErrNotAllowed},
		{"bypass twice", "bypass bedroom_window 1234", Input{}, ErrAlreadyBypassed},
		{"bypass unknown zone", "bypass 42 1234", Input{}, ErrUnknownZone},
		{"limited user in another area", "arm away area 2 2468", Input{}, ErrNotAllowed},
		{"installer not granted", "disarm 7777", Input{}, ErrInstallerNotActive},
		{"nothing to acknowledge", "ack area 2 by anna", Input{}, ErrNothingToAck},
		{"panic in unknown area", "panic area 9", Input{}, ErrUnknownArea},
		{"walk test while armed", "walktest on by anna", Input{}, ErrWalkTestArmed},
		{"grant by a user", "grant installer by erik", Input{}, ErrNotAllowed},
		{"service off when not on", "service off by anna", Input{}, ErrBadInput},
		{"unknown device", "", Input{Kind: InReport, Device: "cellar_door", Signal: SignalContact, Active: true}, ErrUnknownDevice},
		{"report without signal", "", Input{Kind: InReport, Device: "front_door", Active: true}, ErrBadInput},
		{"unknown input kind", "", Input{Kind: 99}, ErrBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			setup(r)
			before := r.stateJSON()
			var effs []Effect
			var err error
			if tc.line == "" {
				effs, err = r.step(tc.in)
			} else {
				effs, err = r.try(tc.line)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if len(effs) != 0 {
				t.Fatalf("effects of a failed command:\n%s", renderAll(effs))
			}
			if after := r.stateJSON(); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Run("wrong code only counts", func(t *testing.T) {
		r := newEngineRig(t, nil)
		setup(r)
		before := r.eng.State().Clone()
		effs, err := r.try("disarm 0000 from kp9")
		if !errors.Is(err, ErrWrongCode) {
			t.Fatalf("got %v", err)
		}
		if w := eventsOf(effs, KindWrongCode); len(w) != 1 || len(effs) != 1 {
			t.Fatalf("want one wrong_code event, got\n%s", renderAll(effs))
		}
		after := r.eng.State().Clone()
		if n := len(after.Lockouts["kp9"].Wrong); n != 2 {
			t.Fatalf("kp9 counts %d wrong codes, want 2", n)
		}
		if after.NextSeq != before.NextSeq+1 {
			t.Fatalf("next seq %d, want %d", after.NextSeq, before.NextSeq+1)
		}
		before.Lockouts, after.Lockouts = nil, nil
		before.NextSeq, after.NextSeq = 0, 0
		b, _ := json.Marshal(before)
		a, _ := json.Marshal(after)
		if string(a) != string(b) {
			t.Fatalf("a wrong code changed more than the lockout:\nbefore %s\nafter  %s", b, a)
		}
	})
}

// TestEngine_AlarmMemoryIsBounded: a detector that keeps firing cannot grow the state
// without bound; the newest alarms stay in memory and every one is in the history.
func TestEngine_AlarmMemoryIsBounded(t *testing.T) {
	eng := NewEngine(DemoInstallation(testKey), State{})
	now := scenarioStart
	events := 0
	for i := 0; i < 3*MaxMemory; i++ {
		for _, active := range []bool{true, false} {
			effs, err := eng.Step(now, Input{Kind: InReport, Device: "kitchen_smoke", Signal: SignalSmoke, Active: active})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range effs {
				if e.Kind == EffectEvent && e.Event.Kind == KindFire && !e.Event.Restore {
					events++
				}
			}
			now = now.Add(time.Second)
		}
	}
	mem := eng.State().Areas[0].FireMemory
	if len(mem) != MaxMemory || events != 3*MaxMemory {
		t.Fatalf("fire memory %d (want %d), fire events %d (want %d)", len(mem), MaxMemory, events, 3*MaxMemory)
	}
	if !mem[len(mem)-1].Time.Equal(now.Add(-2 * time.Second)) {
		t.Fatalf("the newest alarm is not the last in memory: %v", mem[len(mem)-1].Time)
	}
}
