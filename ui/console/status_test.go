package console

import (
	"strings"
	"testing"
	"time"

	"vakt/hub"
)

// The status says when the next schedule runs, in the installation's zone, and why a
// scheduled arming was refused.
func TestStatus_Schedules(t *testing.T) {
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	st := hub.State{
		Areas:      []hub.AreaState{{Number: 1, NotArmed: "open: Bedroom window", NotArmedHow: hub.HowSchedule}, {Number: 2, NotArmed: "Garage door"}},
		ScheduleAt: time.Date(2026, 11, 24, 20, 55, 0, 0, time.UTC),
	}
	got := status(&hub.Snapshot{Installation: inst, State: st}, now)
	for _, want := range []string{
		"NOT ARMED: the scheduled arming was refused: open: Bedroom window",
		"NOT ARMED: Garage door tripped during the exit delay",
		"next schedule: Tue 21:55 CET",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
}
