// Package sim is the demo's driver: simulated door and window contacts, motion, smoke and
// water sensors, a panic button, sirens, keypads, plugs and locks. A person (or a script)
// makes a device report; sirens and keypads answer the hub's commands by printing what a
// real one would do. Like every driver it translates and never decides.
package sim

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"vakt/devices"
	"vakt/hub"
)

// Name is the driver name of simulated devices in the installation.
const Name = "sim"

// Heartbeat is how often simulated devices check in; keep it well inside the supervision
// window.
const Heartbeat = 30 * time.Second

// Sim is the simulator driver.
type Sim struct {
	sink devices.Sink
	out  io.Writer

	// Addresses lists the simulated devices that check in; nil means those that have
	// reported so far.
	Addresses func() []string
	// CheckInWindow is the supervision window of simulated devices (the demo's is short,
	// so that supervision can be watched); 0 leaves them the manager's default. Real
	// devices keep their own class's window. Set it before the manager runs.
	CheckInWindow time.Duration

	mu       sync.Mutex
	known    map[string]bool // addresses that have reported
	pairing  time.Time
	silenced map[string]bool // devices made silent, to show supervision
}

// New returns a simulator reporting to sink and printing outputs to out.
func New(sink devices.Sink, out io.Writer) *Sim {
	return &Sim{sink: sink, out: out, known: map[string]bool{}, silenced: map[string]bool{}}
}

// DemoCheckIn is the demo's check-in window for simulated devices: short enough to watch
// supervision ("silent DEVICE", then wait), well above the Heartbeat.
const DemoCheckIn = 2 * time.Minute

var _ devices.CheckInner = (*Sim)(nil)

// CheckIn returns the simulated devices' supervision window, CheckInWindow, for every model.
func (s *Sim) CheckIn(model string) time.Duration { return s.CheckInWindow }

// Name returns "sim".
func (s *Sim) Name() string { return Name }

// Trigger makes the simulated device at address report a signal, as its radio would.
func (s *Sim) Trigger(address string, sig hub.Signal, active bool) {
	s.mu.Lock()
	s.known[address] = true
	s.mu.Unlock()
	s.sink.Report(devices.Report{Driver: Name, Address: address, Signals: []devices.SignalValue{{Signal: sig, Active: active}}})
}

// Announce makes a new simulated device transmit for the first time with its
// capabilities, so that pairing can offer it.
func (s *Sim) Announce(address, model string, caps []devices.Capability) {
	s.sink.Report(devices.Report{Driver: Name, Address: address, Model: model, Caps: caps})
}

// Silence stops a device's check-ins (a flat battery, a device carried off), or resumes them.
func (s *Sim) Silence(address string, silent bool) {
	s.mu.Lock()
	s.silenced[address] = silent
	s.mu.Unlock()
}

// Run sends the simulated devices' check-ins until ctx ends.
func (s *Sim) Run(ctx context.Context) error {
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			var all []string
			if s.Addresses != nil {
				all = s.Addresses()
			}
			s.mu.Lock()
			if s.Addresses == nil {
				for a := range s.known {
					all = append(all, a)
				}
			}
			var addrs []string
			for _, a := range all {
				if !s.silenced[a] {
					addrs = append(addrs, a)
				}
			}
			s.mu.Unlock()
			for _, a := range addrs {
				s.sink.Report(devices.Report{Driver: Name, Address: a})
			}
		}
	}
}

// Send plays a command on a simulated siren, keypad, plug or lock.
func (s *Sim) Send(_ context.Context, c devices.Command) error {
	switch c.Kind {
	case devices.CmdSiren:
		sound, known := map[hub.SirenPattern]string{
			hub.SirenOff:       "silent",
			hub.SirenBurglar:   "WOOOO-WOOOO burglar tone, steady, strobe flashing",
			hub.SirenEmergency: "WEE-WAA emergency tone",
			hub.SirenFire:      "BEEP-BEEP-BEEP … fire pattern (temporal-3)",
		}[c.Pattern]
		if !known {
			return fmt.Errorf("sim siren %s: %w: %s", c.Address, hub.ErrUnknownSirenPattern, c.Pattern)
		}
		if c.Duration > 0 {
			sound += fmt.Sprintf(" for %s", c.Duration.Round(time.Second))
		}
		fmt.Fprintf(s.out, "  🔔 %s: %s\n", c.Address, sound)
	case devices.CmdKeypadState:
		fmt.Fprintf(s.out, "  ⌨  %s: shows %s\n", c.Address, c.KeypadState)
	case devices.CmdChime:
		fmt.Fprintf(s.out, "  ♪ %s: ding-dong\n", c.Address)
	case devices.CmdSwitch:
		fmt.Fprintf(s.out, "  🔌 %s: switched %s\n", c.Address, map[bool]string{true: "on", false: "off"}[c.On])
		on := c.On
		s.sink.Report(devices.Report{Driver: Name, Address: c.Address, Switch: &on}) // as a real plug reports its new state
	case devices.CmdLock:
		fmt.Fprintf(s.out, "  🔐 %s: %s\n", c.Address, map[bool]string{true: "locked", false: "unlocked"}[c.Locked])
		s.sink.Report(devices.Report{Driver: Name, Address: c.Address, Lock: map[bool]string{true: "locked", false: "unlocked"}[c.Locked]})
	default:
		return fmt.Errorf("sim: command %d not supported", c.Kind)
	}
	return nil
}

// Pair opens the simulated radio's learn mode; new devices are made with Announce.
func (s *Sim) Pair(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.pairing = time.Now().Add(d)
	s.mu.Unlock()
	fmt.Fprintf(s.out, "  📡 sim: learn mode for %s (make a device with: new ADDRESS contact|motion|smoke|water|siren)\n", d)
	return nil
}
