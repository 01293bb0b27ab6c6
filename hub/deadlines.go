package hub

import (
	"time"
)

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
	consider(e.st.ScheduleAt)
	return next, !next.IsZero()
}

// expire runs every deadline that has passed, earliest first.
func (e *Engine) expire(now time.Time) {
	for {
		next, ok := e.NextDeadline()
		if !ok || next.After(now) {
			return
		}
		e.runDue(now, next)
	}
}

// runDue runs the deadlines due at t.
func (e *Engine) runDue(now, t time.Time) {
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
	case s.ScheduleAt.Equal(t):
		e.runSchedules(now)
	}
}
