package hub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var stockholm = mustLoadLocation("Europe/Stockholm")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func TestScheduleInstant_DaylightSaving(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name  string
		day   time.Time
		clock string
		want  time.Time
	}{
		{"an ordinary winter night", time.Date(2026, 11, 24, 0, 0, 0, 0, stockholm), "22:00", utc("2026-11-24T21:00:00Z")},
		{"an ordinary summer night", time.Date(2026, 6, 24, 0, 0, 0, 0, stockholm), "22:00", utc("2026-06-24T20:00:00Z")},
		{"spring forward: 02:30 is skipped, runs at the jump to 03:00", time.Date(2026, 3, 29, 0, 0, 0, 0, stockholm), "02:30", utc("2026-03-29T01:00:00Z")},
		{"spring forward: 02:00 is skipped, runs at the jump to 03:00", time.Date(2026, 3, 29, 0, 0, 0, 0, stockholm), "02:00", utc("2026-03-29T01:00:00Z")},
		{"spring forward: 01:59 is still winter time", time.Date(2026, 3, 29, 0, 0, 0, 0, stockholm), "01:59", utc("2026-03-29T00:59:00Z")},
		{"spring forward: 03:00 is summer time", time.Date(2026, 3, 29, 0, 0, 0, 0, stockholm), "03:00", utc("2026-03-29T01:00:00Z")},
		{"fall back: 02:30 happens twice, runs at the first (summer time)", time.Date(2026, 10, 25, 0, 0, 0, 0, stockholm), "02:30", utc("2026-10-25T00:30:00Z")},
		{"fall back: 02:00 happens twice, runs at the first", time.Date(2026, 10, 25, 0, 0, 0, 0, stockholm), "02:00", utc("2026-10-25T00:00:00Z")},
		{"fall back: 03:00 happens once, in winter time", time.Date(2026, 10, 25, 0, 0, 0, 0, stockholm), "03:00", utc("2026-10-25T02:00:00Z")},
		{"fall back: 01:30 happens once, in summer time", time.Date(2026, 10, 25, 0, 0, 0, 0, stockholm), "01:30", utc("2026-10-25T23:30:00Z").AddDate(0, 0, -1)},
		{"midnight", time.Date(2026, 3, 29, 0, 0, 0, 0, stockholm), "00:00", utc("2026-03-28T23:00:00Z")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClockTime(tc.clock)
			if err != nil {
				t.Fatal(err)
			}
			got := ScheduleInstant(stockholm, tc.day.Year(), tc.day.Month(), tc.day.Day(), c)
			if !got.Equal(tc.want) {
				t.Errorf("%s on %s = %s (%s), want %s (%s)", tc.clock, tc.day.Format("2006-01-02"),
					got.UTC().Format(time.RFC3339), got.In(stockholm).Format("15:04 MST"), tc.want.Format(time.RFC3339), tc.want.In(stockholm).Format("15:04 MST"))
			}
		})
	}
}

// liveThrough steps the engine as the hub's run loop does, ticking at every deadline from
// now until end, and returns every event with its time.
func liveThrough(t *testing.T, e *Engine, now, end time.Time) []Event {
	t.Helper()
	var evs []Event
	tick := func(at time.Time) {
		effs, err := e.Step(at, Input{Kind: InTick})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range effs {
			if f.Kind == EffectEvent {
				evs = append(evs, f.Event)
			}
		}
	}
	tick(now)
	for steps := 0; ; steps++ {
		next, ok := e.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		if steps > 10000 {
			t.Fatal("the deadlines never end")
		}
		if next.Before(now) {
			t.Fatalf("deadline %s is before the last tick %s", next, now)
		}
		now = next
		tick(now)
	}
	tick(end)
	return evs
}

// scheduled returns a demo installation with schedules, validated (the time zone loaded).
func scheduled(t *testing.T, scheds []Schedule, plugs []PlugSchedule) *Installation {
	t.Helper()
	inst := DemoInstallation(testKey)
	inst.Settings.ExitDelay = NewDuration(0)
	inst.Schedules, inst.PlugSchedules = scheds, plugs
	if err := inst.Validate(); err != nil {
		t.Fatal(err)
	}
	return inst
}

var everyDay = []Weekday{0, 1, 2, 3, 4, 5, 6}

