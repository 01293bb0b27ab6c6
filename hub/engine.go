package hub

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Command errors. A command that fails with one of these changes nothing but, for wrong
// codes, the lockout count.
var (
	ErrUnknownArea        = errors.New("unknown area")
	ErrUnknownZone        = errors.New("unknown zone")
	ErrUnknownDevice      = errors.New("unknown device")
	ErrAlreadyArmed       = errors.New("area is already armed")
	ErrAlreadyDisarmed    = errors.New("area is already disarmed")
	ErrAlarmSounding      = errors.New("an alarm is sounding: disarm to silence it first")
	ErrNoCredential       = errors.New("no code, tag or user given")
	ErrAlreadyBypassed    = errors.New("zone is already bypassed")
	ErrNothingToAck       = errors.New("no alarm in memory")
	ErrWalkTestArmed      = errors.New("walk test needs every area disarmed")
	ErrInstallerNotActive = errors.New("installer access is not granted")
	ErrServiceArmed       = errors.New("service mode needs the area disarmed")
	ErrBadInput           = errors.New("bad input")
)

// MaxClockSkew is how far a device's own clock may disagree with vakt's before its time
// is no longer trusted: a report stamped before the arming but within this of now counts.
const MaxClockSkew = time.Minute

// HubDevice is the device id of the gateway itself: its lid switch reports tamper as this device.
const HubDevice = "hub"

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
}

// ReasonKinds are the reasons an area may not be ready; every one but open_zone may be
// left out of prevent_arming_on.
var ReasonKinds = []string{"open_zone", "tamper", "missing_device", "device_fault", "mains", "battery", "uplink", "siren", "disk"}

// DefaultPreventArmingOn is the seed's behaviour: every grade 2 reason prevents arming but
// mains loss alone ("on battery you can use the alarm as usual").
var DefaultPreventArmingOn = []string{"tamper", "missing_device", "device_fault", "battery", "uplink", "siren", "disk"}

func (r Reason) String() string {
	w := reasonWords[r.Kind]
	if w == "" {
		w = r.Kind
	}
	switch {
	case r.Name != "":
		return w + ": " + r.Name
	case r.Device != "":
		return w + ": " + r.Device
	}
	return w
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
	var kinds []string
	names := map[string][]string{}
	for _, r := range rs {
		if _, ok := names[r.Kind]; !ok {
			kinds = append(kinds, r.Kind)
		}
		s := r.String()
		if i := strings.Index(s, ": "); i >= 0 {
			s = s[i+2:]
		} else {
			s = ""
		}
		names[r.Kind] = append(names[r.Kind], s)
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		w := reasonWords[k]
		if w == "" {
			w = k
		}
		if n := slices.DeleteFunc(names[k], func(s string) bool { return s == "" }); len(n) > 0 {
			w += ": " + strings.Join(n, ", ")
		}
		parts[i] = w
	}
	return strings.Join(parts, "; ")
}

// areaLabel names an area for people: its name, or "area N" when it has none.
func areaLabel(n int, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("area %d", n)
}

// Engine is the alarm engine: a pure state machine. Step applies one input at one time and
// returns the effects; it never reads the clock, starts goroutines or does I/O.
type Engine struct {
	inst *Installation
	st   State

	// Derived indexes, rebuilt by SetInstallation.
	deviceIdx map[string]int // device id → index in inst.Devices and st.Devices
	zoneOf    []int          // device index → zone index, -1 if none
	zoneIdx   map[int]int    // zone number → index
	areaIdx   map[int]int    // area number → index
	userIdx   map[string]int

	out   []Effect
	notes map[time.Duration]string
	// armWarn is the "armed with: …" note of an arming without exit delay.
	armWarn string
	// changed records that the last Step changed state worth persisting.
	changed bool
}

// Changed reports whether the last Step changed the state, so the run loop can skip the
// commit for telemetry that changed nothing.
func (e *Engine) Changed() bool { return e.changed }

// NewEngine returns an engine for the installation with the given state; a zero State
// starts every area disarmed.
func NewEngine(inst *Installation, st State) *Engine {
	e := &Engine{st: st}
	if e.st.NextSeq == 0 {
		e.st.NextSeq = 1
	}
	e.SetInstallation(inst)
	return e
}

// Installation returns the installation in force; callers must not modify it.
func (e *Engine) Installation() *Installation { return e.inst }

// State returns the current state; the slices are shared, so use Clone to keep it.
func (e *Engine) State() *State { return &e.st }

// SetInstallation replaces the installation, keeping the state of areas, zones and devices
// that remain (matched by number and id).
func (e *Engine) SetInstallation(inst *Installation) {
	e.inst = inst
	old := e.st
	e.areaIdx = make(map[int]int, len(inst.Areas))
	e.st.Areas = make([]AreaState, len(inst.Areas))
	for i, a := range inst.Areas {
		e.areaIdx[a.Number] = i
		e.st.Areas[i] = AreaState{Number: a.Number}
		for _, o := range old.Areas {
			if o.Number == a.Number {
				e.st.Areas[i] = o
			}
		}
	}
	e.deviceIdx = make(map[string]int, len(inst.Devices))
	e.st.Devices = make([]DeviceState, len(inst.Devices))
	for i, d := range inst.Devices {
		e.deviceIdx[d.ID] = i
		e.st.Devices[i] = DeviceState{ID: d.ID}
		for _, o := range old.Devices {
			if o.ID == d.ID {
				e.st.Devices[i] = o
			}
		}
	}
	e.zoneIdx = make(map[int]int, len(inst.Zones))
	e.zoneOf = make([]int, len(inst.Devices))
	for i := range e.zoneOf {
		e.zoneOf[i] = -1
	}
	e.st.Zones = make([]ZoneState, len(inst.Zones))
	for i, z := range inst.Zones {
		e.zoneIdx[z.Number] = i
		if d, ok := e.deviceIdx[z.Device]; ok {
			e.zoneOf[d] = i
		}
		e.st.Zones[i] = ZoneState{Number: z.Number}
		for _, o := range old.Zones {
			if o.Number == z.Number {
				e.st.Zones[i] = o
			}
		}
	}
	e.userIdx = make(map[string]int, len(inst.Users))
	for i, u := range inst.Users {
		e.userIdx[u.ID] = i
	}
}

