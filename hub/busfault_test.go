package hub

import (
	"errors"
	"testing"
)

// TestEngine_BusFault: a driver off its broker past the grace is a fault reported to the
// station (Contact ID 333, SIA ET, restore ER) that prevents arming by default, and only
// once per driver; its return restores it.
func TestEngine_BusFault(t *testing.T) {
	r := newEngineRig(t, nil)
	effs, err := r.step(Input{Kind: InBusFault, Active: true, Device: "zigbee2mqtt", Path: "connection lost: EOF"})
	if err != nil {
		t.Fatal(err)
	}
	evs := eventsOf(effs, KindBusFault)
	if len(evs) != 1 || evs[0].Kind != KindBusFault || !evs[0].Report || evs[0].ContactID != 333 || evs[0].SIA != "ET" || evs[0].Device != "zigbee2mqtt" {
		t.Fatalf("bus fault events: %+v", evs)
	}
	if effs, _ := r.step(Input{Kind: InBusFault, Active: true, Device: "zigbee2mqtt"}); len(eventsOf(effs, KindBusFault)) != 0 {
		t.Errorf("the same fault raised twice: %+v", eventsOf(effs, KindBusFault))
	}
	rs := r.eng.Readiness(1, ModeArmedAway)
	if len(rs) != 1 || rs[0].Kind != "bus" || rs[0].Warn || rs[0].String() != "device bus lost: zigbee2mqtt" {
		t.Fatalf("readiness %+v", rs)
	}
	var refused *ArmRefusedError
	if _, err := r.try("arm away 1234"); !errors.As(err, &refused) {
		t.Fatalf("armed with the bus lost: %v", err)
	}
	effs, _ = r.step(Input{Kind: InBusFault, Active: false, Device: "zigbee2mqtt"})
	if evs := eventsOf(effs, KindBusFault); len(evs) != 1 || !evs[0].Restore || evs[0].SIA != "ER" || evs[0].Qualifier() != 3 {
		t.Fatalf("bus restore events: %+v", evs)
	}
	if rs := r.eng.Readiness(1, ModeArmedAway); len(rs) != 0 {
		t.Errorf("readiness after the restore: %+v", rs)
	}
	r.must("arm away 1234")
}
