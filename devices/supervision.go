package devices

import (
	"context"
	"time"
	"vakt/hub"
)

// DefaultCheckIn is how long a device may stay silent before it is missing (DESIGN §2 item 15).
const DefaultCheckIn = 2 * time.Hour

// CheckInner is implemented by drivers that know a model's own check-in interval (rtl_433
// sensors with heartbeats).
type CheckInner interface {
	CheckIn(model string) time.Duration
}

// heldMissing marks missing the devices the hub still holds missing (from before a
// restart), so that a device's first message restores it (DESIGN §2 item 15).
func (m *Manager) heldMissing() {
	snap := m.hub.Snapshot()
	if snap == nil || snap.Installation == nil {
		return
	}
	missing := map[string]bool{}
	for _, ds := range snap.State.Devices {
		if ds.Missing {
			missing[ds.ID] = true
		}
	}
	for _, d := range snap.Installation.Devices {
		if missing[d.ID] {
			m.health[key{d.Driver, d.AddressOrID()}] = &Health{Missing: true}
		}
	}
}

// Supervise marks devices silent past their check-in window as missing. Housekeeping takes
// now as an argument so tests pass any time they like.
func (m *Manager) Supervise(ctx context.Context, now time.Time) {
	inst := m.hub.Snapshot().Installation
	var missing []string
	m.mu.Lock()
	for _, d := range inst.Devices {
		drv := m.drivers[d.Driver]
		if drv == nil {
			continue
		}
		window := d.CheckIn.D()
		if window == 0 {
			if ci, ok := drv.(CheckInner); ok {
				window = ci.CheckIn(d.Model)
			}
		}
		if window == 0 {
			window = m.checkIn
		}
		k := key{d.Driver, d.AddressOrID()}
		h := m.health[k]
		if h == nil {
			h = &Health{}
			m.health[k] = h
		}
		last := h.LastSeen
		if last.IsZero() {
			last = m.started // a device gets a full window after vakt starts
		}
		if !h.Missing && now.Sub(last) > window {
			h.Missing = true
			missing = append(missing, d.ID)
		}
	}
	m.mu.Unlock()
	for _, id := range missing {
		m.log.Warn("device missing: silent past its check-in window", "device", id)
		m.submit(ctx, hub.Input{Kind: hub.InReport, Device: id, Signal: hub.SignalMissing, Active: true})
	}
}
