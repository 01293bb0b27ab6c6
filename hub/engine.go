package hub

import (
	"errors"
	"fmt"
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
	actions   []timedAction // every schedule's timed actions
	loc       *time.Location

	out   []Effect
	notes map[time.Duration]string
	// armWarn is the "armed with: …" note of an arming without exit delay.
	armWarn string
	// changed records that the last Step changed state worth persisting at once.
	changed bool
	// zoneChanged records that it changed a zone's open/closed state.
	zoneChanged bool
}

// Changed reports whether the last Step changed the state, so the run loop can skip the
// commit for telemetry that changed nothing.
func (e *Engine) Changed() bool { return e.changed }

// ZoneChanged reports whether the last Step changed a zone's open/closed state. When it did
// and Changed is false, nothing reportable changed (a door opened while disarmed): the run
// loop may write it later, with the next commit or within ZoneWriteEvery.
func (e *Engine) ZoneChanged() bool { return e.zoneChanged }

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
	e.actions = inst.timedActions()
	e.loc = inst.Location()
}

// Configure replaces the installation with a validated new one and logs the change, with
// who made it and what it was. The caller stores the installation with the step's events.
func (e *Engine) Configure(now time.Time, by Input, note string, change func(*Installation) error) ([]Effect, error) {
	return e.configure(now, by, note, false, func(inst *Installation, _ string) error { return change(inst) })
}

// ConfigureOwn is Configure for a change any user may make to their own entry (their web
// password): by needs only to be a user active now, and change learns which user by is.
func (e *Engine) ConfigureOwn(now time.Time, by Input, note string, change func(inst *Installation, user string) error) ([]Effect, error) {
	return e.configure(now, by, note, true, change)
}

func (e *Engine) configure(now time.Time, by Input, note string, own bool, change func(*Installation, string) error) ([]Effect, error) {
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
		var u *User
		var err error
		if own {
			u, _, err = e.authenticate(now, by)
		} else {
			u, err = e.installer(now, by)
		}
		if err != nil {
			e.changed = len(e.out) > 0
			return e.out, err
		}
		ev.User, ev.UserNumber = u.ID, u.Number
	}
	inst, err := CloneInstallation(e.inst)
	if err == nil {
		err = change(inst, ev.User)
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
	e.reschedule(now)
	e.changed = true
	e.emit(ev)
	return e.out, nil
}

// Step applies one input at time now. The returned effects are valid until the next Step.
// On error the state is unchanged, except that a wrong code counts towards lockout (and
// its events are among the effects).
func (e *Engine) Step(now time.Time, in Input) ([]Effect, error) {
	e.out = e.out[:0]
	e.zoneChanged = false
	e.changed = e.bound(now) // a clock gone back never lengthens a deadline
	e.startSchedules(now)
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
	case InAlarmSeen:
		err = e.alarmSeen(now, in)
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
	case InBusFault:
		e.busFault(now, in)
	case InPhotos:
		if in.Path == "" || len(in.Path) > 200 {
			err = fmt.Errorf("%w: photos need a note of 1–200 bytes", ErrBadInput)
			break
		}
		e.emit(Event{Time: now, Area: in.Area, Kind: KindPhotos, How: HowSystem, Note: in.Path})
	case InDiskFault:
		if e.st.DiskFault != in.Active {
			e.st.DiskFault = in.Active
			e.emit(Event{Time: now, Kind: KindDiskFault, Restore: !in.Active, Report: true, Note: in.Path})
		}
	default:
		err = fmt.Errorf("%w: input kind %d", ErrBadInput, in.Kind)
	}
	// Events and sirens set changed as they happen; a command changes state when it works.
	if err == nil && in.Kind != InReport && in.Kind != InTick {
		e.changed = true
	}
	return e.out, err
}

// emit appends an event with the next sequence and its station codes.
func (e *Engine) emit(ev Event) {
	ev.Seq = e.st.NextSeq
	e.st.NextSeq++
	e.changed = true
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

func (e *Engine) area(n int) (*AreaState, *Area, error) {
	i, ok := e.areaIdx[n]
	if !ok {
		return nil, nil, fmt.Errorf("%w %d", ErrUnknownArea, n)
	}
	return &e.st.Areas[i], &e.inst.Areas[i], nil
}
