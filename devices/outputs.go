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
	case res.Err == nil:
		state = keypadState(m.hub.Snapshot(), area)
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

// keypadState is what an area's keypads should show.
func keypadState(s *hub.Snapshot, area int) string {
	for _, a := range s.State.Areas {
		if a.Number != area {
			continue
		}
		switch a.Mode {
		case hub.ModeDisarmed:
			if a.NotArmed != "" {
				return "not_ready" // the exit delay was cancelled: NOT ARMED, never silent
			}
		case hub.ModeArming:
			return "exit_delay"
		case hub.ModePending:
			return "entry_delay"
		case hub.ModeTriggered:
			return "in_alarm"
		case hub.ModeArmedAway:
			return "arm_away"
		case hub.ModeArmedHome:
			return "arm_home"
		case hub.ModeArmedNight:
			return "arm_night"
		}
	}
	return "disarm"
}

// sirenOutput is what an area's sirens were last told to play.
type sirenOutput struct {
	pattern hub.SirenPattern
	until   time.Time
}

// outputs sends siren, keypad and chime commands for what changed. Which siren plays what
// is the hub's decision (hub.State.SirenFor: a fire anywhere sounds every siren); this only
// carries it out.
func (m *Manager) outputs(ctx context.Context, u hub.Update, sirens map[int]sirenOutput, panels map[int]string) {
	s := u.Snapshot
	sirenCmd := func(p hub.SirenPattern, until time.Time) Command {
		c := Command{Kind: CmdSiren, Pattern: p}
		if p != hub.SirenOff && !until.IsZero() {
			c.Duration = until.Sub(s.Time)
		}
		return c
	}
	sirenChanged := map[int]bool{}
	for _, a := range s.State.Areas {
		p, until := s.State.SirenFor(a.Number)
		want := sirenOutput{p, until}
		if p == hub.SirenOff {
			want.until = time.Time{}
		}
		if was, ok := sirens[a.Number]; !ok || was.pattern != want.pattern || !was.until.Equal(want.until) {
			sirens[a.Number] = want
			sirenChanged[a.Number] = true
			if ok || p != hub.SirenOff {
				m.send(ctx, s.Installation, a.Number, "siren", sirenCmd(p, until))
			}
		}
		if st, seen := keypadState(s, a.Number), panels[a.Number]; seen != st {
			panels[a.Number] = st
			if seen == "" {
				continue // the keypads' state at start is theirs to show
			}
			cmd := Command{Kind: CmdKeypadState, KeypadState: st}
			switch st { // keypads count the delay down
			case "exit_delay":
				cmd.Duration = a.ExitUntil.Sub(s.Time)
			case "entry_delay":
				cmd.Duration = a.EntryUntil.Sub(s.Time)
			}
			m.send(ctx, s.Installation, a.Number, "keypad", cmd)
		}
	}
	for _, e := range u.Effects {
		if e.Kind == hub.EffectChime {
			m.send(ctx, s.Installation, e.Area, "keypad", Command{Kind: CmdChime})
		}
	}
	// A new detection while the siren sounds re-asserts it: a Zigbee siren plays for the
	// duration it was given, and a siren that missed the first command hears this one. A
	// new fire re-asserts every siren that sounds fire.
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
				m.send(ctx, s.Installation, n, "siren", sirenCmd(out.pattern, out.until))
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
