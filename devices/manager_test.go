package devices_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/devices"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/hub/hubtest"
)

var key = []byte("0123456789abcdef0123456789abcdef")

type rig struct {
	hub   *hub.Hub
	mgr   *devices.Manager
	sim   *sim.Sim
	out   *hubtest.Buffer
	clock *hubtest.Clock
}

func start(t *testing.T) *rig {
	t.Helper()
	c := hubtest.NewClock(hubtest.T0)
	r, stop := startAt(t, filepath.Join(t.TempDir(), "vakt.db"), c)
	t.Cleanup(stop)
	return r
}

// startAt runs a hub on the store at path, with a manager and the simulator, until stop.
func startAt(t *testing.T, path string, c *hubtest.Clock) (r *rig, stop func()) {
	t.Helper()
	return startWith(t, path, c, hub.Options{})
}

// startWith is startAt with the hub's options (the clock is c's).
func startWith(t *testing.T, path string, c *hubtest.Clock, opts hub.Options) (r *rig, stop func()) {
	t.Helper()
	opts.Now = c.Now
	h, stopHub := hubtest.StartHub(t, path, hub.DemoInstallation(key), opts)
	r = &rig{hub: h, clock: c, out: &hubtest.Buffer{}}
	r.mgr = devices.NewManager(h, devices.Options{Now: c.Now})
	r.sim = sim.New(r.mgr, r.out)
	r.mgr.AddDriver(r.sim)
	stopMgr := hubtest.Run(t, "manager run", r.mgr.Run)
	return r, func() { stopMgr(); stopHub() }
}