// Configure replaces the installation with a validated new one and logs the change, with
// who made it and what it was. The caller stores the installation with the step's events.
func (e *Engine) Configure(now time.Time, by Input, note string, change func(*Installation) error) ([]Effect, error) {
	e.out = e.out[:0]
	e.changed = false
	e.expire(now)
	ev := Event{Time: now, Kind: KindConfigChange, Report: true, How: by.How, Note: note}
	if by.How == HowSystem {
		ev.User = by.User // vakt's own tools (an offline import), run by whoever owns the store
	} else {
		by.Kind = InConfigure
		if by.coded() {
			e.duress(now, by)
		}
		u, err := e.installer(now, by)
		if err != nil {
			e.changed = len(e.out) > 0
			return e.out, err
		}
		ev.User, ev.UserNumber = u.ID, u.Number
	}
	inst, err := CloneInstallation(e.inst)
	if err == nil {
		err = change(inst)
	}
	if err == nil {
		err = inst.Validate()
	}
	if err != nil {
		e.changed = len(e.out) > 0
		return e.out, err
	}
	e.SetInstallation(inst)
	e.bound(now) // shorter settings shorten what is running
	e.changed = true
	e.emit(ev)
	return e.out, nil
}

// NextDeadline returns the earliest time at which a tick changes something, and false if
// nothing is scheduled.
func (e *Engine) NextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for i := range e.st.Areas {
		a := &e.st.Areas[i]
		consider(a.ExitUntil)
		consider(a.EntryUntil)
		consider(a.SirenUntil)
		consider(a.ReportAt)
		consider(a.ServiceUntil)
	}
	consider(e.st.Mains.ReportAt)
	consider(e.st.InstallerUntil)
	consider(e.st.WalkUntil)
	return next, !next.IsZero()
}

// Step applies one input at time now. The returned effects are valid until the next Step.
// On error the state is unchanged, except that a wrong code counts towards lockout (and
// its events are among the effects).
func (e *Engine) Step(now time.Time, in Input) ([]Effect, error) {
	e.out = e.out[:0]
	e.changed = e.bound(now) // a clock gone back never lengthens a deadline
	e.expire(now)
	if in.coded() {
		e.duress(now, in)
	}
	var err error
	switch in.Kind {
	case InTick:
	case InReport:
		err = e.report(now, in)
	case InArm:
		err = e.arm(now, in)
	case InDisarm:
		err = e.disarm(now, in)
	case InBypass:
		err = e.bypass(now, in)
	case InAcknowledge:
		err = e.acknowledge(now, in)
	case InPanic:
		err = e.panicButton(now, in)
	case InGrantInstaller:
		err = e.grantInstaller(now, in)
	case InServiceMode:
		err = e.serviceMode(now, in)
	case InWalkTest:
		err = e.walkTest(now, in)
	case InManualTest:
		err = e.manualTest(now, in)
	case InDeviceCommand:
		err = e.deviceCommand(now, in)
	case InPeriodicTest:
		// Path names the receiver whose schedule it is, so each keeps its own.
		e.emit(Event{Time: now, Kind: KindPeriodicTest, Report: true, How: HowSystem, Device: in.Path})
	case InMains:
		e.mains(now, in.Active)
	case InHubBattery:
		if e.st.HubBatteryLow != in.Active {
			e.st.HubBatteryLow = in.Active
			e.emit(Event{Time: now, Kind: KindHubBatteryLow, Restore: !in.Active, Report: true})
		}
	case InUplinkFault:
		e.uplinkFault(now, in)
	case InSirenFault:
		if e.st.SirenFault != in.Active {
			e.st.SirenFault = in.Active
			e.emit(Event{Time: now, Kind: KindSirenFault, Restore: !in.Active, Report: true, Device: in.Device})
		}
	case InDiskFault:
		if e.st.DiskFault != in.Active {
			e.st.DiskFault = in.Active
			e.emit(Event{Time: now, Kind: KindDiskFault, Restore: !in.Active, Report: true, Note: in.Path})
		}
	default:
		err = fmt.Errorf("%w: input kind %d", ErrBadInput, in.Kind)
	}
	if len(e.out) > 0 || (err == nil && in.Kind != InReport && in.Kind != InTick) {
		e.changed = true
	}
	return e.out, err
}

// emit appends an event with the next sequence and its station codes.
func (e *Engine) emit(ev Event) {
	ev.Seq = e.st.NextSeq
	e.st.NextSeq++
	if ev.Zone != 0 && ev.ZoneName == "" {
		if zi, ok := e.zoneIdx[ev.Zone]; ok {
			ev.ZoneName = e.inst.Zones[zi].Name
		}
	}
	if ev.Device != "" && ev.DeviceName == "" {
		if di, ok := e.deviceIdx[ev.Device]; ok {
			ev.DeviceName = e.inst.Devices[di].Name
		}
	}
	c := ev.Kind.Code()
	ev.ContactID = c.ContactID
	if ev.Restore {
		ev.SIA = c.SIARestore
	} else {
		ev.SIA = c.SIA
	}
	if ev.ContactID == 0 {
		ev.Report = false
	}
	e.out = append(e.out, Effect{Kind: EffectEvent, Event: ev})
}

func (e *Engine) setSiren(a *AreaState, p SirenPattern, until time.Time) {
	if a.Siren == p && (p == SirenOff || a.SirenUntil.Equal(until)) {
		return
	}
	changed := a.Siren != p
	a.Siren = p
	a.SirenUntil = until
	if p == SirenOff {
		a.SirenUntil = time.Time{}
	}
	if changed {
		e.out = append(e.out, Effect{Kind: EffectSiren, Area: a.Number, Pattern: p})
	}
}

