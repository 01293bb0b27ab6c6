package hub

import (
	"fmt"
	"slices"
	"time"
)

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

// busFault raises or restores the device-bus fault of the driver in.Device.
func (e *Engine) busFault(now time.Time, in Input) {
	if in.Device == "" || slices.Contains(e.st.BusFaults, in.Device) == in.Active {
		return
	}
	if in.Active {
		e.st.BusFaults = append(e.st.BusFaults, in.Device)
	} else {
		e.st.BusFaults = slices.DeleteFunc(e.st.BusFaults, func(d string) bool { return d == in.Device })
	}
	e.emit(Event{Time: now, Kind: KindBusFault, Restore: !in.Active, Report: true, Device: in.Device, Note: in.Path})
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
