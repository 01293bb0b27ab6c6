package hub

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fuzz tests decode bytes into a sequence of inputs for the demo installation (with a
// tamper zone, an audible panic button and an arm-only user added): a first byte picks
// settings (see fuzzInstallation), then three bytes an input: an op and two arguments.
// fuzzOp* name the ops (the first byte modulo fuzzOps).
const (
	fuzzOpZone         = iota // a zone's own signal: zone b1, active b2&1
	fuzzOpZone2               // the same, to make zone reports common
	fuzzOpReport              // any device (or the hub lid) b1, any signal b2%11, active b2&0x80
	fuzzOpTick                // advance (b1<<8|b2)%401 seconds
	fuzzOpTickShort           // advance b1%16 seconds
	fuzzOpTickDeadline        // advance to the next deadline, as the run loop's timer does
	fuzzOpArm                 // mode b1&3, area (b1>>2)&3, force b1&0x10, credential b2
	fuzzOpDisarm              // area (b1>>2)&3, credential b2
	fuzzOpBypass              // zone index b1%(zones+1) (the last: no such zone), credential b2
	fuzzOpAck                 // area (b1>>2)&3, credential b2
	fuzzOpPanic               // area (b1>>2)&3
	fuzzOpMains               // lost b1&1
	fuzzOpRestart             // JSON round trip of the state into a new engine
	fuzzOpGrant               // grant b1&1 (else revoke), duration (b1>>1)&3, credential b2
	fuzzOpService             // on b1&1, walk test b1&2 (else service), duration (b1>>2)&3, credential b2
	fuzzOpFault               // which b1%8, active b2&1 (credential b2 for a manual test)
	fuzzOps
)

// fuzzMaxSteps bounds the sequences FuzzEngine runs. The fuzzer minimizes every input that
// finds new coverage, at a cost that grows with the square of its length, and counts no
// execs meanwhile: long inputs make it look stalled. FuzzEngine skips longer inputs rather
// than cut them, so that no bytes are there that change nothing. TestEngine_RandomSequences
// runs longer ones.
const (
	fuzzMaxSteps   = 64
	randomMaxSteps = 150
)

var (
	fuzzAreas = [4]int{1, 2, 1, 7} // 7 does not exist
	fuzzModes = [4]Mode{ModeArmedAway, ModeArmedHome, ModeArmedNight, ModeDisarmed}
	// fuzzCreds are the demo family's credentials and some bad ones; b2&0x80 puts a code or
	// tag on keypad kp1 instead of the default interface.
	fuzzCreds = []Input{
		{Code: "1234", How: HowKeypad},   // anna, admin
		{Code: "5678", How: HowKeypad},   // erik, user
		{Code: "2468", How: HowKeypad},   // lisa, limited
		{Code: "7777", How: HowKeypad},   // ivan, installer
		{Code: "9999", How: HowKeypad},   // anna's duress code
		{Code: "0000", How: HowKeypad},   // wrong
		{Code: "12", How: HowKeypad},     // malformed
		{Tag: "04A1B2C3", How: HowTag},   // anna's tag
		{Tag: "DEADBEEF", How: HowTag},   // unknown tag
		{User: "anna", How: HowWeb},      // a web session
		{User: "erik", How: HowHomeKit},  // the HomeKit bridge
		{User: "lisa", How: HowWeb},      // a web session
		{User: "ivan", How: HowWeb},      // a web session
		{User: "nobody", How: HowWeb},    // unknown user
		{How: HowKeypad},                 // no credential
		{User: "anna", How: HowRemote},   // a signed remote command
		{Code: "00000000", How: HowWeb},  // wrong, longest
		{Code: "123456789", How: HowWeb}, // malformed, too long
		{Code: "1357", How: HowKeypad},   // olle, arm only
	}
	// fuzzDurations include one too long for service mode, walk tests and grants alike.
	fuzzDurations = [4]time.Duration{0, 30 * time.Second, time.Hour, 200 * time.Hour}
)

// fuzzInstallation is the demo installation with a tamper zone (901), an audible panic
// button in the garage (902) and an arm-only user olle (code 1357); the bits of cfg change
// the settings.
func fuzzInstallation(cfg byte) *Installation {
	inst := DemoInstallation(testKey)
	inst.Devices = append(inst.Devices,
		Device{ID: "cabinet_lid", Name: "Cabinet lid", Driver: "sim", Model: "contact"},
		Device{ID: "garage_panic", Name: "Garage panic button", Driver: "sim", Model: "panic"})
	inst.Zones = append(inst.Zones,
		Zone{Number: 901, Name: "Cabinet lid", Area: 1, Type: ZoneTamper, Device: "cabinet_lid"},
		Zone{Number: 902, Name: "Garage panic", Area: 2, Type: ZonePanic, Device: "garage_panic", Audible: true})
	olle := User{ID: "olle", Number: 904, Name: "Olle", Role: RoleUser, ArmOnly: true}
	if err := olle.SetCode(testKey, "1357"); err != nil {
		panic(err)
	}
	inst.Users = append(inst.Users, olle)
	s := &inst.Settings
	if cfg&1 != 0 {
		s.NoEntryDelay = true
	}
	if cfg&2 != 0 {
		s.NoExitDelay = true
	}
	if cfg&4 != 0 {
		s.SwingerLimit = 1
	}
	if cfg&8 != 0 {
		inst.Areas[0].BellCutoff = NewDuration(MinBellCutoff)
	}
	if cfg&16 != 0 {
		s.BellCutoff = NewDuration(MaxBellCutoff)
		s.AbortWindow = NewDuration(10 * time.Second)
		s.CancelAfter = NewDuration(time.Minute)
		s.MainsDelay = NewDuration(5 * time.Minute)
	}
	if cfg&32 != 0 {
		inst.Areas[1].EntryDelay = NewDuration(MaxEntryDelay)
		inst.Areas[1].ExitDelay = NewDuration(MaxExitDelay)
	}
	if err := inst.Validate(); err != nil {
		panic(err)
	}
	return inst
}

// fuzzStep is one decoded step: a tick, a restart, or an input at the current time.
type fuzzStep struct {
	in         Input
	advance    time.Duration
	toDeadline bool
	restart    bool
}

// zoneSignal is the signal a zone's device reports, from its model.
func zoneSignal(inst *Installation, z *Zone) Signal {
	for _, d := range inst.Devices {
		if d.ID == z.Device {
			switch d.Model {
			case "motion":
				return SignalMotion
			case "smoke":
				return SignalSmoke
			case "water":
				return SignalWater
			case "panic":
				return SignalPanic
			}
		}
	}
	return SignalContact
}

func fuzzCred(in *Input, b byte) {
	c := fuzzCreds[int(b&0x7f)%len(fuzzCreds)]
	in.Code, in.Tag, in.User, in.How = c.Code, c.Tag, c.User, c.How
	if b&0x80 != 0 && (c.Code != "" || c.Tag != "") {
		in.Iface = "kp1"
	}
}

// decodeFuzz turns fuzz bytes into steps, three bytes a step.
func decodeFuzz(inst *Installation, data []byte) []fuzzStep {
	var steps []fuzzStep
	for len(data) >= 3 {
		op, b1, b2 := data[0]%fuzzOps, data[1], data[2]
		data = data[3:]
		var s fuzzStep
		in := &s.in
		area := fuzzAreas[(b1>>2)&3]
		switch op {
		case fuzzOpZone, fuzzOpZone2:
			z := &inst.Zones[int(b1)%len(inst.Zones)]
			*in = Input{Kind: InReport, Device: z.Device, Signal: zoneSignal(inst, z), Active: b2&1 != 0}
		case fuzzOpReport:
			dev := HubDevice
			if i := int(b1) % (len(inst.Devices) + 1); i < len(inst.Devices) {
				dev = inst.Devices[i].ID
			}
			*in = Input{Kind: InReport, Device: dev, Signal: Signal(b2 % 11), Active: b2&0x80 != 0}
		case fuzzOpTick:
			s.advance = time.Duration((int(b1)<<8|int(b2))%401) * time.Second
		case fuzzOpTickShort:
			s.advance = time.Duration(b1%16) * time.Second
		case fuzzOpTickDeadline:
			s.toDeadline = true
		case fuzzOpArm:
			*in = Input{Kind: InArm, Area: area, Mode: fuzzModes[b1&3], Force: b1&0x10 != 0}
			fuzzCred(in, b2)
		case fuzzOpDisarm:
			*in = Input{Kind: InDisarm, Area: area}
			fuzzCred(in, b2)
		case fuzzOpBypass:
			*in = Input{Kind: InBypass}
			if i := int(b1) % (len(inst.Zones) + 1); i < len(inst.Zones) {
				in.Zone = inst.Zones[i].Number
			}
			fuzzCred(in, b2)
		case fuzzOpAck:
			*in = Input{Kind: InAcknowledge, Area: area}
			fuzzCred(in, b2)
		case fuzzOpPanic:
			*in = Input{Kind: InPanic, Area: area, How: HowKeypad, Device: "hall_keypad"}
		case fuzzOpMains:
			*in = Input{Kind: InMains, Active: b1&1 != 0, How: HowSystem}
		case fuzzOpRestart:
			s.restart = true
		case fuzzOpGrant:
			*in = Input{Kind: InGrantInstaller, Active: b1&1 != 0, Duration: fuzzDurations[(b1>>1)&3]}
			fuzzCred(in, b2)
		case fuzzOpService:
			*in = Input{Kind: InServiceMode, Active: b1&1 != 0, Duration: fuzzDurations[(b1>>2)&3]}
			if b1&2 != 0 {
				in.Kind = InWalkTest
			}
			fuzzCred(in, b2)
		case fuzzOpFault:
			active := b2&1 != 0
			switch b1 % 8 {
			case 0:
				*in = Input{Kind: InHubBattery, Active: active}
			case 1:
				*in = Input{Kind: InUplinkFault, Active: active, Path: "eth0"}
			case 2:
				*in = Input{Kind: InUplinkFault, Active: active, Path: "lte"}
			case 3:
				*in = Input{Kind: InSirenFault, Active: active, Device: "hall_siren"}
			case 4:
				*in = Input{Kind: InDiskFault, Active: active, Path: "/var/lib/vakt"}
			case 5:
				*in = Input{Kind: InPeriodicTest}
			case 6:
				*in = Input{Kind: InManualTest}
				fuzzCred(in, b2)
			case 7:
				*in = Input{Kind: InReport, Device: HubDevice, Signal: SignalTamper, Active: active}
			}
		}
		steps = append(steps, s)
	}
	return steps
}

// fuzzRun applies steps to an engine over the demo installation and checks the engine's
// invariants after each one.
type fuzzRun struct {
	inst *Installation
	eng  *Engine
	now  time.Time
	// seq is the sequence number the next event must carry.
	seq uint64
	// world is what each area's sirens play, as the siren effects told them.
	world []SirenPattern
	// tracing keeps the recent history in trace, for failure messages. It is off for
	// speed; runFuzz replays a failing sequence with it on.
	tracing bool
	trace   []string
	// sum hashes every effect, for the determinism check.
	sum hash.Hash64
	// areas and zones are reused for the state before a tick.
	areas []AreaState
	zones []ZoneState
}

func newFuzzRun(cfg byte) *fuzzRun {
	inst := fuzzInstallation(cfg)
	return &fuzzRun{
		inst:  inst,
		eng:   NewEngine(inst, State{}),
		now:   scenarioStart,
		seq:   1,
		world: make([]SirenPattern, len(inst.Areas)),
		sum:   fnv.New64a(),
	}
}

func (f *fuzzRun) logf(format string, a ...any) {
	if !f.tracing {
		return
	}
	const keep = 60
	if len(f.trace) >= keep {
		f.trace = f.trace[len(f.trace)-keep/2:]
	}
	f.trace = append(f.trace, fmt.Sprintf(format, a...))
}

// violation returns an error with the recent trace.
func (f *fuzzRun) violation(format string, a ...any) error {
	return fmt.Errorf("at +%s: %s\nrecent steps:\n  %s", f.now.Sub(scenarioStart), fmt.Sprintf(format, a...), strings.Join(f.trace, "\n  "))
}

// hashEffect adds an effect to the determinism hash.
func (f *fuzzRun) hashEffect(e Effect) {
	var b [64]byte
	ev := &e.Event
	n := binary.PutUvarint(b[:], ev.Seq)
	n += binary.PutVarint(b[n:], ev.Time.UnixNano())
	b[n], b[n+1], b[n+2], b[n+3], b[n+4], b[n+5] = byte(e.Kind), byte(e.Pattern), byte(ev.Kind), byte(ev.How), byte(ev.Mode), byte(ev.ContactID)
	n += 6
	if ev.Restore {
		b[n] |= 1
	}
	if ev.Report {
		b[n] |= 2
	}
	n++
	n += binary.PutVarint(b[n:], int64(e.Area<<20|e.Zone<<10|ev.Zone))
	f.sum.Write(b[:n])
	for _, s := range [...]string{ev.SIA, ev.Device, ev.User, ev.Note} {
		io.WriteString(f.sum, s)
		f.sum.Write([]byte{0})
	}
}

var inputKindNames = [...]string{"tick", "report", "arm", "disarm", "bypass", "ack", "panic", "grant", "service", "walktest", "test", "periodic", "mains", "hub_battery", "uplink", "siren_fault", "disk_fault"}

func describeInput(in Input) string {
	var b strings.Builder
	if int(in.Kind) < len(inputKindNames) {
		b.WriteString(inputKindNames[in.Kind])
	} else {
		fmt.Fprintf(&b, "kind(%d)", in.Kind)
	}
	switch in.Kind {
	case InReport:
		fmt.Fprintf(&b, " %s %s=%v", in.Device, in.Signal, in.Active)
		return b.String()
	case InArm:
		fmt.Fprintf(&b, " %s", in.Mode)
	case InBypass:
		fmt.Fprintf(&b, " zone %d", in.Zone)
	case InMains, InHubBattery, InUplinkFault, InSirenFault, InDiskFault, InGrantInstaller, InServiceMode, InWalkTest:
		fmt.Fprintf(&b, " active=%v", in.Active)
	}
	if in.Area != 0 {
		fmt.Fprintf(&b, " area %d", in.Area)
	}
	if in.Force {
		b.WriteString(" force")
	}
	if in.Duration != 0 {
		fmt.Fprintf(&b, " %s", in.Duration)
	}
	switch {
	case in.Code != "":
		fmt.Fprintf(&b, " code %s", in.Code)
	case in.Tag != "":
		fmt.Fprintf(&b, " tag %s", in.Tag)
	case in.User != "":
		fmt.Fprintf(&b, " by %s", in.User)
	}
	if in.How != HowNone {
		fmt.Fprintf(&b, " via %s", in.How)
	}
	if in.Iface != "" {
		fmt.Fprintf(&b, " from %s", in.Iface)
	}
	return b.String()
}

// apply runs one step and returns the first invariant it breaks.
func (f *fuzzRun) apply(s fuzzStep) error {
	if s.restart {
		b, err := json.Marshal(f.eng.State())
		if err != nil {
			return f.violation("marshal state: %v", err)
		}
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			return f.violation("unmarshal state: %v", err)
		}
		f.eng = NewEngine(f.inst, st)
		b2, _ := json.Marshal(f.eng.State())
		if !bytes.Equal(b, b2) {
			return f.violation("restart changed the state:\n%s\n%s", b, b2)
		}
		f.logf("restart")
		return f.checkState()
	}
	in := s.in
	if s.toDeadline {
		next, ok := f.eng.NextDeadline()
		if !ok {
			return nil
		}
		s.advance = next.Sub(f.now)
	}
	if s.advance != 0 || s.toDeadline {
		in = Input{Kind: InTick}
		f.now = f.now.Add(s.advance)
	}
	var before State
	if in.Kind == InTick {
		// A tick changes no configuration-like state: the areas and zones suffice, and
		// copying them into reused buffers keeps the fuzzer fast.
		st := f.eng.State()
		f.areas = append(f.areas[:0], st.Areas...)
		f.zones = append(f.zones[:0], st.Zones...)
		before = State{Areas: f.areas, Zones: f.zones}
	} else {
		before = f.eng.State().Clone()
	}
	effs, err := f.eng.Step(f.now, in)
	if f.tracing {
		f.logf("+%s %s → %v", f.now.Sub(scenarioStart), describeInput(in), err)
		for _, e := range effs {
			f.logf("    %s", renderEffect(e))
		}
	}
	for _, e := range effs {
		f.hashEffect(e)
	}
	st := f.eng.State()

	// Events are numbered gap-free across all steps, restarts included.
	for _, e := range effs {
		switch e.Kind {
		case EffectEvent:
			if e.Event.Seq != f.seq {
				return f.violation("event %s has seq %d, want %d", e.Event.Kind, e.Event.Seq, f.seq)
			}
			f.seq++
			if !e.Event.Time.Equal(f.now) {
				return f.violation("event %s at %s, want the step's time %s", e.Event.Kind, e.Event.Time, f.now)
			}
			if e.Event.Report && e.Event.ContactID == 0 {
				return f.violation("event %s is to be reported but has no code", e.Event.Kind)
			}
		case EffectSiren:
			i, ok := f.eng.areaIdx[e.Area]
			if !ok {
				return f.violation("siren effect for unknown area %d", e.Area)
			}
			if f.world[i] == e.Pattern {
				return f.violation("siren effect area %d %s repeats what already plays", e.Area, e.Pattern)
			}
			f.world[i] = e.Pattern
		case EffectChime:
		default:
			return f.violation("effect of kind %d", e.Kind)
		}
	}
	if st.NextSeq != f.seq {
		return f.violation("state next seq %d, want %d", st.NextSeq, f.seq)
	}

	if err != nil {
		if in.Kind == InTick {
			return f.violation("tick failed: %v", err)
		}
		// A failed command changes nothing but the lockout, and may only log wrong codes,
		// a refused arming, and the duress of a forced arming that was refused: the
		// station must hear of a duress code whatever came of the arming.
		for _, e := range effs {
			if e.Kind != EffectEvent {
				return f.violation("failed command (%v) has effect %s", err, renderEffect(e))
			}
			switch e.Event.Kind {
			case KindWrongCode, KindWrongCodes, KindArmRefused, KindDuress:
			default:
				return f.violation("failed command (%v) logged %s", err, e.Event.Kind)
			}
		}
		b, a := before, st.Clone()
		b.Lockouts, a.Lockouts = nil, nil
		b.NextSeq, a.NextSeq = 0, 0
		if !reflect.DeepEqual(b, a) {
			b, _ := json.Marshal(b)
			a, _ := json.Marshal(a)
			if !bytes.Equal(a, b) {
				return f.violation("failed command (%v) changed the state:\nbefore %s\nafter  %s", err, b, a)
			}
		}
	}

	// A step that reports no change must have changed nothing: the run loop skips its
	// commit. One that reports only a zone change (written later) must have changed nothing
	// but zones' open/closed state. (A failed command was checked above.)
	if !f.eng.Changed() && err == nil {
		var changed bool
		if f.eng.ZoneChanged() {
			was := before.Clone()
			for i := range was.Zones {
				if i < len(st.Zones) {
					was.Zones[i].Active = st.Zones[i].Active
				}
			}
			changed = !reflect.DeepEqual(was, st.Clone())
		} else if in.Kind == InTick {
			changed = !reflect.DeepEqual(before.Areas, st.Areas) || !reflect.DeepEqual(before.Zones, st.Zones)
		} else {
			changed = !reflect.DeepEqual(before, st.Clone())
		}
		if changed {
			bj, _ := json.Marshal(before)
			aj, _ := json.Marshal(st)
			return f.violation("%s changed the state but Changed() is false:\nbefore %s\nafter  %s", describeInput(in), bj, aj)
		}
	}

	// The duress code shows nothing on the premises: it disarms as usual and sounds
	// nothing. (Arming with it arms as usual, with what arming brings.)
	if in.Kind == InDisarm && hasEvent(effs, in.Area, KindDuress) {
		seen := false // deadlines that fell due in the same step come before the duress
		for _, e := range effs {
			seen = seen || (e.Kind == EffectEvent && e.Event.Kind == KindDuress)
			if seen && e.Kind == EffectSiren && e.Pattern != SirenOff {
				return f.violation("duress disarm sounded %s in area %d", e.Pattern, e.Area)
			}
		}
		if a, ok := f.eng.areaIdx[in.Area]; err == nil && (!ok || st.Areas[a].Set != ModeDisarmed || !hasEvent(effs, in.Area, KindDisarm, KindSilence)) {
			return f.violation("duress did not disarm area %d", in.Area)
		}
	}

	for ai := range st.Areas {
		b, a := &before.Areas[ai], &st.Areas[ai]
		// Leaving during the exit delay never alarms: the exit route is ignored and any
		// other intrusion zone cancels the arming, whatever sounds meanwhile.
		if !b.ExitUntil.IsZero() && in.Kind != InTick && hasEvent(effs, a.Number, KindBurglary) {
			return f.violation("burglary in area %d during its exit delay", a.Number)
		}
		// An entry delay ends in a disarm or an alarm; nothing else makes it go away.
		if !b.EntryUntil.IsZero() && a.EntryUntil.IsZero() && !hasEvent(effs, a.Number, KindDisarm, KindBurglary, KindTamper) {
			return f.violation("area %d entry delay ended without an alarm or a disarm", a.Number)
		}
	}

	// A fire zone that becomes active, and is not bypassed, alarms with the fire siren and
	// a report, in every mode.
	for zi := range f.inst.Zones {
		z := &f.inst.Zones[zi]
		if z.Type != ZoneFire || before.Zones[zi].Active || !st.Zones[zi].Active {
			continue
		}
		ai := f.eng.areaIdx[z.Area]
		if before.Areas[ai].bypassed(z.Number) {
			continue
		}
		found := false
		for _, e := range effs {
			if e.Kind == EffectEvent && e.Event.Kind == KindFire && e.Event.Zone == z.Number && !e.Event.Restore && e.Event.Report {
				found = true
			}
		}
		if !found {
			return f.violation("fire zone %d became active without a reported fire event", z.Number)
		}
		if st.Areas[ai].Siren != SirenFire {
			return f.violation("fire zone %d became active but area %d plays %s", z.Number, z.Area, st.Areas[ai].Siren)
		}
		if !hasSiren(effs, z.Area, SirenFire) && before.Areas[ai].Siren != SirenFire {
			return f.violation("fire zone %d became active without a fire siren effect", z.Number)
		}
	}
	return f.checkState()
}

