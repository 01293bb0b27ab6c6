package homekit

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/brutella/hap/characteristic"

	"vakt/devices"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// rig is a real hub on a real store with the demo installation, and a bridge serving it.
type rig struct {
	t     testing.TB
	h     *hub.Hub
	clock *hubtest.Clock
	b     *Bridge

	path string
	cfg  Config
	dev  Devices
	// withSim gives the bridge a real device manager with the simulated driver (sim),
	// made anew with each start.
	withSim    bool
	sim        *sim.Sim
	stopHub    func()
	stopBridge func()
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	return newRigWith(t, cfg, nil)
}

// newRigWithSim is newRig with the real device manager and simulated devices.
func newRigWithSim(t testing.TB, cfg Config) *rig {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r := &rig{t: t, clock: hubtest.NewClock(hubtest.T0), path: hubtest.StorePath(t), cfg: cfg, withSim: true}
	r.start(hub.DemoInstallation(make([]byte, 32)))
	return r
}

func newRigWith(t testing.TB, cfg Config, dev Devices) *rig {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r := &rig{t: t, clock: hubtest.NewClock(hubtest.T0), path: hubtest.StorePath(t), cfg: cfg, dev: dev}
	r.start(hub.DemoInstallation(make([]byte, 32)))
	return r
}

