package doctor

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// kernelClock reads the clock discipline with adjtimex(2) (read-only: no modes set), and
// with timedatectl where adjtimex is refused.
func kernelClock() (ClockState, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		out, terr := exec.Command("timedatectl", "show", "-p", "NTPSynchronized", "--value").Output()
		if terr != nil {
			return ClockState{}, fmt.Errorf("adjtimex: %w; timedatectl: %w", err, terr)
		}
		return ClockState{Synced: strings.TrimSpace(string(out)) == "yes", Source: "timedatectl"}, nil
	}
	unit := time.Microsecond
	if tx.Status&unix.STA_NANO != 0 {
		unit = time.Nanosecond
	}
	return ClockState{
		Synced:   tx.Status&unix.STA_UNSYNC == 0 && state != unix.TIME_ERROR,
		MaxError: time.Duration(int64(tx.Maxerror)) * time.Microsecond,
		EstError: time.Duration(int64(tx.Esterror)) * time.Microsecond,
		Offset:   time.Duration(int64(tx.Offset)) * unit,
		Source:   "adjtimex",
	}, nil
}
