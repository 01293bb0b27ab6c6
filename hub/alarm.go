package hub

import (
	"fmt"
	"time"
)

func (e *Engine) setSiren(a *AreaState, p SirenPattern, until time.Time) {
	if a.Siren == p && (p == SirenOff || a.SirenUntil.Equal(until)) {
		return
	}
	changed := a.Siren != p
	e.changed = true
	a.Siren = p
	a.SirenUntil = until
	if p == SirenOff {
		a.SirenUntil = time.Time{}
	}
	if changed {
		e.out = append(e.out, Effect{Kind: EffectSiren, Area: a.Number, Pattern: p})
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
		a.NotArmed, a.NotArmedHow = z.Name, HowNone
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

// alarmSeen logs that a user has seen an alarm's notification, once per area of theirs
// that is in alarm or holds an alarm memory. Nothing else changes: the siren and the
// memory are the panel's business.
func (e *Engine) alarmSeen(now time.Time, in Input) error {
	if in.Area != 0 {
		if _, _, err := e.area(in.Area); err != nil {
			return err
		}
	}
	u, _, err := e.operator(now, in, in.Area, false)
	if err != nil {
		return err
	}
	seen := false
	for i := range e.st.Areas {
		a := &e.st.Areas[i]
		if (in.Area != 0 && a.Number != in.Area) || !u.mayUseArea(a.Number) {
			continue
		}
		if len(a.Memory) == 0 && len(a.FireMemory) == 0 && a.Mode != ModeTriggered {
			continue
		}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindAlarmSeen, UserNumber: u.Number, User: u.ID, How: in.How, Note: in.Path})
		seen = true
	}
	if !seen {
		return ErrNothingToAck
	}
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
