package gpio

import (
	"context"

	"vakt/hub"
)

// Follow drives the box's siren relay, strobe and status LED from the hub's snapshots until
// ctx ends or the subscription closes. The box has one siren for every area; which pattern
// it plays is the hub's decision (hub.State.BoxSiren). The LED is on while an area is armed
// and blinks during exit and entry delays and alarms.
func (d *Driver) Follow(ctx context.Context, sub *hub.Subscription) {
	playing, led := hub.SirenPattern(255), LEDMode(255)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return
		}
		p, l := BoxOutputs(u.Snapshot)
		if p != playing {
			playing = p
			if err := d.SetSiren(p); err != nil {
				d.log.Error("box siren", "error", err)
			}
		}
		if l != led {
			led = l
			if err := d.SetLED(l); err != nil {
				d.log.Error("box LED", "error", err)
			}
		}
	}
}

// BoxOutputs is what the box's siren and LED show for a snapshot.
func BoxOutputs(s *hub.Snapshot) (hub.SirenPattern, LEDMode) {
	p, l := s.State.BoxSiren(), LEDOff
	for _, a := range s.State.Areas {
		switch {
		case a.Mode == hub.ModeArming || a.Mode == hub.ModePending || a.Mode == hub.ModeTriggered:
			l = LEDBlink
		case a.Set.Armed() && l == LEDOff:
			l = LEDOn
		}
	}
	return p, l
}
