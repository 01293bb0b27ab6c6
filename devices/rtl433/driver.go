// Package rtl433 is the driver for 433/868/345/319 MHz alarm sensors received by rtl_433
// with an SDR dongle. rtl_433 decodes the radio and publishes each transmission as JSON on
// an MQTT topic (-F mqtt://HOST:PORT,user=U,pass=P,events=rtl_433/events); the driver
// reads those events, names each device by model and id ("Kerui-Security/369601", or
// "Honeywell-Security/73942/10" with a channel), and turns the fields its model table knows
// into signals. The radio is one-way: the driver sends nothing, and ends the signals a
// sensor never ends itself (a PIR's motion, a tamper switch's opening) after a time per
// model. Like every driver it translates and never decides.
package rtl433

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
)

// Name is the driver name of rtl_433 devices in the installation.
const Name = "rtl433"

// ErrOneWay is returned by Send: 433 MHz alarm sensors only transmit.
var ErrOneWay = errors.New("one-way radio: rtl_433 devices take no commands")

// Bus is the MQTT client the driver subscribes with; *mqttclient.Client is one.
type Bus interface {
	Subscribe(s mqttclient.Subscription) error
}

var (
	_ devices.Driver     = (*Driver)(nil)
	_ devices.CheckInner = (*Driver)(nil)
	_ Bus                = (*mqttclient.Client)(nil)
)

// Driver reads rtl_433's events from the sensor bus. See the package comment.
type Driver struct {
	cfg  Config
	bus  Bus
	sink devices.Sink
	log  *slog.Logger

	// report serialises what goes to the sink, so that a signal's restore is never
	// delivered before its activation.
	report sync.Mutex

	mu         sync.Mutex
	running    bool
	stopped    bool // Run has returned: no new restores
	learnUntil time.Time
	pending    map[restoreKey]*restore
}

type restoreKey struct {
	address string
	signal  hub.Signal
}

// restore is a signal the driver will end; a new activation replaces it.
type restore struct{ timer *time.Timer }

// New returns a driver that subscribes with bus and reports to sink; it does nothing until
// Run. bus must be connected (or connecting) by its owner.
func New(cfg Config, bus Bus, sink devices.Sink, logger *slog.Logger) (*Driver, error) {
	if err := cfg.Validate("rtl433"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{
		cfg:     cfg.withDefaults(),
		bus:     bus,
		sink:    sink,
		log:     logger.With("driver", Name),
		pending: map[restoreKey]*restore{},
	}, nil
}

// Name returns "rtl433".
func (d *Driver) Name() string { return Name }

// Run subscribes to rtl_433's events and reports them until ctx ends.
func (d *Driver) Run(ctx context.Context) error {
	d.mu.Lock()
	d.running, d.stopped = true, false
	d.mu.Unlock()
	defer d.stop()
	err := d.bus.Subscribe(mqttclient.Subscription{Topic: d.cfg.Topic, QoS: 1, Handler: func(_ paho.Client, m paho.Message) {
		d.mu.Lock()
		running := d.running
		d.mu.Unlock()
		if running { // the client keeps the subscription after Run returns
			d.receive(m.Payload())
		}
	}})
	if err != nil {
		return fmt.Errorf("rtl433: subscribe %s: %w", d.cfg.Topic, err)
	}
	d.log.Info("listening for rtl_433 events", "topic", d.cfg.Topic)
	<-ctx.Done()
	return nil
}

// stop drops the pending restores: whoever runs the driver next starts afresh.
func (d *Driver) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running, d.stopped = false, true
	for k, p := range d.pending {
		p.timer.Stop()
		delete(d.pending, k)
	}
}

// Send fails: rtl_433 devices have no outputs.
func (d *Driver) Send(_ context.Context, cmd devices.Command) error {
	return fmt.Errorf("rtl433 %s: %w", cmd.Address, ErrOneWay)
}

// Pair opens learn mode for dur: reports carry the model, vendor and capabilities, which
// the manager takes as the device joining, so the next unknown transmitter is offered.
// Outside learn mode a neighbour's weather station is only logged, never offered.
func (d *Driver) Pair(_ context.Context, dur time.Duration) error {
	until := time.Now().Add(dur)
	d.mu.Lock()
	if until.After(d.learnUntil) {
		d.learnUntil = until
	}
	d.mu.Unlock()
	return nil
}

// CheckIn returns a model's supervision window: the configured one, SupervisedCheckIn for
// models that send check-ins, the unsupervised window (30 days by default) for known
// models that never do, and 0 — the manager's default — for models vakt does not know,
// which may check in as often as anything else.
func (d *Driver) CheckIn(model string) time.Duration {
	if o, ok := d.cfg.Models[model]; ok && o.CheckIn != 0 {
		return o.CheckIn.D()
	}
	m, known := Lookup(model)
	switch {
	case !known:
		return 0
	case m.CheckIn != 0:
		return m.CheckIn
	}
	return d.cfg.UnsupervisedCheckIn.D()
}

// restoreAfter says how long sig stays active on the device at address of model before
// the driver ends it; 0 means the device ends it itself.
func (d *Driver) restoreAfter(model, address string, sig hub.Signal) time.Duration {
	for _, k := range []string{address, model} {
		if o, ok := d.cfg.Models[k]; ok {
			if v, ok := o.AutoRestore[sig.String()]; ok {
				return v.D()
			}
		}
	}
	m, known := Lookup(model)
	if !known {
		m = unknownModel
	}
	return m.AutoRestore[sig]
}

// receive handles one event from the bus.
func (d *Driver) receive(payload []byte) {
	if d.log.Enabled(context.Background(), slog.LevelDebug) {
		d.log.Debug("rtl_433 event", "payload", string(payload))
	}
	r, err := Decode(payload)
	if r.Address == "" {
		d.sink.Malformed(Name, "", err)
		return
	}
	if err != nil {
		d.sink.Malformed(Name, r.Address, err) // and report what could be read
	}
	d.report.Lock()
	defer d.report.Unlock()
	d.mu.Lock()
	for _, sv := range r.Signals {
		k := restoreKey{r.Address, sv.Signal}
		if p := d.pending[k]; p != nil {
			p.timer.Stop()
			delete(d.pending, k)
		}
		if !sv.Active || d.stopped {
			continue
		}
		if after := d.restoreAfter(r.Model, r.Address, sv.Signal); after > 0 {
			p := &restore{}
			p.timer = time.AfterFunc(after, func() { d.restore(k, p) })
			d.pending[k] = p
		}
	}
	if !time.Now().Before(d.learnUntil) {
		r.Model, r.Vendor, r.Caps = "", "", nil
	}
	d.mu.Unlock()
	d.sink.Report(r)
}

// restore ends a signal the device does not end itself, unless a newer activation has
// replaced p or the driver has stopped.
func (d *Driver) restore(k restoreKey, p *restore) {
	d.report.Lock()
	defer d.report.Unlock()
	d.mu.Lock()
	current := d.pending[k] == p
	if current {
		delete(d.pending, k)
	}
	d.mu.Unlock()
	if !current {
		return
	}
	d.sink.Report(devices.Report{Driver: Name, Address: k.address, Synthetic: true, Signals: []devices.SignalValue{{Signal: k.signal, Active: false}}})
}
