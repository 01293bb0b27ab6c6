package hub

import (
	"errors"
	"fmt"
	"time"
)

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