// expire runs every deadline that has passed, earliest first.
func (e *Engine) expire(now time.Time) {
	for {
		next, ok := e.NextDeadline()
		if !ok || next.After(now) {
			return
		}
		e.fire(now, next)
	}
}

// fire runs the deadlines due at t.
func (e *Engine) fire(now, t time.Time) {
	for i := range e.st.Areas {
		a := &e.st.Areas[i]
		switch {
		case a.ExitUntil.Equal(t):
			a.ExitUntil = time.Time{}
			e.armed(now, a)
		case a.EntryUntil.Equal(t):
			a.EntryUntil = time.Time{}
			e.alarm(now, a, KindBurglary, a.ReportZone, a.ReportDevice, true)
		case a.ReportAt.Equal(t):
			a.ReportAt = time.Time{}
			a.ReportedAt = now
			e.emit(Event{Time: now, Area: a.Number, Kind: KindBurglary, Zone: a.ReportZone, Device: a.ReportDevice, Report: true, Note: "local warning ended"})
		case a.SirenUntil.Equal(t):
			e.setSiren(a, SirenOff, time.Time{})
			a.SirenUntil = time.Time{}
			e.cutoff(now, a)
		case a.ServiceUntil.Equal(t):
			a.ServiceUntil = time.Time{}
			e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Restore: true, Report: true, Note: "ended by itself"})
		}
	}
	s := &e.st
	switch {
	case s.Mains.ReportAt.Equal(t):
		s.Mains.ReportAt = time.Time{}
		s.Mains.Reported = true
		e.emit(Event{Time: now, Kind: KindMainsLost, Report: true, Note: "since " + s.Mains.Since.Format("15:04:05")})
	case s.InstallerUntil.Equal(t):
		s.InstallerUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindInstallerAccess, Restore: true, Note: "grant expired"})
	case s.WalkUntil.Equal(t):
		s.WalkUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindWalkTest, Restore: true, Report: true, Note: "ended by itself"})
	}
}

