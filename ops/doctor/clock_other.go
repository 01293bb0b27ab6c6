//go:build !linux

package doctor

import (
	"errors"
	"fmt"
	"runtime"
)

// kernelClock is not known outside Linux: vakt's gateways run Linux.
func kernelClock() (ClockState, error) {
	return ClockState{}, fmt.Errorf("%s: %w", runtime.GOOS, errors.ErrUnsupported)
}