// checkState checks the invariants of the state itself.
func (f *fuzzRun) checkState() error {
	st := f.eng.State()
	for i := range st.Areas {
		a := &st.Areas[i]
		conf := &f.inst.Areas[i]
		if f.world[i] != a.Siren {
			return f.violation("area %d siren is %s but the effects left it %s", a.Number, a.Siren, f.world[i])
		}
		if a.Set != ModeDisarmed && !a.Set.Armed() {
			return f.violation("area %d set to %s", a.Number, a.Set)
		}
		if a.Set == ModeDisarmed && a.Siren == SirenBurglar {
			return f.violation("disarmed area %d sounds the burglar siren", a.Number)
		}
		if a.Siren != SirenOff {
			limit := f.now.Add(f.inst.bellCutoff(conf))
			if !a.SirenUntil.After(f.now) || a.SirenUntil.After(limit) || a.SirenUntil.After(f.now.Add(MaxBellCutoff)) {
				return f.violation("area %d siren %s until +%s, want within (0, %s]", a.Number, a.Siren, a.SirenUntil.Sub(f.now), f.inst.bellCutoff(conf))
			}
		} else if !a.SirenUntil.IsZero() {
			return f.violation("area %d siren off but until %s", a.Number, a.SirenUntil)
		}
		// The exit and entry delays run under their own modes, or under a siren that
		// sounds over them (a fire during the exit delay).
		if (a.Mode == ModeArming && a.ExitUntil.IsZero()) || (!a.ExitUntil.IsZero() && a.Mode != ModeArming && a.Mode != ModeTriggered) {
			return f.violation("area %d %s with exit until %v", a.Number, a.Mode, a.ExitUntil)
		}
		if (a.Mode == ModePending && a.EntryUntil.IsZero()) || (!a.EntryUntil.IsZero() && a.Mode != ModePending && a.Mode != ModeTriggered) {
			return f.violation("area %d %s with entry until %v", a.Number, a.Mode, a.EntryUntil)
		}
		if (a.Siren != SirenOff) != (a.Mode == ModeTriggered) {
			return f.violation("area %d is %s with the siren %s", a.Number, a.Mode, a.Siren)
		}
	}
	if next, ok := f.eng.NextDeadline(); ok && !next.After(f.now) {
		return f.violation("next deadline %s is not after now", next.Sub(f.now))
	}
	return nil
}

