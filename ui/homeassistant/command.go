package homeassistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"vakt/hub"
)

// maxCommand is the largest command payload read: Home Assistant's are tens of bytes.
const maxCommand = 256

// Iface is the interface name Home Assistant's codes count under for the wrong-code
// lockout (DESIGN §2 item 11), as a keypad's do under its id.
const Iface = "home_assistant"

// Errors of commands refused before they reach the hub.
var (
	ErrMalformed        = errors.New("homeassistant: malformed command")
	ErrDisarmNotAllowed = errors.New("homeassistant: disarming from Home Assistant is off (homeassistant.allow_disarm)")
	ErrNoCode           = errors.New("homeassistant: no code (homeassistant.code_required)")
	ErrNoUser           = errors.New("homeassistant: no user to act as (homeassistant.user, or an admin)")
	ErrUnknownTarget    = errors.New("homeassistant: no such area or device")
	ErrRetained         = errors.New("homeassistant: retained command ignored: a command is done once, when sent")
)

// command is a message on a command topic, copied out of paho's callback.
type command struct {
	topic    string
	payload  []byte
	retained bool
}

// areaCommand is an alarm panel's command as the command template renders it.
type areaCommand struct {
	Action string `json:"action"`
	Code   string `json:"code"`
}

// parseAreaCommand reads an alarm panel command: the JSON of the command template, or a
// bare action (a panel set up by hand, without a template).
func parseAreaCommand(payload []byte) (areaCommand, error) {
	var c areaCommand
	p := strings.TrimSpace(string(payload))
	if strings.HasPrefix(p, "{") {
		dec := json.NewDecoder(strings.NewReader(p))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if dec.More() {
			return c, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
		}
	} else {
		c.Action = p
	}
	if c.Code == "None" { // Home Assistant's rendering of no code
		c.Code = ""
	}
	switch c.Action {
	case "ARM_AWAY", "ARM_HOME", "ARM_NIGHT", "DISARM":
	default:
		return c, fmt.Errorf("%w: action %q, want ARM_AWAY, ARM_HOME, ARM_NIGHT or DISARM", ErrMalformed, truncate(c.Action))
	}
	return c, nil
}

// truncate keeps a hostile value short and printable in the log.
func truncate(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}

// execute does a command from Home Assistant through the hub, as a keypad's: the hub
// checks the code (a wrong one counts towards the lockout of Iface) or the user, and logs
// it with How "home_assistant".
func (b *Bridge) execute(ctx context.Context, c command) error {
	if c.retained {
		return ErrRetained
	}
	if len(c.payload) > maxCommand {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(c.payload), maxCommand)
	}
	rest, ok := strings.CutPrefix(c.topic, b.topics.base+"/")
	if !ok {
		return fmt.Errorf("%w: topic %s", ErrUnknownTarget, truncate(c.topic))
	}
	kind, rest, _ := strings.Cut(rest, "/")
	target, tail, _ := strings.Cut(rest, "/")
	if tail != "set" {
		return fmt.Errorf("%w: topic %s", ErrUnknownTarget, truncate(c.topic))
	}
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	switch kind {
	case "area":
		return b.areaCommand(cctx, target, c.payload)
	case "device":
		return b.deviceCommand(cctx, target, c.payload)
	}
	return fmt.Errorf("%w: topic %s", ErrUnknownTarget, truncate(c.topic))
}

func (b *Bridge) areaCommand(ctx context.Context, target string, payload []byte) error {
	n, err := strconv.Atoi(target)
	snap := b.h.Snapshot()
	if err != nil || !slices.ContainsFunc(snap.Installation.Areas, func(a hub.Area) bool { return a.Number == n }) {
		return fmt.Errorf("%w: area %s", ErrUnknownTarget, truncate(target))
	}
	ac, err := parseAreaCommand(payload)
	if err != nil {
		return err
	}
	in := hub.Input{Kind: hub.InArm, Area: n, How: hub.HowHomeAssistant, Iface: Iface}
	switch ac.Action {
	case "ARM_AWAY":
		in.Mode = hub.ModeArmedAway
	case "ARM_HOME":
		in.Mode = hub.ModeArmedHome
	case "ARM_NIGHT":
		in.Mode = hub.ModeArmedNight
	case "DISARM":
		if !b.cfg.AllowDisarm {
			return ErrDisarmNotAllowed
		}
		in.Kind = hub.InDisarm
	}
	switch {
	case ac.Code != "":
		in.Code = ac.Code
	case b.cfg.CodeRequired:
		return ErrNoCode
	default:
		if in.User, err = b.user(); err != nil {
			return err
		}
	}
	return b.h.Do(ctx, in).Err
}

func (b *Bridge) deviceCommand(ctx context.Context, target string, payload []byte) error {
	b.mu.Lock()
	id, ok := b.commandable[target]
	b.mu.Unlock()
	if !ok || b.dev == nil {
		return fmt.Errorf("%w: device %s", ErrUnknownTarget, truncate(target))
	}
	snap := b.h.Snapshot()
	i := slices.IndexFunc(snap.Installation.Devices, func(d hub.Device) bool { return d.ID == id })
	if i < 0 {
		return fmt.Errorf("%w: device %s", ErrUnknownTarget, id)
	}
	d := snap.Installation.Devices[i]
	user, err := b.user()
	if err != nil {
		return err
	}
	by := hub.Input{User: user, How: hub.HowHomeAssistant, Iface: Iface}
	p := strings.TrimSpace(string(payload))
	switch {
	case d.Kind == "plug" && (p == on || p == off):
		return b.dev.Switch(ctx, by, id, p == on)
	case d.Kind == "lock" && (p == "LOCK" || p == "UNLOCK"):
		if p == "UNLOCK" && !b.cfg.AllowDisarm && areaArmed(snap, d.Area) {
			return ErrDisarmNotAllowed
		}
		return b.dev.Lock(ctx, by, id, p == "LOCK")
	}
	return fmt.Errorf("%w: %q for a %s", ErrMalformed, truncate(p), d.Kind)
}

// user returns the id of the user Home Assistant acts as: the configured one, or the
// first admin.
func (b *Bridge) user() (string, error) {
	if b.cfg.User != "" {
		return b.cfg.User, nil
	}
	inst := b.h.Snapshot().Installation
	if i := slices.IndexFunc(inst.Users, func(u hub.User) bool { return u.Role == hub.RoleAdmin }); i >= 0 {
		return inst.Users[i].ID, nil
	}
	return "", ErrNoUser
}

// areaArmed reports whether the area (0: any) is set to an armed mode.
func areaArmed(snap *hub.Snapshot, area int) bool {
	for _, a := range snap.State.Areas {
		if (area == 0 || a.Number == area) && a.Set != hub.ModeDisarmed {
			return true
		}
	}
	return false
}
