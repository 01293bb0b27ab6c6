package zigbee2mqtt

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// brokers are the two brokers vakt works with: its embedded one and a mosquitto.
var brokers = []struct {
	name  string
	start func(testing.TB) string
}{
	{"embedded", startEmbedded},
	{"mosquitto", func(tb testing.TB) string { return startMosquitto(tb).url() }},
}

// TestEndToEnd drives a real hub through real brokers with the payloads Zigbee2MQTT publishes
// for real devices: arm from the keypad (a wrong code first), let the exit delay pass, open
// a window twice (one alarm), disarm with an RFID tag, then smoke while disarmed.
func TestEndToEnd(t *testing.T) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			r := newRig(t, b.start(t), testInstallation())
			z := r.z2m
			ctx := context.Background()
			z.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)

			// The list: the unadopted climate sensor is offered for adoption; plugs and
			// locks are asked for their state.
			hubtest.Eventually(t, "climate sensor discovered", func() bool {
				return slices.ContainsFunc(r.mgr.Discovered(), func(d devices.Discovered) bool {
					return d.Address == ieeeClimate && d.Model == "WSDCGQ11LM" && slices.Contains(d.Caps, devices.CapTemperature)
				})
			})
			z.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
			z.waitFor("zigbee2mqtt/Front door lock/get", `{"state":""}`)

			// A wrong code: refused, with the keypad's transaction.
			keypad := "zigbee2mqtt/Hall keypad/set"
			z.fixture("Hall keypad", "frient_kepzb-110_wrong_code.json")
			z.waitFor(keypad, `{"arm_mode":{"transaction":13,"mode":"invalid_code"}}`)
			if m := r.area(1).Mode; m != hub.ModeDisarmed {
				t.Fatalf("after a wrong code: %s", m)
			}

			// Anna's code: the request is granted with its transaction, then the keypad
			// shows the exit delay.
			z.fixture("Hall keypad", "frient_kepzb-110_code.json")
			z.waitFor(keypad, `{"arm_mode":{"transaction":12,"mode":"arm_all_zones"}}`)
			z.waitFor(keypad, `{"arm_mode":{"mode":"exit_delay"}}`)
			if a := r.area(1); a.Mode != hub.ModeArming || a.User != "anna" || a.How != hub.HowKeypad {
				t.Fatalf("after the keypad: %+v", a)
			}
			r.tick(61 * time.Second)
			hubtest.Eventually(t, "armed away", func() bool { return r.area(1).Mode == hub.ModeArmedAway })
			z.waitFor(keypad, `{"arm_mode":{"mode":"arm_all_zones"}}`)

			// The window opens; Zigbee2MQTT (or a flaky link) delivers it twice.
			z.fixture("Living room window", "aqara_mccgq11lm_open.json")
			z.fixture("Living room window", "aqara_mccgq11lm_open.json")
			z.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"burglar"`, `"level":"very_high"`, `"strobe":true`, `"duration":180`)
			// The HS2WD-E lists only the emergency sound.
			z.waitFor("zigbee2mqtt/Hall siren/set", `"mode":"emergency"`, `"duration":180`)
			z.waitFor(keypad, `{"arm_mode":{"mode":"in_alarm"}}`)

			// Disarm with Anna's RFID tag: the sirens stop.
			z.fixture("Hall keypad", "frient_kepzb-110_rfid.json")
			z.waitFor(keypad, `{"arm_mode":{"transaction":93,"mode":"disarm"}}`)
			z.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"stop"`)
			z.waitFor("zigbee2mqtt/Hall siren/set", `"mode":"stop"`)
			if a := r.area(1); a.Mode != hub.ModeDisarmed || a.How != hub.HowTag {
				t.Fatalf("after the tag: %+v", a)
			}

			// Smoke while disarmed: the fire pattern.
			z.fixture("Kitchen smoke", "frient_smszb-120_smoke.json")
			z.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"fire"`, `"duration":180`)
			hubtest.Eventually(t, "fire logged", func() bool { return r.count(hub.KindFire) == 1 })

			// Nothing of that window twice: one alarm, one burglar warning per siren.
			if n := r.count(hub.KindBurglary); n != 1 {
				t.Errorf("%d burglary events, want 1 (kinds %v)", n, r.kinds())
			}
			burglar := 0
			for _, p := range z.requests("zigbee2mqtt/Attic siren/set") {
				if strings.Contains(p, "burglar") {
					burglar++
				}
			}
			if burglar != 1 {
				t.Errorf("%d burglar warnings, want 1", burglar)
			}

			// Malformed payloads and devices not in the installation change nothing.
			events := len(r.kinds())
			seen := discoveredAt(r.mgr, ieeeClimate)
			z.publish("Living room window", []byte(`{"contact":fals`), false)
			z.publish("Living room window", []byte(`{"contact":"open"}`), false)
			z.fixture("0x00158d0009999999", "aqara_mccgq11lm_open.json")
			z.fixture("Shed door", "aqara_mccgq11lm_open.json")
			z.fixture("Bedroom climate", "aqara_wsdcgq11lm_battery_low.json")
			hubtest.Eventually(t, "malformed payloads counted", func() bool { return r.mgr.Health()["living_window"].Malformed == 2 })
			hubtest.Eventually(t, "unadopted sensor seen", func() bool { return discoveredAt(r.mgr, ieeeClimate).After(seen) })
			if n := len(r.kinds()); n != events {
				t.Errorf("events %v after malformed and unadopted payloads, was %d", r.kinds()[events:], events)
			}

			// Plugs, locks and pairing.
			if err := r.drv.Send(ctx, devices.Command{Kind: devices.CmdSwitch, Address: ieeePlug, On: true}); err != nil {
				t.Fatal(err)
			}
			z.waitFor("zigbee2mqtt/Coffee plug/set", `{"state":"ON"}`)
			if err := r.drv.Send(ctx, devices.Command{Kind: devices.CmdLock, Address: ieeeLock, Locked: false}); err != nil {
				t.Fatal(err)
			}
			z.waitFor("zigbee2mqtt/Front door lock/set", `{"state":"UNLOCK"}`)
			if err := r.drv.Send(ctx, devices.Command{Kind: devices.CmdSiren, Address: ieeePlug, Pattern: hub.SirenFire}); err == nil {
				t.Error("a siren command to a plug was sent")
			}
			if err := r.mgr.StartPairing(ctx, Name, 1, time.Minute); err != nil {
				t.Fatal(err)
			}
			z.waitFor("zigbee2mqtt/bridge/request/permit_join", `{"value":true,"time":60}`)
			z.fixture("Coffee plug", "aqara_sp-euc01_on.json")
			hubtest.Eventually(t, "plug state and power", func() bool {
				h := r.mgr.Health()["coffee_plug"]
				return h.Switch != nil && *h.Switch && h.Power != nil && *h.Power == 45.2
			})
		})
	}
}

func discoveredAt(m *devices.Manager, addr string) time.Time {
	for _, d := range m.Discovered() {
		if d.Address == addr {
			return d.LastSeen
		}
	}
	return time.Time{}
}

// TestReconnect_MosquittoRestart kills mosquitto while the house is armed and starts it again
// on the same port: the driver reconnects and resubscribes, asks plugs and locks for their
// state (mosquitto kept no retained messages: the driver's list is its own), and a window
// opening after the restart still sounds the sirens.
func TestReconnect_MosquittoRestart(t *testing.T) {
	m := startMosquitto(t)
	r := newRig(t, m.url(), testInstallation())
	z := r.z2m
	z.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	z.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	ctx := context.Background()
	if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowCode, Iface: "test"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.tick(61 * time.Second)
	hubtest.Eventually(t, "armed away", func() bool { return r.area(1).Mode == hub.ModeArmedAway })

	connects := r.client.Connects()
	m.stop()
	hubtest.Eventually(t, "driver sees the broker gone", func() bool { return !r.client.IsConnectionOpen() })
	z.reset()
	m.start()
	hubtest.Eventually(t, "driver reconnected", func() bool { return r.client.Connects() > connects && r.client.IsConnectionOpen() })
	z.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	z.waitFor("zigbee2mqtt/Front door lock/get", `{"state":""}`)
	if got := z.requests("zigbee2mqtt/Living room window/get"); len(got) > 0 {
		t.Errorf("asked a sleeping sensor for its state: %v", got)
	}

	z.fixture("Living room window", "aqara_mccgq11lm_open.json")
	z.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"burglar"`)
	// The siren command runs ahead of the commit (DESIGN §3): wait for the event.
	hubtest.Eventually(t, "the burglary in the log", func() bool { return r.count(hub.KindBurglary) > 0 })
	if n := r.count(hub.KindBurglary); n != 1 {
		t.Fatalf("%d burglaries after the restart", n)
	}
}