// settle runs the clock on for an hour with nothing happening, ticking at every deadline as
// the run loop does: every siren must have stopped by then.
func (f *fuzzRun) settle() error {
	end := f.now.Add(time.Hour)
	for range 100 {
		next, ok := f.eng.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		if err := f.apply(fuzzStep{toDeadline: true}); err != nil {
			return err
		}
	}
	if err := f.apply(fuzzStep{advance: end.Sub(f.now)}); err != nil {
		return err
	}
	for i, a := range f.eng.State().Areas {
		if a.Siren != SirenOff || f.world[i] != SirenOff {
			return f.violation("area %d siren still %s an hour after the last input", a.Number, a.Siren)
		}
	}
	return nil
}

// hasEvent reports whether effs hold an event of area of one of the kinds.
func hasEvent(effs []Effect, area int, kinds ...EventKind) bool {
	for _, e := range effs {
		if e.Kind == EffectEvent && e.Event.Area == area && slices.Contains(kinds, e.Event.Kind) {
			return true
		}
	}
	return false
}

// run applies the steps, checking after every one, then settles.
func (f *fuzzRun) run(steps []fuzzStep) error {
	for _, s := range steps {
		if err := f.apply(s); err != nil {
			return err
		}
	}
	return f.settle()
}

// runFuzz decodes data, runs it and returns the first broken invariant, with a trace of the
// steps before it. With replay it runs the steps twice and checks that the effects are the
// same.
func runFuzz(data []byte, replay bool) error {
	if len(data) == 0 {
		return nil
	}
	cfg := data[0]
	f := newFuzzRun(cfg)
	steps := decodeFuzz(f.inst, data[1:])
	if err := f.run(steps); err != nil {
		g := newFuzzRun(cfg)
		g.tracing = true
		if err := g.run(steps); err != nil {
			return err
		}
		return fmt.Errorf("%w (and the traced replay did not fail: not deterministic)", err)
	}
	if !replay {
		return nil
	}
	// Same state, same inputs, same times: same effects.
	g := newFuzzRun(cfg)
	if err := g.run(steps); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if f.sum.Sum64() != g.sum.Sum64() {
		return fmt.Errorf("a replay of the same inputs gave other effects")
	}
	return nil
}