func TestEngine_ScheduleDaylightSaving(t *testing.T) {
	for _, tc := range []struct {
		name string
		from time.Time // local midnight before the change
		// wantArm and wantDisarm are the local wall times (with zone) of the runs.
		wantWarn, wantArm, wantDisarm string
	}{
		{"spring forward", time.Date(2026, 3, 28, 12, 0, 0, 0, stockholm), "01:55 CET", "03:00 CEST", "03:00 CEST"}, // both skipped: both at the jump, in order
		{"fall back", time.Date(2026, 10, 24, 12, 0, 0, 0, stockholm), "02:25 CEST", "02:30 CEST", "02:45 CEST"},
		{"an ordinary night", time.Date(2026, 11, 24, 12, 0, 0, 0, stockholm), "02:25 CET", "02:30 CET", "02:45 CET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := scheduled(t, []Schedule{{Area: 1, Mode: ModeArmedNight, Arm: NewClockTime(2, 30), Disarm: NewClockTime(2, 45), Days: everyDay}}, nil)
			e := NewEngine(inst, State{})
			evs := liveThrough(t, e, tc.from, tc.from.Add(24*time.Hour))
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Kind.String()+" "+ev.Time.In(stockholm).Format("15:04 MST"))
			}
			want := []string{"schedule_warning " + tc.wantWarn, "stay_arm " + tc.wantArm, "disarm " + tc.wantDisarm}
			if strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("runs over the day:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(want, ", "))
			}
		})
	}
}

func TestEngine_ScheduleGrace(t *testing.T) {
	inst := scheduled(t, []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Days: everyDay}}, nil)
	before := time.Date(2026, 11, 24, 21, 50, 0, 0, stockholm)
	for _, tc := range []struct {
		name    string
		back    time.Time
		want    string // the events of the first tick after the restart
		armedTo Mode
	}{
		{"back at 22:03: within the grace, armed late", time.Date(2026, 11, 24, 22, 3, 0, 0, stockholm), "arm", ModeArmedAway},
		{"back at 22:05: just within", time.Date(2026, 11, 24, 22, 5, 0, 0, stockholm), "arm", ModeArmedAway},
		{"back at 22:06: missed, logged", time.Date(2026, 11, 24, 22, 6, 0, 0, stockholm), "schedule_missed", ModeDisarmed},
		{"back at 04:00: missed, never armed hours late", time.Date(2026, 11, 25, 4, 0, 0, 0, stockholm), "schedule_missed", ModeDisarmed},
		{"back three days later: logged once", time.Date(2026, 11, 27, 23, 0, 0, 0, stockholm), "schedule_missed", ModeDisarmed},
		{"back at 21:58: the warning, then the arming on time", time.Date(2026, 11, 24, 21, 58, 0, 0, stockholm), "schedule_warning", ModeDisarmed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(inst, State{})
			if _, err := e.Step(before, Input{Kind: InTick}); err != nil {
				t.Fatal(err)
			}
			st := e.State().Clone()
			e = NewEngine(inst, st)
			e.Restore(tc.back)
			effs, err := e.Step(tc.back, Input{Kind: InTick})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range effs {
				if f.Kind == EffectEvent {
					got = append(got, f.Event.Kind.String())
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("events %v, want %s", got, tc.want)
			}
			if m := e.State().Areas[0].Set; m != tc.armedTo {
				t.Errorf("area 1 is %s, want %s", m, tc.armedTo)
			}
			// Nothing runs twice: the same time again does nothing.
			if effs, _ := e.Step(tc.back, Input{Kind: InTick}); len(effs) != 0 {
				t.Errorf("a second tick at the same time: %v", effs)
			}
		})
	}
}

func TestEngine_ScheduleRefusedOverFault(t *testing.T) {
	inst := scheduled(t, []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Days: everyDay}}, nil)
	e := NewEngine(inst, State{})
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, stockholm)
	if _, err := e.Step(now, Input{Kind: InReport, Device: "living_motion", Signal: SignalMissing, Active: true}); err != nil {
		t.Fatal(err)
	}
	evs := liveThrough(t, e, now, now.Add(time.Hour))
	last := evs[len(evs)-1]
	if last.Kind != KindArmingCancelled || last.How != HowSchedule || !strings.Contains(last.Note, "NOT ARMED") || !strings.Contains(last.Note, "missing: Living room motion") {
		t.Fatalf("last event %s, want arming_cancelled (NOT ARMED) naming the missing device", last)
	}
	if a := e.State().Areas[0]; a.Set != ModeDisarmed || a.Forced {
		t.Fatalf("a schedule forced the arming: %+v", a)
	}
	o := e.State().Outputs()
	if k, _ := o.Area(1); k.Keypad != KeypadNotArmed {
		t.Fatalf("keypad shows %s, want %s", k.Keypad, KeypadNotArmed)
	}
}

