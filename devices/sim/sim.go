// Package sim simulates devices for the demo: door and window contacts, motion, smoke and
// water sensors, a panic button, sirens, a keypad, a plug and a lock. Reports go to the hub
// like any driver's; sirens and keypads answer the hub's effects by printing what a real
// one would do.
package sim

import (
	"context"
	"fmt"
	"io"
	"sync"

	"vakt/hub"
)

// Submitter is the part of the hub a driver needs.
type Submitter interface {
	Submit(ctx context.Context, in hub.Input) error
	Subscribe() *hub.Subscription
}

// Sim is the simulator driver. It translates; the hub decides.
type Sim struct {
	hub  Submitter
	inst *hub.Installation
	out  io.Writer

	mu     sync.Mutex
	active map[string]map[hub.Signal]bool
}

// New returns a simulator for the installation's devices whose driver is "sim".
func New(h Submitter, inst *hub.Installation, out io.Writer) *Sim {
	return &Sim{hub: h, inst: inst, out: out, active: map[string]map[hub.Signal]bool{}}
}

// Report makes a simulated device report a signal, as its radio would.
func (s *Sim) Report(ctx context.Context, in hub.Input) error {
	if in.Kind != hub.InReport {
		return fmt.Errorf("sim: not a device report")
	}
	if in.Device != hub.HubDevice {
		d := s.device(in.Device)
		if d == nil {
			return fmt.Errorf("sim: %q: %w", in.Device, hub.ErrUnknownDevice)
		}
		if d.Driver != "sim" {
			return fmt.Errorf("sim: %s is a %s device, not simulated", d.ID, d.Driver)
		}
	}
	s.mu.Lock()
	if s.active[in.Device] == nil {
		s.active[in.Device] = map[hub.Signal]bool{}
	}
	s.active[in.Device][in.Signal] = in.Active
	s.mu.Unlock()
	return s.hub.Submit(ctx, in)
}

// Active reports the simulated device's last state for a signal.
func (s *Sim) Active(device string, sig hub.Signal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[device][sig]
}

func (s *Sim) device(id string) *hub.Device {
	for i := range s.inst.Devices {
		if s.inst.Devices[i].ID == id {
			return &s.inst.Devices[i]
		}
	}
	return nil
}

// Run plays the hub's siren and chime effects on the simulated sirens and keypads until ctx
// ends. A lagged update is answered from the snapshot, which holds each area's siren state.
func (s *Sim) Run(ctx context.Context) error {
	sub := s.hub.Subscribe()
	defer sub.Close()
	playing := map[int]hub.SirenPattern{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return nil
		}
		for _, a := range u.Snapshot.State.Areas {
			if playing[a.Number] != a.Siren {
				playing[a.Number] = a.Siren
				s.siren(a.Number, a.Siren)
			}
		}
		for _, e := range u.Effects {
			if e.Kind == hub.EffectChime {
				s.each(e.Area, "keypad", func(d *hub.Device) { fmt.Fprintf(s.out, "  ♪ %s: ding-dong (zone %d opened)\n", d.ID, e.Zone) })
			}
		}
	}
}

func (s *Sim) siren(area int, p hub.SirenPattern) {
	sound := map[hub.SirenPattern]string{
		hub.SirenOff:       "silent",
		hub.SirenBurglar:   "WOOOO-WOOOO burglar tone, steady, strobe flashing",
		hub.SirenEmergency: "WEE-WAA emergency tone",
		hub.SirenFire:      "BEEP-BEEP-BEEP … fire pattern (temporal-3)",
	}[p]
	s.each(area, "siren", func(d *hub.Device) { fmt.Fprintf(s.out, "  🔔 %s: %s\n", d.ID, sound) })
}

func (s *Sim) each(area int, model string, f func(*hub.Device)) {
	for i := range s.inst.Devices {
		d := &s.inst.Devices[i]
		if d.Driver == "sim" && d.Kind == model && d.Area == area {
			f(d)
		}
	}
}
