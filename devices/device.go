// Package devices connects the hub to real devices. Drivers (one sub-package each) turn
// protocol messages into Reports and the hub's outputs into Commands; the Manager maps
// driver addresses to the installation's devices, keeps their health, supervises check-ins,
// runs pairing, and drives sirens, keypads, plugs and locks from the hub's state. No driver
// and nothing here decides alarm logic: that is the hub's.
package devices

import (
	"context"
	"time"

	"vakt/hub"
)

// Capability is something a device can sense or do.
type Capability string

// Capabilities.
const (
	CapContact     Capability = "contact"
	CapMotion      Capability = "motion"
	CapSmoke       Capability = "smoke"
	CapWater       Capability = "water"
	CapPanic       Capability = "panic"
	CapTamper      Capability = "tamper"
	CapBattery     Capability = "battery"
	CapTemperature Capability = "temperature"
	CapSwitch      Capability = "switch"
	CapLock        Capability = "lock"
	CapSiren       Capability = "siren"
	CapKeypad      Capability = "keypad"
)

// SuggestZone returns the zone type an installer most likely wants for a device with these
// capabilities, and false for devices that are not zones (sirens, keypads, plugs, locks).
func SuggestZone(caps []Capability) (hub.ZoneType, bool) {
	has := func(c Capability) bool {
		for _, x := range caps {
			if x == c {
				return true
			}
		}
		return false
	}
	switch {
	case has(CapSmoke):
		return hub.ZoneFire, true
	case has(CapWater):
		return hub.ZoneTechnical, true
	case has(CapPanic):
		return hub.ZonePanic, true
	case has(CapContact):
		return hub.ZoneEntryExit, true
	case has(CapMotion):
		return hub.ZoneFollower, true
	}
	return 0, false
}

// SignalValue is one signal of a report.
type SignalValue struct {
	Signal hub.Signal
	Active bool
}

// KeypadAction is a keypad's request: arm, disarm or panic, with the code or tag entered.
type KeypadAction struct {
	// Action is one of "arm_away", "arm_home", "arm_night", "disarm", "panic".
	Action string
	Code   string
	Tag    string
	// Transaction is echoed in the keypad's feedback, as IAS ACE keypads expect.
	Transaction int
}

// LockEvent is a lock's report of how it was operated.
type LockEvent struct {
	// Action is "lock" or "unlock".
	Action string
	// Source is "keypad", "rfid", "manual", "remote" or "auto".
	Source string
	// User is the lock's user slot that operated it, 0 if none.
	User int
}

// Report is what a driver saw from one device in one message. Optional fields are nil when
// the message did not carry them.
type Report struct {
	Driver  string
	Address string
	Time    time.Time
	// Model, Vendor and Caps describe the device, for discovery.
	Model  string
	Vendor string
	Caps   []Capability

	Signals     []SignalValue
	Battery     *int
	LinkQuality *int
	Temperature *float64
	Switch      *bool
	Power       *float64
	Lock        string // "locked", "unlocked", "jammed"
	Keypad      *KeypadAction
	LockEvent   *LockEvent
	// Synthetic marks a report the driver made itself (the auto-restore of a one-way
	// sensor): it says nothing about the device being alive, so supervision ignores it.
	Synthetic bool
}

// CommandKind says what a Command asks a device to do.
type CommandKind uint8

// Command kinds.
const (
	CmdSiren CommandKind = iota + 1
	CmdSwitch
	CmdLock
	CmdKeypadState
	CmdChime
)

// Command is an output for one device.
type Command struct {
	Kind    CommandKind
	Address string
	// Pattern and Duration for sirens.
	Pattern  hub.SirenPattern
	Duration time.Duration
	// On for switches and Locked for locks.
	On     bool
	Locked bool
	// KeypadState is the keypad's panel state: "disarm", "exit_delay", "entry_delay",
	// "arm_away", "arm_home", "arm_night", "in_alarm", "not_ready", "invalid_code",
	// "already_disarmed"; Transaction echoes the keypad's request.
	KeypadState string
	Transaction int
}

// Driver talks one protocol. Run delivers reports to the sink given at construction until
// ctx ends; Send and Pair may be called from any goroutine.
type Driver interface {
	Name() string
	Run(ctx context.Context) error
	Send(ctx context.Context, cmd Command) error
	// Pair lets new devices join for d (Zigbee permit_join, rtl_433 learn mode).
	Pair(ctx context.Context, d time.Duration) error
}

// Sink receives what drivers see. Report must not block for long: drivers call it from
// their protocol library's callbacks.
type Sink interface {
	Report(r Report)
	// Malformed counts a payload the driver could not read, and logs why (rate-limited
	// per device).
	Malformed(driver, address string, err error)
	// Stale counts a message the driver dropped because it was older than one already read
	// (or a duplicate); why says which.
	Stale(driver, address, why string)
}

// Health is what vakt knows of a device beyond its alarm signals.
type Health struct {
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Battery     *int      `json:"battery,omitempty"`
	LinkQuality *int      `json:"link_quality,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	Switch      *bool     `json:"switch,omitempty"`
	Power       *float64  `json:"power,omitempty"`
	Lock        string    `json:"lock,omitempty"`
	Missing     bool      `json:"missing,omitempty"`
	Malformed   int       `json:"malformed,omitempty"`
	// Dropped counts stale or reordered messages a driver skipped.
	Dropped int `json:"dropped,omitempty"`
}

// Discovered is a device seen but not adopted into the installation.
type Discovered struct {
	Driver    string       `json:"driver"`
	Address   string       `json:"address"`
	Model     string       `json:"model,omitempty"`
	Vendor    string       `json:"vendor,omitempty"`
	Caps      []Capability `json:"caps,omitempty"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	Suggested hub.ZoneType `json:"suggested_zone,omitempty"`
	// Area is the area pairing was open for when the device was seen; 0 if it joined
	// outside pairing (a Zigbee device announcing itself).
	Area int `json:"area,omitempty"`
}
