package rtl433

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// loop is vakt with the real decoder in the loop: rtl_433 reads a synthetic antenna over
// rtl_tcp and publishes to vakt's embedded broker, where the driver, the manager and a hub
// on a real store take it.
type loop struct {
	t      *testing.T
	hub    *hub.Hub
	mgr    *devices.Manager
	radio  *rtlTCP
	rtl433 *hubtest.Buffer
	seed   uint64
}

// Sensors of the installation, and one that is not in it yet.
const (
	doorID = 0x5a3c1 // Kerui D026 door sensor: Kerui-Security/369601
	pirID  = 0x34a2b // Kerui P831 PIR: Kerui-Security/215595
	newID  = 0xabcde // a sensor bought later: Kerui-Security/703710
)

func startLoop(t *testing.T) *loop {
	t.Helper()
	bin := rtl433Binary(t)
	logger := testLogger(t)

	const vaktUser, vaktPass, rtlUser, rtlPass = "vakt", "vakt-test-password", "rtl_433", "rtl433-test-password"
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"},
		[]broker.Account{{Username: vaktUser, Password: vaktPass, Role: broker.RoleVakt}, {Username: rtlUser, Password: rtlPass, Role: broker.RoleRTL433}}, logger)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)

	inst := &hub.Installation{
		Name: "rtl_433 loop", CodeKey: []byte("0123456789abcdef0123456789abcdef"),
		Areas: []hub.Area{{Number: 1, Name: "House"}},
		Devices: []hub.Device{
			{ID: "door", Name: "Front door", Driver: Name, Model: "Kerui-Security", Address: fmt.Sprintf("Kerui-Security/%d", doorID)},
			{ID: "pir", Name: "Hall", Driver: Name, Model: "Kerui-Security", Address: fmt.Sprintf("Kerui-Security/%d", pirID)},
		},
		Zones: []hub.Zone{
			{Number: 1, Name: "Front door", Area: 1, Type: hub.ZoneInstant, Device: "door"},
			{Number: 2, Name: "Hall", Area: 1, Type: hub.ZoneInstant, Device: "pir", Interior: true},
		},
		Users: []hub.User{{ID: "anna", Number: 1, Role: hub.RoleAdmin}},
	}
	inst.Settings.NoExitDelay = true
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{Logger: logger})
	mgr := devices.NewManager(h, devices.Options{Logger: logger})

	client, err := mqttclient.New(mqttclient.Config{URL: "tcp://" + b.Addr(), Username: vaktUser, Password: vaktPass}, "vakt-rtl433-test", logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(250) }) // after the driver stops: cleanups run last first
	if err := client.ConnectWait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Short restores, so the test sees the driver end motion and tamper.
	short := map[string]Duration{"motion": Duration(2 * time.Second), "tamper": Duration(2 * time.Second)}
	drv, err := New(Config{Models: map[string]Override{"Kerui-Security": {AutoRestore: short}}}, client, mgr, logger)
	if err != nil {
		t.Fatal(err)
	}
	mgr.AddDriver(drv)
	hubtest.Run(t, "rtl433 driver", drv.Run)
	hubtest.Run(t, "devices", mgr.Run)

	radio := startRTLTCP(t)
	out := &hubtest.Buffer{}
	rtlCtx, rtlCancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(rtlCtx, bin,
		"-d", "rtl_tcp://"+radio.Addr(),
		"-R", "68", // Kerui only: other decoders also take EV1527 frames (as Smoke-GS558, …)
		"-F", fmt.Sprintf("mqtt://%s,user=%s,pass=%s,events=%s", b.Addr(), rtlUser, rtlPass, DefaultTopic),
		"-M", "level")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.Join(cmd.Args, " "))
	t.Cleanup(func() {
		rtlCancel() // kills rtl_433
		_ = cmd.Wait()
		if t.Failed() || testing.Verbose() {
			t.Logf("rtl_433 said:\n%s", out.String())
		}
	})
	return &loop{t: t, hub: h, mgr: mgr, radio: radio, rtl433: out}
}

// press makes a Kerui sensor transmit until cond holds. It transmits again now and then:
// rtl_433 drops what it decodes before its MQTT connection is up, as a real radio would
// lose a burst to a collision.
func (l *loop) press(what string, id uint32, cmd byte, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.seed++
		l.radio.transmit(keruiBurst(id, cmd, l.seed))
		for again := time.Now().Add(5 * time.Second); time.Now().Before(again); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not within 60s of transmitting", what)
		}
		l.t.Logf("%s: not seen yet; transmitting again", what)
	}
}

