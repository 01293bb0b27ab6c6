package zigbee2mqtt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// Battery thresholds for devices that report only a percentage: low below batteryLow,
// restored from batteryOK up. Between the two nothing is said, so a battery near the
// threshold does not flap.
const (
	batteryLow = 15
	batteryOK  = 20
)

// statePayload is the part of a device's state message vakt reads. Zigbee2MQTT publishes the
// device's whole cached state each time, so most messages repeat fields that did not change;
// the hub ignores repeated states. Fields are unset when absent or null.
type statePayload struct {
	Contact     optBool   `json:"contact"`
	Occupancy   optBool   `json:"occupancy"`
	Smoke       optBool   `json:"smoke"`
	WaterLeak   optBool   `json:"water_leak"`
	Tamper      optBool   `json:"tamper"`
	BatteryLow  optBool   `json:"battery_low"`
	Battery     optNumber `json:"battery"`
	Temperature optNumber `json:"temperature"`
	LinkQuality optNumber `json:"linkquality"`
	// State is a plug's "ON"/"OFF" or a lock's "LOCK"/"UNLOCK".
	State     optString `json:"state"`
	LockState optString `json:"lock_state"`
	Power     optNumber `json:"power"`

	// Action is a keypad's arm command, a lock's operation event or a button press.
	Action            optString `json:"action"`
	ActionCode        code      `json:"action_code"`
	ActionTransaction optNumber `json:"action_transaction"`
	ActionSourceName  optString `json:"action_source_name"`
	ActionUser        optNumber `json:"action_user"`
	ActionSourceUser  optNumber `json:"action_source_user"`
	LastSeen          lastSeen  `json:"last_seen"`
}

// The opt types read one JSON value each and keep a wrong type as err instead of returning
// it: encoding/json stops at the first error an UnmarshalJSON returns, and for its own types
// it leaves a mistyped field allocated with its zero value (a contact "false": open). One bad
// field must neither hide the others nor read as a value.

// optBool is a JSON boolean that may be absent or null.
type optBool struct {
	v, ok bool
	err   error
}

func (b *optBool) UnmarshalJSON(p []byte) error {
	switch string(p) {
	case "true", "false":
		b.v, b.ok = string(p) == "true", true
	case "null":
	default:
		b.err = fmt.Errorf("%.20s where true or false was expected", p)
	}
	return nil
}

// optNumber is a JSON number that may be absent or null.
type optNumber struct {
	v   float64
	ok  bool
	err error
}

func (n *optNumber) UnmarshalJSON(p []byte) error {
	if string(p) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(string(p), 64)
	if err != nil || len(p) == 0 || p[0] == '"' {
		n.err = fmt.Errorf("%.20s where a number was expected", p)
		return nil
	}
	n.v, n.ok = v, true
	return nil
}

// optString is a JSON string that may be absent or null.
type optString struct {
	v   string
	ok  bool
	err error
}

func (s *optString) UnmarshalJSON(p []byte) error {
	switch {
	case string(p) == "null":
	case len(p) > 0 && p[0] == '"':
		if s.err = json.Unmarshal(p, &s.v); s.err == nil {
			s.ok = true
		}
	default:
		s.err = fmt.Errorf("%.20s where a string was expected", p)
	}
	return nil
}

// code is a keypad's action_code: a string (PIN or "+" and an RFID tag), a number from some
// converters, or null. A value of another type is kept as err: encoding/json stops at the
// first error an UnmarshalJSON returns, and one bad field must not hide the others.
type code struct {
	s   string
	ok  bool
	err error
}

func (c *code) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		c.err = json.Unmarshal(b, &c.s)
		c.ok = c.err == nil
	case string(b) == "null":
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		c.s, c.ok = string(b), true
	default:
		c.err = fmt.Errorf("%.20s where a string was expected", b)
	}
	return nil
}

// lastSeen is Zigbee2MQTT's optional last_seen (advanced.last_seen): ISO 8601 text or epoch
// milliseconds. It orders messages of one device. Like code, it keeps its error.
type lastSeen struct {
	t   time.Time
	err error
}

func (l *lastSeen) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if l.err = json.Unmarshal(b, &s); l.err == nil {
			if l.t, l.err = time.Parse(time.RFC3339Nano, s); l.err != nil {
				l.err = fmt.Errorf("%q is not ISO 8601", s)
			}
		}
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		l.err = fmt.Errorf("%.20s: want ISO 8601 or epoch milliseconds", b)
		return nil
	}
	l.t = time.UnixMilli(int64(ms))
	return nil
}

