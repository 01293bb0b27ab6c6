package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// The schedules page: auto-arm per area (with the warning and an optional disarm) and plug
// on/off times. Every change goes through Hub.Configure with the signed-in user's (or the
// given PIN's) credential, so it is authorised, validated by the hub and logged.

// scheduleErr is a schedule form's mistake, naming the field: shown on the page in the
// reader's language, and in the API's JSON as field and text.
type scheduleErr struct {
	field string // arm, disarm, on, off, days, area, mode, device, timezone
	key   string // message key
	value string
}

func (e *scheduleErr) Error() string { return e.field + ": " + translate("en", e.key) + e.quoted() }

func (e *scheduleErr) quoted() string {
	if e.value == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", e.value)
}

// scheduleRow is a schedule as the page and the API show it.
type scheduleRow struct {
	Index    int      `json:"index"`
	Area     int      `json:"area"`
	AreaName string   `json:"area_name"`
	Mode     string   `json:"mode"` // away, home or night
	Arm      string   `json:"arm"`
	Disarm   string   `json:"disarm,omitempty"`
	Days     []string `json:"days"`
	// Next is the next run of each of its times, in the installation's zone.
	Next []nextRun `json:"next"`
}

// HasDay says whether the schedule runs on day d (for the form's checkboxes).
func (r scheduleRow) HasDay(d string) bool { return hasDay(r.Days, d) }

// plugScheduleRow is a plug schedule as the page and the API show it.
type plugScheduleRow struct {
	Index      int       `json:"index"`
	Device     string    `json:"device"`
	DeviceName string    `json:"device_name"`
	On         string    `json:"on,omitempty"`
	Off        string    `json:"off,omitempty"`
	Days       []string  `json:"days"`
	Next       []nextRun `json:"next"`
}

// HasDay says whether the schedule runs on day d.
func (r plugScheduleRow) HasDay(d string) bool { return hasDay(r.Days, d) }

func hasDay(days []string, d string) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// nextRun is one upcoming run: what (arm, disarm, on, off) and when, as local wall time.
type nextRun struct {
	What string `json:"what"`
	At   string `json:"at"` // "Wed 2026-11-25 22:00 CET"
}

// plugRow is a plug that may be scheduled.
type plugRow struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// schedulesView is the schedules page's data and its JSON twin.
type schedulesView struct {
	Timezone      string            `json:"timezone"`
	Schedules     []scheduleRow     `json:"schedules"`
	PlugSchedules []plugScheduleRow `json:"plug_schedules"`
	Areas         []hub.Area        `json:"-"`
	Plugs         []plugRow         `json:"plugs"`
	Days          []string          `json:"-"`
	Modes         []string          `json:"-"`
	// Blank is an empty row for the add forms.
	Blank     scheduleRow     `json:"-"`
	BlankPlug plugScheduleRow `json:"-"`
	formNotice
}

func modeWord(m hub.Mode) string { return strings.TrimPrefix(m.String(), "armed_") }

