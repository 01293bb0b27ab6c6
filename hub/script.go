package hub

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ScriptHelp lists the verbs ParseLine understands: the demo console and the scenario
// scripts under hub/testdata speak the same language.
const ScriptHelp = `commands (area defaults to 1; a credential is a code "1234", "tag ID" or "by USER"):
  arm away|home|night [area N] [force] CREDENTIAL    disarm [area N] CREDENTIAL
  bypass ZONE CREDENTIAL        ack [area N] CREDENTIAL        panic [area N]
  test CREDENTIAL (transmission test)                          periodic test
  grant installer [4h] CREDENTIAL   revoke installer CREDENTIAL
  service on [1h] CREDENTIAL | service off CREDENTIAL
  walktest on [10m] CREDENTIAL | walktest off CREDENTIAL
  open|close DEVICE              motion|smoke|water|panic|tamper|battery_low|missing|fault|jamming DEVICE [off]
  mains off|on    lid open|close    hub battery low|ok    uplink fault|ok PATH    siren fault|ok`

// ParseLine turns one line of the script language into an Input. Device and zone names are
// checked against the installation, so a typo is an error that names it.
func ParseLine(inst *Installation, line string) (Input, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return Input{}, fmt.Errorf("%w: empty command", ErrBadInput)
	}
	in := Input{Area: 1}
	verb, rest := f[0], f[1:]
	switch verb {
	case "arm":
		if len(rest) == 0 {
			return in, fmt.Errorf("%w: arm needs a mode: away, home or night", ErrBadInput)
		}
		m, err := ParseMode(rest[0])
		if err != nil || !m.Armed() {
			return in, fmt.Errorf("%w: arm %q: want away, home or night", ErrBadInput, rest[0])
		}
		in.Kind, in.Mode = InArm, m
		return in, parseCommand(&in, rest[1:])
	case "disarm", "silence":
		in.Kind = InDisarm
		return in, parseCommand(&in, rest)
	case "ack", "acknowledge":
		in.Kind = InAcknowledge
		return in, parseCommand(&in, rest)
	case "bypass":
		if len(rest) == 0 {
			return in, fmt.Errorf("%w: bypass needs a zone", ErrBadInput)
		}
		z, err := findZone(inst, rest[0])
		if err != nil {
			return in, err
		}
		in.Kind, in.Zone = InBypass, z
		return in, parseCommand(&in, rest[1:])
	case "panic":
		if len(rest) > 0 && findDevice(inst, rest[0]) {
			break // a panic zone device, handled below as a report
		}
		in.Kind, in.How = InPanic, HowKeypad
		return in, parseArea(&in, rest)
	case "test":
		in.Kind = InManualTest
		return in, parseCommand(&in, rest)
	case "periodic":
		in.Kind = InPeriodicTest
		return in, nil
	case "grant", "revoke":
		if len(rest) == 0 || rest[0] != "installer" {
			return in, fmt.Errorf("%w: %s installer …", ErrBadInput, verb)
		}
		in.Kind, in.Active = InGrantInstaller, verb == "grant"
		return in, parseCommand(&in, rest[1:])
	case "service", "walktest":
		if len(rest) == 0 || (rest[0] != "on" && rest[0] != "off") {
			return in, fmt.Errorf("%w: %s on|off", ErrBadInput, verb)
		}
		in.Kind, in.Active = InServiceMode, rest[0] == "on"
		if verb == "walktest" {
			in.Kind = InWalkTest
		}
		return in, parseCommand(&in, rest[1:])
	case "mains":
		if len(rest) != 1 || (rest[0] != "off" && rest[0] != "on") {
			return in, fmt.Errorf("%w: mains off|on", ErrBadInput)
		}
		return Input{Kind: InMains, Active: rest[0] == "off", How: HowSystem}, nil
	case "lid":
		if len(rest) != 1 || (rest[0] != "open" && rest[0] != "close") {
			return in, fmt.Errorf("%w: lid open|close", ErrBadInput)
		}
		return Input{Kind: InReport, Device: HubDevice, Signal: SignalTamper, Active: rest[0] == "open"}, nil
	case "hub":
		if len(rest) != 2 || rest[0] != "battery" || (rest[1] != "low" && rest[1] != "ok") {
			return in, fmt.Errorf("%w: hub battery low|ok", ErrBadInput)
		}
		return Input{Kind: InHubBattery, Active: rest[1] == "low"}, nil
	case "uplink":
		if len(rest) != 2 || (rest[0] != "fault" && rest[0] != "ok") {
			return in, fmt.Errorf("%w: uplink fault|ok PATH", ErrBadInput)
		}
		return Input{Kind: InUplinkFault, Active: rest[0] == "fault", Path: rest[1]}, nil
	case "siren":
		if len(rest) != 1 || (rest[0] != "fault" && rest[0] != "ok") {
			return in, fmt.Errorf("%w: siren fault|ok", ErrBadInput)
		}
		return Input{Kind: InSirenFault, Active: rest[0] == "fault"}, nil
	}
	// Device signals.
	sig, active := SignalNone, true
	switch verb {
	case "open":
		sig = SignalContact
	case "close":
		sig, active = SignalContact, false
	default:
		for i, n := range signalNames {
			if i > 0 && n == verb {
				sig = Signal(i)
			}
		}
	}
	if sig == SignalNone {
		return in, fmt.Errorf("%w: unknown command %q (type help)", ErrBadInput, verb)
	}
	if len(rest) == 0 || len(rest) > 2 {
		return in, fmt.Errorf("%w: %s DEVICE [off]", ErrBadInput, verb)
	}
	if !findDevice(inst, rest[0]) {
		return in, fmt.Errorf("%s %q: %w", verb, rest[0], ErrUnknownDevice)
	}
	if len(rest) == 2 {
		switch rest[1] {
		case "off", "clear", "ok":
			active = false
		case "on":
		default:
			return in, fmt.Errorf("%w: %s %s: want on or off, not %q", ErrBadInput, verb, rest[0], rest[1])
		}
	}
	return Input{Kind: InReport, Device: rest[0], Signal: sig, Active: active}, nil
}

