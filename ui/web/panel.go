package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/devices"
	"vakt/hub"
)

// panelView is the panel's state, for the page, the event stream and the API alike.
type panelView struct {
	Seq uint64 `json:"seq"`
	// Rev changes when what the panel shows changes without a new event: a zone opened or
	// closed while disarmed (readiness), a trouble, a plug or a lock. The page reloads on a
	// new Seq or Rev (readings such as temperatures wait for the next).
	Rev      string       `json:"rev"`
	Now      time.Time    `json:"now"`
	Areas    []areaView   `json:"areas"`
	Troubles []string     `json:"troubles"`
	Devices  []deviceView `json:"devices"`
	// Station is the monitoring station link: each receiver's paths and its last
	// acknowledged transmission test. Empty without a station.
	Station []stationView `json:"station,omitempty"`
}

// stationView is one monitoring station receiver on the panel.
type stationView struct {
	Name  string     `json:"name"`
	Paths []pathView `json:"paths"`
	// LastTest is when the receiver last acknowledged a transmission test, and over which
	// path; nil if it has not since start.
	LastTest *testView `json:"last_test,omitempty"`
}

// pathView is one path to a receiver: up (its last exchange answered) or in fault.
type pathView struct {
	Name  string `json:"name"`
	Up    bool   `json:"up"`
	Fault bool   `json:"fault"`
}

// testView is an acknowledged transmission test.
type testView struct {
	At   time.Time `json:"at,omitzero"`
	Path string    `json:"path,omitempty"`
}

// areaView is one area on the panel.
type areaView struct {
	Number int    `json:"number"`
	Name   string `json:"name"`
	// Mode is the live mode (arming, pending, triggered on top of Set).
	Mode       hub.Mode  `json:"mode"`
	Set        hub.Mode  `json:"set"`
	By         string    `json:"by,omitempty"`
	How        string    `json:"how,omitempty"`
	ExitUntil  time.Time `json:"exit_until,omitzero"`
	EntryUntil time.Time `json:"entry_until,omitzero"`
	Siren      string    `json:"siren"`
	// Ready says the area can be armed away now; Blocking are the reasons it cannot,
	// Warnings what arming would be logged with ("arms with: mains lost").
	Ready    bool         `json:"ready"`
	Blocking []hub.Reason `json:"blocking,omitempty"`
	Warnings []hub.Reason `json:"warnings,omitempty"`
	// NotArmed names the zone that cancelled the last arming: shown loudly.
	NotArmed string `json:"not_armed,omitempty"`
	// NotArmedBySchedule says NotArmed holds the reasons a scheduled arming was refused.
	NotArmedBySchedule bool        `json:"not_armed_by_schedule,omitempty"`
	Memory             []alarmView `json:"memory,omitempty"`
	Bypassed           []string    `json:"bypassed,omitempty"`
	Forced             bool        `json:"forced,omitempty"`
}

// alarmView is an alarm in memory, with names.
type alarmView struct {
	Time time.Time     `json:"time"`
	Kind hub.EventKind `json:"kind"`
	Zone string        `json:"zone,omitempty"`
}

// deviceView is a device's health on the panel.
type deviceView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind,omitempty"`
	Area        int       `json:"area,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	Battery     *int      `json:"battery,omitempty"`
	Switch      *bool     `json:"switch,omitempty"`
	Power       *float64  `json:"power,omitempty"`
	Lock        string    `json:"lock,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Missing     bool      `json:"missing,omitempty"`
}

// Mode words for the page: the message key of the live mode.
func (a areaView) ModeKey() string { return "mode_" + a.Mode.String() }

// Class is the area's colour on the page.
func (a areaView) Class() string {
	switch {
	case a.Mode == hub.ModeTriggered:
		return "alarm"
	case a.Mode == hub.ModeArming || a.Mode == hub.ModePending:
		return "delay"
	case a.Set.Armed():
		return "armed"
	}
	return "disarmed"
}

// Disarmed says the arm buttons apply.
func (a areaView) Disarmed() bool { return a.Set == hub.ModeDisarmed }

