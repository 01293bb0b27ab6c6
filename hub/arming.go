package hub

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Reason is why an area is not ready to arm (EN 50131-1 grade 2 table 4), with the names a
// person reads.
type Reason struct {
	Kind   string `json:"kind"` // open_zone, tamper, missing_device, device_fault, mains, battery, uplink, siren, disk
	Zone   int    `json:"zone,omitempty"`
	Device string `json:"device,omitempty"`
	// Name is the zone's or the device's name, as the family calls it.
	Name string `json:"name,omitempty"`
	// Warn marks a reason that is shown and logged with the arming but does not prevent it
	// (not in the installation's prevent_arming_on: by default mains loss).
	Warn bool `json:"warn,omitempty"`
}

// reasonWords are the words a reason kind is written with.
var reasonWords = map[string]string{
	"open_zone":      "open",
	"tamper":         "tamper",
	"missing_device": "missing",
	"device_fault":   "fault",
	"mains":          "mains lost",
	"battery":        "hub battery low",
	"uplink":         "station path fault",
	"siren":          "siren fault",
	"disk":           "disk fault",
	"bus":            "device bus lost",
}

// ReasonKinds are the reasons an area may not be ready; every one but open_zone may be
// left out of prevent_arming_on.
var ReasonKinds = []string{"open_zone", "tamper", "missing_device", "device_fault", "mains", "battery", "uplink", "siren", "disk", "bus"}

// DefaultPreventArmingOn is the seed's behaviour: every grade 2 reason prevents arming but
// mains loss alone ("on battery you can use the alarm as usual").
var DefaultPreventArmingOn = []string{"tamper", "missing_device", "device_fault", "battery", "uplink", "siren", "disk", "bus"}

func (r Reason) String() string {
	if sub := r.subject(); sub != "" {
		return r.word() + ": " + sub
	}
	return r.word()
}

// word is the word a reason's kind is written with.
func (r Reason) word() string {
	if w := reasonWords[r.Kind]; w != "" {
		return w
	}
	return r.Kind
}

// subject is what the reason is about: the zone's or device's name, or the device id.
func (r Reason) subject() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Device
}

// faultOnly reports whether force-arming may override the reason.
func (r Reason) faultOnly() bool { return r.Kind != "open_zone" }

// ArmRefusedError lists why an area could not be armed. Open zones need a bypass; the
// other reasons need a force-arm.
type ArmRefusedError struct {
	Area     int
	AreaName string
	Reasons  []Reason
}

func (e *ArmRefusedError) Error() string {
	return fmt.Sprintf("%s not ready to arm: %s", areaLabel(e.Area, e.AreaName), JoinReasons(e.Reasons))
}

// JoinReasons writes reasons grouped by kind, in the order each kind first appears:
// "open: Living room window, Bedroom window; missing: Garage door".
func JoinReasons(rs []Reason) string {
	var kinds []Reason // the first reason of each kind, in order
	names := map[string][]string{}
	for _, r := range rs {
		if _, ok := names[r.Kind]; !ok {
			kinds = append(kinds, r)
			names[r.Kind] = nil
		}
		if sub := r.subject(); sub != "" {
			names[r.Kind] = append(names[r.Kind], sub)
		}
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k.word()
		if n := names[k.Kind]; len(n) > 0 {
			parts[i] += ": " + strings.Join(n, ", ")
		}
	}
	return strings.Join(parts, "; ")
}

// armed completes arming at the end of the exit delay (or at once without one).
func (e *Engine) armed(now time.Time, a *AreaState) {
	if a.Mode != ModeTriggered {
		a.Mode = a.Set // a fire during the exit delay keeps sounding; cut-off restores the mode
	}
	kind := KindArm
	if a.Set != ModeArmedAway {
		kind = KindStayArm
	}
	ev := Event{Time: now, Area: a.Number, Kind: kind, Restore: true, Report: true, UserNumber: a.UserNumber, User: a.User, How: a.How, Mode: a.Set, Note: e.armWarn}
	e.emit(ev)
	switch a.How {
	case HowRemote:
		e.out[len(e.out)-1].Event.ContactID = 407
	case HowSchedule:
		// Contact ID 403 automatic arm/disarm; SIA CA automatic closing.
		e.out[len(e.out)-1].Event.ContactID, e.out[len(e.out)-1].Event.SIA = 403, "CA"
	}
	// A door still open when the exit delay ends starts the entry delay (exit fault).
	for zi := range e.inst.Zones {
		z := &e.inst.Zones[zi]
		zs := &e.st.Zones[zi]
		if z.Area == a.Number && zs.Active && z.Type == ZoneEntryExit && z.armedIn(a.Set) && !a.bypassed(z.Number) {
			e.intrusion(now, a, z, zs)
			return
		}
	}
}

