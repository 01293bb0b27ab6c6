//go:build !linux

package notify

import (
	"errors"
	"os"
)

func openSerial(path string, baud int) (*os.File, error) {
	return nil, errors.New("open modem: serial ports are supported on Linux only")
}