// Countdown is the running delay's end, zero if none.
func (a areaView) Countdown() time.Time {
	if !a.EntryUntil.IsZero() {
		return a.EntryUntil
	}
	return a.ExitUntil
}

// view builds the panel's state from the hub's newest snapshot and the devices' health.
func (s *Server) view() panelView {
	snap := s.hub.Snapshot()
	inst, st := snap.Installation, &snap.State
	zoneName := func(n int) string {
		for _, z := range inst.Zones {
			if z.Number == n {
				return z.Name
			}
		}
		return "zone " + strconv.Itoa(n)
	}
	v := panelView{Seq: st.NextSeq - 1, Now: s.now(), Areas: []areaView{}, Troubles: []string{}, Devices: []deviceView{}}
	for _, a := range inst.Areas {
		i := slices.IndexFunc(st.Areas, func(x hub.AreaState) bool { return x.Number == a.Number })
		if i < 0 {
			continue
		}
		as := st.Areas[i]
		av := areaView{Number: a.Number, Name: a.Name, Mode: as.Mode, Set: as.Set, By: as.User, ExitUntil: as.ExitUntil,
			EntryUntil: as.EntryUntil, Siren: as.Siren.String(), NotArmed: as.NotArmed, Forced: as.Forced,
			NotArmedBySchedule: as.NotArmed != "" && as.NotArmedHow == hub.HowSchedule}
		if as.How != hub.HowNone {
			av.How = as.How.String()
		}
		if av.Name == "" {
			av.Name = "Area " + strconv.Itoa(a.Number)
		}
		for _, r := range snap.Ready[a.Number] {
			if r.Warn {
				av.Warnings = append(av.Warnings, r)
			} else {
				av.Blocking = append(av.Blocking, r)
			}
		}
		av.Ready = len(av.Blocking) == 0
		for _, m := range append(slices.Clone(as.FireMemory), as.Memory...) {
			av.Memory = append(av.Memory, alarmView{Time: m.Time, Kind: m.Kind, Zone: zoneName(m.Zone)})
		}
		for _, z := range as.Bypassed {
			av.Bypassed = append(av.Bypassed, zoneName(z))
		}
		v.Areas = append(v.Areas, av)
	}
	v.Troubles = troubles(inst, st)
	if s.notifier != nil {
		// A failing notification channel is a trouble to see, never an arming fault.
		for _, t := range s.notifier.Status().Troubles() {
			v.Troubles = append(v.Troubles, "notification channel fault: "+t)
		}
	}
	if s.up != nil {
		for _, rs := range s.up.Status() {
			sv := stationView{Name: rs.Name, Paths: []pathView{}}
			for _, p := range rs.Paths {
				sv.Paths = append(sv.Paths, pathView{Name: p.Name, Up: p.OK && !p.Fault, Fault: p.Fault})
			}
			if lt := rs.LastTest; lt != nil {
				sv.LastTest = &testView{At: lt.At, Path: lt.Path}
			}
			v.Station = append(v.Station, sv)
		}
	}
	var health map[string]devices.Health
	if s.dev != nil {
		health = s.dev.Health()
	}
	for _, d := range inst.Devices {
		h, ok := health[d.ID]
		if !ok && d.Kind != "plug" && d.Kind != "lock" {
			continue // nothing to show beyond the zone
		}
		name := d.Name
		if name == "" {
			name = d.ID
		}
		v.Devices = append(v.Devices, deviceView{ID: d.ID, Name: name, Kind: d.Kind, Area: d.Area, Temperature: h.Temperature,
			Battery: h.Battery, Switch: h.Switch, Power: h.Power, Lock: h.Lock, LastSeen: h.LastSeen, Missing: h.Missing})
	}
	v.Rev = v.rev()
	return v
}