// TestReconnect_CommandPublishedAgain: a siren command given while the broker is away is
// published once the driver is back, with what is left of its duration.
func TestReconnect_CommandPublishedAgain(t *testing.T) {
	m := startMosquitto(t)
	r := newRig(t, m.url(), testInstallation())
	z := r.z2m
	z.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	z.waitFor("zigbee2mqtt/Coffee plug/get", `{"state":""}`)
	m.stop()
	hubtest.Eventually(t, "driver sees the broker gone", func() bool { return !r.client.IsConnectionOpen() })
	err := r.drv.Send(context.Background(), devices.Command{Kind: devices.CmdSiren, Address: ieeeAttic, Pattern: hub.SirenFire, Duration: 10 * time.Minute})
	if err == nil {
		t.Fatal("a command with no broker went through")
	}
	z.reset()
	time.Sleep(1100 * time.Millisecond) // an outage longer than a second of the siren's time
	m.start()
	p := z.waitFor("zigbee2mqtt/Attic siren/set", `"mode":"fire"`)
	if !strings.Contains(p, `"duration":59`) {
		t.Errorf("published again with its whole duration: %s", p)
	}
}

// TestBroker_RefusesSpoofedClients: neither broker lets in a client without the account's
// password, so nothing can pose as Zigbee2MQTT.
func TestBroker_RefusesSpoofedClients(t *testing.T) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.start(t)
			c, err := mqttclient.New(mqttclient.Config{URL: url, Username: vaktAccount.Username, Password: "guessed-password"}, "spoof", nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ConnectWait(2 * time.Second); err == nil || c.IsConnectionOpen() {
				t.Errorf("driver client with a wrong password connected (err %v)", err)
			}
			c.Disconnect(10)
			anon := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("anonymous").SetConnectTimeout(2 * time.Second))
			if tok := anon.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				anon.Disconnect(10)
				t.Error("anonymous client connected")
			}
		})
	}
}