// cutoff ends the sounding part of an alarm: the area goes back to the mode it was set to,
// and zones still open stay out until they close.
func (e *Engine) cutoff(now time.Time, a *AreaState) {
	if a.Mode != ModeTriggered {
		return
	}
	a.Mode = a.Set
	switch {
	case !a.ExitUntil.IsZero():
		a.Mode = ModeArming // a fire cut off during the exit delay: leaving is still allowed
		return
	case !a.EntryUntil.IsZero():
		a.Mode = ModePending // the entry delay that a fire or panic sounded over goes on
	}
	if !a.Set.Armed() {
		return
	}
	for zi := range e.inst.Zones {
		z := &e.inst.Zones[zi]
		zs := &e.st.Zones[zi]
		if z.Area == a.Number && z.Type.Intrusion() && zs.Active && !zs.Out && z.armedIn(a.Set) && !a.bypassed(z.Number) {
			zs.Out = true
			e.emit(Event{Time: now, Area: a.Number, Kind: KindZoneOut, Zone: z.Number, Device: z.Device, Note: "open at bell cut-off, out until it closes"})
		}
	}
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
	if a.How == HowRemote {
		e.out[len(e.out)-1].Event.ContactID = 407
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

// alarm raises an alarm of kind in area a. entryRoute alarms get the local warning before
// they are reported; all others are reported at once.
func (e *Engine) alarm(now time.Time, a *AreaState, kind EventKind, zone int, device string, entryRoute bool) {
	conf := &e.inst.Areas[e.areaIdx[a.Number]]
	until := now.Add(e.inst.bellCutoff(conf))
	rec := Alarm{Time: now, Kind: kind, Zone: zone, Device: device}
	switch kind {
	case KindFire:
		a.FireMemory = remember(a.FireMemory, rec)
		e.setSiren(a, SirenFire, until)
	case KindBurglary, KindTamper:
		a.Memory = remember(a.Memory, rec)
		if a.Siren != SirenFire {
			if a.Siren == SirenOff {
				e.setSiren(a, SirenBurglar, until)
			} else {
				e.setSiren(a, SirenBurglar, a.SirenUntil)
			}
		}
	default:
		a.Memory = remember(a.Memory, rec)
	}
	if a.Siren != SirenOff {
		a.Mode = ModeTriggered
	}
	if kind == KindBurglary || kind == KindTamper {
		// This is the entry delay's own alarm, or overtakes it. A fire or a panic sounds
		// over a running entry delay: whoever came in must still disarm in time.
		a.EntryUntil = time.Time{}
	}
	ev := Event{Time: now, Area: a.Number, Kind: kind, Zone: zone, Device: device, Report: true}
	if abort := e.inst.abortWindow(); entryRoute && abort > 0 {
		if a.ReportAt.IsZero() {
			a.ReportAt = now.Add(abort)
			a.ReportZone, a.ReportDevice = zone, device
			ev.Report = false
			ev.Note = fmt.Sprintf("local warning, reported in %s unless disarmed", abort)
		}
	}
	if ev.Report && (kind == KindBurglary || kind == KindTamper) && a.Set.Armed() {
		a.ReportedAt = now // opens the cancel window (DESIGN §2 item 7)
	}
	e.emit(ev)
}

// MaxMemory is how many alarms an area's memory holds; the history keeps them all.
const MaxMemory = 64

// remember adds an alarm to a memory, dropping the oldest beyond MaxMemory so that a
// detector that keeps firing cannot grow the state without bound.
func remember(m []Alarm, a Alarm) []Alarm {
	if len(m) >= MaxMemory {
		m = append(m[:0], m[len(m)-MaxMemory+1:]...)
	}
	return append(m, a)
}

// report applies a device report.
func (e *Engine) report(now time.Time, in Input) error {
	if in.Device == HubDevice && in.Signal == SignalTamper {
		if e.st.HubTamper == in.Active {
			return nil
		}
		e.st.HubTamper = in.Active
		e.tamper(now, nil, HubDevice, 0, in.Active)
		return nil
	}
	di, ok := e.deviceIdx[in.Device]
	if !ok {
		return fmt.Errorf("report from %q: %w", in.Device, ErrUnknownDevice)
	}
	ds := &e.st.Devices[di]
	var area *AreaState
	zone := 0
	if zi := e.zoneOf[di]; zi >= 0 {
		area = &e.st.Areas[e.areaIdx[e.inst.Zones[zi].Area]]
		zone = e.inst.Zones[zi].Number
	} else if d := e.inst.Devices[di]; d.Area != 0 {
		area = &e.st.Areas[e.areaIdx[d.Area]]
	}
	areaNo := 0
	if area != nil {
		areaNo = area.Number
	}
	switch in.Signal {
	case SignalContact, SignalMotion, SignalSmoke, SignalWater, SignalPanic:
		if zi := e.zoneOf[di]; zi >= 0 {
			e.zone(now, zi, in.Signal, in.Active, in.At)
		}
	case SignalTamper:
		if ds.Tamper != in.Active {
			ds.Tamper = in.Active
			e.tamper(now, area, in.Device, zone, in.Active)
		}
	case SignalBatteryLow:
		if ds.BatteryLow != in.Active {
			ds.BatteryLow = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceBatteryLow, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalMissing:
		if ds.Missing != in.Active {
			ds.Missing = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceMissing, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalFault:
		if ds.Fault != in.Active {
			ds.Fault = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceFault, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalJamming:
		if ds.Jamming != in.Active {
			ds.Jamming = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindJamming, Restore: !in.Active, Report: true, Device: in.Device})
		}
	default:
		return fmt.Errorf("%w: report from %q with no signal", ErrBadInput, in.Device)
	}
	return nil
}

// zone applies the primary signal of the zone at index zi; at is when the device sent it
// (zero: unknown).
func (e *Engine) zone(now time.Time, zi int, sig Signal, active bool, at time.Time) {
	z := &e.inst.Zones[zi]
	zs := &e.st.Zones[zi]
	if zs.Active == active {
		return // repeated state, as Zigbee2MQTT and rtl_433 send
	}
	zs.Active = active
	e.changed = true
	a := &e.st.Areas[e.areaIdx[z.Area]]
	if !active {
		zs.Out = false
		switch z.Type {
		case ZoneFire:
			e.emit(Event{Time: now, Area: a.Number, Kind: KindFire, Restore: true, Report: true, Zone: z.Number, Device: z.Device})
		case ZoneTechnical:
			e.emit(Event{Time: now, Area: a.Number, Kind: technicalKind(sig), Restore: true, Report: true, Zone: z.Number, Device: z.Device})
		case ZoneTamper:
			e.tamper(now, a, z.Device, z.Number, false)
		}
		return
	}
	walk := !e.st.WalkUntil.IsZero()
	if walk {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindWalkActivation, Zone: z.Number, Device: z.Device, Note: z.Name})
	}
	if a.bypassed(z.Number) {
		return
	}
	switch z.Type {
	case ZoneFire:
		// Fire alarms in every mode, also during a walk test: a test never hides a fire.
		e.alarm(now, a, KindFire, z.Number, z.Device, false)
		return
	case ZonePanic:
		if walk {
			return
		}
		e.alarm(now, a, KindPanic, z.Number, z.Device, false)
		if z.Audible {
			conf := &e.inst.Areas[e.areaIdx[a.Number]]
			if a.Siren == SirenOff {
				e.setSiren(a, SirenEmergency, now.Add(e.inst.bellCutoff(conf)))
				a.Mode = ModeTriggered
			}
		}
		return
	case ZoneTechnical:
		if walk {
			return
		}
		e.alarm(now, a, technicalKind(sig), z.Number, z.Device, false)
		return
	case ZoneTamper:
		if walk {
			return
		}
		e.tamper(now, a, z.Device, z.Number, true)
		return
	}
	// Intrusion zones.
	if walk {
		return
	}
	if a.Set == ModeDisarmed {
		if z.Chime {
			e.out = append(e.out, Effect{Kind: EffectChime, Area: a.Number, Zone: z.Number})
		}
		return
	}
	if !z.armedIn(a.Set) || zs.Out {
		return
	}
	if !at.IsZero() && at.Before(a.ArmedAt) && now.Sub(at) > MaxClockSkew {
		// Sent before the area was armed and long ago (a retained or cached state read again
		// after a restart): stale news, the zone's state only. A report within MaxClockSkew
		// of now is taken as new, so a device clock that lags vakt's a little hides nothing.
		return
	}
	e.intrusion(now, a, z, zs)
}

// entryNote is the entry delay event's note, made once per delay so that a sensor report
// starting the entry delay allocates nothing.
func (e *Engine) entryNote(d time.Duration) string {
	if n, ok := e.notes[d]; ok {
		return n
	}
	if e.notes == nil {
		e.notes = map[time.Duration]string{}
	}
	n := d.String() + " to disarm"
	e.notes[d] = n
	return n
}

// intrusion handles an armed intrusion zone becoming active.
func (e *Engine) intrusion(now time.Time, a *AreaState, z *Zone, zs *ZoneState) {
	if !a.ExitUntil.IsZero() { // the exit delay runs, perhaps under a fire alarm
		if z.Type.ExitRoute() {
			return // leaving through the exit route never alarms
		}
		if a.Mode == ModeArming {
			a.Mode = ModeDisarmed
		}
		a.Set = ModeDisarmed
		a.ExitUntil = time.Time{}
		a.Bypassed, a.Forced = nil, false
		a.NotArmed = z.Name
		if a.NotArmed == "" {
			a.NotArmed = fmt.Sprintf("zone %d", z.Number)
		}
		// Never silent: the history, the keypad (AreaState.NotArmed) and notifications say it.
		e.emit(Event{Time: now, Area: a.Number, Kind: KindArmingCancelled, Zone: z.Number, Device: z.Device, User: a.User, UserNumber: a.UserNumber, Note: "NOT ARMED: " + a.NotArmed + " tripped during the exit delay"})
		return
	}
	limit := e.inst.swingerLimit()
	if zs.Trips >= limit {
		return
	}
	switch {
	case z.Type == ZoneEntryExit && a.EntryUntil.IsZero() && a.Siren != SirenBurglar && a.ReportAt.IsZero():
		// Coming home starts the entry delay, also while a fire or a panic sounds; only
		// during a burglar alarm is the door one more intrusion.
		conf := &e.inst.Areas[e.areaIdx[a.Number]]
		d := e.inst.entryDelay(conf)
		zs.Trips++
		a.ReportZone, a.ReportDevice = z.Number, z.Device
		if d == 0 {
			e.alarm(now, a, KindBurglary, z.Number, z.Device, true)
		} else {
			if a.Mode != ModeTriggered {
				a.Mode = ModePending
			}
			a.EntryUntil = now.Add(d)
			e.emit(Event{Time: now, Area: a.Number, Kind: KindEntryDelay, Zone: z.Number, Device: z.Device, Note: e.entryNote(d)})
		}
	case z.Type.ExitRoute() && !a.EntryUntil.IsZero():
		return // a follower waits for the entry delay, also under a fire alarm
	case z.Type.ExitRoute() && a.Mode == ModeTriggered && !a.ReportAt.IsZero():
		// The entry route while its own alarm is still in local warning: the pending
		// report covers it.
		zs.Trips++
		e.emit(Event{Time: now, Area: a.Number, Kind: KindBurglary, Zone: z.Number, Device: z.Device, Note: "entry route, in local warning"})
	default:
		zs.Trips++
		e.alarm(now, a, KindBurglary, z.Number, z.Device, false)
	}
	if zs.Trips == limit {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindSwingerShutdown, Zone: z.Number, Device: z.Device, Note: fmt.Sprintf("%d alarms this armed period", limit)})
	}
}