// fuzzSeq builds fuzz bytes from the settings byte and steps of three bytes.
func fuzzSeq(cfg byte, steps ...[3]byte) []byte {
	b := []byte{cfg}
	for _, s := range steps {
		b = append(b, s[:]...)
	}
	return b
}

// The fz* functions build the steps of the seed corpus.

// fzZone reports the zone of device active or not.
func fzZone(device string, active bool) [3]byte {
	return [3]byte{fuzzOpZone, fuzzZoneIndex(device), fzBool(active)}
}

// fuzzZoneIndex returns the index of the zone of device in fuzzInstallation.
func fuzzZoneIndex(device string) byte {
	for i, z := range fuzzInstallation(0).Zones {
		if z.Device == device {
			return byte(i)
		}
	}
	panic("no zone for " + device)
}

func fzBool(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func fzTick(sec int) [3]byte { return [3]byte{fuzzOpTick, byte(sec >> 8), byte(sec)} }

func fzDeadline() [3]byte { return [3]byte{fuzzOpTickDeadline, 0, 0} }

func fzRestart() [3]byte { return [3]byte{fuzzOpRestart, 0, 0} }

// fzArm arms area index ai (0: area 1, 1: area 2) in mode index mi (0 away, 1 home, 2 night)
// with credential ci.
func fzArm(mi, ai int, force bool, ci int) [3]byte {
	b1 := byte(mi) | byte(ai)<<2
	if force {
		b1 |= 0x10
	}
	return [3]byte{fuzzOpArm, b1, byte(ci)}
}

func fzDisarm(ai, ci int) [3]byte { return [3]byte{fuzzOpDisarm, byte(ai) << 2, byte(ci)} }

func fzAck(ai, ci int) [3]byte { return [3]byte{fuzzOpAck, byte(ai) << 2, byte(ci)} }

func fzBypass(device string, ci int) [3]byte {
	return [3]byte{fuzzOpBypass, fuzzZoneIndex(device), byte(ci)}
}

func fzMains(lost bool) [3]byte { return [3]byte{fuzzOpMains, fzBool(lost), 0} }

func fzGrant(ci int) [3]byte { return [3]byte{fuzzOpGrant, 1, byte(ci)} }

func fzLid(open bool) [3]byte { return [3]byte{fuzzOpFault, 7, fzBool(open)} }

func fzService(on bool, ci int) [3]byte { return [3]byte{fuzzOpService, fzBool(on), byte(ci)} }

// fuzzSeeds are meaningful sequences: the seed scenarios and the corners around them.
func fuzzSeeds() [][]byte {
	const anna, erik, ivan, duress, wrong, annaWeb, olle = 0, 1, 3, 4, 5, 9, 18
	return [][]byte{
		// Entry delay, local warning, report, cancel.
		fuzzSeq(0, fzArm(0, 0, false, anna), fzDeadline(), fzZone("front_door", true), fzDeadline(), fzDeadline(), fzTick(120), fzDisarm(0, anna)),
		// Smoke while disarmed, cut-off, acknowledge.
		fuzzSeq(0, fzZone("kitchen_smoke", true), fzTick(200), fzZone("kitchen_smoke", false), fzTick(200), fzAck(0, anna)),
		// Fire during a burglar alarm, across a restart.
		fuzzSeq(0, fzArm(0, 0, false, annaWeb), fzTick(61), fzZone("living_window", true), fzZone("kitchen_smoke", true), fzRestart(), fzTick(100), fzZone("kitchen_smoke", false), fzZone("kitchen_smoke", true), fzDeadline(), fzDisarm(0, erik)),
		// Fire during the exit delay, then leaving through the front door.
		fuzzSeq(0, fzArm(0, 0, false, anna), fzZone("kitchen_smoke", true), fzZone("front_door", true), fzZone("front_door", false), fzDeadline(), fzDeadline(), fzZone("front_door", true), fzDeadline()),
		// Swinger: a window opening and closing while armed.
		fuzzSeq(0, fzArm(0, 0, false, anna), fzTick(60), fzZone("living_window", true), fzZone("living_window", false), fzTick(190), fzZone("living_window", true), fzZone("living_window", false), fzZone("living_window", true), fzZone("living_window", false), fzZone("living_window", true), fzTick(200)),
		// Wrong codes to a lockout, then the duress code.
		fuzzSeq(0, fzArm(0, 0, false, anna), fzTick(60), fzDisarm(0, wrong), fzDisarm(0, wrong), fzDisarm(0, wrong), fzDisarm(0, wrong), fzDisarm(0, wrong), fzDisarm(0, anna), fzTick(91), fzDisarm(0, duress)),
		// Installer bypasses the kitchen smoke detector, which then goes off.
		fuzzSeq(0, fzGrant(anna), fzBypass("kitchen_smoke", ivan), fzZone("kitchen_smoke", true), fzArm(0, 0, false, anna), fzTick(60), fzZone("garage_smoke", true), fzService(true, ivan), fzLid(true), fzTick(400)),
		// Mains lost past the report delay, force-arming over it, the hub lid.
		fuzzSeq(16, fzMains(true), fzTick(400), fzArm(1, 0, false, anna), fzArm(1, 0, true, anna), fzLid(true), fzTick(400), fzLid(false), fzMains(false)),
		// Garage: its own delays, a night arming of the house.
		fuzzSeq(32, fzArm(0, 1, false, erik), fzArm(2, 0, false, erik), fzDeadline(), fzDeadline(), fzZone("garage_door", true), fzZone("garage_motion", true), fzZone("hall_motion", true), fzDeadline(), fzRestart(), fzDeadline()),
		// No delays, short cut-off, swinger limit 1: the tamper zone, the audible panic and
		// the arm-only user.
		fuzzSeq(1|2|4|8, fzArm(0, 0, false, olle), fzZone("front_door", true), fzZone("cabinet_lid", true), fzDisarm(0, olle), fzZone("garage_panic", true), fzDeadline(), fzZone("front_door", false), fzZone("front_door", true), fzDeadline(), fzDisarm(0, anna)),
	}
}

// FuzzEngine feeds the engine arbitrary sequences of inputs and checks its invariants after
// every step.
func FuzzEngine(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1+3*fuzzMaxSteps {
			t.Skip("longer than fuzzMaxSteps steps")
		}
		if err := runFuzz(data, false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEngine_RandomSequences runs the fuzz checker over pseudo-random sequences with a fixed
// seed, so that every test run exercises it without -fuzz.
func TestEngine_RandomSequences(t *testing.T) {
	for i, s := range fuzzSeeds() {
		if err := runFuzz(s, true); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
	// The engine is single-threaded: the race detector finds nothing here and slows the
	// test down tenfold, so it gets a tenth of the sequences.
	n := 2000
	if testing.Short() || raceEnabled() {
		n = 200
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	for i := range n {
		data := make([]byte, 1+3*(1+rng.IntN(randomMaxSteps)))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		// Replaying every fourth sequence checks determinism well enough.
		if err := runFuzz(data, i%4 == 0); err != nil {
			t.Fatalf("sequence %d (%s): %v", i, hex.EncodeToString(data), err)
		}
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
