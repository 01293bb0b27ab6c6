package gpio

import (
	"fmt"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// dummyLine is the line periph's gpioioctl registers on systems without GPIO chips, so
// that its own tests pass. It is not a GPIO.
const dummyLine = "DummyGPIOLine"

// HostInit loads periph's host drivers, which register this host's pins and I²C buses. ok
// is false on a host with no GPIO at all (a laptop, CI): main should then say once that it
// runs without wired I/O. Call it once, before Config.Validate and New; tests, which
// register fake pins, do not call it.
func HostInit() (ok bool, err error) {
	if _, err := host.Init(); err != nil {
		return false, fmt.Errorf("load periph host drivers: %w", err)
	}
	for _, p := range gpioreg.All() {
		if p.Name() != dummyLine {
			return true, nil
		}
	}
	return false, nil
}