func dayWords(ds []hub.Weekday) []string {
	out := make([]string, 0, len(ds))
	for _, n := range hub.WeekdayNames { // Monday first, whatever order they were given in
		for _, d := range ds {
			if d.String() == n {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func clockText(c *hub.ClockTime) string {
	if c == nil {
		return ""
	}
	return c.String()
}

func (s *Server) schedulesView(n formNotice) schedulesView {
	inst := s.hub.Snapshot().Installation
	loc := inst.Location()
	areas, plugs := inst.NextRuns(s.now())
	next := func(us []hub.Upcoming) []nextRun {
		out := []nextRun{}
		for _, u := range us {
			out = append(out, nextRun{What: u.What, At: u.At.In(loc).Format("Mon 2006-01-02 15:04 MST")})
		}
		return out
	}
	v := schedulesView{Timezone: loc.String(), Schedules: []scheduleRow{}, PlugSchedules: []plugScheduleRow{}, Plugs: []plugRow{},
		Areas: inst.Areas, Days: hub.WeekdayNames, Modes: []string{"away", "home", "night"}, formNotice: n,
		Blank: scheduleRow{Index: -1, Mode: "away"}, BlankPlug: plugScheduleRow{Index: -1}}
	names := map[int]string{}
	for _, a := range inst.Areas {
		names[a.Number] = a.Name
	}
	devName := map[string]string{}
	for _, d := range inst.Devices {
		devName[d.ID] = cmpOr(d.Name, d.ID)
		if d.Kind == "plug" {
			v.Plugs = append(v.Plugs, plugRow{ID: d.ID, Name: cmpOr(d.Name, d.ID)})
		}
	}
	for i, sc := range inst.Schedules {
		v.Schedules = append(v.Schedules, scheduleRow{Index: i, Area: sc.Area, AreaName: names[sc.Area], Mode: modeWord(sc.Mode),
			Arm: clockText(sc.Arm), Disarm: clockText(sc.Disarm), Days: dayWords(sc.Days), Next: next(areas[i])})
	}
	for i, p := range inst.PlugSchedules {
		v.PlugSchedules = append(v.PlugSchedules, plugScheduleRow{Index: i, Device: p.Device, DeviceName: devName[p.Device],
			On: clockText(p.On), Off: clockText(p.Off), Days: dayWords(p.Days), Next: next(plugs[i])})
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) schedulesPage(c *fiber.Ctx) error {
	return s.renderSchedules(c, http.StatusOK, formNotice{Done: c.Query("saved") == "1"})
}

func (s *Server) renderSchedules(c *fiber.Ctx, status int, n formNotice) error {
	return s.renderSchedulesKeep(c, status, n, nil)
}

// renderSchedulesKeep renders the page with, when keep is set, a refused new schedule's
// values back in its add form, so a mistake costs one field, not the form.
func (s *Server) renderSchedulesKeep(c *fiber.Ctx, status int, n formNotice, keep any) error {
	v := s.schedulesView(n)
	switch k := keep.(type) {
	case *scheduleRow:
		v.Blank = *k
	case *plugScheduleRow:
		v.BlankPlug = *k
	}
	return s.render(c, status, "schedules", page{Title: translate(lang(c), "schedules"), Data: v})
}

func (s *Server) apiSchedules(c *fiber.Ctx) error { return c.JSON(s.schedulesView(formNotice{})) }

// scheduleForm is one schedule as a form or the API gives it: times "HH:MM", days by name.
type scheduleForm struct {
	Area   int      `json:"area"`
	Mode   string   `json:"mode"`
	Arm    string   `json:"arm"`
	Disarm string   `json:"disarm,omitempty"`
	Days   []string `json:"days"`
}

// plugScheduleForm is one plug schedule as a form or the API gives it.
type plugScheduleForm struct {
	Device string   `json:"device"`
	On     string   `json:"on,omitempty"`
	Off    string   `json:"off,omitempty"`
	Days   []string `json:"days"`
}

// parseClock reads an optional (or, with required, a required) time of day.
func parseClock(field, v string, required bool) (*hub.ClockTime, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		if required {
			return nil, &scheduleErr{field: field, key: "schedule_time_missing"}
		}
		return nil, nil
	}
	c, err := hub.ParseClockTime(v)
	if err != nil {
		return nil, &scheduleErr{field: field, key: "schedule_bad_time", value: v}
	}
	return &c, nil
}

func parseDays(ds []string) ([]hub.Weekday, error) {
	if len(ds) == 0 {
		return nil, &scheduleErr{field: "days", key: "schedule_no_days"}
	}
	var out []hub.Weekday
	for _, d := range ds {
		w, err := hub.ParseWeekday(strings.TrimSpace(d))
		if err != nil {
			return nil, &scheduleErr{field: "days", key: "schedule_bad_day", value: d}
		}
		out = append(out, w)
	}
	return out, nil
}

// schedule checks a form against the installation and turns it into a hub.Schedule.
func (f scheduleForm) schedule(inst *hub.Installation) (hub.Schedule, error) {
	known := false
	for _, a := range inst.Areas {
		known = known || a.Number == f.Area
	}
	if !known {
		return hub.Schedule{}, &scheduleErr{field: "area", key: "schedule_bad_area", value: strconv.Itoa(f.Area)}
	}
	m, err := hub.ParseMode(f.Mode)
	if err != nil || !m.Armed() {
		return hub.Schedule{}, &scheduleErr{field: "mode", key: "schedule_bad_mode", value: f.Mode}
	}
	arm, err := parseClock("arm", f.Arm, true)
	if err != nil {
		return hub.Schedule{}, err
	}
	disarm, err := parseClock("disarm", f.Disarm, false)
	if err != nil {
		return hub.Schedule{}, err
	}
	if disarm != nil && *disarm == *arm {
		return hub.Schedule{}, &scheduleErr{field: "disarm", key: "schedule_same_time", value: f.Disarm}
	}
	days, err := parseDays(f.Days)
	if err != nil {
		return hub.Schedule{}, err
	}
	return hub.Schedule{Area: f.Area, Mode: m, Arm: arm, Disarm: disarm, Days: days}, nil
}

// plugSchedule checks a form against the installation and turns it into a hub.PlugSchedule.
func (f plugScheduleForm) plugSchedule(inst *hub.Installation) (hub.PlugSchedule, error) {
	known := false
	for _, d := range inst.Devices {
		known = known || (d.ID == f.Device && d.Kind == "plug")
	}
	if !known {
		return hub.PlugSchedule{}, &scheduleErr{field: "device", key: "schedule_bad_plug", value: f.Device}
	}
	on, err := parseClock("on", f.On, false)
	if err != nil {
		return hub.PlugSchedule{}, err
	}
	off, err := parseClock("off", f.Off, false)
	if err != nil {
		return hub.PlugSchedule{}, err
	}
	if on == nil && off == nil {
		return hub.PlugSchedule{}, &scheduleErr{field: "on", key: "schedule_no_plug_time"}
	}
	if on != nil && off != nil && *on == *off {
		return hub.PlugSchedule{}, &scheduleErr{field: "off", key: "schedule_same_time", value: f.Off}
	}
	days, err := parseDays(f.Days)
	if err != nil {
		return hub.PlugSchedule{}, err
	}
	// A copy: fiber reuses a form value's bytes after the handler returns.
	return hub.PlugSchedule{Device: strings.Clone(f.Device), On: on, Off: off, Days: days}, nil
}

// scheduleFail answers a refused schedule change: the form's mistake or the hub's
// validation on the page (400), or as JSON naming the field; anything else goes on.
func (s *Server) scheduleFail(c *fiber.Ctx, err error) error { return s.scheduleFailKeep(c, err, nil) }

// scheduleFailKeep is scheduleFail keeping a new schedule's values in the add form.
func (s *Server) scheduleFailKeep(c *fiber.Ctx, err error, keep any) error {
	var se *scheduleErr
	if errors.As(err, &se) {
		if isAPI(c) {
			return c.Status(http.StatusBadRequest).JSON(struct {
				Error string `json:"error"`
				Code  string `json:"code"`
				Field string `json:"field"`
			}{se.Error(), "invalid_schedule", se.field})
		}
		l := lang(c)
		return s.renderSchedulesKeep(c, http.StatusBadRequest, formNotice{Error: translate(l, "schedule_"+se.field) + ": " + translate(l, se.key) + se.quoted()}, keep)
	}
	return s.fail(c, err, func(n formNotice) error { return s.renderSchedulesKeep(c, http.StatusBadRequest, n, keep) })
}

// formDays reads the days' checkboxes.
func formDays(c *fiber.Ctx) []string {
	var out []string
	for _, b := range c.Request().PostArgs().PeekMulti("days") {
		out = append(out, string(b))
	}
	return out
}

// formIndex reads which schedule a form changes: -1 (or empty) for a new one.
func formIndex(c *fiber.Ctx) (int, error) {
	v := strings.TrimSpace(c.FormValue("index"))
	if v == "" || v == "-1" {
		return -1, nil
	}
	return formInt(c, "index")
}

// errNoSchedule is a change to a schedule that is no longer there (another admin removed it).
var errNoSchedule = fiber.NewError(http.StatusNotFound, "no such schedule")

// schedulePost adds or changes an area's schedule (kind "area") or a plug's (kind "plug").
func (s *Server) schedulePost(c *fiber.Ctx) error {
	i, err := formIndex(c)
	if err != nil {
		return err
	}
	inst := s.hub.Snapshot().Installation
	switch c.FormValue("kind") {
	case "area":
		area, err := strconv.Atoi(c.FormValue("area"))
		if err != nil {
			return s.scheduleFail(c, &scheduleErr{field: "area", key: "schedule_bad_area", value: c.FormValue("area")})
		}
		f := scheduleForm{Area: area, Mode: c.FormValue("mode"), Arm: c.FormValue("arm"), Disarm: c.FormValue("disarm"), Days: formDays(c)}
		var keep any
		if i < 0 {
			keep = &scheduleRow{Index: -1, Area: f.Area, Mode: f.Mode, Arm: f.Arm, Disarm: f.Disarm, Days: f.Days}
		}
		sc, err := f.schedule(inst)
		if err != nil {
			return s.scheduleFailKeep(c, err, keep)
		}
		err = s.configure(c, c.FormValue("pin"), fmt.Sprintf("schedule: area %d arms %s at %s in the web UI", sc.Area, modeWord(sc.Mode), sc.Arm), func(in *hub.Installation) error {
			return putAt(&in.Schedules, i, sc)
		})
		if err != nil {
			return s.scheduleFailKeep(c, err, keep)
		}
	case "plug":
		f := plugScheduleForm{Device: c.FormValue("device"), On: c.FormValue("on"), Off: c.FormValue("off"), Days: formDays(c)}
		var keep any
		if i < 0 {
			keep = &plugScheduleRow{Index: -1, Device: f.Device, On: f.On, Off: f.Off, Days: f.Days}
		}
		p, err := f.plugSchedule(inst)
		if err != nil {
			return s.scheduleFailKeep(c, err, keep)
		}
		err = s.configure(c, c.FormValue("pin"), "schedule: plug "+p.Device+" in the web UI", func(in *hub.Installation) error {
			return putAt(&in.PlugSchedules, i, p)
		})
		if err != nil {
			return s.scheduleFailKeep(c, err, keep)
		}
	default:
		return invalid("kind")
	}
	return c.Redirect("/schedules?saved=1", http.StatusSeeOther)
}

// putAt sets (*list)[i], or appends v when i is -1.
func putAt[T any](list *[]T, i int, v T) error {
	if i < 0 {
		*list = append(*list, v)
		return nil
	}
	if i >= len(*list) {
		return errNoSchedule
	}
	(*list)[i] = v
	return nil
}

// scheduleRemovePost removes an area's (kind "area") or a plug's schedule.
func (s *Server) scheduleRemovePost(c *fiber.Ctx) error {
	i, err := formInt(c, "index")
	if err != nil {
		return err
	}
	kind := c.FormValue("kind")
	if kind != "area" && kind != "plug" {
		return invalid("kind")
	}
	err = s.configure(c, c.FormValue("pin"), fmt.Sprintf("schedule: %s schedule %d removed in the web UI", kind, i+1), func(in *hub.Installation) error {
		if kind == "area" {
			return removeAt(&in.Schedules, i)
		}
		return removeAt(&in.PlugSchedules, i)
	})
	if err != nil {
		return s.scheduleFail(c, err)
	}
	return c.Redirect("/schedules?saved=1", http.StatusSeeOther)
}

func removeAt[T any](list *[]T, i int) error {
	if i < 0 || i >= len(*list) {
		return errNoSchedule
	}
	*list = append((*list)[:i], (*list)[i+1:]...)
	return nil
}

// validZone reports whether tz names a time zone vakt can load (time/tzdata is in the
// binary, so this does not depend on the gateway's files).
func validZone(tz string) bool {
	_, err := time.LoadLocation(tz)
	return err == nil
}

// timezonePost sets the time zone schedules run in.
func (s *Server) timezonePost(c *fiber.Ctx) error {
	if err := s.setTimezone(c, c.FormValue("timezone"), c.FormValue("pin")); err != nil {
		return s.scheduleFail(c, err)
	}
	return c.Redirect("/schedules?saved=1", http.StatusSeeOther)
}

func (s *Server) setTimezone(c *fiber.Ctx, tz, pin string) error {
	tz = strings.Clone(strings.TrimSpace(tz)) // kept in the installation: not fiber's bytes
	if len(tz) > 64 {
		return &scheduleErr{field: "timezone", key: "schedule_bad_timezone", value: tz[:64]}
	}
	if tz == hub.DefaultTimezone {
		tz = "" // the default, as an installation without the setting has it
	}
	if tz == "Local" || strings.ContainsAny(tz, " \\") || (tz != "" && !validZone(tz)) {
		return &scheduleErr{field: "timezone", key: "schedule_bad_timezone", value: tz}
	}
	return s.configure(c, pin, "schedules' time zone "+cmpOr(tz, hub.DefaultTimezone)+" set in the web UI", func(in *hub.Installation) error {
		in.Settings.Timezone = tz
		return nil
	})
}

// schedulesSet is the API's whole set of schedules, replacing what is there.
type schedulesSet struct {
	// Timezone, when given, sets the zone too.
	Timezone      *string            `json:"timezone"`
	Schedules     []scheduleForm     `json:"schedules"`
	PlugSchedules []plugScheduleForm `json:"plug_schedules"`
	PIN           string             `json:"pin,omitempty"`
}

// apiSchedulesSet replaces every schedule (and the time zone, when given) in one change.
func (s *Server) apiSchedulesSet(c *fiber.Ctx) error {
	var r schedulesSet
	if err := body(c, &r); err != nil {
		return err
	}
	inst := s.hub.Snapshot().Installation
	var scheds []hub.Schedule
	for i, f := range r.Schedules {
		sc, err := f.schedule(inst)
		if err != nil {
			return s.scheduleFail(c, indexed("schedules", i, err))
		}
		scheds = append(scheds, sc)
	}
	var plugs []hub.PlugSchedule
	for i, f := range r.PlugSchedules {
		p, err := f.plugSchedule(inst)
		if err != nil {
			return s.scheduleFail(c, indexed("plug_schedules", i, err))
		}
		plugs = append(plugs, p)
	}
	tz := ""
	if r.Timezone != nil {
		tz = strings.TrimSpace(*r.Timezone)
		if tz == hub.DefaultTimezone {
			tz = ""
		}
		if tz == "Local" || (tz != "" && !validZone(tz)) {
			return s.scheduleFail(c, &scheduleErr{field: "timezone", key: "schedule_bad_timezone", value: tz})
		}
	}
	err := s.configure(c, r.PIN, fmt.Sprintf("schedules set through the API: %d for areas, %d for plugs", len(scheds), len(plugs)), func(in *hub.Installation) error {
		in.Schedules, in.PlugSchedules = scheds, plugs
		if r.Timezone != nil {
			in.Settings.Timezone = tz
		}
		return nil
	})
	if err != nil {
		return s.scheduleFail(c, err)
	}
	return s.apiSchedules(c)
}

// indexed names the schedule in the list an API error is about: schedules[2].arm.
func indexed(list string, i int, err error) error {
	var se *scheduleErr
	if errors.As(err, &se) {
		c := *se
		c.field = fmt.Sprintf("%s[%d].%s", list, i, se.field)
		return &c
	}
	return err
}
