package rtl433

import (
	"encoding/hex"
	"fmt"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// How long a momentary signal stays active when the device never reports its end. A
// one-way 433 MHz sensor sends one burst per activation: PIRs have no "no motion" message,
// a tamper switch sends once when the case opens, cheap door sensors send only "open".
// The driver reports the end itself after these times, restarted by every new activation.
const (
	// RestoreMotion is a PIR's activation: detectors sleep for their own lockout after
	// a detection (seconds to minutes), so a person walking about stays one activation.
	RestoreMotion = 30 * time.Second
	// RestoreContact is for door sensors that never send "closed".
	RestoreContact = time.Minute
	// RestoreTamper is for tamper switches that send only the opening.
	RestoreTamper = time.Minute
	// RestorePanic is for panic buttons.
	RestorePanic = time.Minute
	// RestoreHazard is for smoke and water detectors that send no all-clear: long enough not
	// to flap while they repeat their alarm, short enough that a new detection re-triggers.
	RestoreHazard = 5 * time.Minute
	// RestoreBattery is for sensors that say "battery low" but never "battery ok": after a
	// day without the message the trouble ends; a battery still low says so again.
	RestoreBattery = 24 * time.Hour
)

// SupervisedCheckIn is the check-in window of models that send supervision messages about
// once an hour (Honeywell 5800 / 2GIG, Interlogix, DSC, Visonic PowerCode, X10): three
// hours, so that one or two check-ins lost in a 433 MHz collision are not a fault.
const SupervisedCheckIn = 3 * time.Hour

// restoreAfter holds the default restore time of each signal.
var restoreAfter = map[hub.Signal]time.Duration{
	hub.SignalMotion:     RestoreMotion,
	hub.SignalContact:    RestoreContact,
	hub.SignalTamper:     RestoreTamper,
	hub.SignalPanic:      RestorePanic,
	hub.SignalSmoke:      RestoreHazard,
	hub.SignalWater:      RestoreHazard,
	hub.SignalBatteryLow: RestoreBattery,
}

// momentary returns the default restore times of sigs.
func momentary(sigs ...hub.Signal) map[hub.Signal]time.Duration {
	m := make(map[hub.Signal]time.Duration, len(sigs))
	for _, s := range sigs {
		m[s] = restoreAfter[s]
	}
	return m
}

// Model is what vakt knows of one rtl_433 model: which fields of its events mean what,
// what every device of the model can sense, which signals the driver must end itself, and
// whether the model checks in. It was learnt from rtl_433's decoders (src/devices/*.c) and
// their test recordings; no decoder code is used.
type Model struct {
	// Name is rtl_433's "model" field.
	Name   string
	Vendor string
	// Caps are what every device of the model has; the rest follows from what a device
	// sends (a Kerui door sensor and a Kerui PIR share one model name).
	Caps []devices.Capability
	// Fields are event fields carrying a signal.
	Fields []Field
	// CodeField is the field holding an event code (Kerui "cmd", Chuango "cmd_id", X10
	// "event"), and Codes what each code means.
	CodeField string
	Codes     []Code
	// AutoRestore says which signals the device never ends itself, and after how long the
	// driver ends them.
	AutoRestore map[hub.Signal]time.Duration
	// CheckIn is the supervision window of models that send check-ins; 0 for the rest.
	CheckIn time.Duration

	// decode reads what rtl_433 leaves in raw bits or spreads over subtypes (Interlogix).
	decode func(e event, s *signals) error
}

// Field is an event field carrying one signal. Numbers are active when not zero; strings
// "OPEN"/"CLOSED", "true"/"false", "yes"/"no" and "on"/"off" are read too.
type Field struct {
	Name   string
	Signal hub.Signal
	// Invert reads the field the other way round: DSC "closed", "battery_ok".
	Invert bool
	// AbsentInactive means rtl_433 writes the field only while it is set, and each message
	// carries the device's whole state, so a message without it ends the signal (X10).
	AbsentInactive bool
}

// Code is what one value of a model's code field means.
type Code struct {
	// Int or Text is the value, for numeric and text code fields.
	Int  int64
	Text string
	Set  []devices.SignalValue
}

func on(s hub.Signal) []devices.SignalValue { return []devices.SignalValue{{Signal: s, Active: true}} }
func off(s hub.Signal) []devices.SignalValue {
	return []devices.SignalValue{{Signal: s, Active: false}}
}

// models is the model table.
var models = []Model{
	{
		// kerui.c: 20-bit id + 4-bit command, EV1527 style; door sensors (D026) send open and
		// close, PIRs (P831) only motion, WD51 only water.
		Name: "Kerui-Security", Vendor: "Kerui",
		CodeField: "cmd",
		Codes: []Code{
			{Int: 0xa, Set: on(hub.SignalMotion)},
			{Int: 0xe, Set: on(hub.SignalContact)},
			{Int: 0x7, Set: off(hub.SignalContact)},
			{Int: 0xb, Set: on(hub.SignalTamper)},
			{Int: 0x5, Set: on(hub.SignalWater)},
			{Int: 0xf, Set: on(hub.SignalBatteryLow)},
		},
		AutoRestore: momentary(hub.SignalMotion, hub.SignalTamper, hub.SignalWater, hub.SignalBatteryLow),
	},
	{
		// honeywell.c: 345 MHz 5800 series and 2GIG DW10/DW11. Loop 1 is "contact_open", the
		// loop most sensors are enrolled on (motion detectors too); every message, heartbeats
		// included, carries the whole state.
		Name: "Honeywell-Security", Vendor: "Honeywell / 2GIG",
		Caps: []devices.Capability{devices.CapTamper, devices.CapBattery},
		Fields: []Field{
			{Name: "contact_open", Signal: hub.SignalContact},
			{Name: "tamper", Signal: hub.SignalTamper},
		},
		CheckIn: SupervisedCheckIn,
	},
	{
		// interlogix.c: 319.5 MHz GE / Interlogix / UTC; the meaning of switch1–5 depends on
		// the subtype, and a PIR's detection is only in the raw message.
		Name: "Interlogix-Security", Vendor: "Interlogix / GE",
		Caps:        []devices.Capability{devices.CapBattery},
		decode:      interlogix,
		AutoRestore: momentary(hub.SignalMotion),
		CheckIn:     SupervisedCheckIn,
	},
	{
		// chuango.c: 24-bit EV1527 style; the code is the zone type the device is set to
		// (door sensors "Normal Zone", PIRs "Home Mode Zone", smoke and water "24H Zone").
		// Newer DWC-102 door sensors also send "Closing". Arm, disarm and home from fixed-code
		// remotes are not taken: anyone can replay them.
		Name: "Chuango-Security", Vendor: "Chuango",
		CodeField: "cmd_id",
		Codes: []Code{
			{Int: 0x7, Set: on(hub.SignalContact)}, // Normal Zone
			{Int: 0xa, Set: on(hub.SignalContact)}, // Single Delay Zone
			{Int: 0x6, Set: on(hub.SignalMotion)},  // Home Mode Zone
			// A 24H zone is a smoke detector by default (WI-200 water sensors use it too):
			// suggesting a fire zone is the mistake that cannot miss a fire.
			{Int: 0xb, Set: on(hub.SignalSmoke)},
			{Int: 0xc, Set: off(hub.SignalContact)}, // Closing
			{Int: 0x3, Set: on(hub.SignalTamper)},
			{Int: 0xd, Set: on(hub.SignalBatteryLow)},
			{Int: 0x2, Set: on(hub.SignalPanic)}, // Alarm button of a remote or keypad
		},
		AutoRestore: momentary(hub.SignalContact, hub.SignalMotion, hub.SignalSmoke, hub.SignalPanic, hub.SignalTamper, hub.SignalBatteryLow),
	},
	{
		// visonic_powercode.c: MCT-302 and other PowerCode transmitters; supervision
		// messages carry the whole state.
		Name: "Visonic-Powercode", Vendor: "Visonic",
		Caps: []devices.Capability{devices.CapTamper, devices.CapBattery},
		Fields: []Field{
			{Name: "alarm", Signal: hub.SignalContact},
			{Name: "tamper", Signal: hub.SignalTamper},
		},
		CheckIn: SupervisedCheckIn,
	},
	{
		// dsc.c: 433 MHz DSC contacts and PIRs (WS4975, WS4945, WS4904P, EV-DW4927), both
		// timings; "event" 0 is a heartbeat, which carries the whole state.
		Name: "DSC-Security", Vendor: "DSC",
		Caps: []devices.Capability{devices.CapTamper, devices.CapBattery},
		Fields: []Field{
			{Name: "closed", Signal: hub.SignalContact, Invert: true},
			{Name: "tamper", Signal: hub.SignalTamper},
		},
		CheckIn: SupervisedCheckIn,
	},
	{
		// simplisafe.c: first and second generation sensors; "state" 1 is open, 2 closed.
		Name: "SimpliSafe-Sensor", Vendor: "SimpliSafe",
		CodeField: "state",
		Codes: []Code{
			{Int: 1, Set: on(hub.SignalContact)},
			{Int: 2, Set: off(hub.SignalContact)},
		},
	},
	{
		// x10_sec.c: DS10A door sensors, MS10A PIRs, KR15/KR18 remotes. Tamper and low
		// battery are written only while set. Arm and disarm from remotes are not taken.
		Name: "X10-Security", Vendor: "X10",
		CodeField: "event",
		Codes: []Code{
			{Text: "DOOR/WINDOW OPEN", Set: on(hub.SignalContact)},
			{Text: "DOOR/WINDOW CLOSED", Set: off(hub.SignalContact)},
			{Text: "MOTION TRIPPED", Set: on(hub.SignalMotion)},
			{Text: "MOTION READY", Set: off(hub.SignalMotion)},
			{Text: "KR18 PANIC", Set: on(hub.SignalPanic)},
			{Text: "KR15 PANIC", Set: on(hub.SignalPanic)},
			{Text: "KR15 PANIC-3SECOND", Set: on(hub.SignalPanic)},
		},
		Fields: []Field{
			{Name: "tamper", Signal: hub.SignalTamper, AbsentInactive: true},
			{Name: "battery_ok", Signal: hub.SignalBatteryLow, Invert: true, AbsentInactive: true},
		},
		AutoRestore: momentary(hub.SignalPanic),
		CheckIn:     SupervisedCheckIn,
	},
	{
		// cavius.c: 869 MHz Nordic smoke, heat and water detectors. "Alarm muted" is the
		// detector's own hush, not an all-clear; a test alarm is not a fire.
		Name: "Cavius-Security", Vendor: "Cavius",
		Caps:      []devices.Capability{devices.CapBattery},
		CodeField: "message",
		Codes: []Code{
			{Int: 0x20, Set: on(hub.SignalSmoke)},
			{Int: 0x10, Set: on(hub.SignalWater)},
		},
		AutoRestore: momentary(hub.SignalSmoke, hub.SignalWater),
	},
}

// commonFields are read from models vakt does not know: rtl_433's usual names. "alarm" is
// taken as the device's primary input; the installer picks the zone type.
var commonFields = []Field{
	{Name: "contact_open", Signal: hub.SignalContact},
	{Name: "opened", Signal: hub.SignalContact},
	{Name: "closed", Signal: hub.SignalContact, Invert: true},
	{Name: "motion", Signal: hub.SignalMotion},
	{Name: "alarm", Signal: hub.SignalContact},
	{Name: "water", Signal: hub.SignalWater},
	{Name: "tamper", Signal: hub.SignalTamper},
	{Name: "battery_low", Signal: hub.SignalBatteryLow}, // older decoders' name
}

// unknownModel is how a model vakt does not know is read. Motion and tamper are ended by
// the driver: few sensors end them themselves, and a restore that also comes from the
// device does no harm.
var unknownModel = Model{
	Fields:      commonFields,
	AutoRestore: momentary(hub.SignalMotion, hub.SignalTamper),
	decode:      commonState,
}

// Lookup returns the table's entry for an rtl_433 model name.
func Lookup(name string) (Model, bool) {
	for _, m := range models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// commonState reads a textual "state" of open or closed.
func commonState(e event, s *signals) error {
	v, ok := e["state"].(string)
	if !ok {
		return nil // absent, or a number whose meaning is the model's own
	}
	switch v {
	case "open", "opened", "OPEN":
		s.add(hub.SignalContact, true)
	case "closed", "close", "CLOSED":
		s.add(hub.SignalContact, false)
	}
	return nil
}

// interlogix reads an Interlogix event by subtype. Contacts: switch1 is the reed and
// switch3 the cover. PIRs: rtl_433's switches do not show a detection (rtl_433 issue 1774);
// the first input's latch bit (0x08 of the raw message's first byte) does, and switch3 is the
// cover. Smoke and heat: switch2 is the alarm. Glass break: switch1 goes from OPEN to CLOSED
// on a break.
func interlogix(e event, s *signals) error {
	sub, _ := e["subtype"].(string)
	sw := func(name string, sig hub.Signal, openActive bool) error {
		v, ok := e[name]
		if !ok {
			return nil
		}
		str, _ := v.(string)
		switch str {
		case "OPEN":
			s.add(sig, openActive)
		case "CLOSED":
			s.add(sig, !openActive)
		default:
			return fmt.Errorf("%s: %v, want OPEN or CLOSED", name, v)
		}
		return nil
	}
	switch sub {
	case "contact":
		if err := sw("switch1", hub.SignalContact, true); err != nil {
			return err
		}
		return sw("switch3", hub.SignalTamper, true)
	case "motion":
		raw, _ := e["raw_message"].(string)
		b, err := hex.DecodeString(raw)
		if err != nil || len(b) == 0 {
			return fmt.Errorf("raw_message: %q is not hex", raw)
		}
		s.add(hub.SignalMotion, b[0]&0x08 != 0)
		return sw("switch3", hub.SignalTamper, true)
	case "smoke", "heat":
		return sw("switch2", hub.SignalSmoke, true)
	case "glass":
		return sw("switch1", hub.SignalContact, false)
	}
	return nil // keyfobs, panic pendants, freeze sensors: battery and presence only
}
