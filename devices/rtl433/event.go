package rtl433

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"vakt/devices"
	"vakt/hub"
)

// Decoding errors.
var (
	// ErrNoModel means a payload is JSON but not a device event (no "model"), such as the
	// statistics rtl_433 writes with -M stats.
	ErrNoModel = errors.New("no model: not an rtl_433 device event")
	// ErrField means a field of an event could not be read; the rest of it was.
	ErrField = errors.New("unreadable field")
)

// lowBattery is the "battery_ok" below which a battery is low: rtl_433 writes 0 (low) or
// 1 (ok), and a fraction for models that report a level.
const lowBattery = 0.25

// event is one rtl_433 JSON event, numbers kept as json.Number.
type event map[string]any

func parseEvent(payload []byte) (event, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var e event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("json: data after the event")
	}
	if e == nil {
		return nil, errors.New("json: null, want an object")
	}
	return e, nil
}

// ident returns a field used in an address: rtl_433 writes ids and channels as numbers
// (decimal, whatever the decoder's display format) or strings.
func (e event) ident(name string) (string, bool) {
	switch v := e[name].(type) {
	case json.Number:
		return v.String(), true
	case string:
		return v, v != ""
	}
	return "", false
}

// Address returns the vakt address of a device: "Model/id", or "Model/id/channel" for
// models that have channels. A model without ids is one device.
func Address(model, id, channel string) string {
	a := model
	if id != "" {
		a += "/" + id
	}
	if channel != "" {
		a += "/" + channel
	}
	return a
}

// signals collects a report's signals, each once: the first reading wins.
type signals []devices.SignalValue

func (s *signals) add(sig hub.Signal, active bool) {
	if slices.ContainsFunc(*s, func(v devices.SignalValue) bool { return v.Signal == sig }) {
		return
	}
	*s = append(*s, devices.SignalValue{Signal: sig, Active: active})
}

// truth reads a field as on or off.
func truth(v any) (bool, error) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return false, err
		}
		return f != 0, nil
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on", "open", "opened":
			return true, nil
		case "0", "false", "no", "off", "closed", "close":
			return false, nil
		}
	}
	return false, fmt.Errorf("%v is neither on nor off", v)
}

// Decode reads one rtl_433 event into a report of what the device says, with the model's
// name, vendor and capabilities. A payload that names no device returns an error and an
// empty Address. An event with an unreadable field returns the report without that field
// and an error wrapping ErrField.
func Decode(payload []byte) (devices.Report, error) {
	r := devices.Report{Driver: Name}
	e, err := parseEvent(payload)
	if err != nil {
		return r, err
	}
	name, ok := e["model"].(string)
	if !ok || name == "" {
		return r, ErrNoModel
	}
	id, ok := e.ident("id")
	if !ok {
		id, _ = e.ident("code") // models that only have a code word as identity
	}
	channel, _ := e.ident("channel")
	r.Address = Address(name, id, channel)
	r.Model = name

	m, known := Lookup(name)
	if !known {
		m = unknownModel
	}
	r.Vendor = m.Vendor
	var s signals
	var errs []error
	if m.decode != nil {
		if err := m.decode(e, &s); err != nil {
			errs = append(errs, err)
		}
	}
	if m.CodeField != "" {
		if v, ok := e[m.CodeField]; ok {
			for _, c := range m.Codes {
				if matches(c, v) {
					for _, sv := range c.Set {
						s.add(sv.Signal, sv.Active)
					}
				}
			}
		}
	}
	for _, f := range m.Fields {
		v, ok := e[f.Name]
		if !ok {
			if f.AbsentInactive {
				s.add(f.Signal, false)
			}
			continue
		}
		on, err := truth(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
			continue
		}
		s.add(f.Signal, on != f.Invert)
	}
	if v, ok := e["battery_ok"]; ok {
		n, _ := v.(json.Number)
		if f, err := n.Float64(); err == nil {
			s.add(hub.SignalBatteryLow, f < lowBattery)
			if f > 0 && f < 1 {
				pct := int(math.Round(f * 100))
				r.Battery = &pct
			}
		} else {
			errs = append(errs, fmt.Errorf("battery_ok: %v is not a number", v))
		}
	}
	if t, ok, err := temperature(e); err != nil {
		errs = append(errs, err)
	} else if ok {
		r.Temperature = &t
	}
	r.Signals = s

	caps := slices.Clone(m.Caps)
	for _, sv := range s {
		if c := capOf(sv.Signal); c != "" && !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	if r.Temperature != nil && !slices.Contains(caps, devices.CapTemperature) {
		caps = append(caps, devices.CapTemperature)
	}
	r.Caps = caps
	if len(errs) > 0 {
		return r, fmt.Errorf("%s: %w: %w", r.Address, ErrField, errors.Join(errs...))
	}
	return r, nil
}

// matches says whether a code field's value is c.
func matches(c Code, v any) bool {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return err == nil && c.Text == "" && n == c.Int
	case string:
		return c.Text != "" && v == c.Text
	}
	return false
}

// temperature reads temperature_C, or temperature_F for models that write only that.
func temperature(e event) (float64, bool, error) {
	for _, f := range []struct {
		name    string
		celsius func(float64) float64
	}{
		{"temperature_C", func(c float64) float64 { return c }},
		{"temperature_F", func(f float64) float64 { return math.Round((f-32)*5/9*100) / 100 }},
	} {
		v, ok := e[f.name]
		if !ok {
			continue
		}
		n, _ := v.(json.Number)
		t, err := n.Float64()
		if err != nil {
			return 0, false, fmt.Errorf("%s: %v is not a number", f.name, v)
		}
		return f.celsius(t), true, nil
	}
	return 0, false, nil
}

// capOf is the capability a signal shows a device has.
func capOf(s hub.Signal) devices.Capability {
	switch s {
	case hub.SignalContact:
		return devices.CapContact
	case hub.SignalMotion:
		return devices.CapMotion
	case hub.SignalSmoke:
		return devices.CapSmoke
	case hub.SignalWater:
		return devices.CapWater
	case hub.SignalPanic:
		return devices.CapPanic
	case hub.SignalTamper:
		return devices.CapTamper
	case hub.SignalBatteryLow:
		return devices.CapBattery
	}
	return ""
}
