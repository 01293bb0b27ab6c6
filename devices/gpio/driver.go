// Package gpio is the gateway's wired I/O through periph.io: wired zones and their tamper
// loops, the enclosure's lid switch, the mains-present sense line, the siren relay, strobe
// and status LED, the backup battery's fuel gauge, and the free space where the event log
// lives. It translates levels into hub inputs and the hub's siren state into relay
// patterns; it never decides what an input means for the alarm.
package gpio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"

	"vakt/hub"
)

// ErrRunning means Run was called while the driver was already running.
var ErrRunning = errors.New("gpio: already running")

// LEDMode is what the status LED shows.
type LEDMode uint8

// LED modes. Blink (1 Hz) is meant for "armed".
const (
	LEDOff LEDMode = iota
	LEDOn
	LEDBlink
)

var ledNames = [...]string{"off", "on", "blink"}

// String returns the mode's name.
func (m LEDMode) String() string {
	if int(m) < len(ledNames) {
		return ledNames[m]
	}
	return fmt.Sprintf("led(%d)", uint8(m))
}

// MarshalText writes the mode's name.
func (m LEDMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Status is the wired side of the gateway, for the UI.
type Status struct {
	// BatteryKnown is false without a gauge, before its first reading and while it does
	// not answer; the battery figures are zero then.
	BatteryKnown   bool    `json:"battery_known"`
	BatteryPercent float64 `json:"battery_percent"`
	BatteryVolts   float64 `json:"battery_volts"`
	// BatteryRate is the charge rate in % per hour, negative while discharging.
	BatteryRate float64 `json:"battery_rate_per_hour"`
	// HoursLeft is the estimate at the present discharge rate; 0 when not discharging.
	HoursLeft float64 `json:"hours_left"`
	// RemainingMAh is the charge left, when gpio.gauge.capacity_mah is set.
	RemainingMAh int `json:"remaining_mah,omitempty"`
	// BatteryLow is what was last reported to the hub.
	BatteryLow bool `json:"battery_low"`

	// MainsKnown is false without a mains sense line or before its first reading.
	MainsKnown   bool `json:"mains_known"`
	MainsPresent bool `json:"mains_present"`

	// DiskKnown is false without a disk watch or before its first check.
	DiskKnown  bool  `json:"disk_known"`
	DiskFreeMB int64 `json:"disk_free_mb"`
	DiskLow    bool  `json:"disk_low"`

	Siren hub.SirenPattern `json:"siren"`
	LED   LEDMode          `json:"led"`
}

// Option changes how New builds a Driver.
type Option func(*Driver)

// WithBusOpener replaces i2creg.Open for the gauge's bus, so a test can hand in an
// i2ctest.Playback.
func WithBusOpener(open func(name string) (i2c.BusCloser, error)) Option {
	return func(d *Driver) { d.openBus = open }
}

// Driver is the gateway's wired I/O. New resolves the pins; Run owns every goroutine.
type Driver struct {
	cfg      Config
	sink     func(hub.Input)
	log      *slog.Logger
	openBus  func(name string) (i2c.BusCloser, error)
	diskFree func(path string) (uint64, error)

	inputs             []*input
	siren, strobe, led *output // nil when not fitted

	running atomic.Bool
	mu      sync.Mutex
	status  Status
}

// New checks cfg and resolves its pins in periph's registry (gpioreg.ByName), without
// touching the hardware. sink receives every input for the hub; it is called from several
// goroutines and should hand the input on without waiting long (hub.Submit does).
func New(cfg Config, sink func(hub.Input), logger *slog.Logger, opts ...Option) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("gpio: nil sink")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg, sink: sink, log: logger, openBus: i2creg.Open, diskFree: diskFree}
	for _, o := range opts {
		o(d)
	}
	// Validate has resolved every pin, so the lookups and parses below cannot fail.
	for i, z := range cfg.Zones {
		f := fmt.Sprintf("gpio.zones[%d]", i)
		pull, _ := parsePull(z.Pull)
		deb := orDuration(z.Debounce, DefaultDebounce)
		d.inputs = append(d.inputs, newInput(inZone, f+".pin", z.Device, lookupPin(z.Pin), pull, z.NormallyOpen, deb))
		if z.TamperPin != "" {
			d.inputs = append(d.inputs, newInput(inZoneTamper, f+".tamper_pin", z.Device, lookupPin(z.TamperPin), pull, false, deb))
		}
	}
	for _, c := range []struct {
		kind  inputKind
		field string
		cfg   InputConfig
	}{{inLid, "gpio.lid.pin", cfg.Lid}, {inMains, "gpio.mains.pin", cfg.Mains}} {
		if c.cfg.Pin == "" {
			continue
		}
		pull, _ := parsePull(c.cfg.Pull)
		d.inputs = append(d.inputs, newInput(c.kind, c.field, "", lookupPin(c.cfg.Pin), pull, c.cfg.NormallyOpen, orDuration(c.cfg.Debounce, DefaultDebounce)))
	}
	out := func(field string, c OutputConfig) *output {
		if c.Pin == "" {
			return nil
		}
		return newOutput(field, lookupPin(c.Pin), c.ActiveLow, logger)
	}
	d.siren = out("gpio.siren.pin", cfg.Siren)
	d.strobe = out("gpio.strobe.pin", cfg.Strobe)
	d.led = out("gpio.led.pin", cfg.LED)
	return d, nil
}

