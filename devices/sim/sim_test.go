package sim

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"vakt/devices"
	"vakt/hub"
)

type nopSink struct{}

func (nopSink) Report(devices.Report)                       {}
func (nopSink) Malformed(driver, address string, err error) {}
func (nopSink) Stale(driver, address, why string)           {}

// A siren command with a pattern the simulator does not know is an error naming it; the
// simulated siren prints nothing rather than an empty sound.
func TestSim_UnknownSirenPattern(t *testing.T) {
	var out bytes.Buffer
	s := New(nopSink{}, &out)
	err := s.Send(t.Context(), devices.Command{Kind: devices.CmdSiren, Address: "hall_siren", Pattern: hub.SirenPattern(9)})
	if !errors.Is(err, hub.ErrUnknownSirenPattern) || !strings.Contains(err.Error(), "9") {
		t.Fatalf("send pattern 9: %v, want an unknown-pattern error naming it", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q for an unknown pattern", out.String())
	}
}
