package homekit

import (
	"fmt"
	"slices"
	"testing"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestPlanFor_ServicesAndStableIDs(t *testing.T) {
	inst := hub.DemoInstallation(make([]byte, 32))
	temp := 21.5
	p := planFor(inst, map[string]devices.Health{"living_window": {Temperature: &temp}})
	kinds := map[string][]string{}
	aids := map[string]uint64{}
	for _, d := range p.devices {
		kinds[d.id], aids[d.id] = d.kinds, d.aid
	}
	for id, want := range map[string][]string{
		"front_door":     {kindContact},
		"living_motion":  {kindMotion},
		"living_window":  {kindContact, kindTemp},
		"kitchen_smoke":  {kindSmoke},
		"bathroom_water": {kindLeak},
		"coffee_plug":    {kindOutlet},
		"front_lock":     {kindLock},
	} {
		if !slices.Equal(kinds[id], want) {
			t.Errorf("%s: %v, want %v", id, kinds[id], want)
		}
	}
	if _, ok := kinds["hall_siren"]; ok {
		t.Error("a siren is bridged")
	}
	if len(p.areas) != 2 {
		t.Fatalf("areas %d, want 2", len(p.areas))
	}

	// Removing a device and adding another leaves every other id as it was.
	inst.Devices = slices.DeleteFunc(inst.Devices, func(d hub.Device) bool { return d.ID == "front_door" })
	inst.Devices = append([]hub.Device{{ID: "new_plug", Name: "New plug", Kind: "plug"}}, inst.Devices...)
	q := planFor(inst, nil)
	for _, d := range q.devices {
		if was, ok := aids[d.id]; ok && was != d.aid {
			t.Errorf("%s: id %d, was %d", d.id, d.aid, was)
		}
		if d.aid < 2 || d.aid >= 1<<53 {
			t.Errorf("%s: id %d out of range", d.id, d.aid)
		}
	}
}

func TestPlanFor_NamesDevicesBeyondTheLimit(t *testing.T) {
	inst := &hub.Installation{Name: "Big", Areas: []hub.Area{{Number: 1, Name: "Home"}}}
	for i := range MaxAccessories + 5 {
		inst.Devices = append(inst.Devices, hub.Device{ID: fmt.Sprintf("plug%03d", i), Name: fmt.Sprintf("Plug %d", i), Kind: "plug"})
	}
	p := planFor(inst, nil)
	if len(p.areas)+len(p.devices) != MaxAccessories {
		t.Fatalf("bridged %d, want %d", len(p.areas)+len(p.devices), MaxAccessories)
	}
	if len(p.left) != 6 || p.left[0] != "Plug 99 (plug099)" {
		t.Fatalf("left %v", p.left)
	}
}

func TestBridge_RebuildsWhenDevicesChange(t *testing.T) {
	r := newRig(t, Config{})
	before := r.served()
	door := r.device("front_door").plan.aid
	res := r.h.Configure(t.Context(), hub.Input{User: "anna", How: hub.HowWeb}, "add a plug", func(in *hub.Installation) error {
		in.Devices = append(in.Devices, hub.Device{ID: "kettle_plug", Name: "Kettle", Driver: "sim", Kind: "plug", Area: 1})
		return nil
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "the bridge is rebuilt with the kettle", func() bool {
		br := r.served()
		return br != nil && br != before && slices.ContainsFunc(br.devices, func(d *deviceAccessory) bool { return d.plan.id == "kettle_plug" })
	})
	if got := r.device("front_door").plan.aid; got != door {
		t.Fatalf("front door id %d, was %d", got, door)
	}
	r.want(1, stateDisarmed, targetDisarm)
}