func technicalKind(sig Signal) EventKind {
	if sig == SignalWater {
		return KindWater
	}
	return KindTechnical
}

// tamper raises or restores a tamper: an alarm when the area (or, for the hub, any area) is
// armed, a trouble when disarmed; history only in an area in service mode (which is never
// armed). A bypass never hides a tamper: it inhibits the zone's intrusion signal only.
func (e *Engine) tamper(now time.Time, a *AreaState, device string, zone int, active bool) {
	areaNo := 0
	if a != nil {
		areaNo = a.Number
	}
	service := e.inService(a)
	if !active {
		e.emit(Event{Time: now, Area: areaNo, Kind: KindTamper, Restore: true, Report: !service, Zone: zone, Device: device})
		return
	}
	if a == nil {
		// The hub's own lid: an alarm in every armed area, a trouble if none is armed.
		armed := false
		for i := range e.st.Areas {
			if ar := &e.st.Areas[i]; ar.Set.Armed() && ar.Mode != ModeArming {
				armed = true
				e.alarm(now, ar, KindTamper, zone, device, false)
			}
		}
		switch {
		case armed:
		case service:
			e.emit(Event{Time: now, Kind: KindTamper, Zone: zone, Device: device, Note: "service mode"})
		default:
			e.emit(Event{Time: now, Kind: KindTamper, Report: true, Zone: zone, Device: device, Note: "trouble"})
		}
		return
	}
	if a.Set.Armed() && a.Mode != ModeArming {
		e.alarm(now, a, KindTamper, zone, device, false)
		return
	}
	if service {
		e.emit(Event{Time: now, Area: areaNo, Kind: KindTamper, Zone: zone, Device: device, Note: "service mode"})
		return
	}
	e.emit(Event{Time: now, Area: areaNo, Kind: KindTamper, Report: true, Zone: zone, Device: device, Note: "trouble"})
}

// inService reports whether area a is in service mode; for the hub itself (a nil), whether
// any area is and none is armed.
func (e *Engine) inService(a *AreaState) bool {
	if a != nil {
		return !a.ServiceUntil.IsZero()
	}
	any := false
	for i := range e.st.Areas {
		ar := &e.st.Areas[i]
		if ar.Set.Armed() {
			return false
		}
		any = any || !ar.ServiceUntil.IsZero()
	}
	return any
}

// coded reports whether the input is a command that takes a code.
func (in Input) coded() bool {
	switch in.Kind {
	case InArm, InDisarm, InBypass, InAcknowledge, InGrantInstaller, InServiceMode, InWalkTest, InManualTest, InDeviceCommand, InConfigure:
		return in.Code != ""
	}
	return false
}

