package hub

import (
	"testing"
	"time"
)

// benchEngine returns an engine over the demo installation at scenarioStart, with the lines
// applied.
func benchEngine(b *testing.B, lines ...string) (*Engine, time.Time) {
	b.Helper()
	inst := DemoInstallation(testKey)
	e := NewEngine(inst, State{})
	now := scenarioStart
	for _, l := range lines {
		if d, err := time.ParseDuration(l); err == nil {
			now = now.Add(d)
			l = "" // a tick
		}
		var in Input
		if l != "" {
			var err error
			if in, err = ParseLine(inst, l); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := e.Step(now, in); err != nil {
			b.Fatalf("%s: %v", l, err)
		}
	}
	return e, now
}

// BenchmarkStep_SensorReport is the engine's common path: a device report. Each Step is one
// report; the target is under 2 µs and at most 1 allocation.
func BenchmarkStep_SensorReport(b *testing.B) {
	// Open and close alternate, so every report changes the zone's state.
	openClose := func(b *testing.B, e *Engine, now time.Time, device string, sig Signal) {
		b.Helper()
		in := [2]Input{
			{Kind: InReport, Device: device, Signal: sig, Active: true},
			{Kind: InReport, Device: device, Signal: sig},
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.Step(now, in[i&1]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("disarmed_door", func(b *testing.B) {
		// The front door chimes when it opens.
		e, now := benchEngine(b)
		openClose(b, e, now, "front_door", SignalContact)
	})
	b.Run("disarmed_motion", func(b *testing.B) {
		e, now := benchEngine(b)
		openClose(b, e, now, "living_motion", SignalMotion)
	})
	b.Run("armed_home_interior", func(b *testing.B) {
		// Moving about inside while the perimeter is armed.
		e, now := benchEngine(b, "arm home by anna", "61s")
		openClose(b, e, now, "living_motion", SignalMotion)
	})
	b.Run("armed_repeat", func(b *testing.B) {
		// The same state again, as Zigbee2MQTT and rtl_433 resend it.
		e, now := benchEngine(b, "arm away by anna", "61s")
		in := Input{Kind: InReport, Device: "living_window", Signal: SignalContact}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Step(now, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("alarm", func(b *testing.B) {
		// An instant zone opens in an armed house: burglary, siren, report. The state is put
		// back by hand after each Step, so that every Step raises the same alarm.
		e, now := benchEngine(b, "arm away by anna", "61s")
		open := Input{Kind: InReport, Device: "living_window", Signal: SignalContact, Active: true}
		st := e.State()
		a := &st.Areas[e.areaIdx[1]]
		zs := &st.Zones[e.zoneIdx[3]]
		b.ReportAllocs()
		for b.Loop() {
			effs, err := e.Step(now, open)
			if err != nil || len(effs) != 2 {
				b.Fatalf("%v: %d effects", err, len(effs))
			}
			a.Mode, a.Siren, a.SirenUntil, a.ReportedAt = ModeArmedAway, SirenOff, time.Time{}, time.Time{}
			a.Memory = a.Memory[:0]
			zs.Active, zs.Trips = false, 0
		}
	})
	b.Run("entry_delay", func(b *testing.B) {
		// The front door opens in an armed house: the entry delay starts.
		e, now := benchEngine(b, "arm away by anna", "61s")
		open := Input{Kind: InReport, Device: "front_door", Signal: SignalContact, Active: true}
		st := e.State()
		a := &st.Areas[e.areaIdx[1]]
		zs := &st.Zones[e.zoneIdx[1]]
		b.ReportAllocs()
		for b.Loop() {
			effs, err := e.Step(now, open)
			if err != nil || len(effs) != 1 {
				b.Fatalf("%v: %d effects", err, len(effs))
			}
			a.Mode, a.EntryUntil = ModeArmedAway, time.Time{}
			zs.Active, zs.Trips = false, 0
		}
	})
}

// BenchmarkStep_ArmWithCode arms and disarms with a PIN code: the keyed hash of the code
// dominates. For information; a person types a code at most every few seconds.
func BenchmarkStep_ArmWithCode(b *testing.B) {
	e, now := benchEngine(b)
	in := [2]Input{
		{Kind: InArm, Area: 1, Mode: ModeArmedAway, Code: "1234", How: HowKeypad, Iface: "hall_keypad"},
		{Kind: InDisarm, Area: 1, Code: "1234", How: HowKeypad, Iface: "hall_keypad"},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.Step(now, in[i&1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStep_Tick is the run loop's timer with nothing due.
func BenchmarkStep_Tick(b *testing.B) {
	e, now := benchEngine(b, "arm away by anna", "mains off")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Step(now, Input{Kind: InTick}); err != nil {
			b.Fatal(err)
		}
	}
}
