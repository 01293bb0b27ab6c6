//go:build linux || darwin || freebsd

package gpio

import (
	"fmt"
	"syscall"
)

// diskFree returns the bytes an unprivileged process can still write on path's filesystem.
func diskFree(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
