package hub

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	// The zone database in every binary with the engine (vakt itself, each package's tests):
	// schedules run in the installation's zone even where the system has no tzdata.
	_ "time/tzdata"

	"gopkg.in/yaml.v3"
)

// Schedule timing (DESIGN §2, "auto-arm schedules").
const (
	// DefaultTimezone is the zone schedules run in when the installation names none.
	DefaultTimezone = "Europe/Stockholm"
	// ScheduleWarning is how long before a scheduled arming the family is warned and the
	// area's keypads chime.
	ScheduleWarning = 5 * time.Minute
	// ScheduleGrace is how late a schedule may still run: after a restart or a clock that
	// stood still, a schedule more than this late is logged as missed, never run hours late.
	ScheduleGrace = 5 * time.Minute
)

// ErrBadClockTime is the error for a time of day that is not "HH:MM" within the day.
var ErrBadClockTime = errors.New("not a time of day")

// ClockTime is a time of day in the installation's time zone, written "HH:MM".
type ClockTime int

// ParseClockTime reads "HH:MM" (00:00–23:59).
func ParseClockTime(s string) (ClockTime, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q: %w (want HH:MM, such as 22:30)", s, ErrBadClockTime)
	}
	var hh, mm int
	for _, c := range h {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w (want HH:MM, such as 22:30)", s, ErrBadClockTime)
		}
		hh = hh*10 + int(c-'0')
	}
	for _, c := range m {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w (want HH:MM, such as 22:30)", s, ErrBadClockTime)
		}
		mm = mm*10 + int(c-'0')
	}
	if hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q: %w (want HH:MM within 00:00–23:59)", s, ErrBadClockTime)
	}
	return ClockTime(hh*60 + mm), nil
}

// NewClockTime returns a set time of day for a schedule, where nil means unset.
func NewClockTime(hour, minute int) *ClockTime {
	c := ClockTime(hour*60 + minute)
	return &c
}

func (c ClockTime) valid() bool { return c >= 0 && c < 24*60 }

