package hub

import (
	"fmt"
	"time"
)

// Mode is an area's alarm mode.
type Mode uint8

// Area modes (DESIGN §2 item 1).
const (
	ModeDisarmed Mode = iota
	ModeArming
	ModeArmedAway
	ModeArmedHome
	ModeArmedNight
	ModePending
	ModeTriggered
)

var modeNames = [...]string{"disarmed", "arming", "armed_away", "armed_home", "armed_night", "pending", "triggered"}

// String returns the mode's name.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode reads a mode name; "away", "home" and "night" are accepted for the armed modes.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "away":
		return ModeArmedAway, nil
	case "home", "stay":
		return ModeArmedHome, nil
	case "night":
		return ModeArmedNight, nil
	}
	for i, n := range modeNames {
		if n == s {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mode %q (want away, home or night)", s)
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode's name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Armed reports whether the mode is one of the three armed modes.
func (m Mode) Armed() bool {
	return m == ModeArmedAway || m == ModeArmedHome || m == ModeArmedNight
}

// Method is how a user or the system did something: the history's "how".
type Method uint8

// Methods.
const (
	HowNone Method = iota
	HowCode
	HowTag
	HowWeb
	HowHomeKit
	HowKeypad
	HowLock
	HowRemote
	HowSchedule
	HowSystem
	// HowHomeAssistant is a command from Home Assistant over MQTT discovery's entities.
	HowHomeAssistant
	// HowSMS and HowPushover are replies to a notification: an SMS answered "OK" from a
	// user's number, an alarm acknowledged in the Pushover app.
	HowSMS
	HowPushover
)

var methodNames = [...]string{"", "code", "tag", "web", "homekit", "keypad", "lock", "remote", "schedule", "system", "home_assistant", "sms", "pushover"}

// String returns the method's name.
func (h Method) String() string {
	if int(h) < len(methodNames) {
		return methodNames[h]
	}
	return fmt.Sprintf("method(%d)", uint8(h))
}

// MarshalText writes the method's name.
func (h Method) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a method's name.
func (h *Method) UnmarshalText(b []byte) error {
	for i, n := range methodNames {
		if n == string(b) {
			*h = Method(i)
			return nil
		}
	}
	return fmt.Errorf("unknown method %q", b)
}

// Signal is what a device reports. Drivers translate protocol payloads into signals; the
// engine decides what a signal means for the zone the device is in.
type Signal uint8

// Signals.
const (
	SignalNone Signal = iota
	// SignalContact is active when a door or window is open.
	SignalContact
	SignalMotion
	SignalSmoke
	SignalWater
	SignalPanic
	SignalTamper
	SignalBatteryLow
	SignalMissing
	SignalFault
	SignalJamming
)

var signalNames = [...]string{"", "contact", "motion", "smoke", "water", "panic", "tamper", "battery_low", "missing", "fault", "jamming"}

// String returns the signal's name.
func (s Signal) String() string {
	if int(s) < len(signalNames) {
		return signalNames[s]
	}
	return fmt.Sprintf("signal(%d)", uint8(s))
}

// InputKind says what an Input asks of the engine.
type InputKind uint8

// Input kinds. Commands (arm, disarm, bypass, …) carry a credential; system inputs come
// from drivers, the gateway and the uplink.
const (
	InTick InputKind = iota
	InReport
	InArm
	InDisarm
	InBypass
	InAcknowledge
	InPanic
	InGrantInstaller
	InServiceMode
	InWalkTest
	InManualTest
	InPeriodicTest
	InMains
	InHubBattery
	InUplinkFault
	InSirenFault
	// InDiskFault says the data directory is short of room: the event log must never fail
	// silently.
	InDiskFault
	// InBusFault says a driver (Device: its name) has been off its MQTT broker for longer
	// than the grace the shell allows (Active), or is back on it: the sensors it reads go
	// unheard meanwhile. Path says why.
	InBusFault
	// InDeviceCommand switches a plug (Active: on) or locks a lock (Active: locked) for the
	// user whose credential it carries: the engine authorises it and logs who and how; the
	// device manager sends the command once the step is committed.
	InDeviceCommand
	// InConfigure is the kind Hub.Configure gives its credential: a change of the
	// installation, by an admin or a granted installer.
	InConfigure
	// InPhotos records in the history that alarm photos were taken, or sent to the
	// station (Path: what, in words; Area: the alarm's area). The photos themselves never
	// enter the hub: nobody local sees them (DESIGN §2 item 20).
	InPhotos
	// InAlarmSeen says a user has seen an alarm's notification (User, authenticated by the
	// interface: a reply from the user's phone number, the user's Pushover receipt, a web
	// session; How says which), for Area or, with Area 0, every area of the user's with an
	// alarm. It stops the escalation of the notification and is logged; the alarm memory
	// stays for whoever acknowledges at the panel.
	InAlarmSeen
)

// Input is everything that can happen to the engine. It is one flat value rather than an
// interface so that a sensor report costs no allocation.
type Input struct {
	Kind InputKind
	// Device and Signal, with Active, are a device report: Active true means the signal
	// is on (open, motion, smoke, tamper, battery low, missing …), false means it ended.
	Device string
	Signal Signal
	Active bool

	// Area is the area a command is for; Mode the armed mode wanted.
	Area int
	Mode Mode
	// Zone is the zone a bypass is for.
	Zone int

	// A credential: a PIN Code, an RFID Tag, or a User already authenticated by the
	// interface (web session, HomeKit bridge, signed remote command).
	Code string
	Tag  string
	User string
	How  Method
	// Iface names the interface the credential came through (keypad id, web address),
	// for wrong-code lockout.
	Iface string

	// Force arms over faults (one armed period).
	Force bool
	// Duration bounds service mode, a walk test or an installer grant; 0 means the default.
	Duration time.Duration
	// Path names an uplink path for uplink faults.
	Path string
	// At is when the device says it sent a report (zero: unknown). An intrusion report
	// sent before its area was armed is zone state only: a stale message, never an alarm.
	At time.Time
}