// SetOutputs shows the hub's decided box outputs (hub.State.Outputs): the siren relay plays
// the pattern (burglar and emergency steady, fire temporal-3, off at once), the strobe and
// the status LED are on, off or blinking as the hub says. It never blocks; the change happens
// in Run's goroutine. A pattern or LED mode vakt does not know is an error and changes
// nothing.
func (d *Driver) SetOutputs(o hub.BoxOutputs) error {
	led, ok := ledModes[o.LED]
	if !ok {
		return fmt.Errorf("gpio LED: unknown mode %s", o.LED)
	}
	if err := d.setSiren(o.Siren, o.Strobe); err != nil {
		return err
	}
	return d.SetLED(led)
}

// ledModes maps the hub's indicator states to the LED's modes.
var ledModes = map[hub.Indicator]LEDMode{hub.IndicatorOff: LEDOff, hub.IndicatorOn: LEDOn, hub.IndicatorBlink: LEDBlink}

// SetSiren plays p on the siren relay with the strobe on while it sounds: SetOutputs for the
// siren alone (installer tests of the relay).
func (d *Driver) SetSiren(p hub.SirenPattern) error {
	return d.setSiren(p, p != hub.SirenOff)
}

func (d *Driver) setSiren(p hub.SirenPattern, strobeOn bool) error {
	relay := patternSteady
	switch p {
	case hub.SirenOff:
		relay = patternOff
	case hub.SirenBurglar, hub.SirenEmergency:
	case hub.SirenFire:
		relay = patternTemporal
	default:
		return fmt.Errorf("gpio siren: %w: %s", hub.ErrUnknownSirenPattern, p)
	}
	strobe := patternOff
	if strobeOn {
		strobe = patternSteady
	}
	d.mu.Lock()
	d.status.Siren = p
	d.mu.Unlock()
	if d.siren != nil {
		d.siren.set(relay)
	}
	if d.strobe != nil {
		d.strobe.set(strobe)
	}
	return nil
}

// SetLED sets the status LED. It never blocks. A mode it does not know is an error and
// changes nothing.
func (d *Driver) SetLED(m LEDMode) error {
	var p *pattern
	switch m {
	case LEDOff:
		p = patternOff
	case LEDOn:
		p = patternSteady
	case LEDBlink:
		p = patternBlink
	default:
		return fmt.Errorf("gpio LED: unknown mode %s", m)
	}
	d.mu.Lock()
	d.status.LED = m
	d.mu.Unlock()
	if d.led != nil {
		d.led.set(p)
	}
	return nil
}