// start starts the hub on the rig's store (inst: nil for the stored one) and the bridge.
func (r *rig) start(inst *hub.Installation) {
	r.t.Helper()
	r.h, r.stopHub = hubtest.StartHub(r.t, r.path, inst, hub.Options{Now: r.clock.Now})
	if r.withSim {
		mgr := devices.NewManager(r.h, devices.Options{Now: r.clock.Now})
		r.sim = sim.New(mgr, io.Discard)
		mgr.AddDriver(r.sim)
		hubtest.Run(r.t, "devices", mgr.Run)
		r.dev = mgr
	}
	r.b = New(r.cfg, r.h, r.dev, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.stopBridge = hubtest.Run(r.t, "bridge", r.b.Run)
	r.waitListening()
}

// waitListening waits until the bridge serves and accepts connections.
func (r *rig) waitListening() {
	r.t.Helper()
	hubtest.Eventually(r.t, "the bridge serves", func() bool { return r.served() != nil })
	hubtest.Eventually(r.t, "the bridge listens", func() bool {
		c, err := net.Dial("tcp", r.b.Addr())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// restart stops the bridge and the hub and starts them again on the same store and address.
func (r *rig) restart() {
	r.t.Helper()
	r.cfg.Listen = r.b.Addr()
	r.stopBridge()
	r.stopHub()
	r.start(nil)
}

func (r *rig) served() *bridged {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.b.served
}

func (r *rig) area(n int) *areaAccessory {
	r.t.Helper()
	for _, aa := range r.served().areas {
		if aa.plan.number == n {
			return aa
		}
	}
	r.t.Fatalf("no area %d", n)
	return nil
}

// write plays a controller's write of the target state; it returns hap's status.
func (r *rig) write(area, target int) int {
	r.t.Helper()
	_, code := r.area(area).a.SecuritySystem.SecuritySystemTargetState.SetValueRequest(target, &http.Request{RemoteAddr: "127.0.0.1:1"})
	return code
}

func (r *rig) states(area int) (current, target int) {
	s := r.area(area).a.SecuritySystem
	return s.SecuritySystemCurrentState.Value(), s.SecuritySystemTargetState.Value()
}

// want waits until area shows current and target.
func (r *rig) want(area, current, target int) {
	r.t.Helper()
	hubtest.Eventually(r.t, "HomeKit shows the area's state", func() bool {
		c, g := r.states(area)
		return c == current && g == target
	})
	// and it stays so once the follower has seen everything
	r.b.poke()
	time.Sleep(150 * time.Millisecond)
	if c, g := r.states(area); c != current || g != target {
		r.t.Fatalf("area %d: current %d target %d, want %d %d", area, c, g, current, target)
	}
}

func (r *rig) mode(area int) hub.Mode {
	for _, a := range r.h.Snapshot().State.Areas {
		if a.Number == area {
			return a.Mode
		}
	}
	return 0
}

// advance moves the hub's clock and lets its loop run its deadlines.
func (r *rig) advance(d time.Duration) {
	r.clock.Add(d)
	if err := r.h.Submit(context.Background(), hub.Input{Kind: hub.InTick}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) report(device string, signal hub.Signal, active bool) {
	r.t.Helper()
	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: device, Signal: signal, Active: active}); res.Err != nil {
		r.t.Fatal(res.Err)
	}
}

const (
	targetStay   = characteristic.SecuritySystemTargetStateStayArm
	targetAway   = characteristic.SecuritySystemTargetStateAwayArm
	targetNight  = characteristic.SecuritySystemTargetStateNightArm
	targetDisarm = characteristic.SecuritySystemTargetStateDisarm
)

func TestBridge_StartsWithTheRealState(t *testing.T) {
	r := newRig(t, Config{})
	// not Stay, which a new Security System says until told otherwise
	r.want(1, stateDisarmed, targetDisarm)
	r.want(2, stateDisarmed, targetDisarm)
}

func TestBridge_ArmThroughExitDelay(t *testing.T) {
	r := newRig(t, Config{})
	if code := r.write(1, targetAway); code != 0 {
		t.Fatalf("arm away: status %d", code)
	}
	// during the exit delay: target is the mode asked for, current the old one
	r.want(1, stateDisarmed, targetAway)
	if m := r.mode(1); m != hub.ModeArming {
		t.Fatalf("mode %s, want arming", m)
	}
	r.advance(61 * time.Second)
	r.want(1, stateAway, targetAway)
	if got := r.h.Snapshot().State.Areas[0].How; got != hub.HowHomeKit {
		t.Fatalf("armed how %s, want homekit", got)
	}
	if got := r.h.Snapshot().State.Areas[0].User; got != "anna" {
		t.Fatalf("armed by %q, want anna (the first admin)", got)
	}
}

func TestBridge_RefusedArmingIsVetoed(t *testing.T) {
	r := newRig(t, Config{})
	r.report("living_window", hub.SignalContact, true)
	if code := r.write(1, targetStay); code != -70402 {
		t.Fatalf("arm with a window open: status %d, want -70402", code)
	}
	r.want(1, stateDisarmed, targetDisarm)
	if m := r.mode(1); m != hub.ModeDisarmed {
		t.Fatalf("mode %s, want disarmed", m)
	}
	// the same write once the window is shut goes through: nothing stale was stored
	r.report("living_window", hub.SignalContact, false)
	if code := r.write(1, targetStay); code != 0 {
		t.Fatalf("arm home: status %d", code)
	}
	r.want(1, stateDisarmed, targetStay)
}

func TestBridge_CancelledExitDelaySetsTargetBack(t *testing.T) {
	r := newRig(t, Config{})
	if code := r.write(1, targetAway); code != 0 {
		t.Fatalf("arm away: status %d", code)
	}
	r.want(1, stateDisarmed, targetAway)
	// a zone outside the exit route trips during the exit delay: NOT ARMED
	r.report("living_motion", hub.SignalMotion, true)
	hubtest.Eventually(t, "the arming is cancelled", func() bool { return r.mode(1) == hub.ModeDisarmed })
	r.want(1, stateDisarmed, targetDisarm)
	// and arming again from HomeKit is a write hap does not ignore
	r.report("living_motion", hub.SignalMotion, false)
	if code := r.write(1, targetAway); code != 0 {
		t.Fatalf("arm again: status %d", code)
	}
	r.want(1, stateDisarmed, targetAway)
}

func TestBridge_EntryDelayKeepsArmed(t *testing.T) {
	r := newRig(t, Config{AllowDisarm: true})
	if code := r.write(1, targetNight); code != 0 {
		t.Fatalf("arm night: status %d", code)
	}
	r.advance(61 * time.Second)
	r.want(1, stateNight, targetNight)
	r.report("front_door", hub.SignalContact, true)
	hubtest.Eventually(t, "the entry delay runs", func() bool { return r.mode(1) == hub.ModePending })
	r.want(1, stateNight, targetNight)
	r.advance(31 * time.Second)
	hubtest.Eventually(t, "the alarm sounds", func() bool { return r.mode(1) == hub.ModeTriggered })
	r.want(1, stateTriggered, targetNight)
	if v := r.area(1).alarmType.Value(); v != 1 {
		t.Fatalf("alarm type %d, want 1", v)
	}
	if code := r.write(1, targetDisarm); code != 0 {
		t.Fatalf("disarm: status %d", code)
	}
	// disarmed, but the alarm waits in memory until someone acknowledges it
	r.want(1, stateTriggered, targetDisarm)
}

func TestBridge_DisarmIsASetting(t *testing.T) {
	r := newRig(t, Config{})
	if code := r.write(1, targetStay); code != 0 {
		t.Fatalf("arm home: status %d", code)
	}
	r.advance(61 * time.Second)
	r.want(1, stateStay, targetStay)
	if code := r.write(1, targetDisarm); code != -70402 {
		t.Fatalf("disarm with allow_disarm off: status %d, want -70402", code)
	}
	r.want(1, stateStay, targetStay)
	if m := r.mode(1); m != hub.ModeArmedHome {
		t.Fatalf("mode %s, want armed_home", m)
	}
}
