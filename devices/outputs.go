package devices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vakt/hub"
)

// keypad turns a keypad request into a hub command and answers the keypad.
func (m *Manager) keypad(ctx context.Context, driver, address, id string, area int, a KeypadAction) {
	if area == 0 {
		area = 1
	}
	in := hub.Input{Area: area, Code: a.Code, Tag: a.Tag, How: hub.HowKeypad, Iface: id, Device: id}
	if a.Tag != "" {
		in.How = hub.HowTag
	}
	switch a.Action {
	case "arm_away":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedAway
	case "arm_home":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedHome
	case "arm_night":
		in.Kind, in.Mode = hub.InArm, hub.ModeArmedNight
	case "disarm":
		in.Kind = hub.InDisarm
	case "panic":
		in.Kind, in.Code = hub.InPanic, ""
	default:
		m.Malformed(driver, address, fmt.Errorf("keypad action %q", a.Action))
		return
	}
	res := m.hub.Do(ctx, in)
	state := ""
	var refused *hub.ArmRefusedError
	switch {
	case res.Err == nil || errors.Is(res.Err, hub.ErrNotDurable):
		// Carried out (while the disk fails, not yet durable): the keypad is a local
		// output, so it shows what the hub decided.
		o := m.hub.Outputs()
		a, _ := o.Area(area)
		state = string(a.Keypad)
	case errors.As(res.Err, &refused):
		state = "not_ready"
	case errors.Is(res.Err, hub.ErrAlreadyDisarmed):
		state = "already_disarmed"
	default:
		state = "invalid_code"
	}
	if d := m.drivers[driver]; d != nil {
		if err := d.Send(ctx, Command{Kind: CmdKeypadState, Address: address, KeypadState: state, Transaction: a.Transaction}); err != nil {
			m.log.Warn("keypad feedback", "device", id, "error", err)
		}
	}
}

// sirenOutput is what an area's sirens were last told to play.
type sirenOutput struct {
	pattern hub.SirenPattern
	until   time.Time
}

// outputs sends siren, keypad and chime commands for what changed, as soon as the hub has
// decided it (an output subscription: before the commit). Which siren plays what and what a
// keypad shows is the hub's decision (hub.State.Outputs: a fire anywhere sounds every
// siren); this only carries it out.
func (m *Manager) outputs(ctx context.Context, u hub.Update, sirens map[int]sirenOutput, panels map[int]hub.KeypadDisplay) {
	inst, now := u.Snapshot.Installation, m.now()
	sirenCmd := func(p hub.SirenPattern, until time.Time) Command {
		c := Command{Kind: CmdSiren, Pattern: p}
		if p != hub.SirenOff && !until.IsZero() {
			c.Duration = until.Sub(now)
		}
		return c
	}
	sirenChanged := map[int]bool{}
	for _, a := range u.Outputs.Areas {
		want := sirenOutput{a.Siren, a.SirenUntil}
		if was, ok := sirens[a.Area]; !ok || was.pattern != want.pattern || !was.until.Equal(want.until) {
			sirens[a.Area] = want
			sirenChanged[a.Area] = true
			if ok || a.Siren != hub.SirenOff {
				m.send(ctx, inst, a.Area, "siren", sirenCmd(a.Siren, a.SirenUntil))
			}
		}
		if seen := panels[a.Area]; seen != a.Keypad {
			panels[a.Area] = a.Keypad
			if seen == "" {
				continue // the keypads' state at start is theirs to show
			}
			cmd := Command{Kind: CmdKeypadState, KeypadState: string(a.Keypad)}
			if !a.KeypadUntil.IsZero() { // keypads count the delay down
				cmd.Duration = a.KeypadUntil.Sub(now)
			}
			m.send(ctx, inst, a.Area, "keypad", cmd)
		}
	}
	for _, e := range u.Effects {
		switch e.Kind {
		case hub.EffectChime:
			m.send(ctx, inst, e.Area, "keypad", Command{Kind: CmdChime})
		case hub.EffectSwitch:
			m.switchScheduled(ctx, inst, e.Device, e.On)
		}
	}
	// A new detection while the siren sounds re-asserts it: a Zigbee siren plays for the
	// duration it was given, and a siren that missed the first command hears this one. A
	// new fire re-asserts every siren that sounds fire. (The events are not yet durable:
	// they drive local outputs only.)
	reasserted := map[int]bool{}
	for _, ev := range u.Events {
		if ev.Restore || !alarmKind(ev.Kind) {
			continue
		}
		for n, out := range sirens {
			if reasserted[n] || sirenChanged[n] || out.pattern == hub.SirenOff {
				continue
			}
			if n == ev.Area || (ev.Kind == hub.KindFire && out.pattern == hub.SirenFire) {
				reasserted[n] = true
				m.send(ctx, inst, n, "siren", sirenCmd(out.pattern, out.until))
			}
		}
	}
}

func alarmKind(k hub.EventKind) bool {
	return k == hub.KindBurglary || k == hub.KindFire || k == hub.KindPanic || k == hub.KindTamper
}

// send gives cmd to every device of kind in area whose driver the manager has.
func (m *Manager) send(ctx context.Context, inst *hub.Installation, area int, kind string, cmd Command) {
	for _, d := range inst.Devices {
		drv := m.drivers[d.Driver]
		if drv == nil || d.Kind != kind || d.Area != area {
			continue
		}
		c := cmd
		c.Address = d.AddressOrID()
		if err := drv.Send(ctx, c); err != nil {
			m.log.Error("device command", "device", d.ID, "error", err)
		}
	}
}

// switchScheduled switches a plug as its schedule says: the hub has decided and logged it
// (how = schedule), so this only carries it out, as Switch does once the hub allowed it.
func (m *Manager) switchScheduled(ctx context.Context, inst *hub.Installation, id string, on bool) {
	for _, d := range inst.Devices {
		if d.ID != id {
			continue
		}
		drv := m.drivers[d.Driver]
		if drv == nil {
			m.log.Error("scheduled switch", "device", id, "error", "driver "+d.Driver+" is not running")
			return
		}
		if err := drv.Send(ctx, Command{Kind: CmdSwitch, On: on, Address: d.AddressOrID()}); err != nil {
			m.log.Error("scheduled switch", "device", id, "error", err)
		}
		return
	}
}
