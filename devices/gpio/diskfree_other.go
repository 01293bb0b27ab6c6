//go:build !(linux || darwin || freebsd)

package gpio

import (
	"errors"
	"fmt"
)

// diskFree is not implemented on this system; the disk watch reports a fault, so leave
// gpio.disk.path empty here.
func diskFree(path string) (uint64, error) {
	return 0, fmt.Errorf("free space of %s: %w", path, errors.ErrUnsupported)
}