// readiness lists why area a cannot be armed in mode m (EN 50131-1 grade 2). Reasons not in
// the installation's prevent_arming_on are marked Warn: shown, but no bar to arming. A bypass
// hides only the zone's intrusion signal: its device's tamper, missing and fault still count.
func (e *Engine) readiness(a *AreaState, m Mode, extraBypass []int) []Reason {
	var rs []Reason
	for zi := range e.inst.Zones {
		z := &e.inst.Zones[zi]
		zs := &e.st.Zones[zi]
		if z.Area != a.Number || a.bypassed(z.Number) || slices.Contains(extraBypass, z.Number) {
			continue
		}
		if z.Type.Intrusion() && zs.Active && !z.Type.ExitRoute() && z.armedIn(m) {
			rs = append(rs, Reason{Kind: "open_zone", Zone: z.Number, Device: z.Device, Name: z.Name})
		}
		if z.Type == ZoneTamper && zs.Active {
			rs = append(rs, Reason{Kind: "tamper", Zone: z.Number, Device: z.Device, Name: z.Name})
		}
	}
	for di := range e.inst.Devices {
		d := &e.inst.Devices[di]
		ds := &e.st.Devices[di]
		in := d.Area == a.Number
		zone := 0
		name := d.Name
		if zi := e.zoneOf[di]; zi >= 0 {
			in = e.inst.Zones[zi].Area == a.Number
			zone = e.inst.Zones[zi].Number
			if n := e.inst.Zones[zi].Name; n != "" {
				name = n
			}
		}
		if !in {
			continue
		}
		if name == "" {
			name = d.ID
		}
		if ds.Tamper {
			rs = append(rs, Reason{Kind: "tamper", Zone: zone, Device: d.ID, Name: name})
		}
		if ds.Missing {
			rs = append(rs, Reason{Kind: "missing_device", Zone: zone, Device: d.ID, Name: name})
		}
		if ds.Fault || ds.Jamming {
			rs = append(rs, Reason{Kind: "device_fault", Zone: zone, Device: d.ID, Name: name})
		}
	}
	if e.st.HubTamper {
		rs = append(rs, Reason{Kind: "tamper", Device: HubDevice, Name: "gateway lid"})
	}
	if e.st.Mains.Lost {
		rs = append(rs, Reason{Kind: "mains"})
	}
	if e.st.HubBatteryLow {
		rs = append(rs, Reason{Kind: "battery"})
	}
	for _, p := range e.st.UplinkFaults {
		rs = append(rs, Reason{Kind: "uplink", Device: p})
	}
	if e.st.SirenFault {
		rs = append(rs, Reason{Kind: "siren"})
	}
	if e.st.DiskFault {
		rs = append(rs, Reason{Kind: "disk"})
	}
	for _, d := range e.st.BusFaults {
		rs = append(rs, Reason{Kind: "bus", Device: d})
	}
	prevent := e.inst.Settings.PreventArmingOn
	if prevent == nil {
		prevent = DefaultPreventArmingOn
	}
	for i := range rs {
		rs[i].Warn = rs[i].Kind != "open_zone" && !slices.Contains(prevent, rs[i].Kind)
	}
	return rs
}

// Readiness returns why the area cannot be armed in mode m now; empty means ready. Reasons
// marked Warn are shown with the arming but do not prevent it.
func (e *Engine) Readiness(area int, m Mode) []Reason {
	a, _, err := e.area(area)
	if err != nil {
		return nil
	}
	return e.readiness(a, m, nil)
}

