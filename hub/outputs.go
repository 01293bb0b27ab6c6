package hub

import (
	"fmt"
	"time"
)

// Which output does what is alarm policy (DESIGN §3), so it is derived here, from the state
// alone: the device manager, the Zigbee sirens and keypads and the box's relay, strobe and LED
// only carry it out. The run loop hands it to the outputs as soon as a step decides it, before
// the commit.

// Outputs is what every local output shows for one state.
type Outputs struct {
	// Areas has one entry per area of the state, in its order.
	Areas []AreaOutputs
	// Box is the gateway's own siren relay, strobe and status LED, shared by every area.
	Box BoxOutputs
}

// AreaOutputs is what the sirens, strobes and keypads of one area show.
type AreaOutputs struct {
	Area int
	// Siren is what the area's sirens play, until SirenUntil (the bell cut-off).
	Siren      SirenPattern
	SirenUntil time.Time
	// Strobe flashes while the area's sirens sound.
	Strobe bool
	// Keypad is what the area's keypads display; during a delay they count down to
	// KeypadUntil.
	Keypad      KeypadDisplay
	KeypadUntil time.Time
}

// BoxOutputs is what the gateway box's one siren relay, strobe and status LED show.
type BoxOutputs struct {
	Siren  SirenPattern
	Strobe bool
	LED    Indicator
}

// KeypadDisplay is what a keypad shows for its area; the names are Zigbee2MQTT's keypad
// states, which every keypad driver maps from.
type KeypadDisplay string

// Keypad displays.
const (
	KeypadDisarmed   KeypadDisplay = "disarm"
	KeypadNotArmed   KeypadDisplay = "not_ready" // an exit delay was cancelled: NOT ARMED, never silent
	KeypadExitDelay  KeypadDisplay = "exit_delay"
	KeypadEntryDelay KeypadDisplay = "entry_delay"
	KeypadInAlarm    KeypadDisplay = "in_alarm"
	KeypadArmedAway  KeypadDisplay = "arm_away"
	KeypadArmedHome  KeypadDisplay = "arm_home"
	KeypadArmedNight KeypadDisplay = "arm_night"
)

// Indicator is what a status light shows.
type Indicator uint8

// Indicator states.
const (
	IndicatorOff Indicator = iota
	IndicatorOn
	IndicatorBlink
)

var indicatorNames = [...]string{"off", "on", "blink"}

// String returns the indicator's name.
func (i Indicator) String() string {
	if int(i) < len(indicatorNames) {
		return indicatorNames[i]
	}
	return fmt.Sprintf("indicator(%d)", uint8(i))
}

// Outputs derives what every local output shows from the state: a fire anywhere sounds every
// siren (SirenFor), the box plays the most urgent pattern (BoxSiren), strobes flash while
// their sirens sound, keypads show their area's mode, and the box's LED is on while an area
// is armed and blinks during delays and alarms.
func (s *State) Outputs() Outputs {
	o := Outputs{Areas: make([]AreaOutputs, len(s.Areas))}
	o.Box.Siren = s.BoxSiren()
	o.Box.Strobe = o.Box.Siren != SirenOff
	for i := range s.Areas {
		a := &s.Areas[i]
		ao := AreaOutputs{Area: a.Number}
		ao.Siren, ao.SirenUntil = s.SirenFor(a.Number)
		if ao.Siren == SirenOff {
			ao.SirenUntil = time.Time{}
		}
		ao.Strobe = ao.Siren != SirenOff
		ao.Keypad, ao.KeypadUntil = a.keypad()
		o.Areas[i] = ao
		switch {
		case a.Mode == ModeArming || a.Mode == ModePending || a.Mode == ModeTriggered:
			o.Box.LED = IndicatorBlink
		case a.Set.Armed() && o.Box.LED == IndicatorOff:
			o.Box.LED = IndicatorOn
		}
	}
	return o
}

// Area returns the outputs of area n, and false when the state has no such area.
func (o *Outputs) Area(n int) (AreaOutputs, bool) {
	for _, a := range o.Areas {
		if a.Area == n {
			return a, true
		}
	}
	return AreaOutputs{Area: n, Keypad: KeypadDisarmed}, false
}

// keypad is what the area's keypads show, and the end of the delay they count down.
func (a *AreaState) keypad() (KeypadDisplay, time.Time) {
	switch a.Mode {
	case ModeDisarmed:
		if a.NotArmed != "" {
			return KeypadNotArmed, time.Time{}
		}
	case ModeArming:
		return KeypadExitDelay, a.ExitUntil
	case ModePending:
		return KeypadEntryDelay, a.EntryUntil
	case ModeTriggered:
		return KeypadInAlarm, time.Time{}
	case ModeArmedAway:
		return KeypadArmedAway, time.Time{}
	case ModeArmedHome:
		return KeypadArmedHome, time.Time{}
	case ModeArmedNight:
		return KeypadArmedNight, time.Time{}
	}
	return KeypadDisarmed, time.Time{}
}

// SirenFor is what the sirens of area play, and until when: the fire pattern while any
// area's siren sounds fire (a fire in the garage sounds the house's sirens too, until the
// latest fire siren's cut-off), otherwise the area's own siren. Burglary and panic stay in
// their own area. When the area with the fire is silenced, every siren that sounded fire
// because of it goes back to its own area's pattern.
func (s *State) SirenFor(area int) (SirenPattern, time.Time) {
	var (
		fire      bool
		fireUntil time.Time
		own       SirenPattern
		ownUntil  time.Time
	)
	for i := range s.Areas {
		a := &s.Areas[i]
		if a.Siren == SirenFire {
			fire = true
			if a.SirenUntil.After(fireUntil) {
				fireUntil = a.SirenUntil
			}
		}
		if a.Number == area {
			own, ownUntil = a.Siren, a.SirenUntil
		}
	}
	if fire {
		return SirenFire, fireUntil
	}
	return own, ownUntil
}

// BoxSiren is what the gateway box's one siren relay plays for every area: fire beats
// burglar, burglar beats the emergency tone of a panic, and off is last.
func (s *State) BoxSiren() SirenPattern {
	p := SirenOff
	for i := range s.Areas {
		if q := s.Areas[i].Siren; sirenRank(q) > sirenRank(p) {
			p = q
		}
	}
	return p
}

// sirenRank orders patterns by urgency for a siren shared by every area.
func sirenRank(p SirenPattern) int {
	switch p {
	case SirenFire:
		return 3
	case SirenBurglar:
		return 2
	case SirenEmergency:
		return 1
	}
	return 0
}
