package hub

import (
	"fmt"
	"time"
)

// report applies a device report.
func (e *Engine) report(now time.Time, in Input) error {
	if in.Device == HubDevice && in.Signal == SignalTamper {
		if e.st.HubTamper == in.Active {
			return nil
		}
		e.st.HubTamper = in.Active
		e.tamper(now, nil, HubDevice, 0, in.Active)
		return nil
	}
	di, ok := e.deviceIdx[in.Device]
	if !ok {
		return fmt.Errorf("report from %q: %w", in.Device, ErrUnknownDevice)
	}
	ds := &e.st.Devices[di]
	var area *AreaState
	zone := 0
	if zi := e.zoneOf[di]; zi >= 0 {
		area = &e.st.Areas[e.areaIdx[e.inst.Zones[zi].Area]]
		zone = e.inst.Zones[zi].Number
	} else if d := e.inst.Devices[di]; d.Area != 0 {
		area = &e.st.Areas[e.areaIdx[d.Area]]
	}
	areaNo := 0
	if area != nil {
		areaNo = area.Number
	}
	switch in.Signal {
	case SignalContact, SignalMotion, SignalSmoke, SignalWater, SignalPanic:
		if zi := e.zoneOf[di]; zi >= 0 {
			e.zone(now, zi, in.Signal, in.Active, in.At)
		}
	case SignalTamper:
		if ds.Tamper != in.Active {
			ds.Tamper = in.Active
			e.tamper(now, area, in.Device, zone, in.Active)
		}
	case SignalBatteryLow:
		if ds.BatteryLow != in.Active {
			ds.BatteryLow = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceBatteryLow, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalMissing:
		if ds.Missing != in.Active {
			ds.Missing = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceMissing, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalFault:
		if ds.Fault != in.Active {
			ds.Fault = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindDeviceFault, Restore: !in.Active, Report: true, Zone: zone, Device: in.Device})
		}
	case SignalJamming:
		if ds.Jamming != in.Active {
			ds.Jamming = in.Active
			e.emit(Event{Time: now, Area: areaNo, Kind: KindJamming, Restore: !in.Active, Report: true, Device: in.Device})
		}
	default:
		return fmt.Errorf("%w: report from %q with no signal", ErrBadInput, in.Device)
	}
	return nil
}

// zone applies the primary signal of the zone at index zi; at is when the device sent it
// (zero: unknown).
func (e *Engine) zone(now time.Time, zi int, sig Signal, active bool, at time.Time) {
	z := &e.inst.Zones[zi]
	zs := &e.st.Zones[zi]
	if zs.Active == active {
		return // repeated state, as Zigbee2MQTT and rtl_433 send
	}
	zs.Active = active
	e.zoneChanged = true // on its own, written later (ZoneChanged)
	a := &e.st.Areas[e.areaIdx[z.Area]]
	if !active {
		if zs.Out {
			e.changed = true // the zone is back in: alarm state, durable at once
		}
		zs.Out = false
		switch z.Type {
		case ZoneFire:
			e.emit(Event{Time: now, Area: a.Number, Kind: KindFire, Restore: true, Report: true, Zone: z.Number, Device: z.Device})
		case ZoneTechnical:
			e.emit(Event{Time: now, Area: a.Number, Kind: technicalKind(sig), Restore: true, Report: true, Zone: z.Number, Device: z.Device})
		case ZoneTamper:
			e.tamper(now, a, z.Device, z.Number, false)
		}
		return
	}
	walk := !e.st.WalkUntil.IsZero()
	if walk {
		e.emit(Event{Time: now, Area: a.Number, Kind: KindWalkActivation, Zone: z.Number, Device: z.Device, Note: z.Name})
	}
	if a.bypassed(z.Number) {
		return
	}
	switch z.Type {
	case ZoneFire:
		// Fire alarms in every mode, also during a walk test: a test never hides a fire.
		e.alarm(now, a, KindFire, z.Number, z.Device, false)
		return
	case ZonePanic:
		if walk {
			return
		}
		e.alarm(now, a, KindPanic, z.Number, z.Device, false)
		if z.Audible {
			conf := &e.inst.Areas[e.areaIdx[a.Number]]
			if a.Siren == SirenOff {
				e.setSiren(a, SirenEmergency, now.Add(e.inst.bellCutoff(conf)))
				a.Mode = ModeTriggered
			}
		}
		return
	case ZoneTechnical:
		if walk {
			return
		}
		e.alarm(now, a, technicalKind(sig), z.Number, z.Device, false)
		return
	case ZoneTamper:
		if walk {
			return
		}
		e.tamper(now, a, z.Device, z.Number, true)
		return
	}
	// Intrusion zones.
	if walk {
		return
	}
	if a.Set == ModeDisarmed {
		if z.Chime {
			e.out = append(e.out, Effect{Kind: EffectChime, Area: a.Number, Zone: z.Number})
		}
		return
	}
	if !z.armedIn(a.Set) || zs.Out {
		return
	}
	if !at.IsZero() && at.Before(a.ArmedAt) && now.Sub(at) > MaxClockSkew {
		// Sent before the area was armed and long ago (a retained or cached state read again
		// after a restart): stale news, the zone's state only. A report within MaxClockSkew
		// of now is taken as new, so a device clock that lags vakt's a little hides nothing.
		return
	}
	e.intrusion(now, a, z, zs)
}

// entryNote is the entry delay event's note, made once per delay so that a sensor report
// starting the entry delay allocates nothing.
func (e *Engine) entryNote(d time.Duration) string {
	if n, ok := e.notes[d]; ok {
		return n
	}
	if e.notes == nil {
		e.notes = map[time.Duration]string{}
	}
	n := d.String() + " to disarm"
	e.notes[d] = n
	return n
}
