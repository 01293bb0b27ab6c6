package homeassistant

import (
	"encoding/json"
	"slices"
	"strings"

	"vakt/devices"
	"vakt/hub"
)

// areaState is the alarm panel state Home Assistant shows for an area. vakt's modes are
// Home Assistant's states by name: disarmed, arming (exit delay), armed_home, armed_away,
// armed_night, pending (entry delay) and triggered (until the bell cut-off, when the area
// returns to its armed mode by itself).
func areaState(a *hub.AreaState) string {
	switch a.Mode {
	case hub.ModeDisarmed, hub.ModeArming, hub.ModeArmedAway, hub.ModeArmedHome, hub.ModeArmedNight, hub.ModePending, hub.ModeTriggered:
		return a.Mode.String()
	}
	return hub.ModeDisarmed.String()
}

// areaAttributes are shown with an area's panel: who set its mode and how, what keeps it
// from arming, and its unacknowledged alarms.
type areaAttributes struct {
	ChangedBy   string   `json:"changed_by"`
	How         string   `json:"how"`
	Ready       bool     `json:"ready"`
	NotReady    []string `json:"not_ready"`
	AlarmMemory int      `json:"alarm_memory"`
	NotArmed    string   `json:"not_armed,omitempty"`
}

// states returns every retained state message of the plan: each area's state and
// attributes, and each device's state and availability.
func (b *Bridge) states(p *plan, snap *hub.Snapshot, health map[string]devices.Health) map[string][]byte {
	t := b.topics
	out := map[string][]byte{}
	for i := range snap.State.Areas {
		a := &snap.State.Areas[i]
		out[t.area(a.Number)] = []byte(areaState(a))
		attrs := areaAttributes{ChangedBy: a.User, How: a.How.String(), Ready: len(snap.Ready[a.Number]) == 0, NotReady: []string{},
			AlarmMemory: len(a.Memory) + len(a.FireMemory), NotArmed: a.NotArmed}
		for _, r := range snap.Ready[a.Number] {
			attrs.NotReady = append(attrs.NotReady, r.String())
		}
		out[t.areaAttributes(a.Number)], _ = json.Marshal(attrs)
	}
	zoneActive := map[string]bool{}
	for _, z := range snap.Installation.Zones {
		if i := slices.IndexFunc(snap.State.Zones, func(zs hub.ZoneState) bool { return zs.Number == z.Number }); i >= 0 {
			zoneActive[z.Device] = snap.State.Zones[i].Active
		}
	}
	for _, d := range snap.Installation.Devices {
		s, ok := p.slugs[d.ID]
		if !ok {
			continue
		}
		var ds hub.DeviceState
		if i := slices.IndexFunc(snap.State.Devices, func(x hub.DeviceState) bool { return x.ID == d.ID }); i >= 0 {
			ds = snap.State.Devices[i]
		}
		h := health[d.ID]
		st := map[string]any{}
		if active, zoned := zoneActive[d.ID]; zoned {
			st["zone"] = onOff(active)
		}
		if d.Kind != "plug" && d.Kind != "lock" {
			st["tamper"] = onOff(ds.Tamper)
		}
		if h.Temperature != nil {
			st["temperature"] = *h.Temperature
		}
		if h.Battery != nil {
			st["battery"] = *h.Battery
		}
		switch d.Kind {
		case "plug":
			st["switch"] = nil // unknown until the plug reports
			if h.Switch != nil {
				st["switch"] = onOff(*h.Switch)
			}
		case "lock":
			st["lock"] = nil
			if h.Lock != "" {
				st["lock"] = strings.ToUpper(h.Lock)
			}
		}
		out[t.device(s)], _ = json.Marshal(st)
		avail := online
		if ds.Missing || slices.Contains(snap.State.BusFaults, d.Driver) {
			avail = offline
		}
		out[t.deviceAvail(s)] = []byte(avail)
	}
	return out
}

func onOff(v bool) string {
	if v {
		return on
	}
	return off
}