func (r *rig) kinds() []hub.EventKind {
	evs, _ := r.hub.Store().Events(0, 0)
	var k []hub.EventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

func has(ks []hub.EventKind, k hub.EventKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func TestManager_ReportTripsZoneAndSoundsSiren(t *testing.T) {
	r := start(t)
	if res := r.hub.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.clock.Add(61 * time.Second)
	r.hub.Submit(context.Background(), hub.Input{Kind: hub.InTick})
	r.sim.Trigger("living_window", hub.SignalContact, true)
	hubtest.Eventually(t, "burglary and siren", func() bool {
		return has(r.kinds(), hub.KindBurglary) && strings.Contains(r.out.String(), "hall_siren: WOOOO")
	})
	r.sim.Trigger("bedroom_window", hub.SignalContact, true)
	hubtest.Eventually(t, "the siren re-asserted for a new detection", func() bool {
		return strings.Count(r.out.String(), "hall_siren: WOOOO") == 2
	})
	if !strings.Contains(r.out.String(), "hall_keypad: shows in_alarm") {
		t.Errorf("keypad not told of the alarm:\n%s", r.out.String())
	}
	if h := r.mgr.Health()["living_window"]; h.LastSeen.IsZero() {
		t.Errorf("health not kept: %+v", h)
	}
}

func TestManager_UnknownDeviceOutsidePairingChangesNothing(t *testing.T) {
	r := start(t)
	before := r.hub.Snapshot().State.NextSeq
	r.mgr.Report(devices.Report{Driver: "sim", Address: "neighbours_door", Signals: []devices.SignalValue{{Signal: hub.SignalContact, Active: true}}})
	r.mgr.Malformed("sim", "front_door", errors.New("not json"))
	r.mgr.Malformed("sim", "front_door", errors.New("not json"))
	if len(r.mgr.Discovered()) != 0 {
		t.Error("a transmitter seen outside pairing was offered")
	}
	if r.hub.Snapshot().State.NextSeq != before {
		t.Error("an unknown or malformed message changed the alarm state")
	}
	if h := r.mgr.Health()["front_door"]; h.Malformed != 2 {
		t.Errorf("malformed count %d, want 2", h.Malformed)
	}
}

func TestManager_PairAdoptRemove(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	if err := r.mgr.StartPairing(ctx, "", 2, 0); err == nil {
		t.Error("pairing for 0s accepted")
	}
	if err := r.mgr.StartPairing(ctx, "zigbee2mqtt", 2, time.Minute); err == nil {
		t.Error("pairing an absent driver accepted")
	}
	if err := r.mgr.StartPairing(ctx, "", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if p := r.mgr.Pairing(r.clock.Now()); !p.Active || p.Area != 2 || p.Left != time.Minute {
		t.Fatalf("pairing status %+v", p)
	}
	r.sim.Announce("shed_smoke", "sim-smoke", []devices.Capability{devices.CapSmoke})
	ds := r.mgr.Discovered()
	if len(ds) != 1 || ds[0].Suggested != hub.ZoneFire {
		t.Fatalf("discovered %+v, want a smoke detector suggested as fire", ds)
	}
	if err := r.mgr.Adopt(ctx, anna, devices.Adoption{Driver: "sim", Address: "nope"}); !errors.Is(err, devices.ErrNotDiscovered) {
		t.Fatalf("adopting the undiscovered: %v", err)
	}
	if err := r.mgr.Adopt(ctx, anna, devices.Adoption{Driver: "sim", Address: "shed_smoke"}); err != nil {
		t.Fatal(err)
	}
	inst := r.hub.Snapshot().Installation
	z := inst.Zones[len(inst.Zones)-1]
	if z.Device != "shed_smoke" || z.Type != hub.ZoneFire || z.Area != 2 || z.Number != 13 {
		t.Fatalf("adopted zone %+v", z)
	}
	r.sim.Trigger("shed_smoke", hub.SignalSmoke, true)
	hubtest.Eventually(t, "fire from the adopted detector", func() bool { return has(r.kinds(), hub.KindFire) })
	if err := r.mgr.Remove(ctx, anna, "shed_smoke"); err != nil {
		t.Fatal(err)
	}
	if err := r.mgr.Remove(ctx, anna, "shed_smoke"); !errors.Is(err, hub.ErrUnknownDevice) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestManager_SupervisionMissingAndRestore(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	r.clock.Add(time.Hour)
	r.mgr.Supervise(ctx, r.clock.Now())
	r.sim.Trigger("garage_motion", hub.SignalMotion, false)
	r.clock.Add(90 * time.Minute)
	r.mgr.Supervise(ctx, r.clock.Now()) // 2h30m since start: every silent device is missing
	hubtest.Eventually(t, "missing devices", func() bool { return has(r.kinds(), hub.KindDeviceMissing) })
	if !r.mgr.Health()["front_door"].Missing {
		t.Error("a device silent for 2h30m is not missing")
	}
	if r.mgr.Health()["garage_motion"].Missing {
		t.Error("a device heard 90 min ago is missing")
	}
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); res.Err == nil || !strings.Contains(res.Err.Error(), "missing: Front door") {
		t.Fatalf("arming with missing devices: %v", res.Err)
	}
	r.sim.Trigger("front_door", hub.SignalContact, false)
	hubtest.Eventually(t, "restore", func() bool {
		evs, _ := r.hub.Store().History(0, 1)
		return len(evs) == 1 && evs[0].Kind == hub.KindDeviceMissing && evs[0].Restore && evs[0].Device == "front_door"
	})
}

func TestManager_LockArmsAndDisarmsWhenOptedIn(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	lock := func(action, source string, slot int) {
		r.mgr.Report(devices.Report{Driver: "sim", Address: "front_lock", LockEvent: &devices.LockEvent{Action: action, Source: source, User: slot}})
	}
	mode := func() hub.Mode { return r.hub.Snapshot().State.Areas[0].Set }
	// Not opted in: nothing happens.
	lock("lock", "keypad", 1)
	time.Sleep(50 * time.Millisecond)
	if mode() != hub.ModeDisarmed {
		t.Fatal("a lock not set up for it armed the house")
	}
	res := r.hub.Configure(ctx, hub.Input{User: "anna", How: hub.HowWeb}, "lock arms and disarms", func(inst *hub.Installation) error {
		for i := range inst.Devices {
			if inst.Devices[i].ID == "front_lock" {
				inst.Devices[i].DisarmOnUnlock, inst.Devices[i].ArmOnLock = true, true
			}
		}
		inst.Users[0].LockSlot = 1
		return nil
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	lock("lock", "keypad", 1)
	hubtest.Eventually(t, "armed by the lock", func() bool { return mode() == hub.ModeArmedAway })
	lock("unlock", "manual", 0) // a key: nobody vakt knows
	lock("unlock", "keypad", 7) // a slot of no vakt user
	time.Sleep(50 * time.Millisecond)
	if mode() != hub.ModeArmedAway {
		t.Fatal("an unknown unlock disarmed the house")
	}
	lock("unlock", "rfid", 1)
	hubtest.Eventually(t, "disarmed by the lock", func() bool { return mode() == hub.ModeDisarmed })
	evs, _ := r.hub.Store().History(0, 1)
	if evs[0].Kind != hub.KindDisarm || evs[0].How != hub.HowLock || evs[0].User != "anna" {
		t.Fatalf("history says %+v, want a disarm by anna via lock", evs[0])
	}
}

func TestManager_PlugsAndLocks(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	if err := r.mgr.Switch(ctx, anna, "coffee_plug", true); err != nil {
		t.Fatal(err)
	}
	if err := r.mgr.Lock(ctx, anna, "front_lock", true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.out.String(), "coffee_plug: switched on") || !strings.Contains(r.out.String(), "front_lock: locked") {
		t.Fatalf("commands not sent:\n%s", r.out.String())
	}
	if err := r.mgr.Switch(ctx, anna, "front_door", true); err == nil || !strings.Contains(err.Error(), "not a plug") {
		t.Fatalf("switching a door: %v", err)
	}
	if err := r.mgr.Lock(ctx, anna, "nope", true); !errors.Is(err, hub.ErrUnknownDevice) {
		t.Fatalf("locking an unknown device: %v", err)
	}
}

// TestManager_WatchHealth: a watcher hears of a plug switched, a lock moved and a new
// temperature (here as the simulated devices report their new state after a command), not
// of a report that changes none of them; it stops hearing once stopped.
func TestManager_WatchHealth(t *testing.T) {
	r := start(t)
	changes, stop := r.mgr.WatchHealth()
	heard := func() bool {
		select {
		case <-changes:
			return true
		default:
			return false
		}
	}
	if err := r.mgr.Switch(context.Background(), anna, "coffee_plug", true); err != nil {
		t.Fatal(err)
	}
	if h := r.mgr.Health()["coffee_plug"]; h.Switch == nil || !*h.Switch || !heard() {
		t.Fatalf("after switching on: health %+v", h)
	}
	on := true
	r.mgr.Report(devices.Report{Driver: "sim", Address: "coffee_plug", Switch: &on})
	if heard() {
		t.Fatal("a report of the same state was heard as a change")
	}
	if err := r.mgr.Lock(context.Background(), anna, "front_lock", true); err != nil {
		t.Fatal(err)
	}
	if h := r.mgr.Health()["front_lock"]; h.Lock != "locked" || !heard() {
		t.Fatalf("after locking: health %+v", h)
	}
	temp := 21.5
	r.mgr.Report(devices.Report{Driver: "sim", Address: "garage_smoke", Temperature: &temp})
	if !heard() {
		t.Fatal("a new temperature was not heard")
	}
	stop()
	temp = 22
	r.mgr.Report(devices.Report{Driver: "sim", Address: "garage_smoke", Temperature: &temp})
	if heard() {
		t.Fatal("heard after stop")
	}
}

// anna is the demo's admin, signed in (the web UI and HomeKit pass users like this).
var anna = hub.Input{User: "anna", How: hub.HowWeb}

// TestManager_DeviceActionsAuthorised: switching, locking, adopting and removing take a
// credential with the right role, and each is in the history with who and how.
func TestManager_DeviceActionsAuthorised(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	code := func(c string) hub.Input { return hub.Input{Code: c, How: hub.HowKeypad} }
	sent := func(line string) bool { return strings.Contains(r.out.String(), line) }

	if err := r.mgr.Switch(ctx, code("0000"), "coffee_plug", true); !errors.Is(err, hub.ErrWrongCode) || sent("coffee_plug: switched on") {
		t.Fatalf("a wrong code switched the plug: %v", err)
	}
	if err := r.mgr.Switch(ctx, hub.Input{}, "coffee_plug", true); !errors.Is(err, hub.ErrNoCredential) {
		t.Fatalf("no credential: %v", err)
	}
	if err := r.mgr.Switch(ctx, code("5678"), "coffee_plug", true); err != nil || !sent("coffee_plug: switched on") {
		t.Fatalf("erik switching the plug: %v", err)
	}
	evs, _ := r.hub.Store().History(0, 1)
	if evs[0].Kind != hub.KindDeviceCommand || evs[0].User != "erik" || evs[0].How != hub.HowKeypad || evs[0].Device != "coffee_plug" {
		t.Fatalf("history says %+v, want a device command by erik", evs[0])
	}

	// Unlocking an armed house's door takes a user who may disarm it.
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := r.hub.Configure(ctx, anna, "lisa may only arm", func(inst *hub.Installation) error {
		for i := range inst.Users {
			if inst.Users[i].ID == "lisa" {
				inst.Users[i].ArmOnly = true
			}
		}
		return nil
	}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if err := r.mgr.Lock(ctx, code("2468"), "front_lock", false); !errors.Is(err, hub.ErrNotAllowed) || sent("front_lock: unlocked") {
		t.Fatalf("an arm-only user unlocked the armed house's door: %v", err)
	}
	if err := r.mgr.Lock(ctx, code("2468"), "front_lock", true); err != nil {
		t.Fatalf("an arm-only user may lock: %v", err)
	}
	if err := r.mgr.Lock(ctx, code("1234"), "front_lock", false); err != nil || !sent("front_lock: unlocked") {
		t.Fatalf("anna unlocking: %v", err)
	}
	evs, _ = r.hub.Store().History(0, 1)
	if !strings.Contains(evs[0].Note, "unlocked while arming") && !strings.Contains(evs[0].Note, "unlocked while armed") {
		t.Fatalf("history says %+v", evs[0])
	}

	// Adopting and removing: an admin or a granted installer only.
	r.sim.Announce("shed_door", "sim-contact", []devices.Capability{devices.CapContact})
	hubtest.Eventually(t, "discovered", func() bool { return len(r.mgr.Discovered()) > 0 })
	if err := r.mgr.Adopt(ctx, code("5678"), devices.Adoption{Driver: "sim", Address: "shed_door"}); !errors.Is(err, hub.ErrNotAllowed) {
		t.Fatalf("a user adopted a device: %v", err)
	}
	if err := r.mgr.Adopt(ctx, code("7777"), devices.Adoption{Driver: "sim", Address: "shed_door"}); !errors.Is(err, hub.ErrInstallerNotActive) {
		t.Fatalf("an installer without a grant adopted a device: %v", err)
	}
	if err := r.mgr.Remove(ctx, code("0000"), "coffee_plug"); !errors.Is(err, hub.ErrWrongCode) {
		t.Fatalf("a wrong code removed a device: %v", err)
	}
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InGrantInstaller, Active: true, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if err := r.mgr.Adopt(ctx, code("7777"), devices.Adoption{Driver: "sim", Address: "shed_door"}); err != nil {
		t.Fatalf("a granted installer adopting: %v", err)
	}
	evs, _ = r.hub.Store().History(0, 1)
	if evs[0].Kind != hub.KindConfigChange || evs[0].User != "ivan" || evs[0].How != hub.HowKeypad {
		t.Fatalf("history says %+v, want a config change by ivan", evs[0])
	}
}

// TestManager_KeypadSaysNotArmed: a cancelled exit delay shows on the keypad.
func TestManager_KeypadSaysNotArmed(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "the keypad counting down", func() bool { return strings.Contains(r.out.String(), "hall_keypad: shows exit_delay") })
	r.sim.Trigger("living_motion", hub.SignalMotion, true)
	hubtest.Eventually(t, "NOT ARMED on the keypad", func() bool { return strings.Contains(r.out.String(), "hall_keypad: shows not_ready") })
}

// sirenLines returns the sim's output lines for one siren, in order.
func (r *rig) sirenLines(id string) []string {
	var out []string
	for _, l := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(l, id+": ") {
			out = append(out, l)
		}
	}
	return out
}

// A fire in one area sounds every siren of the installation with the fire pattern;
// silencing the area with the fire stops them all; a burglary sounds only its own area.
func TestManager_FireSoundsEverySiren(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	r.sim.Trigger("garage_smoke", hub.SignalSmoke, true)
	hubtest.Eventually(t, "both sirens sound fire", func() bool {
		g, h := r.sirenLines("garage_siren"), r.sirenLines("hall_siren")
		return len(g) == 1 && strings.Contains(g[0], "fire pattern") && len(h) == 1 && strings.Contains(h[0], "fire pattern")
	})
	if !strings.Contains(r.sirenLines("hall_siren")[0], "for 3m0s") {
		t.Errorf("the house's siren got no bell cut-off: %s", r.sirenLines("hall_siren")[0])
	}
	r.sim.Trigger("garage_smoke", hub.SignalSmoke, false)
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 2, User: "anna", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "both sirens stop", func() bool {
		g, h := r.sirenLines("garage_siren"), r.sirenLines("hall_siren")
		return len(g) == 2 && strings.Contains(g[1], "silent") && len(h) == 2 && strings.Contains(h[1], "silent")
	})

	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.clock.Add(31 * time.Second)
	r.hub.Submit(ctx, hub.Input{Kind: hub.InTick})
	r.sim.Trigger("garage_motion", hub.SignalMotion, true)
	hubtest.Eventually(t, "the garage siren sounds burglar", func() bool {
		g := r.sirenLines("garage_siren")
		return len(g) == 3 && strings.Contains(g[2], "burglar")
	})
	// The hub commits before the manager hears of it; one more round trip settles outputs.
	r.hub.Do(ctx, hub.Input{Kind: hub.InTick})
	time.Sleep(50 * time.Millisecond)
	if h := r.sirenLines("hall_siren"); len(h) != 2 {
		t.Errorf("a garage burglary reached the house's siren: %q", h)
	}
}

// The sirens sound as soon as the hub decides, not after the commit (DESIGN §3): with the
// fire's commit held up, both sirens already play fire.
func TestManager_SirenBeforeCommit(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	c := hubtest.NewClock(hubtest.T0)
	r, stop := startWith(t, filepath.Join(t.TempDir(), "vakt.db"), c, hub.Options{BeforeCommit: func(evs []hub.Event) error {
		for _, ev := range evs {
			if ev.Kind == hub.KindFire {
				<-gate
			}
		}
		return nil
	}})
	defer stop()
	defer release()
	r.sim.Trigger("garage_smoke", hub.SignalSmoke, true)
	hubtest.Eventually(t, "both sirens sound fire while the commit is held", func() bool {
		g, h := r.sirenLines("garage_siren"), r.sirenLines("hall_siren")
		return len(g) == 1 && strings.Contains(g[0], "fire pattern") && len(h) == 1 && strings.Contains(h[0], "fire pattern")
	})
	if has(r.kinds(), hub.KindFire) {
		t.Fatal("the fire is committed: the test did not hold the commit")
	}
	release()
	hubtest.Eventually(t, "the fire committed", func() bool { return has(r.kinds(), hub.KindFire) })
}

// A device the hub holds missing when vakt restarts is restored by its first message: the
// manager learns at start which devices the hub holds missing.
func TestManager_MissingRestoredAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	c := hubtest.NewClock(hubtest.T0)
	r, stop := startAt(t, path, c)
	ctx := context.Background()
	c.Add(time.Hour)
	for _, id := range []string{"garage_motion", "garage_smoke", "garage_siren"} {
		r.mgr.Report(devices.Report{Driver: "sim", Address: id})
	}
	c.Add(90 * time.Minute)
	r.mgr.Supervise(ctx, c.Now())
	hubtest.Eventually(t, "the garage door missing", func() bool {
		for _, d := range r.hub.Snapshot().State.Devices {
			if d.ID == "garage_door" {
				return d.Missing
			}
		}
		return false
	})
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, User: "anna"}); res.Err == nil || !strings.Contains(res.Err.Error(), "missing: Garage door") {
		t.Fatalf("arming the garage with its door missing: %v", res.Err)
	}
	stop()

	c.Add(time.Minute)
	r, stop = startAt(t, path, c)
	t.Cleanup(stop)
	if !r.mgr.Health()["garage_door"].Missing {
		t.Error("after a restart the manager does not know the garage door is missing")
	}
	r.sim.Trigger("garage_door", hub.SignalContact, false)
	hubtest.Eventually(t, "the garage door restored", func() bool {
		evs, _ := r.hub.Store().History(0, 1)
		return len(evs) == 1 && evs[0].Kind == hub.KindDeviceMissing && evs[0].Restore && evs[0].Device == "garage_door"
	})
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, User: "anna"}); res.Err != nil {
		t.Fatalf("arming the garage after its door came back: %v", res.Err)
	}
	if r.mgr.Health()["garage_door"].Missing {
		t.Error("the garage door is still missing in its health")
	}
}

