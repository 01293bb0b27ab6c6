package zigbee2mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"vakt/devices"
	"vakt/hub"
)

// Send publishes a command to the device's <base>/<friendly_name>/set (the IEEE address when
// the device is not in bridge/devices: Zigbee2MQTT takes either).
//
//   - siren: {"warning":{"mode":"burglar"|"fire"|"emergency","level":"very_high","strobe":true,"duration":S}},
//     and {"warning":{"mode":"stop","level":"low","strobe":false,"duration":0}} to silence. A
//     siren whose definition lists only some modes (the Heiman HS2WD-E lists stop and
//     emergency) gets the closest mode it has: a siren that sounds beats one that ignores an
//     unknown mode.
//   - plug: {"state":"ON"|"OFF"}; lock: {"state":"LOCK"|"UNLOCK"}.
//   - keypad state: see keypadPayloads.
//   - chime: a squawk {"squawk":{"state":"system_is_disarmed","level":"low","strobe":false}}
//     where the device has one (Develco/Frient sirens), else a one-second low warning on a
//     siren; a device with neither (the KEPZB-110 keypad has no sounder vakt can drive) is
//     skipped without error, and logged once.
func (d *Driver) Send(ctx context.Context, c devices.Command) error {
	d.mu.Lock()
	dev := d.cat.byIEEE[strings.ToLower(c.Address)]
	name := c.Address
	if dev != nil {
		name = dev.Name
	}
	var msgs [][]byte
	var err error
	switch c.Kind {
	case devices.CmdSiren:
		if dev != nil && !slices.Contains(dev.Caps, devices.CapSiren) {
			err = fmt.Errorf("%w: %s (%s) exposes no warning", ErrNotSupported, name, dev.Model)
			break
		}
		if _, known := sirenModes[c.Pattern]; !known && c.Pattern != hub.SirenOff {
			err = fmt.Errorf("siren %s: %w: %s", name, hub.ErrUnknownSirenPattern, c.Pattern)
			break
		}
		msgs = append(msgs, sirenPayload(c, dev))
	case devices.CmdSwitch:
		msgs = append(msgs, fmt.Appendf(nil, `{"state":%q}`, map[bool]string{true: "ON", false: "OFF"}[c.On]))
	case devices.CmdLock:
		msgs = append(msgs, fmt.Appendf(nil, `{"state":%q}`, map[bool]string{true: "LOCK", false: "UNLOCK"}[c.Locked]))
	case devices.CmdKeypadState:
		req, answer := d.takeRequest(c.Address, c.Transaction)
		msgs, err = keypadPayloads(c, req, answer)
	case devices.CmdChime:
		p, ok := chimePayload(dev)
		if !ok {
			if !d.quiet[c.Address] {
				d.quiet[c.Address] = true
				d.log.Info("device has no sounder vakt can drive: chime skipped", "device", c.Address)
			}
			d.mu.Unlock()
			return nil
		}
		msgs = append(msgs, p)
	default:
		err = fmt.Errorf("%w: command kind %d", ErrNotSupported, c.Kind)
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	topic := d.base + name + "/set"
	for _, p := range msgs {
		if err := d.publish(ctx, topic, p); err != nil {
			if c.Kind != devices.CmdChime {
				d.mu.Lock()
				d.failed[fmt.Sprintf("%s/%d", c.Address, c.Kind)] = sent{cmd: c, at: d.now()}
				d.mu.Unlock()
			}
			return fmt.Errorf("zigbee2mqtt: publish %s: %w", topic, err)
		}
	}
	d.mu.Lock()
	delete(d.failed, fmt.Sprintf("%s/%d", c.Address, c.Kind))
	d.mu.Unlock()
	return nil
}

// sirenModes lists, for each pattern, the IAS WD modes to try in order.
var sirenModes = map[hub.SirenPattern][]string{
	hub.SirenBurglar:   {"burglar", "police_panic", "emergency", "emergency_panic"},
	hub.SirenFire:      {"fire", "fire_panic", "emergency", "emergency_panic"},
	hub.SirenEmergency: {"emergency", "emergency_panic", "police_panic", "burglar"},
}

type warning struct {
	Mode     string `json:"mode"`
	Level    string `json:"level"`
	Strobe   bool   `json:"strobe"`
	Duration int    `json:"duration"`
}

// sirenPayload is the warning for a pattern. Duration is rounded up to whole seconds; none
// given means the default bell cut-off, so a siren is never left sounding for ever nor
// started for zero seconds (which IAS WD sirens read as stop).
func sirenPayload(c devices.Command, dev *device) []byte {
	w := warning{Mode: "stop", Level: "low"}
	if c.Pattern != hub.SirenOff {
		w = warning{Mode: sirenMode(c.Pattern, dev), Level: "very_high", Strobe: true}
		w.Duration = int(math.Ceil(c.Duration.Seconds()))
		if w.Duration <= 0 {
			w.Duration = int(hub.DefaultBellCutoff.Seconds())
		}
		w.Duration = min(w.Duration, math.MaxUint16)
	}
	b, _ := json.Marshal(struct {
		Warning warning `json:"warning"`
	}{w})
	return b
}

func sirenMode(p hub.SirenPattern, dev *device) string {
	want := sirenModes[p]
	if len(want) == 0 {
		want = sirenModes[hub.SirenBurglar]
	}
	if dev == nil || len(dev.SirenModes) == 0 {
		return want[0]
	}
	for _, m := range want {
		if slices.Contains(dev.SirenModes, m) {
			return m
		}
	}
	for _, m := range dev.SirenModes {
		if m != "stop" {
			return m
		}
	}
	return want[0]
}

// chimePayload is a short, quiet sound on a device that has a sounder vakt can drive.
func chimePayload(dev *device) ([]byte, bool) {
	switch {
	case dev == nil:
		return nil, false
	case dev.Squawk:
		return []byte(`{"squawk":{"state":"system_is_disarmed","level":"low","strobe":false}}`), true
	case slices.Contains(dev.Caps, devices.CapSiren):
		b, _ := json.Marshal(struct {
			Warning warning `json:"warning"`
		}{warning{Mode: sirenMode(hub.SirenEmergency, dev), Level: "low", Duration: 1}})
		return b, true
	}
	return nil, false
}

// panelModes maps vakt's keypad states to IAS ACE panel statuses (Zigbee2MQTT's arm_mode
// without a transaction: the keypad's display).
var panelModes = map[string]string{
	"disarm":      "disarm",
	"arm_away":    "arm_all_zones",
	"arm_home":    "arm_day_zones",
	"arm_night":   "arm_night_zones",
	"exit_delay":  "exit_delay",
	"entry_delay": "entry_delay",
	"in_alarm":    "in_alarm",
	"not_ready":   "not_ready",
}

// refusals are the answers to a request that changed nothing.
var refusals = map[string]bool{"invalid_code": true, "not_ready": true, "already_disarmed": true}

// takeRequest finds the keypad request a state answers: the one waiting with the same
// transaction (0 is a valid ZCL sequence number, so it matches too). answer is also true for
// a non-zero transaction nobody waits for: the caller named it.
func (d *Driver) takeRequest(address string, transaction int) (keypadRequest, bool) {
	req, ok := d.pending[address]
	if ok && req.transaction == transaction && d.now().Sub(req.at) < answerWithin {
		delete(d.pending, address)
		return req, true
	}
	return keypadRequest{transaction: transaction}, transaction != 0
}

// keypadPayloads turns a keypad state into Zigbee2MQTT arm_mode requests. An IAS ACE keypad
// that asked (arm_all_zones with transaction N) must get an Arm Response carrying N, whose
// mode is one of the Arm Notifications (disarm, arm_day_zones, arm_night_zones,
// arm_all_zones, invalid_code, not_ready, already_disarmed): Zigbee2MQTT refuses exit_delay
// with a transaction. So a granted request is answered with the mode it asked for, then the
// panel status (exit_delay, arm_all_zones …) follows without a transaction; a refused one
// gets only the refusal. With nothing to answer, only the panel status is sent.
func keypadPayloads(c devices.Command, req keypadRequest, answer bool) ([][]byte, error) {
	type armMode struct {
		Transaction *int   `json:"transaction,omitempty"`
		Mode        string `json:"mode"`
		Delay       *int   `json:"delay,omitempty"`
	}
	encode := func(a armMode) []byte {
		b, _ := json.Marshal(struct {
			ArmMode armMode `json:"arm_mode"`
		}{a})
		return b
	}
	var out [][]byte
	panel, known := panelModes[c.KeypadState]
	if !known && !refusals[c.KeypadState] {
		return nil, fmt.Errorf("%w: keypad state %q", ErrNotSupported, c.KeypadState)
	}
	if answer {
		mode := c.KeypadState
		if !refusals[mode] {
			mode = req.mode
			if mode == "" || mode == "emergency" || mode == "panic" || mode == "fire" {
				mode = panel // a request vakt did not see: answer with what the area became
			}
			if mode == "exit_delay" || mode == "entry_delay" || mode == "in_alarm" {
				mode = "arm_all_zones"
			}
		}
		tx := req.transaction
		out = append(out, encode(armMode{Transaction: &tx, Mode: mode}))
		if refusals[c.KeypadState] {
			return out, nil
		}
	}
	if !known {
		return nil, fmt.Errorf("%w: keypad state %q needs the keypad's transaction", ErrNotSupported, c.KeypadState)
	}
	a := armMode{Mode: panel}
	if (panel == "exit_delay" || panel == "entry_delay") && c.Duration > 0 {
		s := min(int(math.Ceil(c.Duration.Seconds())), 255)
		a.Delay = &s
	}
	return append(out, encode(a)), nil
}
