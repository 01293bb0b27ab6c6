package devices_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// feedbackDriver stands in for the simulator's driver and records the keypad feedback it is
// asked to send (the answers to keypad requests carry their transaction).
type feedbackDriver struct {
	feedback chan devices.Command
}

var _ devices.Driver = (*feedbackDriver)(nil)

func (d *feedbackDriver) Name() string                              { return "sim" }
func (d *feedbackDriver) Run(ctx context.Context) error             { <-ctx.Done(); return nil }
func (d *feedbackDriver) Pair(context.Context, time.Duration) error { return nil }
func (d *feedbackDriver) Send(_ context.Context, c devices.Command) error {
	if c.Kind == devices.CmdKeypadState && c.Transaction != 0 {
		d.feedback <- c
	}
	return nil
}

// TestManager_KeypadActionsKeepTheirOrder: an arm and a disarm typed on one keypad, back to
// back, are carried out in that order, every time: the area ends disarmed, and the keypad
// hears the exit delay and then the disarm.
func TestManager_KeypadActionsKeepTheirOrder(t *testing.T) {
	r := start(t)
	d := &feedbackDriver{feedback: make(chan devices.Command, 4)}
	r.mgr.AddDriver(d) // in the sim's place
	tx := 0
	for i := range 100 {
		for _, action := range []string{"arm_away", "disarm"} {
			tx++
			r.mgr.Report(devices.Report{Driver: "sim", Address: "hall_keypad", Keypad: &devices.KeypadAction{Action: action, Code: "1234", Transaction: tx}})
		}
		var got []string
		for range 2 {
			select {
			case c := <-d.feedback:
				got = append(got, fmt.Sprintf("%d %s", c.Transaction, c.KeypadState))
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: keypad feedback %v, then nothing", i, got)
			}
		}
		if want := []string{fmt.Sprintf("%d exit_delay", tx-1), fmt.Sprintf("%d disarm", tx)}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: keypad feedback %v, want %v", i, got, want)
		}
		if a := r.hub.Snapshot().State.Areas[0]; a.Mode != hub.ModeDisarmed {
			t.Fatalf("round %d: area 1 %s after arm then disarm", i, a.Mode)
		}
	}
}