// TestDriver_KeepsOrder publishes a window opening and closing back to back, a hundred times,
// and checks the driver reports them in that order.
func TestDriver_KeepsOrder(t *testing.T) {
	url := startEmbedded(t)
	c, err := mqttclient.New(mqttclient.Config{URL: url, Username: vaktAccount.Username, Password: vaktAccount.Password}, "vakt-order", nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts := c.OptionsReader(); !opts.Order() {
		t.Fatal("devices/mqttclient must keep message order (paho OrderMatters): an open and its close would arrive reversed")
	}
	rec := &recorder{}
	d := New(Config{}, c, rec, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); c.Disconnect(50); <-done }()
	if err := c.ConnectWait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	z := startZ2M(t, url)
	z.publish("bridge/devices", fixture(t, "bridge_devices.json"), true)
	open, closed := fixture(t, "aqara_mccgq11lm_open.json"), fixture(t, "aqara_mccgq11lm_closed.json")
	const pairs = 100
	for range pairs {
		z.publish("Living room window", open, false)
		z.publish("Living room window", closed, false)
	}
	var got []bool
	hubtest.Eventually(t, "every message read", func() bool {
		reps, _ := rec.take()
		for _, r := range reps {
			for _, s := range r.Signals {
				if s.Signal == hub.SignalContact {
					got = append(got, s.Active)
				}
			}
		}
		return len(got) >= 2*pairs
	})
	for i, open := range got {
		if open != (i%2 == 0) {
			t.Fatalf("message %d reported out of order", i)
		}
	}
}
