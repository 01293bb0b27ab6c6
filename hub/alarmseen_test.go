package hub

import (
	"errors"
	"testing"
)

// TestEngine_AlarmSeen: a user who has seen an alarm's notification (an SMS reply, a
// Pushover acknowledgement) is logged once per area of theirs in alarm, with who and how;
// the siren and the alarm memory stay. Nothing to see, a stranger or someone else's area
// is refused and logs nothing.
func TestEngine_AlarmSeen(t *testing.T) {
	tests := []struct {
		name     string
		alarm    bool // a burglary in the house (area 1) first
		in       Input
		err      error
		wantArea []int
	}{
		{"nothing to see", false, Input{Kind: InAlarmSeen, User: "erik", How: HowSMS}, ErrNothingToAck, nil},
		{"by SMS, every area", true, Input{Kind: InAlarmSeen, User: "erik", How: HowSMS, Path: "+46709876543"}, nil, []int{1}},
		{"in Pushover, the area", true, Input{Kind: InAlarmSeen, Area: 1, User: "anna", How: HowPushover}, nil, []int{1}},
		{"the quiet garage", true, Input{Kind: InAlarmSeen, Area: 2, User: "anna", How: HowSMS}, ErrNothingToAck, nil},
		{"no such area", true, Input{Kind: InAlarmSeen, Area: 9, User: "anna", How: HowSMS}, ErrUnknownArea, nil},
		{"a stranger", true, Input{Kind: InAlarmSeen, User: "mallory", How: HowSMS}, ErrUnknownUser, nil},
		{"nobody", true, Input{Kind: InAlarmSeen, How: HowSMS}, ErrNoCredential, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newEngineRig(t, nil)
			if tc.alarm {
				r.armNow("away")
				if effs := r.must("open living_window"); len(eventsOf(effs, KindBurglary)) != 1 {
					t.Fatalf("no burglary:\n%s", renderAll(effs))
				}
			}
			before := r.eng.State()
			effs, err := r.step(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			seen := eventsOf(effs, KindAlarmSeen)
			if len(seen) != len(tc.wantArea) {
				t.Fatalf("seen events:\n%s", renderAll(effs))
			}
			for i, ev := range seen {
				if ev.Area != tc.wantArea[i] || ev.User != tc.in.User || ev.How != tc.in.How || ev.Note != tc.in.Path || ev.Report {
					t.Errorf("event %+v", ev)
				}
			}
			after := r.eng.State()
			if after.Areas[0].Mode != before.Areas[0].Mode || len(after.Areas[0].Memory) != len(before.Areas[0].Memory) {
				t.Errorf("seeing changed the area: %+v → %+v", before.Areas[0], after.Areas[0])
			}
			if tc.alarm && after.Areas[0].Mode != ModeTriggered {
				t.Errorf("mode %s after seeing", after.Areas[0].Mode)
			}
		})
	}
}