func TestEngine_ScheduleNeverDisarmsAnAlarm(t *testing.T) {
	inst := scheduled(t, []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Disarm: NewClockTime(6, 30), Days: everyDay}}, nil)
	e := NewEngine(inst, State{})
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, stockholm)
	liveThrough(t, e, now, now.Add(2*time.Hour))
	now = time.Date(2026, 11, 25, 6, 29, 0, 0, stockholm)
	if _, err := e.Step(now, Input{Kind: InReport, Device: "living_window", Signal: SignalContact, Active: true}); err != nil {
		t.Fatal(err)
	}
	evs := liveThrough(t, e, now, now.Add(2*time.Minute))
	last := evs[len(evs)-1]
	if last.Kind != KindScheduleMissed || !strings.Contains(last.Note, "alarm") {
		t.Fatalf("last event %s, want schedule_missed: an alarm is in progress", last)
	}
	if a := e.State().Areas[0]; a.Mode != ModeTriggered {
		t.Fatalf("area 1 is %s, want triggered", a.Mode)
	}
}

func TestEngine_ScheduleChangeDoesNotRunThePast(t *testing.T) {
	inst := scheduled(t, nil, nil)
	e := NewEngine(inst, State{})
	now := time.Date(2026, 11, 24, 22, 2, 0, 0, stockholm)
	if _, err := e.Step(now, Input{Kind: InTick}); err != nil {
		t.Fatal(err)
	}
	// Added at 22:02 for 22:00: it runs tomorrow, not now.
	effs, err := e.Configure(now, Input{User: "anna", How: HowWeb}, "schedule", func(in *Installation) error {
		in.Schedules = []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Days: everyDay}}
		return nil
	})
	if err != nil || len(effs) != 1 || effs[0].Event.Kind != KindConfigChange {
		t.Fatalf("configure: %v %v", effs, err)
	}
	next, ok := e.NextDeadline()
	if want := time.Date(2026, 11, 25, 21, 55, 0, 0, stockholm); !ok || !next.Equal(want) {
		t.Fatalf("next deadline %s, want tomorrow's warning %s", next, want)
	}
}

