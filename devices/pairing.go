package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
	"vakt/hub"
)

// Pairing errors.
var (
	ErrNotDiscovered = errors.New("no such discovered device")
	ErrPairing       = errors.New("pairing")
)

// discover records an unadopted device: always when its driver says it has joined
// (Zigbee), otherwise only while pairing, so a neighbour's 433 MHz sensor is not offered.
// The caller holds mu.
func (m *Manager) discover(k key, r Report) {
	pairing := r.Time.Before(m.pairUntil)
	dd := m.discovered[k]
	if dd == nil && !pairing && r.Model == "" {
		log, quiet := m.unknown.note(k, r.Time)
		if quiet > 0 {
			m.log.Info("messages from more devices not in the installation", "count", quiet)
		}
		if log {
			m.log.Info("message from a device not in the installation; pair it to adopt it", "driver", k.driver, "device", k.address)
		}
		return
	}
	if dd == nil {
		makeRoom(m.discovered)
		dd = &Discovered{Driver: k.driver, Address: k.address, FirstSeen: r.Time}
		m.discovered[k] = dd
		m.log.Info("device discovered", "driver", k.driver, "device", k.address, "model", r.Model)
	}
	dd.LastSeen = r.Time
	if pairing && dd.Area == 0 {
		dd.Area = m.pairArea
	}
	if r.Model != "" {
		dd.Model, dd.Vendor = r.Model, r.Vendor
	}
	for _, c := range r.Caps {
		if !slices.Contains(dd.Caps, c) {
			dd.Caps = append(dd.Caps, c)
		}
	}
	for _, s := range r.Signals {
		if c := capOf(s.Signal); c != "" && !slices.Contains(dd.Caps, c) {
			dd.Caps = append(dd.Caps, c)
		}
	}
	dd.Suggested, _ = SuggestZone(dd.Caps)
}

func capOf(s hub.Signal) Capability {
	switch s {
	case hub.SignalContact:
		return CapContact
	case hub.SignalMotion:
		return CapMotion
	case hub.SignalSmoke:
		return CapSmoke
	case hub.SignalWater:
		return CapWater
	case hub.SignalPanic:
		return CapPanic
	case hub.SignalTamper:
		return CapTamper
	case hub.SignalBatteryLow:
		return CapBattery
	}
	return ""
}

// Discovered lists devices seen but not adopted, newest first.
func (m *Manager) Discovered() []Discovered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Discovered
	for k, d := range m.discovered {
		if m.device(k) != nil {
			delete(m.discovered, k) // adopted meanwhile
			continue
		}
		c := *d
		c.Caps = slices.Clone(d.Caps)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out
}

