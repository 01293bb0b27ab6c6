package hub

import (
	"fmt"
	"time"
)

// GenerateHistory appends at least n events of a family's ordinary days to the store by
// stepping a real engine, so the state and the log agree, committing in batches. It makes
// the large stores that benchmarks and later issues measure against.
func GenerateHistory(s *Store, inst *Installation, n int, start time.Time) error {
	if stored, err := s.Installation(); err != nil {
		return err
	} else if stored == nil {
		if err := s.SaveInstallation(inst); err != nil {
			return err
		}
	} else {
		inst = stored
	}
	st, _, err := s.State()
	if err != nil {
		return err
	}
	eng := NewEngine(inst, st)
	day := []struct {
		wait time.Duration
		line string
	}{
		{0, "arm away by anna"},
		{61 * time.Second, ""},
		{8 * time.Hour, "open front_door"},
		{10 * time.Second, "disarm 5678"},
		{5 * time.Second, "close front_door"},
		{time.Hour, "battery_low garage_motion"},
		{time.Minute, "battery_low garage_motion off"},
		{time.Hour, "arm home 1234"},
		{61 * time.Second, ""},
		{9 * time.Hour, "disarm tag 04A1B2C3"},
	}
	now := start
	var batch []Event
	made := 0
	for made < n {
		for _, step := range day {
			now = now.Add(step.wait)
			in := Input{Kind: InTick}
			if step.line != "" {
				if in, err = ParseLine(inst, step.line); err != nil {
					return fmt.Errorf("generate history: %w", err)
				}
			}
			effs, err := eng.Step(now, in)
			if err != nil {
				return fmt.Errorf("generate history: %s: %w", step.line, err)
			}
			for _, e := range effs {
				if e.Kind == EffectEvent {
					batch = append(batch, e.Event)
				}
			}
		}
		if len(batch) >= 1000 || made+len(batch) >= n {
			if err := s.Commit(eng.State(), batch); err != nil {
				return err
			}
			made += len(batch)
			batch = batch[:0]
		}
	}
	return nil
}