// Every malformed payload is counted and logged with its reason at warning level, at most
// one line per device per minute, saying how many were left out since the last line.
// Dropped stale messages are counted too.
func TestManager_MalformedLogRateLimited(t *testing.T) {
	r := start(t)
	var logs hubtest.Buffer
	c := r.clock
	m := devices.NewManager(r.hub, devices.Options{Now: c.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "malformed") {
				out = append(out, l)
			}
		}
		return out
	}
	m.Malformed("sim", "front_door", errors.New("not json"))
	m.Malformed("sim", "front_door", errors.New("battery out of range"))
	c.Add(30 * time.Second)
	m.Malformed("sim", "front_door", errors.New("contact is a string"))
	m.Malformed("sim", "back_door", errors.New("truncated"))
	got := lines()
	if len(got) != 2 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], "device=front_door") ||
		!strings.Contains(got[0], `error="not json"`) || !strings.Contains(got[1], "device=back_door") {
		t.Fatalf("after 4 malformed payloads from 2 devices within a minute, log:\n%s", strings.Join(got, "\n"))
	}
	c.Add(31 * time.Second)
	m.Malformed("sim", "front_door", errors.New("unexpected end of JSON input"))
	got = lines()
	if len(got) != 3 || !strings.Contains(got[2], "device=front_door") || !strings.Contains(got[2], "suppressed=2") ||
		!strings.Contains(got[2], "unexpected end of JSON input") {
		t.Fatalf("a minute later, log:\n%s", strings.Join(got, "\n"))
	}
	m.Stale("sim", "front_door", "older than a message already read")
	m.Stale("sim", "front_door", "older than a message already read")
	h := m.Health()["front_door"]
	if h.Malformed != 4 || h.Dropped != 2 {
		t.Errorf("front door health %+v, want 4 malformed and 2 dropped", h)
	}
}

