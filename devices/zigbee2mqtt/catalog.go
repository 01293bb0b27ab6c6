package zigbee2mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"vakt/devices"
)

// device is what vakt keeps of one entry of <base>/bridge/devices.
// It is remembered across restarts as JSON (see Memory).
type device struct {
	IEEE   string               `json:"ieee"`
	Name   string               `json:"name"`
	Model  string               `json:"model,omitempty"`
	Vendor string               `json:"vendor,omitempty"`
	Caps   []devices.Capability `json:"caps,omitempty"`
	// Gettable is set when a state feature (plug, lock) has the GET access bit, so that
	// vakt may ask for it after a reconnect.
	Gettable bool `json:"gettable,omitempty"`
	// SirenModes are the warning modes the definition lists; empty means any.
	SirenModes []string `json:"siren_modes,omitempty"`
	// Squawk is set when the device exposes the IAS WD squawk (a short beep).
	Squawk bool `json:"squawk,omitempty"`
}

// signature says whether a device's description changed since it was last reported.
func (d *device) signature() string {
	var b strings.Builder
	b.WriteString(d.Model)
	b.WriteByte(0)
	b.WriteString(d.Vendor)
	for _, c := range d.Caps {
		b.WriteByte(0)
		b.WriteString(string(c))
	}
	return b.String()
}

// catalog is one reading of <base>/bridge/devices: IEEE address ↔ friendly name, and what each
// device can do.
type catalog struct {
	byIEEE map[string]*device
	byName map[string]*device
}

// ZCL access bits as Zigbee2MQTT publishes them in exposes.
const (
	accessState = 1
	accessSet   = 2
	accessGet   = 4
)

// bridgeDevice is the part of a bridge/devices entry vakt reads.
type bridgeDevice struct {
	IEEE         string `json:"ieee_address"`
	Name         string `json:"friendly_name"`
	Type         string `json:"type"`
	ModelID      string `json:"model_id"`
	Manufacturer string `json:"manufacturer"`
	Definition   *struct {
		Model   string   `json:"model"`
		Vendor  string   `json:"vendor"`
		Exposes []expose `json:"exposes"`
	} `json:"definition"`
}

// expose is one entry of a definition's exposes (zigbee-herdsman-converters' lib/exposes).
type expose struct {
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Property string   `json:"property"`
	Access   int      `json:"access"`
	Values   []any    `json:"values"`
	Features []expose `json:"features"`
}

// capOrder keeps Caps in one order whatever the order of exposes.
var capOrder = []devices.Capability{
	devices.CapContact, devices.CapMotion, devices.CapSmoke, devices.CapWater, devices.CapPanic,
	devices.CapTamper, devices.CapBattery, devices.CapTemperature, devices.CapSwitch,
	devices.CapLock, devices.CapSiren, devices.CapKeypad,
}

// keypadModes are the action values of an IAS ACE keypad's arm command.
var keypadModes = []string{"arm_all_zones", "arm_day_zones", "arm_night_zones", "disarm"}

// parseCatalog reads a bridge/devices payload. Entries it cannot read are skipped and
// returned as errors; the coordinator is left out.
func parseCatalog(payload []byte) (*catalog, []error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, []error{fmt.Errorf("bridge/devices: %w", err)}
	}
	c := &catalog{byIEEE: make(map[string]*device, len(raw)), byName: make(map[string]*device, len(raw))}
	var errs []error
	for i, r := range raw {
		var bd bridgeDevice
		if err := json.Unmarshal(r, &bd); err != nil {
			errs = append(errs, fmt.Errorf("bridge/devices[%d]: %w", i, err))
			continue
		}
		if bd.Type == "Coordinator" {
			continue
		}
		if !isIEEE(bd.IEEE) {
			errs = append(errs, fmt.Errorf("bridge/devices[%d]: ieee_address %q", i, bd.IEEE))
			continue
		}
		d := &device{IEEE: strings.ToLower(bd.IEEE), Name: bd.Name, Model: bd.ModelID, Vendor: bd.Manufacturer}
		if d.Name == "" {
			d.Name = bd.IEEE // Zigbee2MQTT's own default
		}
		if def := bd.Definition; def != nil {
			d.Model, d.Vendor = def.Model, def.Vendor
			describe(d, def.Exposes)
		}
		c.byIEEE[d.IEEE] = d
		c.byName[d.Name] = d
	}
	return c, errs
}

// describe derives capabilities and command support from a definition's exposes.
func describe(d *device, exposes []expose) {
	var caps []devices.Capability
	add := func(c devices.Capability) {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	var walk func(es []expose, parent string)
	walk = func(es []expose, parent string) {
		for _, e := range es {
			switch e.Type {
			case "switch":
				add(devices.CapSwitch)
			case "lock":
				add(devices.CapLock)
			}
			if e.Name == "state" && (parent == "switch" || parent == "lock") && e.Access&accessGet != 0 {
				d.Gettable = true
			}
			switch e.Name {
			case "contact":
				add(devices.CapContact)
			case "occupancy":
				add(devices.CapMotion)
			case "smoke":
				add(devices.CapSmoke)
			case "water_leak":
				add(devices.CapWater)
			case "tamper":
				add(devices.CapTamper)
			case "battery", "battery_low":
				add(devices.CapBattery)
			case "temperature":
				add(devices.CapTemperature)
			case "warning":
				if e.Type == "composite" {
					add(devices.CapSiren)
					for _, f := range e.Features {
						if f.Name == "mode" {
							d.SirenModes = enumStrings(f.Values)
						}
					}
				}
			case "squawk":
				d.Squawk = e.Type == "composite"
			case "action":
				vs := enumStrings(e.Values)
				switch {
				case slices.ContainsFunc(keypadModes, func(m string) bool { return slices.Contains(vs, m) }):
					add(devices.CapKeypad)
				case slices.Contains(vs, "emergency") || slices.Contains(vs, "panic"):
					add(devices.CapPanic)
				}
			}
			walk(e.Features, e.Type)
		}
	}
	walk(exposes, "")
	if slices.Contains(caps, devices.CapKeypad) {
		caps = slices.DeleteFunc(caps, func(c devices.Capability) bool { return c == devices.CapPanic })
	}
	d.Caps = d.Caps[:0]
	for _, c := range capOrder {
		if slices.Contains(caps, c) {
			d.Caps = append(d.Caps, c)
		}
	}
}

// enumStrings keeps the string values of an enum (some enums hold numbers).
func enumStrings(vs []any) []string {
	var out []string
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseGroups reads the friendly names of <base>/bridge/groups: their state topics are not
// devices.
func parseGroups(payload []byte) (map[string]bool, error) {
	var gs []struct {
		Name string `json:"friendly_name"`
	}
	if err := json.Unmarshal(payload, &gs); err != nil {
		return nil, fmt.Errorf("bridge/groups: %w", err)
	}
	out := make(map[string]bool, len(gs))
	for _, g := range gs {
		out[g.Name] = true
	}
	return out, nil
}

// isIEEE reports whether s is written as Zigbee2MQTT writes IEEE addresses: 0x and 16 hex
// digits. A device nobody renamed has its IEEE address as friendly name.
func isIEEE(s string) bool {
	if len(s) != 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i] | 0x20
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// jsonObject reports whether a payload is a JSON object (not a bare string, number or list).
func jsonObject(p []byte) bool {
	p = bytes.TrimLeft(p, " \t\r\n")
	return len(p) > 0 && p[0] == '{'
}