func TestInstallation_ScheduleValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Installation)
		want   string
	}{
		{"unknown area", func(in *Installation) {
			in.Schedules = []Schedule{{Area: 7, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Days: everyDay}}
		}, "schedules[0].area 7 does not exist"},
		{"no mode", func(in *Installation) {
			in.Schedules = []Schedule{{Area: 1, Arm: NewClockTime(22, 0), Days: everyDay}}
		}, "schedules[0].mode"},
		{"no arming time", func(in *Installation) {
			in.Schedules = []Schedule{{Area: 1, Mode: ModeArmedAway, Days: everyDay}}
		}, "schedules[0].arm is missing"},
		{"time outside the day", func(in *Installation) {
			c := ClockTime(25 * 60)
			in.Schedules = []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: &c, Days: everyDay}}
		}, "schedules[0].arm"},
		{"empty days", func(in *Installation) {
			in.Schedules = []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0)}}
		}, "schedules[0].days is empty"},
		{"disarm at the arming time", func(in *Installation) {
			in.Schedules = []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Disarm: NewClockTime(22, 0), Days: everyDay}}
		}, "schedules[0].disarm"},
		{"unknown plug", func(in *Installation) {
			in.PlugSchedules = []PlugSchedule{{Device: "toaster", On: NewClockTime(6, 0), Days: everyDay}}
		}, `plug_schedules[0].device "toaster" is not a known plug`},
		{"a sensor is no plug", func(in *Installation) {
			in.PlugSchedules = []PlugSchedule{{Device: "front_door", On: NewClockTime(6, 0), Days: everyDay}}
		}, `plug_schedules[0].device "front_door"`},
		{"plug without times", func(in *Installation) {
			in.PlugSchedules = []PlugSchedule{{Device: "coffee_plug", Days: everyDay}}
		}, "plug_schedules[0] has neither an on nor an off time"},
		{"plug without days", func(in *Installation) {
			in.PlugSchedules = []PlugSchedule{{Device: "coffee_plug", Off: NewClockTime(6, 0)}}
		}, "plug_schedules[0].days is empty"},
		{"unknown time zone", func(in *Installation) { in.Settings.Timezone = "Europe/Atlantis" }, `settings.timezone "Europe/Atlantis"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst := DemoInstallation(testKey)
			tc.change(inst)
			err := inst.Validate()
			if !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestParseClockTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ClockTime
		ok   bool
	}{
		{"22:30", 22*60 + 30, true}, {"06:05", 6*60 + 5, true}, {"6:05", 6*60 + 5, true}, {"00:00", 0, true}, {"23:59", 23*60 + 59, true},
		{"25:00", 0, false}, {"24:00", 0, false}, {"12:60", 0, false}, {"", 0, false}, {"1230", 0, false}, {"12:3", 0, false}, {"-1:30", 0, false}, {"ab:cd", 0, false},
	} {
		got, err := ParseClockTime(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseClockTime(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "HH:MM") {
			t.Errorf("ParseClockTime(%q) error %q does not say the form", tc.in, err)
		}
	}
}

func TestInstallation_SchedulesRoundTripYAML(t *testing.T) {
	inst := scheduled(t, []Schedule{{Area: 2, Mode: ModeArmedAway, Arm: NewClockTime(23, 0), Disarm: NewClockTime(6, 0), Days: []Weekday{1, 2, 3, 4, 5}}},
		[]PlugSchedule{{Device: "coffee_plug", On: NewClockTime(6, 15), Days: []Weekday{6, 0}}})
	inst.Settings.Timezone = "Europe/Helsinki"
	b, err := MarshalInstallation(inst)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"timezone: Europe/Helsinki", "arm: \"23:00\"", "- mon", "device: coffee_plug", "\"06:15\""} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export lacks %q:\n%s", want, b)
		}
	}
	back, err := ParseInstallation(b, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Schedules) != 1 || *back.Schedules[0].Disarm != 6*60 || back.Schedules[0].Days[4] != 5 || back.PlugSchedules[0].Off != nil || back.Location().String() != "Europe/Helsinki" {
		t.Fatalf("round trip: %+v %+v", back.Schedules, back.PlugSchedules)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"schedules:\n  - area: 1\n    mode: away\n    arm: \"25:00\"\n    days: [mon]\n", "line 8"},
		{"plug_schedules:\n  - device: nowhere\n    on: \"06:00\"\n    days: [mon]\n", `plug_schedules[0].device "nowhere"`},
		{"schedules:\n  - area: 1\n    mode: away\n    arm: \"22:00\"\n    days: [funday]\n", `unknown day "funday"`},
		{"schedules:\n  - area: 1\n    mode: sometimes\n    arm: \"22:00\"\n    days: [mon]\n", `line 7: unknown mode "sometimes"`},
		{"schedules:\n  - area: 1\n    mode: away\n    arm: \"22:00\"\n    days: []\n", "schedules[0].days is empty"},
	} {
		y := "name: x\nareas:\n  - number: 1\n    name: House\n" + tc.yaml
		_, err := ParseInstallation([]byte(y), testKey)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("import of %q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestEngine_ScheduleDisarmSendsNoCancel: a scheduled disarm soon after a reported burglary
// (the siren cut off, the area armed again) disarms, but never tells the station a code
// holder is home.
func TestEngine_ScheduleDisarmSendsNoCancel(t *testing.T) {
	inst := scheduled(t, []Schedule{{Area: 1, Mode: ModeArmedAway, Arm: NewClockTime(22, 0), Disarm: NewClockTime(6, 30), Days: everyDay}}, nil)
	inst.Settings.CancelAfter = NewDuration(30 * time.Minute)
	inst.Settings.BellCutoff = NewDuration(time.Minute)
	e := NewEngine(inst, State{})
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, stockholm)
	liveThrough(t, e, now, now.Add(2*time.Hour))
	now = time.Date(2026, 11, 25, 6, 20, 0, 0, stockholm)
	for _, active := range []bool{true, false} {
		if _, err := e.Step(now, Input{Kind: InReport, Device: "living_window", Signal: SignalContact, Active: active}); err != nil {
			t.Fatal(err)
		}
	}
	evs := liveThrough(t, e, now, now.Add(15*time.Minute))
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind.String())
		if ev.Kind == KindCancel {
			t.Fatalf("a schedule sent a cancel: %s", ev)
		}
	}
	if got := kinds[len(kinds)-1]; got != "disarm" {
		t.Fatalf("events %v, want the scheduled disarm last", kinds)
	}
}
