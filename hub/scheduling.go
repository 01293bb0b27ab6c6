package hub

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The engine runs the installation's schedules as one deadline, State.ScheduleAt: the next
// time any schedule does something. State.ScheduleFrom is how far they have run, so that
// each run happens once: a restart does not repeat one, and a run found more than
// ScheduleGrace late (vakt was off, the clock stood still) is logged as missed instead of
// arming hours late.

// startSchedules starts the schedules' clock on a first start, after an upgrade from a store
// without it, or when schedules appear in an installation stored by other means: nothing
// before now runs. It reports whether it changed the state.
func (e *Engine) startSchedules(now time.Time) bool {
	if len(e.actions) == 0 || (!e.st.ScheduleFrom.IsZero() && !e.st.ScheduleAt.IsZero()) {
		return false
	}
	e.reschedule(now)
	return true
}

// reschedule restarts the schedules' clock at now, after the installation changed: a
// schedule added at 22:10 for 22:00 runs tomorrow, not now.
func (e *Engine) reschedule(now time.Time) {
	e.st.ScheduleFrom = now
	e.st.ScheduleAt = e.nextSchedule(now)
}

// nextSchedule is the first time after t at which a schedule runs; zero when none does.
func (e *Engine) nextSchedule(t time.Time) time.Time {
	var next time.Time
	for i := range e.actions {
		if at, ok := e.actions[i].next(e.loc, t); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// runSchedules runs every schedule due since ScheduleFrom, in time order.
func (e *Engine) runSchedules(now time.Time) {
	type due struct {
		a  *timedAction
		at time.Time
	}
	var dues []due
	for i := range e.actions {
		a := &e.actions[i]
		if at, ok := a.latest(e.loc, now); ok && at.After(e.st.ScheduleFrom) {
			dues = append(dues, due{a, at})
		}
	}
	slices.SortStableFunc(dues, func(x, y due) int {
		return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.a.act, y.a.act))
	})
	for _, d := range dues {
		if now.Sub(d.at) > ScheduleGrace {
			if e.wouldAct(d.a) {
				e.scheduleMissed(now, d.a, d.at, "vakt was not running then")
			}
			continue
		}
		e.runAction(now, d.a, d.at)
	}
	e.st.ScheduleFrom = now
	e.st.ScheduleAt = e.nextSchedule(now)
	e.changed = true
}

// wouldAct reports whether a schedule's run missed would have done something now: a
// warning for a time gone by is no news, nor an arming of an armed area or a disarming of
// an area the schedule did not arm.
func (e *Engine) wouldAct(ta *timedAction) bool {
	switch ta.act {
	case actWarn:
		return false
	case actArm, actDisarm:
		a, _, err := e.area(ta.area)
		if err != nil {
			return false
		}
		if ta.act == actArm {
			return !a.Set.Armed()
		}
		return a.Set.Armed() && a.How == HowSchedule
	}
	return true
}

// ScheduleRefusedNote begins the note of a scheduled arming's NOT ARMED event; the reasons
// follow, as JoinReasons writes them.
const ScheduleRefusedNote = "NOT ARMED: scheduled arming refused: "

// ScheduleNotReadyNote begins the part of a scheduled arming's warning that lists why the
// area is not ready yet.
const ScheduleNotReadyNote = "; not ready: "

// runAction does what one schedule says at its time at.
func (e *Engine) runAction(now time.Time, ta *timedAction, at time.Time) {
	if ta.act == actPlugOn || ta.act == actPlugOff {
		e.switchPlug(now, ta)
		return
	}
	a, conf, err := e.area(ta.area)
	if err != nil {
		return // validated: a schedule's area exists
	}
	switch ta.act {
	case actWarn:
		if a.Set.Armed() {
			return
		}
		note := "arming " + strings.TrimPrefix(ta.mode.String(), "armed_") + " at " + at.Add(ta.before).In(e.loc).Format("15:04")
		var not []Reason
		for _, r := range e.readiness(a, ta.mode, nil) {
			if !r.Warn {
				not = append(not, r)
			}
		}
		if len(not) > 0 {
			note += ScheduleNotReadyNote + JoinReasons(not)
		}
		e.emit(Event{Time: now, Area: a.Number, Kind: KindScheduleWarning, How: HowSchedule, Mode: ta.mode, Note: note})
		e.out = append(e.out, Effect{Kind: EffectChime, Area: a.Number})
	case actArm:
		if a.Set.Armed() {
			return // armed already, by someone or another schedule
		}
		var why string
		switch {
		case a.Mode == ModeTriggered:
			why = "an alarm is sounding"
		case !e.st.WalkUntil.IsZero():
			why = "a walk test is running"
		case !a.ServiceUntil.IsZero():
			why = "the area is in service mode"
		default:
			var refused *ArmRefusedError
			if err := e.armAs(now, a, conf, "", 0, HowSchedule, ta.mode, false); errors.As(err, &refused) {
				why = JoinReasons(refused.Reasons)
			}
		}
		if why == "" {
			return
		}
		// Never silent: the family, the history and the keypads say NOT ARMED, and why.
		a.NotArmed, a.NotArmedHow = why, HowSchedule
		e.emit(Event{Time: now, Area: a.Number, Kind: KindArmingCancelled, How: HowSchedule, Mode: ta.mode, Note: ScheduleRefusedNote + why})
	case actDisarm:
		switch {
		case !a.Set.Armed():
		case a.How != HowSchedule:
			e.scheduleMissed(now, ta, at, "armed by "+cmp.Or(a.User, a.How.String())+", not by the schedule")
		case a.Mode == ModeTriggered || a.Mode == ModePending:
			e.scheduleMissed(now, ta, at, "an alarm is in progress")
		default:
			e.disarmAs(now, a, "", 0, HowSchedule, false)
		}
	}
}

// switchPlug switches a scheduled plug: logged as the web's switching is, and carried out
// by the device manager (EffectSwitch).
func (e *Engine) switchPlug(now time.Time, ta *timedAction) {
	di, ok := e.deviceIdx[ta.dev]
	if !ok {
		return // validated: a plug schedule's device exists
	}
	d := &e.inst.Devices[di]
	on := ta.act == actPlugOn
	what := "switched off"
	if on {
		what = "switched on"
	}
	e.emit(Event{Time: now, Area: d.Area, Kind: KindDeviceCommand, Device: d.ID, How: HowSchedule, Note: deviceLabel(d) + " " + what})
	e.out = append(e.out, Effect{Kind: EffectSwitch, Area: d.Area, Device: d.ID, On: on})
}

// scheduleMissed logs a schedule's run that did not happen, and why.
func (e *Engine) scheduleMissed(now time.Time, ta *timedAction, at time.Time, why string) {
	what := map[scheduleAction]string{actArm: "arming " + strings.TrimPrefix(ta.mode.String(), "armed_"), actDisarm: "disarming", actPlugOn: "switching on", actPlugOff: "switching off"}[ta.act]
	ev := Event{Time: now, Area: ta.area, Kind: KindScheduleMissed, How: HowSchedule, Device: ta.dev,
		Note: fmt.Sprintf("scheduled %s at %s not done: %s", what, at.In(e.loc).Format("Mon 15:04"), why)}
	if ta.act == actArm {
		ev.Mode = ta.mode
	}
	if di, ok := e.deviceIdx[ta.dev]; ok {
		ev.Area = e.inst.Devices[di].Area
	}
	e.emit(ev)
}