func parseArea(in *Input, f []string) error {
	if len(f) >= 2 && f[0] == "area" {
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("%w: area %q is not a number", ErrBadInput, f[1])
		}
		in.Area = n
		f = f[2:]
	}
	if len(f) > 0 {
		return fmt.Errorf("%w: unexpected %q", ErrBadInput, strings.Join(f, " "))
	}
	return nil
}

// parseCommand reads "[area N] [force] [DURATION] CREDENTIAL [via METHOD] [from IFACE]".
func parseCommand(in *Input, f []string) error {
	for len(f) > 0 {
		switch w := f[0]; {
		case w == "area" && len(f) > 1:
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return fmt.Errorf("%w: area %q is not a number", ErrBadInput, f[1])
			}
			in.Area, f = n, f[2:]
		case w == "force":
			in.Force, f = true, f[1:]
		case w == "by" && len(f) > 1:
			in.User, f = f[1], f[2:]
			if in.How == HowNone {
				in.How = HowWeb
			}
		case w == "tag" && len(f) > 1:
			in.Tag, f = f[1], f[2:]
			if in.How == HowNone {
				in.How = HowTag
			}
		case w == "via" && len(f) > 1:
			var h Method
			if err := h.UnmarshalText([]byte(f[1])); err != nil {
				return fmt.Errorf("%w: %v", ErrBadInput, err)
			}
			in.How, f = h, f[2:]
		case w == "from" && len(f) > 1:
			in.Iface, f = f[1], f[2:]
		case w[0] >= '0' && w[0] <= '9' && strings.ContainsAny(w, "smh") && in.Duration == 0:
			d, err := time.ParseDuration(w)
			if err != nil {
				return fmt.Errorf("%w: duration %q", ErrBadInput, w)
			}
			in.Duration, f = d, f[1:]
		default:
			if !ValidCode(w) {
				return fmt.Errorf("%q: %w", w, ErrMalformedCode)
			}
			in.Code, f = w, f[1:]
			if in.How == HowNone {
				in.How = HowKeypad
			}
		}
	}
	return nil
}

// ParseCredential reads a credential from the end of a console line: a code "1234", "tag ID"
// or "by USER", with optional "via METHOD" and "from IFACE". It is an error when none is given.
func ParseCredential(f []string) (Input, error) {
	var in Input
	if err := parseCommand(&in, f); err != nil {
		return in, err
	}
	if in.Code == "" && in.Tag == "" && in.User == "" {
		return in, ErrNoCredential
	}
	if in.Area != 0 || in.Force || in.Duration != 0 {
		return in, fmt.Errorf("%w: unexpected %q", ErrBadInput, strings.Join(f, " "))
	}
	return in, nil
}

func findDevice(inst *Installation, id string) bool {
	if id == HubDevice {
		return true
	}
	for _, d := range inst.Devices {
		if d.ID == id {
			return true
		}
	}
	return false
}

// findZone accepts a zone number, a zone name or the id of the zone's device.
func findZone(inst *Installation, s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	for _, z := range inst.Zones {
		if z.Name == s || z.Device == s {
			return z.Number, nil
		}
	}
	return 0, fmt.Errorf("zone %q: %w", s, ErrUnknownZone)
}
