package gpio

import (
	"errors"
	"fmt"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"vakt/hub"
)

// Duration is a time span written as "50ms" or "60s" in config.yaml.
type Duration = hub.Duration

// Defaults for fields left at zero.
const (
	DefaultDebounce      = 50 * time.Millisecond
	DefaultGaugeAddr     = 0x36 // MAX17048
	DefaultLowPercent    = 20
	DefaultGaugeInterval = 60 * time.Second
	DefaultMinFreeMB     = 200
	DefaultDiskInterval  = 60 * time.Second
	// BatteryHysteresis is how many percent above LowPercent the charge must climb before a
	// low battery is restored, so a level hovering at the threshold does not flap.
	BatteryHysteresis = 5
)

// Pull values. Empty means PullUp.
const (
	PullUp   = "up"
	PullDown = "down"
	PullNone = "none"
)

// Config is the gateway's wired I/O: the `gpio:` section of config.yaml. Every part is
// optional; an empty pin or bus means the part is not fitted.
type Config struct {
	Zones  []ZoneConfig `yaml:"zones,omitempty"`
	Siren  OutputConfig `yaml:"siren,omitempty"`
	Strobe OutputConfig `yaml:"strobe,omitempty"`
	LED    OutputConfig `yaml:"led,omitempty"`
	// Lid is the enclosure's tamper switch; its loop opening reports a hub tamper.
	Lid InputConfig `yaml:"lid,omitempty"`
	// Mains is the mains-present sense line: the input is active while mains is present.
	Mains InputConfig `yaml:"mains,omitempty"`
	Gauge GaugeConfig `yaml:"gauge,omitempty"`
	Disk  DiskConfig  `yaml:"disk,omitempty"`
}

// ZoneConfig is a wired zone: a detector's alarm loop, and optionally its tamper loop, on
// the gateway's terminals.
type ZoneConfig struct {
	// Device is the hub device id the zone reports as.
	Device string `yaml:"device"`
	// Pin is the periph pin name, such as GPIO17.
	Pin string `yaml:"pin"`
	// NormallyOpen is true for a loop that is open while secure and closes on alarm; the
	// default is a normally closed loop, which also alarms when its wire is cut.
	NormallyOpen bool `yaml:"normally_open,omitempty"`
	// Pull is "up" (default), "down" or "none" (an external pull-up on the board).
	Pull string `yaml:"pull,omitempty"`
	// Debounce is how long a level must hold before it is reported; default 50ms.
	Debounce Duration `yaml:"debounce,omitempty"`
	// TamperPin is the detector's tamper loop, always normally closed; it shares the
	// zone's pull and debounce.
	TamperPin string `yaml:"tamper_pin,omitempty"`
}

// OutputConfig is a relay or lamp driven by one pin.
type OutputConfig struct {
	Pin string `yaml:"pin,omitempty"`
	// ActiveLow drives the pin low to switch the output on, as many relay boards need.
	ActiveLow bool `yaml:"active_low,omitempty"`
}

// InputConfig is a single switch or sense line.
type InputConfig struct {
	Pin          string   `yaml:"pin,omitempty"`
	NormallyOpen bool     `yaml:"normally_open,omitempty"`
	Pull         string   `yaml:"pull,omitempty"`
	Debounce     Duration `yaml:"debounce,omitempty"`
}

// GaugeConfig is the backup battery's fuel gauge, a MAX17048 on I²C.
type GaugeConfig struct {
	// Bus is the I²C bus, "1" or "/dev/i2c-1"; empty means no gauge.
	Bus string `yaml:"bus,omitempty"`
	// Addr is the 7-bit address; default 0x36.
	Addr uint16 `yaml:"addr,omitempty"`
	// LowPercent is the charge below which the battery is low; default 20.
	LowPercent int `yaml:"low_percent,omitempty"`
	// CapacityMAh is the battery's capacity, for the remaining-charge and current figures
	// shown with the hours-left estimate.
	CapacityMAh int `yaml:"capacity_mah,omitempty"`
	// Interval is how often the gauge is read; default 60s.
	Interval Duration `yaml:"interval,omitempty"`
}

// DiskConfig watches free space where the event log lives.
type DiskConfig struct {
	// Path is a directory on the filesystem to watch, normally the data directory; empty
	// means no watch.
	Path string `yaml:"path,omitempty"`
	// MinFreeMB is the free space below which the disk is at fault; default 200.
	MinFreeMB int `yaml:"min_free_mb,omitempty"`
	// Interval is how often free space is checked; default 60s.
	Interval Duration `yaml:"interval,omitempty"`
}

// Wired reports whether the configuration uses any pin or the I²C gauge, that is whether
// it needs HostInit to have found GPIO. The disk watch alone works on any host.
func (c Config) Wired() bool {
	if len(c.Zones) > 0 || c.Gauge.Bus != "" {
		return true
	}
	for _, p := range []string{c.Siren.Pin, c.Strobe.Pin, c.LED.Pin, c.Lid.Pin, c.Mains.Pin} {
		if p != "" {
			return true
		}
	}
	return false
}

