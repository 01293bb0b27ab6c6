package hub

import (
	"errors"
	"strings"
	"testing"
)

// TestEngine_Photos: the history says that photos were taken or sent, in words; an empty
// or oversized note is bad input and logs nothing.
func TestEngine_Photos(t *testing.T) {
	eng := NewEngine(DemoInstallation(testKey), State{})
	effs, err := eng.Step(scenarioStart, Input{Kind: InPhotos, Area: 1, Path: "5 photos taken by hall for alarm #12"})
	if err != nil {
		t.Fatal(err)
	}
	evs := eventsOf(effs, KindPhotos)
	if len(effs) != 1 || len(evs) != 1 || evs[0].Kind != KindPhotos || evs[0].Report || evs[0].Area != 1 || !strings.Contains(evs[0].String(), "5 photos taken") {
		t.Fatalf("events %+v", evs)
	}
	for _, note := range []string{"", strings.Repeat("x", 201)} {
		if effs, err := eng.Step(scenarioStart, Input{Kind: InPhotos, Path: note}); !errors.Is(err, ErrBadInput) || len(effs) != 0 {
			t.Errorf("note of %d bytes: %v %+v", len(note), err, effs)
		}
	}
}