// PairingStatus says whether pairing is open, for which area, and until when.
type PairingStatus struct {
	Active bool      `json:"active"`
	Area   int       `json:"area,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Left   time.Duration
}

// Pairing returns the pairing status at now.
func (m *Manager) Pairing(now time.Time) PairingStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.pairUntil) {
		return PairingStatus{}
	}
	return PairingStatus{Active: true, Area: m.pairArea, Until: m.pairUntil, Left: m.pairUntil.Sub(now)}
}

// StartPairing opens pairing on every driver (or the named one) for d, for devices to be
// adopted into area.
func (m *Manager) StartPairing(ctx context.Context, driver string, area int, d time.Duration) error {
	if d <= 0 || d > 10*time.Minute {
		return fmt.Errorf("%w: duration %s outside 1s–10m", ErrPairing, d)
	}
	var errs []error
	n := 0
	for name, drv := range m.drivers {
		if driver != "" && name != driver {
			continue
		}
		n++
		if err := drv.Pair(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no driver %q", ErrPairing, driver)
	}
	m.mu.Lock()
	m.pairUntil, m.pairArea = m.now().Add(d), area
	m.mu.Unlock()
	return errors.Join(errs...)
}

// Adoption is what the installer decides for a discovered device.
type Adoption struct {
	Driver, Address string
	// ID and Name default to the address.
	ID, Name string
	// Area defaults to the area pairing was open for when the device was seen, else the
	// one pairing is open for now, else 1.
	Area int
	// ZoneType defaults to the suggestion; Zone (number) to the next free one. Devices
	// that are not zones (sirens, keypads, plugs, locks) get no zone.
	ZoneType hub.ZoneType
	Zone     int
	// Chime and Interior are the zone's (hub.Zone).
	Chime, Interior bool
}

// Adopt adds a discovered device to the installation, with its zone, for the admin or granted
// installer whose credential by carries.
func (m *Manager) Adopt(ctx context.Context, by hub.Input, a Adoption) error {
	m.mu.Lock()
	dd := m.discovered[key{a.Driver, a.Address}]
	var disc Discovered
	if dd != nil {
		disc = *dd
	}
	m.mu.Unlock()
	if dd == nil {
		return fmt.Errorf("adopt %s %s: %w", a.Driver, a.Address, ErrNotDiscovered)
	}
	if a.ID == "" {
		a.ID = a.Address
	}
	if a.Name == "" {
		a.Name = a.ID
	}
	if a.Area == 0 {
		a.Area = disc.Area // the area pairing was open for when the device was seen
	}
	if a.Area == 0 {
		m.mu.Lock()
		if m.now().Before(m.pairUntil) {
			a.Area = m.pairArea // or is open for now
		}
		m.mu.Unlock()
	}
	a.Area = max(a.Area, 1)
	kind := "sensor"
	switch {
	case slices.Contains(disc.Caps, CapSiren):
		kind = "siren"
	case slices.Contains(disc.Caps, CapKeypad):
		kind = "keypad"
	case slices.Contains(disc.Caps, CapLock):
		kind = "lock"
	case slices.Contains(disc.Caps, CapSwitch):
		kind = "plug"
	}
	zt, isZone := a.ZoneType, a.ZoneType != 0
	if !isZone && kind == "sensor" {
		zt, isZone = SuggestZone(disc.Caps)
	}
	res := m.hub.Configure(ctx, by, fmt.Sprintf("adopt %s (%s %s) as %s", a.ID, a.Driver, disc.Model, kind), func(inst *hub.Installation) error {
		dev := hub.Device{ID: a.ID, Name: a.Name, Driver: a.Driver, Model: disc.Model, Address: a.Address, Kind: kind}
		if kind != "sensor" || !isZone {
			dev.Area = a.Area // a zone's sensor takes the zone's area; one without (a thermometer) is the area's own
		}
		inst.Devices = append(inst.Devices, dev)
		if isZone {
			n := a.Zone
			if n == 0 {
				for _, z := range inst.Zones {
					n = max(n, z.Number)
				}
				n++
			}
			inst.Zones = append(inst.Zones, hub.Zone{Number: n, Name: a.Name, Area: a.Area, Type: zt, Device: a.ID, Chime: a.Chime, Interior: a.Interior})
		}
		return nil
	})
	if res.Err != nil {
		return res.Err
	}
	m.mu.Lock()
	delete(m.discovered, key{a.Driver, a.Address})
	m.mu.Unlock()
	return nil
}

// Remove takes a device and its zone out of the installation, for the admin or granted
// installer whose credential by carries.
func (m *Manager) Remove(ctx context.Context, by hub.Input, id string) error {
	return m.hub.Configure(ctx, by, "remove "+id, func(inst *hub.Installation) error {
		i := slices.IndexFunc(inst.Devices, func(d hub.Device) bool { return d.ID == id })
		if i < 0 {
			return fmt.Errorf("remove %q: %w", id, hub.ErrUnknownDevice)
		}
		inst.Devices = slices.Delete(inst.Devices, i, i+1)
		inst.Zones = slices.DeleteFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == id })
		return nil
	}).Err
}
