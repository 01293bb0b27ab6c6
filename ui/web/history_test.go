package web

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestPrefilter_NeverRulesOutAMatch: over a generated history of ordinary days, every event
// a filter matches is a candidate by its stored JSON, and rawTime reads every event's time.
func TestPrefilter_NeverRulesOutAMatch(t *testing.T) {
	st := hubtest.OpenStore(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local)
	if err := hub.GenerateHistory(st, hub.DemoInstallation([]byte("0123456789abcdef")), 3000, start); err != nil {
		t.Fatal(err)
	}
	filters := []historyFilter{{}, {Kinds: []string{"disarm"}}, {Kinds: []string{"arm"}}, {Kinds: []string{"fire"}}, {Kinds: []string{"arm", "disarm"}, User: "erik"}, {User: "erik"}, {User: "anna", Area: 1},
		{Area: 2}, {Area: 1}, {Device: "front_door"}, {Kinds: []string{"entry_delay"}, Device: "front_door"}}
	matched := map[int]int{}
	n, err := st.HistoryRaw(0, 1<<30, func(seq uint64, raw []byte) bool {
		var ev hub.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("event %d: %v", seq, err)
		}
		if tm, ok := rawTime(raw); !ok || !tm.Equal(ev.Time) {
			t.Fatalf("event %d: rawTime %v %v, want %v in %s", seq, tm, ok, ev.Time, raw)
		}
		for i, f := range filters {
			if f.match(ev) {
				matched[i]++
				if !f.prefilter().candidate(raw) {
					t.Fatalf("filter %+v rules out event %s, which it matches", f, raw)
				}
			}
		}
		return true
	})
	if err != nil || n < 3000 {
		t.Fatalf("visited %d events: %v", n, err)
	}
	for i, f := range filters[1:] {
		if matched[i+1] == 0 && !slices.Contains(f.Kinds, "fire") {
			t.Errorf("filter %+v matched nothing: the test tests nothing with it", f)
		}
	}
}
