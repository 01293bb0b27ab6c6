package hub

import (
	"testing"
	"time"
)

func TestState_SirenFor(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	area := func(n int, p SirenPattern, until time.Time) AreaState {
		return AreaState{Number: n, Siren: p, SirenUntil: until}
	}
	type want struct {
		p     SirenPattern
		until time.Time
	}
	for _, tc := range []struct {
		name  string
		areas []AreaState
		want  map[int]want // by area
		box   SirenPattern
	}{
		{"all quiet", []AreaState{area(1, SirenOff, time.Time{}), area(2, SirenOff, time.Time{})},
			map[int]want{1: {SirenOff, time.Time{}}, 2: {SirenOff, time.Time{}}}, SirenOff},
		{"burglary stays in its area", []AreaState{area(1, SirenOff, time.Time{}), area(2, SirenBurglar, at(3))},
			map[int]want{1: {SirenOff, time.Time{}}, 2: {SirenBurglar, at(3)}}, SirenBurglar},
		{"panic stays in its area", []AreaState{area(1, SirenEmergency, at(3)), area(2, SirenOff, time.Time{})},
			map[int]want{1: {SirenEmergency, at(3)}, 2: {SirenOff, time.Time{}}}, SirenEmergency},
		{"fire in the garage sounds the house", []AreaState{area(1, SirenOff, time.Time{}), area(2, SirenFire, at(3))},
			map[int]want{1: {SirenFire, at(3)}, 2: {SirenFire, at(3)}}, SirenFire},
		{"fire beats the house's own burglary", []AreaState{area(1, SirenBurglar, at(2)), area(2, SirenFire, at(3))},
			map[int]want{1: {SirenFire, at(3)}, 2: {SirenFire, at(3)}}, SirenFire},
		{"two fires: until the later", []AreaState{area(1, SirenFire, at(5)), area(2, SirenFire, at(3)), area(3, SirenOff, time.Time{})},
			map[int]want{1: {SirenFire, at(5)}, 2: {SirenFire, at(5)}, 3: {SirenFire, at(5)}}, SirenFire},
		{"burglar beats emergency on the box", []AreaState{area(1, SirenEmergency, at(3)), area(2, SirenBurglar, at(3))},
			map[int]want{1: {SirenEmergency, at(3)}, 2: {SirenBurglar, at(3)}}, SirenBurglar},
		{"an area not in the state is quiet", []AreaState{area(1, SirenBurglar, at(3))},
			map[int]want{9: {SirenOff, time.Time{}}}, SirenBurglar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &State{Areas: tc.areas}
			for n, w := range tc.want {
				p, until := s.SirenFor(n)
				if p != w.p || !until.Equal(w.until) {
					t.Errorf("area %d: %s until %s, want %s until %s", n, p, until.Format("15:04"), w.p, w.until.Format("15:04"))
				}
			}
			if got := s.BoxSiren(); got != tc.box {
				t.Errorf("box siren %s, want %s", got, tc.box)
			}
		})
	}
}