// duress sends a silent duress report (Contact ID 121) when a command's code is a duress
// code, before the command does anything: wherever a code is accepted, a duress code is
// too, and the station hears of it even when the command itself then fails (an area
// already disarmed, a locked-out keypad).
func (e *Engine) duress(now time.Time, in Input) {
	if !ValidCode(in.Code) {
		return
	}
	h := HashCredential(e.inst.CodeKey, "code", in.Code)
	for i := range e.inst.Users {
		u := &e.inst.Users[i]
		if u.Duress == "" || !hashEqual(u.Duress, h) {
			continue
		}
		area := in.Area
		if in.Kind == InBypass {
			if zi, ok := e.zoneIdx[in.Zone]; ok {
				area = e.inst.Zones[zi].Area
			}
		}
		if _, ok := e.areaIdx[area]; !ok {
			area = 0
		}
		e.emit(Event{Time: now, Area: area, Kind: KindDuress, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
		return
	}
}

// authenticate finds the user behind a command's credential. duress is set when the code
// was the user's duress code. Wrong codes count towards the interface's lockout.
func (e *Engine) authenticate(now time.Time, in Input) (u *User, duress bool, err error) {
	switch {
	case in.User != "":
		i, ok := e.userIdx[in.User]
		if !ok {
			return nil, false, fmt.Errorf("%w %q", ErrUnknownUser, in.User)
		}
		u = &e.inst.Users[i]
	case in.Code != "" || in.Tag != "":
		iface := in.Iface
		if iface == "" {
			iface = in.How.String()
		}
		if l := e.st.Lockouts[iface]; l != nil && now.Before(l.Until) {
			return nil, false, fmt.Errorf("%w until %s", ErrLockedOut, l.Until.Format("15:04:05"))
		}
		if in.Code != "" && !ValidCode(in.Code) {
			return nil, false, ErrMalformedCode
		}
		var h string
		if in.Code != "" {
			h = HashCredential(e.inst.CodeKey, "code", in.Code)
		} else {
			h = HashCredential(e.inst.CodeKey, "tag", in.Tag)
		}
	find:
		for i := range e.inst.Users {
			cand := &e.inst.Users[i]
			list := cand.Codes
			if in.Tag != "" {
				list = cand.Tags
			}
			for _, c := range list {
				if hashEqual(c, h) {
					u = cand
					break find
				}
			}
			if in.Code != "" && cand.Duress != "" && hashEqual(cand.Duress, h) {
				u, duress = cand, true
				break find
			}
		}
		if u == nil {
			e.wrongCode(now, iface, in)
			return nil, false, ErrWrongCode
		}
		if _, ok := e.st.Lockouts[iface]; ok {
			delete(e.st.Lockouts, iface)
			e.changed = true
		}
	default:
		return nil, false, ErrNoCredential
	}
	if u.Role == RoleInstaller && !now.Before(e.st.InstallerUntil) {
		return nil, false, fmt.Errorf("%s: %w", u.ID, ErrInstallerNotActive)
	}
	if !u.activeAt(now) {
		return nil, false, fmt.Errorf("%s: %w outside the user's time windows", u.ID, ErrNotAllowed)
	}
	return u, duress, nil
}

// wrongCode counts a wrong code: 5 within 10 minutes lock the interface for 90 s, doubling
// with each lockout up to 15 minutes (DESIGN §2 item 11).
func (e *Engine) wrongCode(now time.Time, iface string, in Input) {
	if e.st.Lockouts == nil {
		e.st.Lockouts = map[string]*Lockout{}
	}
	l := e.st.Lockouts[iface]
	if l == nil {
		l = &Lockout{}
		e.st.Lockouts[iface] = l
	}
	l.Wrong = slices.DeleteFunc(l.Wrong, func(t time.Time) bool { return now.Sub(t) >= 10*time.Minute })
	l.Wrong = append(l.Wrong, now)
	e.emit(Event{Time: now, Area: in.Area, Kind: KindWrongCode, How: in.How, Note: iface})
	if len(l.Wrong) < 5 {
		return
	}
	l.Wrong = nil
	l.Level++
	d := lockoutLength(l.Level)
	l.Until = now.Add(d)
	e.emit(Event{Time: now, Area: in.Area, Kind: KindWrongCodes, Report: true, How: in.How, Note: fmt.Sprintf("%s locked for %s", iface, d)})
}

func (e *Engine) area(n int) (*AreaState, *Area, error) {
	i, ok := e.areaIdx[n]
	if !ok {
		return nil, nil, fmt.Errorf("%w %d", ErrUnknownArea, n)
	}
	return &e.st.Areas[i], &e.inst.Areas[i], nil
}

// operator authenticates a command for area n and checks the user may operate it.
func (e *Engine) operator(now time.Time, in Input, n int, arming bool) (*User, bool, error) {
	u, duress, err := e.authenticate(now, in)
	if err != nil {
		return nil, false, err
	}
	if n != 0 && !u.mayUseArea(n) {
		return nil, false, fmt.Errorf("%s may not operate area %d: %w", u.ID, n, ErrNotAllowed)
	}
	if !arming && u.ArmOnly {
		return nil, false, fmt.Errorf("%s may only arm: %w", u.ID, ErrNotAllowed)
	}
	return u, duress, nil
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
	var open, faults, warns []Reason
	for _, r := range e.readiness(a, in.Mode, nil) {
		switch {
		case r.Warn:
			warns = append(warns, r)
		case r.faultOnly():
			faults = append(faults, r)
		default:
			open = append(open, r)
		}
	}
	if len(open) > 0 || (len(faults) > 0 && (!in.Force || u.Role == RoleLimited)) {
		refused := &ArmRefusedError{Area: a.Number, AreaName: conf.Name, Reasons: append(open, faults...)}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindArmRefused, UserNumber: u.Number, User: u.ID, How: in.How, Mode: in.Mode, Note: "not ready to arm: " + JoinReasons(refused.Reasons)})
		return refused
	}
	// Nothing is armed while a walk test only lists activations, nor in service mode.
	if !e.st.WalkUntil.IsZero() {
		e.st.WalkUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindWalkTest, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "ended by arming " + areaLabel(a.Number, conf.Name)})
	}
	if !a.ServiceUntil.IsZero() {
		a.ServiceUntil = time.Time{}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "ended by arming"})
	}
	a.Set, a.ArmedAt = in.Mode, now
	a.User, a.UserNumber, a.How = u.ID, u.Number, in.How
	a.EntryUntil, a.ReportAt, a.ReportedAt = time.Time{}, time.Time{}, time.Time{}
	a.NotArmed = ""
	for zi := range e.inst.Zones {
		if e.inst.Zones[zi].Area == a.Number {
			e.st.Zones[zi].Trips = 0
			e.st.Zones[zi].Out = false
		}
	}
	if len(faults) > 0 {
		a.Forced = true
		e.emit(Event{Time: now, Area: a.Number, Kind: KindForceArm, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: JoinReasons(faults)})
	}
	note := ""
	if len(warns) > 0 {
		note = "; armed with: " + JoinReasons(warns)
	}
	if d := e.inst.exitDelay(conf); d > 0 {
		a.Mode = ModeArming
		a.ExitUntil = now.Add(d)
		e.emit(Event{Time: now, Area: a.Number, Kind: KindExitDelay, UserNumber: u.Number, User: u.ID, How: in.How, Mode: in.Mode, Note: fmt.Sprintf("%s to leave", d) + note})
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
	if a.Set == ModeDisarmed {
		e.setSiren(a, SirenOff, time.Time{})
		a.Mode = ModeDisarmed
		a.ReportedAt = time.Time{} // silencing closes the cancel window
		e.emit(Event{Time: now, Area: a.Number, Kind: KindSilence, UserNumber: u.Number, User: u.ID, How: in.How})
		return nil
	}
	cancelAfter := e.inst.cancelWindow()
	wasArmed := a.ExitUntil.IsZero() // the arm (closing) was reported
	reported := cancelAfter > 0 && !a.ReportedAt.IsZero() && now.Sub(a.ReportedAt) <= cancelAfter
	if !a.ReportAt.IsZero() {
		note := "disarmed during the local warning: not reported"
		if reported {
			note = "disarmed during the local warning: the entry route's alarm was not reported; the alarm already reported is cancelled"
		}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindAlarmAborted, Zone: a.ReportZone, Device: a.ReportDevice, User: u.ID, How: in.How, Note: note})
	}
	// The cancel tells the station a code holder is home: never under duress, and only for
	// a burglary or tamper report of this armed period (ReportedAt).
	if reported && !duress {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindCancel, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "code holder disarmed after the alarm report"})
	}
	e.setSiren(a, SirenOff, time.Time{})
	a.Mode, a.Set = ModeDisarmed, ModeDisarmed
	a.ExitUntil, a.EntryUntil, a.ReportAt, a.ReportedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.User, a.UserNumber, a.How = u.ID, u.Number, in.How
	a.Bypassed, a.Forced = nil, false
	a.NotArmed = ""
	for zi := range e.inst.Zones {
		if e.inst.Zones[zi].Area == a.Number {
			e.st.Zones[zi].Trips = 0
			e.st.Zones[zi].Out = false
		}
	}
	ev := Event{Time: now, Area: a.Number, Kind: KindDisarm, Report: wasArmed, UserNumber: u.Number, User: u.ID, How: in.How}
	if !wasArmed {
		ev.Note = "during the exit delay"
	}
	e.emit(ev)
	if in.How == HowRemote {
		e.out[len(e.out)-1].Event.ContactID = 407
	}
	return nil
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