// A device goes to the area pairing was open for when it was discovered, unless the
// installer says otherwise; one discovered outside pairing goes to area 1, not to the area
// of a pairing long closed.
func TestManager_AdoptIntoPairingArea(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	if err := r.mgr.StartPairing(ctx, "", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	r.sim.Announce("shed_door", "sim-contact", []devices.Capability{devices.CapContact})
	r.clock.Add(2 * time.Minute)                                                          // pairing for the garage has ended
	r.sim.Announce("attic_door", "sim-contact", []devices.Capability{devices.CapContact}) // a Zigbee join, say
	if err := r.mgr.StartPairing(ctx, "", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	r.sim.Announce("cellar_door", "sim-contact", []devices.Capability{devices.CapContact})
	r.sim.Announce("shed_window", "sim-contact", []devices.Capability{devices.CapContact})
	for _, a := range []devices.Adoption{
		{Driver: "sim", Address: "shed_door"},
		{Driver: "sim", Address: "attic_door"},
		{Driver: "sim", Address: "cellar_door"},
		{Driver: "sim", Address: "shed_window", Area: 2},
	} {
		if err := r.mgr.Adopt(ctx, anna, a); err != nil {
			t.Fatalf("adopt %s: %v", a.Address, err)
		}
	}
	areas := map[string]int{}
	for _, z := range r.hub.Snapshot().Installation.Zones {
		areas[z.Device] = z.Area
	}
	for id, want := range map[string]int{"shed_door": 2, "attic_door": 1, "cellar_door": 1, "shed_window": 2} {
		if areas[id] != want {
			t.Errorf("%s adopted into area %d, want %d", id, areas[id], want)
		}
	}
}

// A temperature-only sensor is adoptable and is a sensor of the pairing's area, with no zone.
func TestManager_AdoptTemperatureOnly(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	if err := r.mgr.StartPairing(ctx, "", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	r.sim.Announce("garage_thermo", "sim-thermometer", []devices.Capability{devices.CapTemperature, devices.CapBattery})
	if ds := r.mgr.Discovered(); len(ds) != 1 || ds[0].Suggested != 0 {
		t.Fatalf("discovered %+v, want one thermometer with no zone suggested", ds)
	}
	zones := len(r.hub.Snapshot().Installation.Zones)
	if err := r.mgr.Adopt(ctx, anna, devices.Adoption{Driver: "sim", Address: "garage_thermo"}); err != nil {
		t.Fatal(err)
	}
	inst := r.hub.Snapshot().Installation
	d := inst.Devices[len(inst.Devices)-1]
	if d.ID != "garage_thermo" || d.Kind != "sensor" && d.Kind != "" || d.Area != 2 {
		t.Errorf("adopted %+v, want a sensor of area 2", d)
	}
	if len(inst.Zones) != zones {
		t.Errorf("a thermometer got a zone: %+v", inst.Zones[len(inst.Zones)-1])
	}
}

// fakeDriver is a driver of real devices that does nothing, for supervision tests.
type fakeDriver struct{ name string }

var _ devices.Driver = (*fakeDriver)(nil)

func (f *fakeDriver) Name() string                                { return f.name }
func (f *fakeDriver) Run(ctx context.Context) error               { <-ctx.Done(); return nil }
func (f *fakeDriver) Send(context.Context, devices.Command) error { return nil }
func (f *fakeDriver) Pair(context.Context, time.Duration) error   { return nil }

// The demo's short check-in window is the simulated devices' own: a real device (here the
// wired back door's driver) keeps the class default.
func TestManager_CheckInWindowPerDriver(t *testing.T) {
	r := start(t)
	ctx := context.Background()
	r.sim.CheckInWindow = 2 * time.Minute
	r.mgr.AddDriver(&fakeDriver{name: "gpio"})
	r.clock.Add(3 * time.Minute)
	r.mgr.Supervise(ctx, r.clock.Now())
	h := r.mgr.Health()
	if !h["front_door"].Missing {
		t.Error("a simulated device silent for 3 min is not missing with a 2 min window")
	}
	if h["back_door"].Missing {
		t.Error("a real device is missing after 3 min: it got the simulator's window")
	}
	r.clock.Add(devices.DefaultCheckIn)
	r.mgr.Supervise(ctx, r.clock.Now())
	if !r.mgr.Health()["back_door"].Missing {
		t.Error("a real device silent past the default window is not missing")
	}
}

// TestManager_Schedules: schedules set through the hub (as the web UI does) chime the
// area's keypads 5 minutes before a scheduled arming, and switch a plug on its time.
func TestManager_Schedules(t *testing.T) {
	r := start(t) // Tuesday 19:00 in Stockholm
	ctx := context.Background()
	res := r.hub.Configure(ctx, anna, "schedules", func(in *hub.Installation) error {
		days := []hub.Weekday{0, 1, 2, 3, 4, 5, 6}
		in.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedNight, Arm: hub.NewClockTime(19, 30), Days: days}}
		in.PlugSchedules = []hub.PlugSchedule{{Device: "coffee_plug", On: hub.NewClockTime(19, 10), Off: hub.NewClockTime(19, 20), Days: days}}
		return nil
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	tick := func(d time.Duration) {
		t.Helper()
		r.clock.Add(d)
		if res := r.hub.Do(ctx, hub.Input{Kind: hub.InTick}); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	tick(10 * time.Minute)
	hubtest.Eventually(t, "the plug switched on", func() bool { return strings.Contains(r.out.String(), "coffee_plug: switched on") })
	tick(10 * time.Minute)
	hubtest.Eventually(t, "the plug switched off", func() bool { return strings.Contains(r.out.String(), "coffee_plug: switched off") })
	if strings.Contains(r.out.String(), "hall_keypad: ding-dong") {
		t.Fatal("the keypad chimed before the warning")
	}
	tick(5 * time.Minute)
	hubtest.Eventually(t, "the keypad chimes 5 minutes before", func() bool { return strings.Contains(r.out.String(), "hall_keypad: ding-dong") })
	tick(5 * time.Minute)
	hubtest.Eventually(t, "the keypad counting down", func() bool { return strings.Contains(r.out.String(), "hall_keypad: shows exit_delay") })
	evs, _ := r.hub.Store().Events(0, 0)
	var plugs int
	for _, ev := range evs {
		if ev.Kind == hub.KindDeviceCommand && ev.How == hub.HowSchedule && ev.Device == "coffee_plug" {
			plugs++
		}
	}
	if plugs != 2 {
		t.Fatalf("%d plug switchings logged with how = schedule, want 2", plugs)
	}
}