func (l *loop) zoneActive(n int) bool {
	for _, z := range l.hub.Snapshot().State.Zones {
		if z.Number == n {
			return z.Active
		}
	}
	l.t.Fatalf("no zone %d", n)
	return false
}

// event reports whether the event log holds an event matching.
func (l *loop) event(match func(hub.Event) bool) bool {
	events, err := l.hub.Store().Events(0, 100000)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, e := range events {
		if match(e) {
			return true
		}
	}
	return false
}

// TestRTL433_InTheLoop runs the real decoder on a synthetic antenna: Kerui sensors'
// transmissions, synthesized as I/Q samples and streamed over rtl_tcp, reach the hub as
// open, close, tamper (a trouble while disarmed, an alarm while armed) and motion (a
// burglary while armed); the driver ends motion and tamper itself; and a new sensor heard
// while pairing is offered for adoption.
func TestRTL433_InTheLoop(t *testing.T) {
	l := startLoop(t)
	ctx := t.Context()

	hubtest.Eventually(l.t, "rtl_433 tunes the dongle to 433.92 MHz at 250 kS/s", func() bool {
		f, okF := l.radio.setting(cmdSetFreq)
		r, okR := l.radio.setting(cmdSetRate)
		return okF && okR && f == 433_920_000 && r == 250_000
	})

	l.press("the door opens", doorID, keruiOpen, func() bool { return l.zoneActive(1) })
	l.press("the door closes", doorID, keruiClose, func() bool { return !l.zoneActive(1) })
	if h := l.mgr.Health()["door"]; h.LastSeen.IsZero() {
		t.Errorf("door health %+v: never seen", h)
	}

	isTamper := func(restore bool, note string) func(hub.Event) bool {
		return func(e hub.Event) bool {
			return e.Kind == hub.KindTamper && e.Device == "door" && e.Restore == restore && e.Note == note
		}
	}
	l.press("the door's case is opened while disarmed", doorID, keruiTamper, func() bool { return l.event(isTamper(false, "trouble")) })
	hubtest.Eventually(l.t, "the driver ends the tamper", func() bool { return l.event(isTamper(true, "")) })

	if res := l.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); res.Err != nil {
		t.Fatalf("arm: %v", res.Err)
	}
	burglary := func(e hub.Event) bool { return e.Kind == hub.KindBurglary && e.Device == "pir" }
	l.press("motion in the hall while armed", pirID, keruiMotion, func() bool { return l.event(burglary) })
	hubtest.Eventually(l.t, "the driver ends the motion", func() bool { return !l.zoneActive(2) })

	l.press("the door's case is opened while armed", doorID, keruiTamper, func() bool { return l.event(isTamper(false, "")) })
	if a := l.hub.Snapshot().State.Areas[0]; a.Mode != hub.ModeTriggered || a.Siren != hub.SirenBurglar {
		t.Errorf("area %d: mode %v siren %v, want triggered with the burglar siren", a.Number, a.Mode, a.Siren)
	}

	if err := l.mgr.StartPairing(ctx, Name, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	newAddr := fmt.Sprintf("Kerui-Security/%d", newID)
	var found devices.Discovered
	l.press("a new door sensor is heard while pairing", newID, keruiOpen, func() bool {
		for _, d := range l.mgr.Discovered() {
			if d.Address == newAddr {
				found = d
				return true
			}
		}
		return false
	})
	if found.Driver != Name || found.Model != "Kerui-Security" || found.Vendor != "Kerui" || found.Suggested != hub.ZoneEntryExit {
		t.Errorf("discovered %+v, want a Kerui door suggested as entry/exit", found)
	}
	if err := l.mgr.Adopt(ctx, hub.Input{User: "anna", How: hub.HowWeb}, devices.Adoption{Driver: Name, Address: newAddr, ID: "back_door", Area: 1}); err != nil {
		t.Fatal(err)
	}
	var adopted hub.Device
	for _, d := range l.hub.Snapshot().Installation.Devices {
		if d.ID == "back_door" {
			adopted = d
		}
	}
	if adopted.Model != "Kerui-Security" || adopted.Address != newAddr {
		t.Errorf("adopted %+v", adopted)
	}
}
