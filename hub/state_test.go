package hub

import (
	"errors"
	"strings"
	"testing"
)

func TestSirenPattern_Text(t *testing.T) {
	for _, p := range []SirenPattern{SirenOff, SirenBurglar, SirenEmergency, SirenFire} {
		b, err := p.MarshalText()
		if err != nil {
			t.Fatalf("%d: %v", p, err)
		}
		var got SirenPattern
		if err := got.UnmarshalText(b); err != nil || got != p {
			t.Errorf("%s: round trip gave %s, %v", b, got, err)
		}
	}
}

// An unknown pattern is an error that names it, never a silent "off".
func TestSirenPattern_UnknownIsError(t *testing.T) {
	got := SirenBurglar
	err := got.UnmarshalText([]byte("whoop"))
	if !errors.Is(err, ErrUnknownSirenPattern) || !strings.Contains(err.Error(), `"whoop"`) {
		t.Errorf("unmarshal whoop: %v, want an error naming it", err)
	}
	if got != SirenBurglar {
		t.Errorf("a failed unmarshal changed the pattern to %s", got)
	}
	if _, err := SirenPattern(7).MarshalText(); !errors.Is(err, ErrUnknownSirenPattern) || !strings.Contains(err.Error(), "7") {
		t.Errorf("marshal pattern 7: %v, want an error naming it", err)
	}
	if s := SirenPattern(7).String(); !strings.Contains(s, "7") {
		t.Errorf("String of pattern 7 is %q, want it named", s)
	}
}

func TestMethod_HomeAssistantRoundTrip(t *testing.T) {
	b, err := HowHomeAssistant.MarshalText()
	if err != nil || string(b) != "home_assistant" {
		t.Fatalf("MarshalText: %q, %v", b, err)
	}
	var m Method
	if err := m.UnmarshalText(b); err != nil || m != HowHomeAssistant {
		t.Fatalf("UnmarshalText: %v, %v", m, err)
	}
	// Methods are numbered in memory: a new one goes last, leaving the others alone.
	if HowHomeAssistant <= HowSystem {
		t.Fatal("HowHomeAssistant must come after HowSystem")
	}
}

// The console and the log show an event's how by its name.
func TestEvent_StringHomeAssistant(t *testing.T) {
	ev := Event{Seq: 7, Area: 1, Kind: KindDisarm, User: "anna", How: HowHomeAssistant}
	if s := ev.String(); !strings.Contains(s, "by anna via home_assistant") {
		t.Fatalf("%q", s)
	}
}