// reading is what one state message says, ready to become a Report once the driver knows
// who sent it.
type reading struct {
	Signals     []devices.SignalValue
	Battery     *int
	LinkQuality *int
	Temperature *float64
	Switch      *bool
	Power       *float64
	Lock        string
	Keypad      *devices.KeypadAction
	// KeypadMode is the keypad's own word for the request (arm_all_zones …), for its answer.
	KeypadMode string
	LockEvent  *devices.LockEvent
	// LastSeen is the device's last_seen; the driver clears it when it cannot be trusted.
	LastSeen time.Time
}

// report fills a Report for the device at address.
func (r *reading) report(address string) devices.Report {
	return devices.Report{
		Driver: Name, Address: address, Time: r.LastSeen,
		Signals: r.Signals, Battery: r.Battery, LinkQuality: r.LinkQuality, Temperature: r.Temperature,
		Switch: r.Switch, Power: r.Power, Lock: r.Lock, Keypad: r.Keypad, LockEvent: r.LockEvent,
	}
}

// keypadActions maps IAS ACE actions to vakt's keypad requests. A keypad's fire button is
// sent as panic: devices.KeypadAction has no fire request yet, and an alarm that reaches the
// station as panic beats one that does nothing.
var keypadActions = map[string]string{
	"arm_all_zones":   "arm_away",
	"arm_day_zones":   "arm_home",
	"arm_night_zones": "arm_night",
	"disarm":          "disarm",
	"emergency":       "panic",
	"panic":           "panic",
	"fire":            "panic",
}

// lockActions maps a lock's operation events to lock or unlock, and the source the event's
// name itself gives (empty: take action_source_name).
var lockActions = map[string]struct{ action, source string }{
	"lock":               {"lock", ""},
	"unlock":             {"unlock", ""},
	"one_touch_lock":     {"lock", "manual"},
	"key_lock":           {"lock", "manual"},
	"key_unlock":         {"unlock", "manual"},
	"manual_lock":        {"lock", "manual"},
	"manual_unlock":      {"unlock", "manual"},
	"auto_lock":          {"lock", "auto"},
	"schedule_lock":      {"lock", "auto"},
	"schedule_unlock":    {"unlock", "auto"},
	"password_unlock":    {"unlock", "keypad"},
	"rfid_unlock":        {"unlock", "rfid"},
	"fingerprint_unlock": {"unlock", "fingerprint"},
}

// lockSources maps Zigbee2MQTT's action_source_name to devices.LockEvent sources.
var lockSources = map[string]string{
	"keypad":      "keypad",
	"rfid":        "rfid",
	"manual":      "manual",
	"rf":          "remote",
	"fingerprint": "fingerprint",
}

// parseState reads a device's state message. ok is false when nothing in it can be used
// (not JSON, not an object); err lists what was wrong, including single fields that were
// left out while the rest of the message was read.
func parseState(payload []byte) (r reading, ok bool, err error) {
	if len(payload) == 0 {
		return r, false, nil // a retained state being cleared
	}
	if !jsonObject(payload) {
		return r, false, fmt.Errorf("state payload %.40q is not a JSON object", payload)
	}
	var p statePayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return r, false, fmt.Errorf("state payload: %w", err)
	}
	var errs []error
	fieldErr := func(field string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", field, err))
		}
	}
	signal := func(field string, b optBool, s hub.Signal, invert bool) {
		fieldErr(field, b.err)
		if b.ok {
			r.Signals = append(r.Signals, devices.SignalValue{Signal: s, Active: b.v != invert})
		}
	}
	number := func(field string, n optNumber, lo, hi float64) (float64, bool) {
		fieldErr(field, n.err)
		if n.ok && (n.v < lo || n.v > hi) {
			fieldErr(field, fmt.Errorf("%v out of range %v–%v", n.v, lo, hi))
			return 0, false
		}
		return n.v, n.ok
	}
	// contact is true when the magnet is near: closed. vakt's contact signal means open.
	signal("contact", p.Contact, hub.SignalContact, true)
	signal("occupancy", p.Occupancy, hub.SignalMotion, false)
	signal("smoke", p.Smoke, hub.SignalSmoke, false)
	signal("water_leak", p.WaterLeak, hub.SignalWater, false)
	signal("tamper", p.Tamper, hub.SignalTamper, false)
	if b, ok := number("battery", p.Battery, 0, 100); ok {
		n := int(math.Round(b))
		r.Battery = &n
	}
	switch {
	case p.BatteryLow.ok || p.BatteryLow.err != nil:
		signal("battery_low", p.BatteryLow, hub.SignalBatteryLow, false)
	case r.Battery != nil && *r.Battery < batteryLow:
		r.Signals = append(r.Signals, devices.SignalValue{Signal: hub.SignalBatteryLow, Active: true})
	case r.Battery != nil && *r.Battery >= batteryOK:
		r.Signals = append(r.Signals, devices.SignalValue{Signal: hub.SignalBatteryLow, Active: false})
	}
	if q, ok := number("linkquality", p.LinkQuality, 0, 255); ok {
		n := int(q)
		r.LinkQuality = &n
	}
	if t, ok := number("temperature", p.Temperature, -100, 200); ok {
		r.Temperature = &t
	}
	if w, ok := number("power", p.Power, -1e7, 1e7); ok {
		r.Power = &w
	}
	fieldErr("state", p.State.err)
	if p.State.ok {
		switch p.State.v {
		case "ON", "OFF":
			on := p.State.v == "ON"
			r.Switch = &on
		case "LOCK":
			r.Lock = "locked"
		case "UNLOCK":
			r.Lock = "unlocked"
		default:
			fieldErr("state", fmt.Errorf("%q is neither ON, OFF, LOCK nor UNLOCK", p.State.v))
		}
	}
	fieldErr("lock_state", p.LockState.err)
	if p.LockState.ok {
		switch p.LockState.v {
		case "locked", "unlocked":
			r.Lock = p.LockState.v
		case "not_fully_locked":
			r.Lock = "jammed"
		default:
			fieldErr("lock_state", fmt.Errorf("%q is not a lock state", p.LockState.v))
		}
	}
	fieldErr("action", p.Action.err)
	if p.Action.ok && p.Action.v != "" {
		errs = append(errs, r.action(&p)...)
	}
	fieldErr("last_seen", p.LastSeen.err)
	r.LastSeen = p.LastSeen.t
	return r, true, errors.Join(errs...)
}