func (e *Engine) arm(now time.Time, in Input) error {
	a, conf, err := e.area(in.Area)
	if err != nil {
		return err
	}
	if !in.Mode.Armed() {
		return fmt.Errorf("%w: arm needs mode away, home or night", ErrBadInput)
	}
	if a.Set.Armed() {
		return fmt.Errorf("%s %s: %w", areaLabel(a.Number, conf.Name), a.Mode, ErrAlreadyArmed)
	}
	if a.Mode == ModeTriggered {
		return ErrAlarmSounding
	}
	u, _, err := e.operator(now, in, a.Number, true)
	if err != nil {
		return err
	}
	err = e.armAs(now, a, conf, u.ID, u.Number, in.How, in.Mode, in.Force && u.Role != RoleLimited)
	var refused *ArmRefusedError
	if errors.As(err, &refused) {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindArmRefused, UserNumber: u.Number, User: u.ID, How: in.How, Mode: in.Mode, Note: "not ready to arm: " + JoinReasons(refused.Reasons)})
	}
	return err
}

// armAs arms area a in mode m for the user (user, number; "" for a schedule) by how, once
// it is ready: it returns an *ArmRefusedError, having changed nothing, when it is not.
// force arms over faults (never over open zones).
func (e *Engine) armAs(now time.Time, a *AreaState, conf *Area, user string, number int, how Method, m Mode, force bool) error {
	var open, faults, warns []Reason
	for _, r := range e.readiness(a, m, nil) {
		switch {
		case r.Warn:
			warns = append(warns, r)
		case r.faultOnly():
			faults = append(faults, r)
		default:
			open = append(open, r)
		}
	}
	if len(open) > 0 || (len(faults) > 0 && !force) {
		return &ArmRefusedError{Area: a.Number, AreaName: conf.Name, Reasons: append(open, faults...)}
	}
	// Nothing is armed while a walk test only lists activations, nor in service mode.
	if !e.st.WalkUntil.IsZero() {
		e.st.WalkUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindWalkTest, Restore: true, Report: true, UserNumber: number, User: user, How: how, Note: "ended by arming " + areaLabel(a.Number, conf.Name)})
	}
	if !a.ServiceUntil.IsZero() {
		a.ServiceUntil = time.Time{}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Restore: true, Report: true, UserNumber: number, User: user, How: how, Note: "ended by arming"})
	}
	a.Set, a.ArmedAt = m, now
	a.User, a.UserNumber, a.How = user, number, how
	a.EntryUntil, a.ReportAt, a.ReportedAt = time.Time{}, time.Time{}, time.Time{}
	a.NotArmed, a.NotArmedHow = "", HowNone
	for zi := range e.inst.Zones {
		if e.inst.Zones[zi].Area == a.Number {
			e.st.Zones[zi].Trips = 0
			e.st.Zones[zi].Out = false
		}
	}
	if len(faults) > 0 {
		a.Forced = true
		e.emit(Event{Time: now, Area: a.Number, Kind: KindForceArm, Report: true, UserNumber: number, User: user, How: how, Note: JoinReasons(faults)})
	}
	note := ""
	if len(warns) > 0 {
		note = "; armed with: " + JoinReasons(warns)
	}
	if d := e.inst.exitDelay(conf); d > 0 {
		a.Mode = ModeArming
		a.ExitUntil = now.Add(d)
		e.emit(Event{Time: now, Area: a.Number, Kind: KindExitDelay, UserNumber: number, User: user, How: how, Mode: m, Note: fmt.Sprintf("%s to leave", d) + note})
		return nil
	}
	e.armWarn = strings.TrimPrefix(note, "; ")
	e.armed(now, a)
	e.armWarn = ""
	return nil
}

func (e *Engine) disarm(now time.Time, in Input) error {
	a, conf, err := e.area(in.Area)
	if err != nil {
		return err
	}
	if a.Set == ModeDisarmed && a.Siren == SirenOff {
		if in.coded() {
			// A wrong code still counts, and a duress code has already been reported.
			if _, _, err := e.operator(now, in, a.Number, false); err != nil {
				return err
			}
		}
		return fmt.Errorf("%s: %w", areaLabel(a.Number, conf.Name), ErrAlreadyDisarmed)
	}
	u, duress, err := e.operator(now, in, a.Number, false)
	if err != nil {
		return err
	}
	e.disarmAs(now, a, u.ID, u.Number, in.How, duress)
	return nil
}