func (e *Engine) acknowledge(now time.Time, in Input) error {
	a, conf, err := e.area(in.Area)
	if err != nil {
		return err
	}
	if len(a.Memory) == 0 && len(a.FireMemory) == 0 {
		if in.coded() {
			if _, _, err := e.operator(now, in, a.Number, false); err != nil {
				return err
			}
		}
		return fmt.Errorf("%s: %w", areaLabel(a.Number, conf.Name), ErrNothingToAck)
	}
	u, _, err := e.operator(now, in, a.Number, false)
	if err != nil {
		return err
	}
	n := len(a.Memory) + len(a.FireMemory)
	a.Memory, a.FireMemory = nil, nil
	e.emit(Event{Time: now, Area: a.Number, Kind: KindAcknowledge, UserNumber: u.Number, User: u.ID, How: in.How, Note: fmt.Sprintf("%d alarms", n)})
	return nil
}

func (e *Engine) panicButton(now time.Time, in Input) error {
	a, _, err := e.area(in.Area)
	if err != nil {
		return err
	}
	e.alarm(now, a, KindPanic, 0, in.Device, false)
	return nil
}

func (e *Engine) grantInstaller(now time.Time, in Input) error {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return err
	}
	if u.Role != RoleAdmin {
		return fmt.Errorf("%s: %w: only an admin grants installer access", u.ID, ErrNotAllowed)
	}
	if !in.Active {
		if e.st.InstallerUntil.IsZero() {
			return ErrInstallerNotActive
		}
		e.st.InstallerUntil = time.Time{}
		e.emit(Event{Time: now, Kind: KindInstallerAccess, Restore: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "revoked"})
		return nil
	}
	d := or(in.Duration, DefaultInstaller)
	if d < 0 || d > 7*24*time.Hour {
		return fmt.Errorf("%w: installer grant %s outside 0–168h", ErrBadInput, d)
	}
	e.st.InstallerUntil = now.Add(d)
	e.emit(Event{Time: now, Kind: KindInstallerAccess, UserNumber: u.Number, User: u.ID, How: in.How, Note: "granted for " + d.String()})
	return nil
}

func (e *Engine) installer(now time.Time, in Input) (*User, error) {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return nil, err
	}
	if u.Role != RoleInstaller && u.Role != RoleAdmin {
		return nil, fmt.Errorf("%s: %w: installer or admin only", u.ID, ErrNotAllowed)
	}
	return u, nil
}

// serviceAreas returns the areas a service mode command is for: in.Area, or every area for
// area 0.
func (e *Engine) serviceAreas(in Input) ([]*AreaState, error) {
	if in.Area == 0 {
		as := make([]*AreaState, len(e.st.Areas))
		for i := range e.st.Areas {
			as[i] = &e.st.Areas[i]
		}
		return as, nil
	}
	a, _, err := e.area(in.Area)
	if err != nil {
		return nil, err
	}
	return []*AreaState{a}, nil
}

