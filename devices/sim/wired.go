package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"vakt/devices/gpio"
	"vakt/hub"
)

// Wired is the demo's panel box: fake GPIO pins (periph's gpiotest) and a fake MAX17048
// fuel gauge on a fake I²C bus, so that the real gpio driver runs in the demo with its
// debounce, normally-closed loops, siren relay patterns and battery hysteresis.
type Wired struct {
	pins  map[string]*gpiotest.Pin
	names []string
	gauge *fakeGauge
}

// Pin names the demo's box uses (registered under these names while the demo runs).
const (
	PinBackDoor = "SIM_GPIO17"
	PinLid      = "SIM_GPIO27"
	PinMains    = "SIM_GPIO22"
	PinSiren    = "SIM_GPIO23"
	PinStrobe   = "SIM_GPIO24"
	PinLED      = "SIM_GPIO25"
	gaugeBus    = "sim-i2c"
)

// NewWired registers the fake pins and returns the gpio config and options that use them:
// a wired back door (normally closed), the lid switch, the mains sense line, the siren
// relay, strobe and LED, and the gauge polled every second.
func NewWired(dataDir string) (*Wired, gpio.Config, []gpio.Option, error) {
	w := &Wired{pins: map[string]*gpiotest.Pin{}, gauge: &fakeGauge{percent: 87}}
	for i, n := range []string{PinBackDoor, PinLid, PinMains, PinSiren, PinStrobe, PinLED} {
		p := &gpiotest.Pin{N: n, Num: 1000 + i, EdgesChan: make(chan pgpio.Level, 16)}
		if err := gpioreg.Register(p); err != nil {
			w.Close()
			return nil, gpio.Config{}, nil, fmt.Errorf("demo pins: %w", err)
		}
		w.pins[n], w.names = p, append(w.names, n)
	}
	// Mains present (the power-good line reads high); lid and door closed (their loops low,
	// with the pull-up outside the box as "none" means).
	w.pins[PinMains].L = pgpio.High
	cfg := gpio.Config{
		Zones:  []gpio.ZoneConfig{{Device: "back_door", Pin: PinBackDoor, Pull: gpio.PullNone}},
		Siren:  gpio.OutputConfig{Pin: PinSiren},
		Strobe: gpio.OutputConfig{Pin: PinStrobe},
		LED:    gpio.OutputConfig{Pin: PinLED},
		Lid:    gpio.InputConfig{Pin: PinLid, Pull: gpio.PullNone},
		Mains:  gpio.InputConfig{Pin: PinMains, Pull: gpio.PullNone},
		Gauge:  gpio.GaugeConfig{Bus: gaugeBus, CapacityMAh: 2500, Interval: hub.Duration(time.Second)},
		Disk:   gpio.DiskConfig{Path: dataDir},
	}
	open := func(name string) (i2c.BusCloser, error) {
		if name != gaugeBus {
			return nil, fmt.Errorf("no I²C bus %q", name)
		}
		return w.gauge, nil
	}
	return w, cfg, []gpio.Option{gpio.WithBusOpener(open)}, nil
}

// Close unregisters the fake pins.
func (w *Wired) Close() {
	for _, n := range w.names {
		gpioreg.Unregister(n)
	}
}

// set drives an input pin to a level, as a switch on the loop would.
func (w *Wired) set(pin string, high bool) {
	p := w.pins[pin]
	l := pgpio.Level(high)
	p.Lock()
	p.L = l
	p.Unlock()
	select {
	case p.EdgesChan <- l:
	default: // the driver rechecks the level on its own
	}
}

// Door opens or closes the wired back door's normally-closed loop.
func (w *Wired) Door(open bool) { w.set(PinBackDoor, open) }

// Lid opens or closes the box's lid switch.
func (w *Wired) Lid(open bool) { w.set(PinLid, open) }

// Mains cuts or restores the mains supply (the sense line).
func (w *Wired) Mains(present bool) { w.set(PinMains, present) }

// Battery sets the backup battery's state of charge in percent.
func (w *Wired) Battery(percent int) error {
	if percent < 0 || percent > 100 {
		return errors.New("battery: a percentage 0–100")
	}
	w.gauge.mu.Lock()
	w.gauge.percent = percent
	w.gauge.mu.Unlock()
	return nil
}

// Relay reports whether the siren relay is energised.
func (w *Wired) Relay() bool { return bool(w.pins[PinSiren].Read()) }

// fakeGauge answers a MAX17048's registers on a fake bus.
type fakeGauge struct {
	mu      sync.Mutex
	percent int
}

func (g *fakeGauge) String() string                  { return gaugeBus }
func (g *fakeGauge) SetSpeed(physic.Frequency) error { return nil }
func (g *fakeGauge) Close() error                    { return nil }

func (g *fakeGauge) Tx(addr uint16, w, r []byte) error {
	if addr != gpio.DefaultGaugeAddr {
		return fmt.Errorf("no device at %#x", addr)
	}
	if len(w) == 0 {
		return errors.New("empty write")
	}
	if len(r) == 0 {
		return nil // a command (quick-start)
	}
	g.mu.Lock()
	pct := g.percent
	g.mu.Unlock()
	var v uint16
	switch w[0] {
	case 0x08: // VERSION
		v = 0x0012
	case 0x02: // VCELL, 78.125 µV per LSB: 3.3 V empty to 4.2 V full
		v = uint16((3.3 + 0.9*float64(pct)/100) / 78.125e-6)
	case 0x04: // SOC, 1/256 %
		v = uint16(pct) << 8
	case 0x16: // CRATE, 0.208 %/h per LSB: discharging at about 10 %/h
		v = uint16(0xffff - 48 + 1)
	}
	if len(r) >= 2 {
		binary.BigEndian.PutUint16(r, v)
	}
	return nil
}