// disarmAs disarms (or silences) area a for the user (user, number; "" for a schedule) by how.
func (e *Engine) disarmAs(now time.Time, a *AreaState, user string, number int, how Method, duress bool) {
	if a.Set == ModeDisarmed {
		e.setSiren(a, SirenOff, time.Time{})
		a.Mode = ModeDisarmed
		a.ReportedAt = time.Time{} // silencing closes the cancel window
		e.emit(Event{Time: now, Area: a.Number, Kind: KindSilence, UserNumber: number, User: user, How: how})
		return
	}
	cancelAfter := e.inst.cancelWindow()
	wasArmed := a.ExitUntil.IsZero() // the arm (closing) was reported
	reported := cancelAfter > 0 && !a.ReportedAt.IsZero() && now.Sub(a.ReportedAt) <= cancelAfter
	if !a.ReportAt.IsZero() {
		note := "disarmed during the local warning: not reported"
		if reported {
			note = "disarmed during the local warning: the entry route's alarm was not reported; the alarm already reported is cancelled"
		}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindAlarmAborted, Zone: a.ReportZone, Device: a.ReportDevice, User: user, How: how, Note: note})
	}
	// The cancel tells the station a code holder is home: never under duress, never for a
	// schedule (a clock is no code holder), and only for a burglary or tamper report of this
	// armed period (ReportedAt).
	if reported && !duress && how != HowSchedule {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindCancel, Report: true, UserNumber: number, User: user, How: how, Note: "code holder disarmed after the alarm report"})
	}
	e.setSiren(a, SirenOff, time.Time{})
	a.Mode, a.Set = ModeDisarmed, ModeDisarmed
	a.ExitUntil, a.EntryUntil, a.ReportAt, a.ReportedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.User, a.UserNumber, a.How = user, number, how
	a.Bypassed, a.Forced = nil, false
	a.NotArmed, a.NotArmedHow = "", HowNone
	for zi := range e.inst.Zones {
		if e.inst.Zones[zi].Area == a.Number {
			e.st.Zones[zi].Trips = 0
			e.st.Zones[zi].Out = false
		}
	}
	ev := Event{Time: now, Area: a.Number, Kind: KindDisarm, Report: wasArmed, UserNumber: number, User: user, How: how}
	if !wasArmed {
		ev.Note = "during the exit delay"
	}
	e.emit(ev)
	switch how {
	case HowRemote:
		e.out[len(e.out)-1].Event.ContactID = 407
	case HowSchedule:
		// Contact ID 403 automatic arm/disarm; SIA OA automatic opening.
		e.out[len(e.out)-1].Event.ContactID, e.out[len(e.out)-1].Event.SIA = 403, "OA"
	}
}

func (e *Engine) bypass(now time.Time, in Input) error {
	zi, ok := e.zoneIdx[in.Zone]
	if !ok {
		return fmt.Errorf("%w %d", ErrUnknownZone, in.Zone)
	}
	z := &e.inst.Zones[zi]
	a, _, _ := e.area(z.Area)
	if a.bypassed(z.Number) {
		return fmt.Errorf("%s: %w", z.Name, ErrAlreadyBypassed)
	}
	u, _, err := e.operator(now, in, a.Number, false)
	if err != nil {
		return err
	}
	if !z.Type.Intrusion() && u.Role != RoleInstaller {
		return fmt.Errorf("%s is a 24-hour %s zone: only an installer may bypass it: %w", z.Name, z.Type, ErrNotAllowed)
	}
	if u.Role == RoleLimited {
		return fmt.Errorf("%s: %w to bypass", u.ID, ErrNotAllowed)
	}
	a.Bypassed = append(a.Bypassed, z.Number)
	e.emit(Event{Time: now, Area: a.Number, Kind: KindBypass, Report: true, Zone: z.Number, Device: z.Device, User: u.ID, UserNumber: u.Number, How: in.How, Note: "for one armed period"})
	return nil
}
