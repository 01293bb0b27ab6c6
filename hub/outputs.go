package hub

import "time"

// Which sirens sound what is alarm policy (DESIGN §3), so it is derived here, from the state,
// and the device manager and the box's relay only carry it out.

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