// Status returns the latest battery, mains and disk readings.
func (d *Driver) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Run configures the pins and opens the gauge's bus, reports every input's state once,
// then reports changes and plays siren patterns until ctx ends. On return every output is
// off. A pin or bus that cannot be set up is an error naming its config field.
func (d *Driver) Run(ctx context.Context) (err error) {
	if !d.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer d.running.Store(false)

	outputs := make([]*output, 0, 3)
	for _, o := range []*output{d.siren, d.strobe, d.led} {
		if o == nil {
			continue
		}
		// Off first: a relay must not sit in whatever state the last run left it.
		if err := o.pin.Out(pgpio.Level(o.activeLow)); err != nil {
			return fmt.Errorf("%s: set %s as output: %w", o.field, o.pin, err)
		}
		outputs = append(outputs, o)
	}
	for _, in := range d.inputs {
		if err := in.pin.In(in.pull, pgpio.BothEdges); err != nil {
			return fmt.Errorf("%s: set %s as input with edge detection: %w", in.field, in.pin, err)
		}
	}
	var gauge *MAX17048
	if g := d.cfg.Gauge; g.Bus != "" {
		bus, oerr := d.openBus(g.Bus)
		if oerr != nil {
			return fmt.Errorf("gpio.gauge.bus: open %q: %w", g.Bus, oerr)
		}
		defer func() {
			if cerr := bus.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("gpio.gauge.bus: close %q: %w", g.Bus, cerr)
			}
		}()
		addr := uint16(orInt(int(g.Addr), DefaultGaugeAddr))
		gauge = NewMAX17048(bus, addr)
		if err := gauge.Probe(); errors.Is(err, ErrNotMAX17048) {
			return fmt.Errorf("gpio.gauge.addr: %#02x: %w", addr, err)
		} else if err != nil {
			// The gauge runs from the backup cell: silence usually means no cell. The
			// watch reports that as a battery fault if it lasts.
			d.log.Warn("fuel gauge not answering", "error", err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, in := range d.inputs {
		wg.Go(func() { in.watch(ctx, d.report, d.warnEdges) })
	}
	for _, o := range outputs {
		wg.Go(func() { o.play(ctx) })
	}
	if gauge != nil {
		wg.Go(func() { d.watchBattery(ctx, gauge) })
	}
	if d.cfg.Disk.Path != "" {
		wg.Go(func() { d.watchDisk(ctx) })
	}
	<-ctx.Done()
	for _, in := range d.inputs {
		// Interrupts a pending WaitForEdge where the host supports it (gpioioctl);
		// elsewhere the watch ends within idleWait.
		_ = in.pin.Halt()
	}
	wg.Wait()
	return nil
}

// report translates an input's settled state and hands it to the hub.
func (d *Driver) report(in *input, active bool) {
	var msg hub.Input
	switch in.kind {
	case inZone:
		msg = hub.Input{Kind: hub.InReport, Device: in.device, Signal: hub.SignalContact, Active: active}
	case inZoneTamper:
		msg = hub.Input{Kind: hub.InReport, Device: in.device, Signal: hub.SignalTamper, Active: active}
	case inLid:
		msg = hub.Input{Kind: hub.InReport, Device: hub.HubDevice, Signal: hub.SignalTamper, Active: active}
	case inMains:
		// The sense line is active while mains is present; the hub wants "lost".
		d.mu.Lock()
		d.status.MainsKnown, d.status.MainsPresent = true, active
		d.mu.Unlock()
		msg = hub.Input{Kind: hub.InMains, Active: !active}
	}
	if d.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments would allocate
		d.log.Debug("input", "pin", in.field, "device", in.device, "active", active)
	}
	d.sink(msg)
}

func (d *Driver) warnEdges(in *input) {
	d.log.Warn("edge detection failing; checking the level once a second", "pin", in.field)
}
