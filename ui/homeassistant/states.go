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
	zoneState := make(map[int]bool, len(snap.State.Zones))
	for _, zs := range snap.State.Zones {
		zoneState[zs.Number] = zs.Active
	}
	zoneActive := make(map[string]bool, len(snap.Installation.Zones))
	for _, z := range snap.Installation.Zones {
		zoneActive[z.Device] = zoneState[z.Number]
	}
	devState := make(map[string]hub.DeviceState, len(snap.State.Devices))
	for _, ds := range snap.State.Devices {
		devState[ds.ID] = ds
	}
	for _, d := range snap.Installation.Devices {
		s, ok := p.slugs[d.ID]
		if !ok {
			continue
		}
		ds := devState[d.ID]
		h := health[d.ID]
		var st deviceState
		if active, zoned := zoneActive[d.ID]; zoned {
			st.Zone = onOff(active)
		}
		if d.Kind != "plug" && d.Kind != "lock" {
			st.Tamper = onOff(ds.Tamper)
		}
		st.Temperature, st.Battery = h.Temperature, h.Battery
		switch d.Kind {
		case "plug":
			st.Switch = null // unknown until the plug reports
			if h.Switch != nil {
				st.Switch = quoted(onOff(*h.Switch))
			}
		case "lock":
			st.Lock = null
			if h.Lock != "" {
				st.Lock = quoted(strings.ToUpper(h.Lock))
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

// deviceState is a device's retained state: each entity's value_template reads its key.
// A plug's switch and a lock's state are null while unknown (Home Assistant shows
// unknown); the other keys are there only when the device has them.
type deviceState struct {
	Battery     *int            `json:"battery,omitempty"`
	Lock        json.RawMessage `json:"lock,omitempty"`
	Switch      json.RawMessage `json:"switch,omitempty"`
	Tamper      string          `json:"tamper,omitempty"`
	Temperature *float64        `json:"temperature,omitempty"`
	Zone        string          `json:"zone,omitempty"`
}

var null = json.RawMessage("null")

func quoted(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func onOff(v bool) string {
	if v {
		return on
	}
	return off
}