// FieldError is a configuration problem in one field, named as it is written in
// config.yaml.
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate checks the configuration against the pins this host has, so call it after
// HostInit. It reports every problem, each a *FieldError naming its field.
func (c Config) Validate() error {
	v := validator{used: map[string]string{}, devices: map[string]string{}}
	for i, z := range c.Zones {
		f := fmt.Sprintf("gpio.zones[%d]", i)
		switch prev, dup := v.devices[z.Device]; {
		case z.Device == "":
			v.fail(f+".device", "required")
		case dup:
			v.fail(f+".device", fmt.Sprintf("%q already used by %s", z.Device, prev))
		default:
			v.devices[z.Device] = f + ".device"
		}
		if z.Pin == "" {
			v.fail(f+".pin", "required")
		}
		v.pin(f+".pin", z.Pin)
		v.pin(f+".tamper_pin", z.TamperPin)
		v.pull(f+".pull", z.Pull)
	}
	v.pin("gpio.siren.pin", c.Siren.Pin)
	v.pin("gpio.strobe.pin", c.Strobe.Pin)
	v.pin("gpio.led.pin", c.LED.Pin)
	for _, in := range []struct {
		f string
		c InputConfig
	}{{"gpio.lid", c.Lid}, {"gpio.mains", c.Mains}} {
		v.pin(in.f+".pin", in.c.Pin)
		v.pull(in.f+".pull", in.c.Pull)
	}
	v.bounds(c)
	return errors.Join(v.errs...)
}

// Bounds of the numbers and durations in the gpio section; zero means the default.
const (
	MaxDebounce    = 10 * time.Second
	MinInterval    = time.Second
	MaxInterval    = time.Hour
	MaxCapacityMAh = 1_000_000
	MaxMinFreeMB   = 1 << 30 // 1 PiB: beyond any card, and no overflow in bytes
)

// CheckBounds checks every number and duration against its bounds, without the pins, so
// it runs when config.yaml is loaded (Validate needs HostInit). It reports every problem,
// each a *FieldError naming its field.
func (c Config) CheckBounds() error {
	v := validator{}
	v.bounds(c)
	return errors.Join(v.errs...)
}

func (v *validator) bounds(c Config) {
	for i, z := range c.Zones {
		v.within(fmt.Sprintf("gpio.zones[%d].debounce", i), z.Debounce, 0, MaxDebounce)
	}
	v.within("gpio.lid.debounce", c.Lid.Debounce, 0, MaxDebounce)
	v.within("gpio.mains.debounce", c.Mains.Debounce, 0, MaxDebounce)
	g := c.Gauge
	if g.Addr != 0 && (g.Addr < 0x08 || g.Addr > 0x77) {
		v.fail("gpio.gauge.addr", fmt.Sprintf("%#x is not a 7-bit device address (0x08–0x77)", g.Addr))
	}
	v.count("gpio.gauge.low_percent", g.LowPercent, 100-BatteryHysteresis)
	v.count("gpio.gauge.capacity_mah", g.CapacityMAh, MaxCapacityMAh)
	v.within("gpio.gauge.interval", g.Interval, MinInterval, MaxInterval)
	v.count("gpio.disk.min_free_mb", c.Disk.MinFreeMB, MaxMinFreeMB)
	v.within("gpio.disk.interval", c.Disk.Interval, MinInterval, MaxInterval)
}

type validator struct {
	errs []error
	// used maps a pin's real name to the field that claimed it first; devices does the same
	// for device ids.
	used    map[string]string
	devices map[string]string
}

func (v *validator) fail(field, problem string) {
	v.errs = append(v.errs, &FieldError{Field: field, Problem: problem})
}

// pin checks that an optional pin exists and no other field uses it. Aliases (GPIO17,
// 17, P1_11) are compared by the pin they lead to.
func (v *validator) pin(field, name string) {
	if name == "" {
		return
	}
	p := lookupPin(name)
	if p == nil {
		v.fail(field, fmt.Sprintf("unknown pin %q", name))
		return
	}
	key := realName(p)
	if prev, ok := v.used[key]; ok {
		v.fail(field, fmt.Sprintf("%s already used by %s", name, prev))
		return
	}
	v.used[key] = field
}

func (v *validator) pull(field, s string) {
	if _, err := parsePull(s); err != nil {
		v.fail(field, err.Error())
	}
}

// within checks a duration where zero means the default: negative is refused, anything
// else must lie in lo–hi.
func (v *validator) within(field string, d Duration, lo, hi time.Duration) {
	switch {
	case d < 0:
		v.fail(field, fmt.Sprintf("negative (%s)", d.D()))
	case d != 0 && (d.D() < lo || d.D() > hi):
		v.fail(field, fmt.Sprintf("%s outside %s–%s (0 means the default)", d.D(), lo, hi))
	}
}

// count checks a number from 0 (the default) to hi.
func (v *validator) count(field string, n, hi int) {
	switch {
	case n < 0:
		v.fail(field, fmt.Sprintf("negative (%d)", n))
	case n > hi:
		v.fail(field, fmt.Sprintf("%d out of range 0–%d", n, hi))
	}
}

// lookupPin finds a pin in periph's registry; nil when the host lacks it.
func lookupPin(name string) pgpio.PinIO {
	return gpioreg.ByName(name)
}

func realName(p pgpio.PinIO) string {
	for {
		r, ok := p.(pgpio.RealPin)
		if !ok {
			return p.Name()
		}
		p = r.Real()
	}
}

func parsePull(s string) (pgpio.Pull, error) {
	switch s {
	case "", PullUp:
		return pgpio.PullUp, nil
	case PullDown:
		return pgpio.PullDown, nil
	case PullNone:
		return pgpio.Float, nil
	}
	return 0, fmt.Errorf("unknown pull %q (want up, down or none)", s)
}

func orDuration(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d.D()
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
