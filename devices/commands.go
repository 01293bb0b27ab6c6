package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"vakt/hub"
)

// lock disarms or arms the lock's area when a vakt user operated it with their own lock
// code or tag, and the lock is set up for it (opt-in per lock).
func (m *Manager) lock(ctx context.Context, d hub.Device, ev LockEvent) {
	if ev.User == 0 || (ev.Source != "keypad" && ev.Source != "rfid") {
		return // a key, the thumb turn or the app: nobody vakt knows
	}
	var user string
	for _, u := range m.hub.Snapshot().Installation.Users {
		if u.LockSlot == ev.User {
			user = u.ID
		}
	}
	if user == "" {
		return
	}
	area := max(d.Area, 1)
	var in hub.Input
	switch {
	case ev.Action == "unlock" && d.DisarmOnUnlock:
		in = hub.Input{Kind: hub.InDisarm, Area: area, User: user, How: hub.HowLock, Iface: d.ID}
	case ev.Action == "lock" && d.ArmOnLock:
		in = hub.Input{Kind: hub.InArm, Area: area, Mode: hub.ModeArmedAway, User: user, How: hub.HowLock, Iface: d.ID}
	default:
		return
	}
	if res := m.hub.Do(ctx, in); res.Err != nil && !errors.Is(res.Err, hub.ErrAlreadyDisarmed) && !errors.Is(res.Err, hub.ErrAlreadyArmed) {
		m.log.Warn("lock could not "+ev.Action+" the alarm", "device", d.ID, "user", user, "error", res.Err)
	}
}

// Switch turns a plug on or off; Lock locks or unlocks a lock. Each is done for the user
// whose credential by carries (Code, Tag or User, with How and Iface): the hub authorises it
// and logs who and how (unlocking an armed area's door takes a user who may disarm it), and
// only then does the command go to the device's driver; the device's next report shows the
// result in its health.
func (m *Manager) Switch(ctx context.Context, by hub.Input, id string, on bool) error {
	return m.command(ctx, by, id, "plug", on, Command{Kind: CmdSwitch, On: on})
}

// Lock locks (true) or unlocks a door lock, as Switch does for plugs.
func (m *Manager) Lock(ctx context.Context, by hub.Input, id string, locked bool) error {
	return m.command(ctx, by, id, "lock", locked, Command{Kind: CmdLock, Locked: locked})
}

func (m *Manager) command(ctx context.Context, by hub.Input, id, kind string, active bool, c Command) error {
	i := slices.IndexFunc(m.hub.Snapshot().Installation.Devices, func(d hub.Device) bool { return d.ID == id })
	if i < 0 {
		return fmt.Errorf("%q: %w", id, hub.ErrUnknownDevice)
	}
	d := m.hub.Snapshot().Installation.Devices[i]
	if d.Kind != kind {
		return fmt.Errorf("%s is a %s, not a %s", id, or(d.Kind, "sensor"), kind)
	}
	drv := m.drivers[d.Driver]
	if drv == nil {
		return fmt.Errorf("%s: driver %s is not running", id, d.Driver)
	}
	by.Kind, by.Device, by.Active = hub.InDeviceCommand, id, active
	if res := m.hub.Do(ctx, by); res.Err != nil {
		return res.Err
	}
	c.Address = d.AddressOrID()
	return drv.Send(ctx, c)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