// rev is a digest of what the panel shows that can change without an event (Rev).
func (v panelView) rev() string {
	type shown struct {
		ID, Lock string
		Switch   *bool
		Missing  bool
	}
	devs := make([]shown, len(v.Devices))
	for i, d := range v.Devices {
		devs[i] = shown{d.ID, d.Lock, d.Switch, d.Missing}
	}
	b, _ := json.Marshal(struct {
		Areas    []areaView
		Troubles []string
		Devices  []shown
	}{v.Areas, v.Troubles, devs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// troubles lists the installation's faults and troubles by name.
func troubles(inst *hub.Installation, st *hub.State) []string {
	out := []string{}
	if st.Mains.Lost {
		out = append(out, "mains lost")
	}
	if st.HubBatteryLow {
		out = append(out, "hub battery low")
	}
	if st.HubTamper {
		out = append(out, "hub lid open (tamper)")
	}
	for _, p := range st.UplinkFaults {
		out = append(out, "station path fault: "+p)
	}
	if st.SirenFault {
		out = append(out, "siren fault")
	}
	if st.DiskFault {
		out = append(out, "disk fault")
	}
	name := map[string]string{}
	for _, d := range inst.Devices {
		name[d.ID] = d.Name
		if d.Name == "" {
			name[d.ID] = d.ID
		}
	}
	var devs []string
	for _, d := range st.Devices {
		var what []string
		for _, f := range []struct {
			on   bool
			word string
		}{{d.Tamper, "tamper"}, {d.Missing, "missing"}, {d.Fault, "fault"}, {d.Jamming, "jamming"}, {d.BatteryLow, "battery low"}} {
			if f.on {
				what = append(what, f.word)
			}
		}
		if len(what) > 0 {
			n := name[d.ID]
			if n == "" {
				n = d.ID
			}
			devs = append(devs, n+": "+strings.Join(what, ", "))
		}
	}
	sort.Strings(devs)
	return append(out, devs...)
}

// panel is the home page.
func (s *Server) panel(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "panel", page{Title: translate(lang(c), "panel"), Data: s.view()})
}

// do sends a command to the hub. A command carried out but not yet durable (the disk
// fails) is done as far as the user is concerned: the panel shows the disk fault.
func (s *Server) do(c *fiber.Ctx, in hub.Input) error {
	res := s.hub.Do(c.UserContext(), in)
	if errors.Is(res.Err, hub.ErrNotDurable) {
		return nil
	}
	return res.Err
}

func sess(c *fiber.Ctx) *session { return c.Locals(localSession).(*session) }

func formInt(c *fiber.Ctx, name string) (int, error) {
	n, err := strconv.Atoi(c.FormValue(name))
	if err != nil || n < 0 || n > 1<<16 {
		return 0, invalid(name)
	}
	return n, nil
}

// armRequest is an arming, from the form or the API.
type armRequest struct {
	Area   int    `json:"area"`
	Mode   string `json:"mode"`
	PIN    string `json:"pin"`
	Force  bool   `json:"force"`
	Bypass []int  `json:"bypass"`
}

// armArea bypasses the zones asked for, then arms.
func (s *Server) armArea(c *fiber.Ctx, r armRequest) error {
	mode, err := hub.ParseMode(r.Mode)
	if err != nil || !mode.Armed() {
		return invalid("mode")
	}
	cred := sess(c).credential(r.PIN)
	for _, z := range r.Bypass {
		in := cred
		in.Kind, in.Zone = hub.InBypass, z
		if err := s.do(c, in); err != nil && !errors.Is(err, hub.ErrAlreadyBypassed) {
			return err
		}
	}
	in := cred
	in.Kind, in.Area, in.Mode, in.Force = hub.InArm, r.Area, mode, r.Force
	return s.do(c, in)
}

// refusedView is the page that says why arming was refused and offers what resolves it.
type refusedView struct {
	Area      int
	Mode      string
	Reasons   []hub.Reason
	OpenZones []hub.Reason
	Faults    bool
}

// arm arms from the panel's form; a refusal shows its reasons with "bypass these N" and
// "arm anyway".
func (s *Server) arm(c *fiber.Ctx) error {
	area, err := formInt(c, "area")
	if err != nil {
		return err
	}
	r := armRequest{Area: area, Mode: c.FormValue("mode"), PIN: c.FormValue("pin"), Force: c.FormValue("force") == "1"}
	if r.PIN == "" && !sess(c).noPIN {
		return errPINNeeded
	}
	for _, b := range c.Request().PostArgs().PeekMulti("bypass") {
		z, err := strconv.Atoi(string(b))
		if err != nil || z <= 0 {
			return invalid("bypass")
		}
		r.Bypass = append(r.Bypass, z)
	}
	err = s.armArea(c, r)
	var refused *hub.ArmRefusedError
	if errors.As(err, &refused) {
		v := refusedView{Area: area, Mode: r.Mode, Reasons: refused.Reasons}
		for _, reason := range refused.Reasons {
			if reason.Kind == "open_zone" {
				v.OpenZones = append(v.OpenZones, reason)
			} else if !reason.Warn {
				v.Faults = true
			}
		}
		return s.render(c, http.StatusConflict, "refused", page{Title: translate(lang(c), "arm_refused"), Data: v})
	}
	if err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

// areaCommand runs a disarm or acknowledge from the panel's form.
func (s *Server) areaCommand(kind hub.InputKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		area, err := formInt(c, "area")
		if err != nil {
			return err
		}
		pin := c.FormValue("pin")
		if pin == "" && (kind != hub.InDisarm || !sess(c).noPIN) {
			return errPINNeeded // only disarming (and arming) may go without, where the admin allows
		}
		in := sess(c).credential(pin)
		in.Kind, in.Area = kind, area
		if err := s.do(c, in); err != nil {
			return err
		}
		return c.Redirect("/", http.StatusSeeOther)
	}
}

func (s *Server) disarm(c *fiber.Ctx) error { return s.areaCommand(hub.InDisarm)(c) }
func (s *Server) ack(c *fiber.Ctx) error    { return s.areaCommand(hub.InAcknowledge)(c) }

// seen tells the notifications that the signed-in user has seen the area's alarm: its SMS
// escalation stops and the history says who, by web. It takes no PIN, for it clears
// nothing: the alarm memory stays until acknowledged with one.
func (s *Server) seen(c *fiber.Ctx) error {
	area, err := formInt(c, "area")
	if err != nil {
		return err
	}
	in := sess(c).credential("")
	in.Kind, in.Area = hub.InAlarmSeen, area
	if err := s.do(c, in); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

// bypass bypasses one zone for the next armed period.
func (s *Server) bypass(c *fiber.Ctx) error {
	zone, err := formInt(c, "zone")
	if err != nil {
		return err
	}
	pin := c.FormValue("pin")
	if pin == "" {
		return errPINNeeded
	}
	in := sess(c).credential(pin)
	in.Kind, in.Zone = hub.InBypass, zone
	if err := s.do(c, in); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

// deviceCommand switches a plug or locks a door for the signed-in user (with the PIN when
// given). Unlocking the door of an armed area needs the PIN.
func (s *Server) deviceCommand(c *fiber.Ctx, id string, on bool, pin string, lock bool) error {
	if s.dev == nil {
		return fiber.ErrServiceUnavailable
	}
	cred := sess(c).credential(pin)
	if !lock {
		return s.dev.Switch(c.UserContext(), cred, id, on)
	}
	if !on && pin == "" {
		snap := s.hub.Snapshot()
		for _, d := range snap.Installation.Devices {
			if d.ID != id {
				continue
			}
			for _, a := range snap.State.Areas {
				if a.Number == max(d.Area, 1) && a.Set.Armed() {
					return errPINNeeded
				}
			}
		}
	}
	return s.dev.Lock(c.UserContext(), cred, id, on)
}

func (s *Server) switchPlug(c *fiber.Ctx) error {
	if err := s.deviceCommand(c, strings.Clone(c.Params("id")), c.FormValue("on") == "1", c.FormValue("pin"), false); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

func (s *Server) lockDoor(c *fiber.Ctx) error {
	if err := s.deviceCommand(c, strings.Clone(c.Params("id")), c.FormValue("locked") == "1", c.FormValue("pin"), true); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}