// action reads a keypad request or a lock event. Actions of other devices (buttons, remotes)
// are none of vakt's business. A request with a field vakt cannot read is not made.
func (r *reading) action(p *statePayload) []error {
	a := p.Action.v
	if k, ok := keypadActions[a]; ok {
		if p.ActionCode.err != nil {
			return []error{fmt.Errorf("field action_code: %w", p.ActionCode.err)}
		}
		ka := &devices.KeypadAction{Action: k}
		if p.ActionCode.ok && k != "panic" {
			// The Frient KEPZB-110 sends an RFID tag in the PIN's place as "+" and the
			// tag's 8 hex digits.
			if tag, ok := strings.CutPrefix(p.ActionCode.s, "+"); ok {
				ka.Tag = strings.ToUpper(tag)
			} else {
				ka.Code = p.ActionCode.s
			}
		}
		switch t := p.ActionTransaction; {
		case t.err != nil:
			return []error{fmt.Errorf("field action_transaction: %w", t.err)}
		case t.ok && (t.v < 0 || t.v > 255 || t.v != math.Trunc(t.v)):
			return []error{fmt.Errorf("field action_transaction: %v is not a ZCL sequence number", t.v)}
		case t.ok:
			ka.Transaction = int(t.v)
		}
		r.Keypad, r.KeypadMode = ka, a
		return nil
	}
	la, ok := lockActions[a]
	if !ok {
		return nil
	}
	ev := &devices.LockEvent{Action: la.action, Source: la.source}
	if ev.Source == "" && p.ActionSourceName.ok {
		ev.Source = lockSources[p.ActionSourceName.v]
	}
	user := p.ActionUser
	if !user.ok && user.err == nil {
		user = p.ActionSourceUser
	}
	switch {
	case user.err != nil:
		return []error{fmt.Errorf("field action_user: %w", user.err)}
	case user.ok && (user.v < 0 || user.v > 65535 || user.v != math.Trunc(user.v)):
		return []error{fmt.Errorf("field action_user: %v is not a lock user slot", user.v)}
	}
	ev.User = int(user.v)
	r.LockEvent = ev
	return nil
}

// availability reads <base>/<name>/availability: {"state":"online"} (Zigbee2MQTT 1.x with
// legacy_availability_payload false, and 2.x) or the legacy bare online/offline. empty is
// true for an empty payload (a retained value being cleared on rename or removal).
func parseAvailability(payload []byte) (online, empty bool, err error) {
	s := strings.TrimSpace(string(payload))
	if s == "" {
		return false, true, nil
	}
	if jsonObject(payload) {
		var a struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(payload, &a); err != nil {
			return false, false, fmt.Errorf("availability: %w", err)
		}
		s = a.State
	}
	switch s {
	case "online":
		return true, false, nil
	case "offline":
		return false, false, nil
	}
	return false, false, fmt.Errorf("availability %.40q: want online or offline", payload)
}
