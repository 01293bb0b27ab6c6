package homeassistant

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// BenchmarkBridge_Sync250 is what the bridge does for each committed step of a house with
// 250 devices (zones with temperature and battery): plan the entities and build every
// retained state, as sync does before comparing them with what it sent.
func BenchmarkBridge_Sync250(b *testing.B) {
	inst := &hub.Installation{Name: "Big house", CodeKey: make([]byte, 32), Areas: []hub.Area{{Number: 1, Name: "House"}}}
	health := map[string]devices.Health{}
	for i := range 250 {
		id := fmt.Sprintf("dev_%03d", i)
		inst.Devices = append(inst.Devices, hub.Device{ID: id, Name: id, Driver: "zigbee2mqtt", Model: "contact"})
		inst.Zones = append(inst.Zones, hub.Zone{Number: i + 1, Name: id, Area: 1, Type: hub.ZoneInstant, Device: id})
		t, bat := 20.5, 90
		health[id] = devices.Health{Temperature: &t, Battery: &bat}
	}
	h, _ := hubtest.StartHub(b, hubtest.StorePath(b), inst, hub.Options{Now: hubtest.NewClock(hubtest.T0).Now})
	br := New(DefaultConfig(), mqttclient.Config{URL: "tcp://127.0.0.1:1"}, h, nil, Options{HealthEvery: time.Hour})
	snap := h.Snapshot()
	p := br.planFor(snap.Installation, health)
	// A step: what sync does for every committed snapshot, the plan being unchanged.
	b.Run("step", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if keyOf(snap.Installation, health).inst == nil || len(br.states(&p, snap, health)) < 500 {
				b.Fatal("states missing")
			}
		}
	})
	// A change of the installation: plan the entities and marshal every config.
	b.Run("replan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := br.planFor(snap.Installation, health)
			for _, e := range p.entities {
				if _, err := json.Marshal(e.config); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
