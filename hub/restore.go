package hub

import "time"

// Longest lengths of the deadlines whose length the state does not keep: the engine refuses
// longer ones when they start, so a deadline later than now plus these came from a clock that
// has since gone back.
const (
	MaxInstallerGrant = 7 * 24 * time.Hour
	MaxWalkTest       = time.Hour
	MaxLockout        = 15 * time.Minute
)

// lockoutLength is how long the level-th lockout in a row lasts: 90 s, doubling up to
// MaxLockout (DESIGN §2 item 11).
func lockoutLength(level int) time.Duration {
	if level < 1 {
		return 0
	}
	if level > 10 {
		return MaxLockout
	}
	return min(90*time.Second<<(level-1), MaxLockout)
}

// Restore bounds the deadlines of a state loaded from the store, before the first Step: no
// running delay, siren, report, grant, test or lockout ends later than now plus its
// configured length, and no start time (last report, mains lost, wrong codes) is after now.
// A gateway without a real-time clock may start at 1970 or at its last shutdown time and be
// corrected by NTP later; without this a siren started before the restart could sound until
// the clock caught up. Restore reports whether it changed the state, which the caller then
// stores.
func (e *Engine) Restore(now time.Time) bool {
	changed := e.bound(now)
	if !e.st.ScheduleFrom.IsZero() {
		// The installation may have been changed offline: its next run after the last one
		// done, which runs at once, or is logged as missed, if it is past.
		if at := e.nextSchedule(e.st.ScheduleFrom); !at.Equal(e.st.ScheduleAt) {
			e.st.ScheduleAt = at
			changed = true
		}
	}
	return e.startSchedules(now) || changed
}

// bound clamps every deadline to now plus its length. Deadlines are set as the time of a
// step plus their length, so this changes nothing while the clock runs forward; Step calls
// it too, so a clock that jumps back while the hub runs never lengthens a siren either, and
// a configuration that shortens a setting shortens what is running.
func (e *Engine) bound(now time.Time) bool {
	changed := false
	until := func(t *time.Time, d time.Duration) {
		if !t.IsZero() && t.After(now.Add(d)) {
			*t = now.Add(d)
			changed = true
		}
	}
	since := func(t *time.Time) {
		if t.After(now) {
			*t = now
			changed = true
		}
	}
	for i := range e.st.Areas {
		a := &e.st.Areas[i]
		conf := &e.inst.Areas[i]
		if !a.ExitUntil.IsZero() {
			until(&a.ExitUntil, e.inst.exitDelay(conf))
		}
		if !a.EntryUntil.IsZero() {
			until(&a.EntryUntil, e.inst.entryDelay(conf))
		}
		if !a.SirenUntil.IsZero() {
			until(&a.SirenUntil, e.inst.bellCutoff(conf))
		}
		until(&a.ReportAt, e.inst.abortWindow())
		until(&a.ServiceUntil, MaxServiceTime)
		since(&a.ReportedAt)
		since(&a.ArmedAt)
	}
	m := &e.st.Mains
	if !m.ReportAt.IsZero() {
		until(&m.ReportAt, e.inst.mainsDelay())
	}
	since(&m.Since)
	until(&e.st.InstallerUntil, MaxInstallerGrant)
	until(&e.st.WalkUntil, MaxWalkTest)
	for _, l := range e.st.Lockouts {
		until(&l.Until, lockoutLength(l.Level))
		for j := range l.Wrong {
			since(&l.Wrong[j])
		}
	}
	return changed
}