// String writes the time as "HH:MM".
func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// MarshalText writes the time as "HH:MM".
func (c ClockTime) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads "HH:MM".
func (c *ClockTime) UnmarshalText(b []byte) error {
	v, err := ParseClockTime(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// UnmarshalYAML reads "HH:MM"; a wrong one is an error with its line.
func (c *ClockTime) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalYAMLName(n, "time of day", c)
}

// Weekday is a day of the week, written mon, tue, … sun.
type Weekday time.Weekday

var weekdayNames = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// WeekdayNames are the names of the days, Monday first, as the UI lists them.
var WeekdayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// ParseWeekday reads a day's name: mon, tue, wed, thu, fri, sat or sun.
func ParseWeekday(s string) (Weekday, error) {
	for i, n := range weekdayNames {
		if n == strings.ToLower(s) {
			return Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", s)
}

// String returns the day's name.
func (d Weekday) String() string {
	if d >= 0 && int(d) < len(weekdayNames) {
		return weekdayNames[d]
	}
	return fmt.Sprintf("day(%d)", int(d))
}

// MarshalText writes the day's name.
func (d Weekday) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a day's name.
func (d *Weekday) UnmarshalText(b []byte) error {
	v, err := ParseWeekday(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML reads a day's name; a wrong one is an error with its line.
func (d *Weekday) UnmarshalYAML(n *yaml.Node) error { return unmarshalYAMLName(n, "day", d) }

// Schedule arms an area at a time of day on chosen weekdays, and optionally disarms it again.
// The family is warned ScheduleWarning before (a notification and the keypads' chime); an
// arming that is not ready (an open window, a fault) is not forced: it is "NOT ARMED", with
// the reasons, to the family and on the keypads.
type Schedule struct {
	Area int `json:"area" yaml:"area"`
	// Mode is the armed mode: away, home or night.
	Mode Mode       `json:"mode" yaml:"mode"`
	Arm  *ClockTime `json:"arm" yaml:"arm"`
	// Disarm, when set, disarms the area at the first such time after each scheduled arming
	// (the next morning for "arm 23:00, disarm 06:30"), but only while the area is still in
	// the armed period this schedule began: an arming by a person is never undone by a clock.
	Disarm *ClockTime `json:"disarm,omitempty" yaml:"disarm,omitempty"`
	Days   []Weekday  `json:"days" yaml:"days"`
}

// PlugSchedule switches a smart plug on and off at times of day on chosen weekdays. With
// both times set, the off time follows each on time (the next day when it is not later).
type PlugSchedule struct {
	Device string     `json:"device" yaml:"device"`
	On     *ClockTime `json:"on,omitempty" yaml:"on,omitempty"`
	Off    *ClockTime `json:"off,omitempty" yaml:"off,omitempty"`
	Days   []Weekday  `json:"days" yaml:"days"`
}

// Location returns the installation's time zone, in which schedules run.
func (in *Installation) Location() *time.Location {
	if in.loc != nil {
		return in.loc
	}
	// Not validated (a test's literal): load it each time rather than cache it in a value
	// other goroutines may be reading.
	loc, err := time.LoadLocation(in.timezone())
	if err != nil {
		return time.UTC
	}
	return loc
}

func (in *Installation) timezone() string {
	if in.Settings.Timezone != "" {
		return in.Settings.Timezone
	}
	return DefaultTimezone
}

// validateSchedules checks the schedules and resolves the time zone, which it keeps in the
// installation: it is loaded once, not at every step.
func (in *Installation) validateSchedules(bad func(string, ...any) error, areas map[int]bool) error {
	loc, err := time.LoadLocation(in.timezone())
	if err != nil || in.Settings.Timezone == "Local" {
		return bad("settings.timezone %q is not a known time zone (want a name such as Europe/Stockholm)", in.Settings.Timezone)
	}
	in.loc = loc
	days := func(field string, ds []Weekday) error {
		if len(ds) == 0 {
			return bad("%s is empty: choose at least one day", field)
		}
		for _, d := range ds {
			if d < 0 || d > 6 {
				return bad("%s: %d is not a day", field, int(d))
			}
		}
		return nil
	}
	clock := func(field string, c *ClockTime) error {
		if c != nil && !c.valid() {
			return bad("%s: %d minutes is not a time of day (want 00:00–23:59)", field, int(*c))
		}
		return nil
	}
	for i, s := range in.Schedules {
		f := fmt.Sprintf("schedules[%d]", i)
		if !areas[s.Area] {
			return bad("%s.area %d does not exist", f, s.Area)
		}
		if !s.Mode.Armed() {
			return bad("%s.mode %s: want away, home or night", f, s.Mode)
		}
		if s.Arm == nil {
			return bad("%s.arm is missing: the time to arm, HH:MM", f)
		}
		if err := clock(f+".arm", s.Arm); err != nil {
			return err
		}
		if err := clock(f+".disarm", s.Disarm); err != nil {
			return err
		}
		if s.Disarm != nil && *s.Disarm == *s.Arm {
			return bad("%s.disarm %s is the arming time", f, s.Disarm)
		}
		if err := days(f+".days", s.Days); err != nil {
			return err
		}
	}
	plugs := map[string]bool{}
	for _, d := range in.Devices {
		if d.Kind == "plug" {
			plugs[d.ID] = true
		}
	}
	for i, p := range in.PlugSchedules {
		f := fmt.Sprintf("plug_schedules[%d]", i)
		if !plugs[p.Device] {
			return bad("%s.device %q is not a known plug", f, p.Device)
		}
		if p.On == nil && p.Off == nil {
			return bad("%s has neither an on nor an off time", f)
		}
		if err := clock(f+".on", p.On); err != nil {
			return err
		}
		if err := clock(f+".off", p.Off); err != nil {
			return err
		}
		if p.On != nil && p.Off != nil && *p.On == *p.Off {
			return bad("%s.off %s is the on time", f, p.Off)
		}
		if err := days(f+".days", p.Days); err != nil {
			return err
		}
	}
	return nil
}

// scheduleAction says what one timed action of a schedule does.
type scheduleAction uint8

const (
	actWarn scheduleAction = iota + 1
	actArm
	actDisarm
	actPlugOn
	actPlugOff
)

// timedAction is one action of a schedule, at a time of day on a set of weekdays.
type timedAction struct {
	act   scheduleAction
	index int // the schedule's index in Schedules or PlugSchedules
	area  int
	mode  Mode
	dev   string
	clock ClockTime
	days  uint8 // bit d set: runs on weekday d
	// before runs the action that long before its clock time (the warning).
	before time.Duration
}

// dayMask turns days into a bit set; shift moves each day forward (an action that follows
// another past midnight runs the next day).
func dayMask(ds []Weekday, shift int) uint8 {
	var m uint8
	for _, d := range ds {
		m |= 1 << ((int(d) + shift) % 7)
	}
	return m
}

// timedActions lists every action of the installation's schedules.
func (in *Installation) timedActions() []timedAction {
	var out []timedAction
	for i, s := range in.Schedules {
		if s.Arm == nil {
			continue
		}
		days := dayMask(s.Days, 0)
		out = append(out,
			timedAction{act: actWarn, index: i, area: s.Area, mode: s.Mode, clock: *s.Arm, days: days, before: ScheduleWarning},
			timedAction{act: actArm, index: i, area: s.Area, mode: s.Mode, clock: *s.Arm, days: days})
		if s.Disarm != nil {
			shift := 0
			if *s.Disarm <= *s.Arm {
				shift = 1
			}
			out = append(out, timedAction{act: actDisarm, index: i, area: s.Area, mode: s.Mode, clock: *s.Disarm, days: dayMask(s.Days, shift)})
		}
	}
	for i, p := range in.PlugSchedules {
		if p.On != nil {
			out = append(out, timedAction{act: actPlugOn, index: i, dev: p.Device, clock: *p.On, days: dayMask(p.Days, 0)})
		}
		if p.Off != nil {
			shift := 0
			if p.On != nil && *p.Off <= *p.On {
				shift = 1
			}
			out = append(out, timedAction{act: actPlugOff, index: i, dev: p.Device, clock: *p.Off, days: dayMask(p.Days, shift)})
		}
	}
	return out
}

// ScheduleInstant is when a time of day happens on a date in loc. Daylight-saving changes
// make some times of day happen never or twice; the rule is:
//   - a time the spring-forward skips (02:30 on the last Sunday of March in Europe/Stockholm)
//     happens at the jump (03:00 summer time): a schedule runs late rather than not at all;
//   - a time the fall-back repeats (02:30 on the last Sunday of October) happens at its first
//     passing (summer time): a schedule runs once, not twice.
func ScheduleInstant(loc *time.Location, y int, m time.Month, d int, c ClockTime) time.Time {
	h, mi := int(c)/60, int(c)%60
	t := time.Date(y, m, d, h, mi, 0, 0, loc)
	matches := func(u time.Time) bool {
		u = u.In(loc)
		uy, um, ud := u.Date()
		return uy == y && um == m && ud == d && u.Hour() == h && u.Minute() == mi && u.Second() == 0
	}
	// The earliest instant whose wall clock reads the time (zone shifts are at most 2 h).
	for _, back := range []time.Duration{2 * time.Hour, 90 * time.Minute, time.Hour, 30 * time.Minute} {
		if u := t.Add(-back); matches(u) {
			return u
		}
	}
	if matches(t) {
		return t
	}
	// In a gap: the instant the clock jumped over the time.
	// t is just after the jump (its zone began then) or just before it (its zone ends then).
	start, end := t.ZoneBounds()
	if !start.IsZero() && t.Sub(start) < 3*time.Hour {
		return start
	}
	return end
}

// latest returns the action's latest run at or before now.
func (a *timedAction) latest(loc *time.Location, now time.Time) (time.Time, bool) {
	ref := now.Add(a.before).In(loc)
	y, m, d := ref.Date()
	for k := 0; k <= 8; k++ {
		day := time.Date(y, m, d-k, 12, 0, 0, 0, loc)
		if a.days&(1<<day.Weekday()) == 0 {
			continue
		}
		t := ScheduleInstant(loc, day.Year(), day.Month(), day.Day(), a.clock).Add(-a.before)
		if !t.After(now) {
			return t, true
		}
	}
	return time.Time{}, false
}

// next returns the action's first run after t.
func (a *timedAction) next(loc *time.Location, t time.Time) (time.Time, bool) {
	ref := t.Add(a.before).In(loc)
	y, m, d := ref.Date()
	for k := -1; k <= 8; k++ {
		day := time.Date(y, m, d+k, 12, 0, 0, 0, loc)
		if a.days&(1<<day.Weekday()) == 0 {
			continue
		}
		at := ScheduleInstant(loc, day.Year(), day.Month(), day.Day(), a.clock).Add(-a.before)
		if at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// Upcoming is a schedule's next run, as the UI shows it.
type Upcoming struct {
	// What is arm, disarm, on or off.
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

// NextRuns returns, for each schedule (by index), its next arming and disarming after now;
// and for each plug schedule its next on and off.
func (in *Installation) NextRuns(now time.Time) (areas, plugs [][]Upcoming) {
	areas = make([][]Upcoming, len(in.Schedules))
	plugs = make([][]Upcoming, len(in.PlugSchedules))
	loc := in.Location()
	for _, a := range in.timedActions() {
		t, ok := a.next(loc, now)
		if !ok {
			continue
		}
		switch a.act {
		case actArm:
			areas[a.index] = append(areas[a.index], Upcoming{"arm", t})
		case actDisarm:
			areas[a.index] = append(areas[a.index], Upcoming{"disarm", t})
		case actPlugOn:
			plugs[a.index] = append(plugs[a.index], Upcoming{"on", t})
		case actPlugOff:
			plugs[a.index] = append(plugs[a.index], Upcoming{"off", t})
		}
	}
	for _, l := range append(areas, plugs...) {
		slices.SortFunc(l, func(a, b Upcoming) int { return a.At.Compare(b.At) })
	}
	return areas, plugs
}
