package hub

import (
	"fmt"
	"time"
)

// inService reports whether area a is in service mode; for the hub itself (a nil), whether
// any area is and none is armed.
func (e *Engine) inService(a *AreaState) bool {
	if a != nil {
		return !a.ServiceUntil.IsZero()
	}
	any := false
	for i := range e.st.Areas {
		ar := &e.st.Areas[i]
		if ar.Set.Armed() {
			return false
		}
		any = any || !ar.ServiceUntil.IsZero()
	}
	return any
}

// serviceAreas returns the areas a service mode command is for: in.Area, or every area for
// area 0.
func (e *Engine) serviceAreas(in Input) ([]*AreaState, error) {
	if in.Area == 0 {
		as := make([]*AreaState, len(e.st.Areas))
		for i := range e.st.Areas {
			as[i] = &e.st.Areas[i]
		}
		return as, nil
	}
	a, _, err := e.area(in.Area)
	if err != nil {
		return nil, err
	}
	return []*AreaState{a}, nil
}

// serviceMode starts or ends service mode (renovation, battery change) in an area: tamper
// there is history only. It starts only in a disarmed area, so that tamper in an armed area
// is always an alarm; arming ends it for that area.
func (e *Engine) serviceMode(now time.Time, in Input) error {
	areas, err := e.serviceAreas(in)
	if err != nil {
		return err
	}
	if in.Active {
		d := or(in.Duration, DefaultServiceTime)
		if d < 0 || d > MaxServiceTime {
			return fmt.Errorf("%w: service mode %s outside 0–%s", ErrBadInput, d, MaxServiceTime)
		}
		for _, a := range areas {
			if a.Set != ModeDisarmed || a.Mode != ModeDisarmed {
				return fmt.Errorf("%w: %s is %s", ErrServiceArmed, areaLabel(a.Number, e.inst.Areas[e.areaIdx[a.Number]].Name), a.Mode)
			}
		}
		u, err := e.installer(now, in)
		if err != nil {
			return err
		}
		for _, a := range areas {
			a.ServiceUntil = now.Add(d)
			e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "for " + d.String()})
		}
		return nil
	}
	on := false
	for _, a := range areas {
		on = on || !a.ServiceUntil.IsZero()
	}
	if !on {
		return fmt.Errorf("%w: service mode is not on", ErrBadInput)
	}
	u, err := e.installer(now, in)
	if err != nil {
		return err
	}
	for _, a := range areas {
		if !a.ServiceUntil.IsZero() {
			a.ServiceUntil = time.Time{}
			e.emit(Event{Time: now, Area: a.Number, Kind: KindServiceMode, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
		}
	}
	return nil
}

func (e *Engine) walkTest(now time.Time, in Input) error {
	if in.Active {
		for i := range e.st.Areas {
			if e.st.Areas[i].Set != ModeDisarmed {
				return ErrWalkTestArmed
			}
		}
		d := or(in.Duration, DefaultWalkTest)
		if d < 0 || d > time.Hour {
			return fmt.Errorf("%w: walk test %s outside 0–1h", ErrBadInput, d)
		}
		u, err := e.installer(now, in)
		if err != nil {
			return err
		}
		e.st.WalkUntil = now.Add(d)
		e.emit(Event{Time: now, Kind: KindWalkTest, Report: true, UserNumber: u.Number, User: u.ID, How: in.How, Note: "for " + d.String()})
		return nil
	}
	if e.st.WalkUntil.IsZero() {
		return fmt.Errorf("%w: no walk test running", ErrBadInput)
	}
	u, err := e.installer(now, in)
	if err != nil {
		return err
	}
	e.st.WalkUntil = time.Time{}
	e.emit(Event{Time: now, Kind: KindWalkTest, Restore: true, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
	return nil
}

func (e *Engine) manualTest(now time.Time, in Input) error {
	u, _, err := e.operator(now, in, 0, false)
	if err != nil {
		return err
	}
	e.emit(Event{Time: now, Kind: KindManualTest, Report: true, UserNumber: u.Number, User: u.ID, How: in.How})
	return nil
}