// serviceMode starts or ends service mode (renovation, battery change) in an area: tamper
// there is history only. It starts only in a disarmed area, so that tamper in an armed area
// is always an alarm; arming ends it for that area.
func (e *Engine) serviceMode(now time.Time, in Input) error {
	areas, err := e.serviceAreas(in)
	if err != nil {
		return err
	}
	if in.Active {
		d := or(in.Duration, DefaultServiceTime)
		if d < 0 || d > MaxServiceTime {
			return fmt.Errorf("%w: service mode %s outside 0–%s", ErrBadInput, d, MaxServiceTime)
		}
		for _, a := range areas {
			if a.Set != ModeDisarmed || a.Mode != ModeDisarmed {
				return fmt.Errorf("%w: %s is %s", ErrServiceArmed, areaLabel(a.Number, e.inst.Areas[e.areaIdx[a.Number]].Name), a.Mode)
			}
		}
		u, err := e.installer(now, in)
		if err != nil {
			return err
		}
		for _, a := range areas {
			a.ServiceUntil = now.Add(d)
			e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "for " + d.String()})
		}
		return nil
	}
	on := false
	for _, a := range areas {
		on = on || !a.ServiceUntil.IsZero()
	}
	if !on {
		return fmt.Errorf("%w: service mode is not on", ErrBadInput)
	}
	u, err := e.installer(now, in)
	if err != nil {
		return err
	}
	for _, a := range areas {
		if !a.ServiceUntil.IsZero() {
			a.ServiceUntil = time.Time{}
			e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
		}
	}
	return nil
}

func (e *Engine) walkTest(now time.Time, in Input) error {
	if in.Active {
		for i := range e.st.Areas {
			if e.st.Areas[i].Set != ModeDisarmed {
				return ErrWalkTestArmed
			}
		}
		d := or(in.Duration, DefaultWalkTest)
		if d < 0 || d > time.Hour {
			return fmt.Errorf("%w: walk test %s outside 0–1h", ErrBadInput, d)
		}
		u, err := e.installer(now, in)
		if err != nil {
			return err
		}
		e.st.WalkUntil = now.Add(d)
		e.emit(Event{Time: now, Kind: KindWalkTest, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "for " + d.String()})
		return nil
	}
	if e.st.WalkUntil.IsZero() {
		return fmt.Errorf("%w: no walk test running", ErrBadInput)
	}
	u, err := e.installer(now, in)
	if err != nil {
		return err
	}
	e.st.WalkUntil = time.Time{}
	e.emit(Event{Time: now, Kind: KindWalkTest, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
	return nil
}

func (e *Engine) manualTest(now time.Time, in Input) error {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return err
	}
	e.emit(Event{Time: now, Kind: KindManualTest, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
	return nil
}

// mains applies a mains lost or restored input: shown at once, reported after the delay.
func (e *Engine) mains(now time.Time, lost bool) {
	m := &e.st.Mains
	if m.Lost == lost {
		return
	}
	if lost {
		d := e.inst.mainsDelay()
		if d == 0 {
			*m = Mains{Lost: true, Since: now, Reported: true}
			e.emit(Event{Time: now, Kind: KindMainsLost, Report: true, How: HowSystem, Note: "on backup battery"})
			return
		}
		*m = Mains{Lost: true, Since: now, ReportAt: now.Add(d)}
		e.emit(Event{Time: now, Kind: KindMainsLost, How: HowSystem, Note: fmt.Sprintf("on backup battery; reported in %s", d)})
		return
	}
	reported := m.Reported
	*m = Mains{}
	ev := Event{Time: now, Kind: KindMainsLost, Restore: true, Report: reported, How: HowSystem}
	if !reported {
		ev.Note = "restored before the report delay"
	}
	e.emit(ev)
}

func (e *Engine) uplinkFault(now time.Time, in Input) {
	has := slices.Contains(e.st.UplinkFaults, in.Path)
	if has == in.Active {
		return
	}
	if in.Active {
		e.st.UplinkFaults = append(e.st.UplinkFaults, in.Path)
	} else {
		e.st.UplinkFaults = slices.DeleteFunc(e.st.UplinkFaults, func(p string) bool { return p == in.Path })
	}
	e.emit(Event{Time: now, Kind: KindUplinkFault, Restore: !in.Active, Report: true, Device: in.Path})
}

// ErrNotAPlugOrLock is the error for a device command to a device that is neither.
var ErrNotAPlugOrLock = errors.New("not a plug or a lock")

// deviceCommand authorises switching a plug or locking a lock and logs it: a lock may be
// locked by anyone who may arm its area, anything else needs a user who may operate the area
// (unlocking an armed area's door: a user who may disarm it).
func (e *Engine) deviceCommand(now time.Time, in Input) error {
	di, ok := e.deviceIdx[in.Device]
	if !ok {
		return fmt.Errorf("%q: %w", in.Device, ErrUnknownDevice)
	}
	d := &e.inst.Devices[di]
	area := d.Area
	if zi := e.zoneOf[di]; zi >= 0 {
		area = e.inst.Zones[zi].Area
	}
	var what string
	arming := false
	switch {
	case d.Kind == "plug" && in.Active:
		what = "switched on"
	case d.Kind == "plug":
		what = "switched off"
	case d.Kind == "lock" && in.Active:
		what, arming = "locked", true
	case d.Kind == "lock":
		what = "unlocked"
	default:
		return fmt.Errorf("%s: %w", deviceLabel(d), ErrNotAPlugOrLock)
	}
	u, _, err := e.operator(now, in, area, arming)
	if err != nil {
		return err
	}
	if a, ok := e.areaIdx[area]; ok && what == "unlocked" && e.st.Areas[a].Set.Armed() {
		what = "unlocked while " + e.st.Areas[a].Mode.String()
	}
	e.emit(Event{Time: now, Area: area, Kind: KindDeviceCommand, Device: d.ID, UserNumber: u.Number, User: u.ID, How: in.How, Note: deviceLabel(d) + " " + what})
	return nil
}

// deviceLabel names a device for people.
func deviceLabel(d *Device) string {
	if d.Name != "" {
		return d.Name
	}
	return d.ID
}
