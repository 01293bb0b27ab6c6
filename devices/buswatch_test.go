package devices_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
)

var (
	busVakt = broker.Account{Username: "vakt", Password: "vakt-pass-123", Role: broker.RoleVakt}
	busZ2M  = broker.Account{Username: "z2m", Password: "z2m-pass-1234", Role: broker.RoleZigbee2MQTT}
)

// runBusBroker runs the embedded broker on addr (waiting for the port to be free again)
// until the returned stop.
func runBusBroker(t *testing.T, addr string) (stop func()) {
	t.Helper()
	var b *broker.Broker
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err = broker.New(broker.Config{Listen: addr}, []broker.Account{busVakt, busZ2M}, nil); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestBusWatch_DriverOffTheBroker: a driver's client on the real embedded broker. Another
// account taking its client id is refused and changes nothing. The broker stopping is a
// bus fault only once the grace has passed, held by the hub and preventing arming; the
// broker back restores it.
func TestBusWatch_DriverOffTheBroker(t *testing.T) {
	r := start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stop := runBusBroker(t, addr)

	c, err := mqttclient.New(mqttclient.Config{URL: "tcp://" + addr, Username: busVakt.Username, Password: busVakt.Password}, "vakt-zigbee2mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	const grace = 500 * time.Millisecond
	w := devices.NewBusWatch("zigbee2mqtt", c.IsConnectionOpen, grace, r.hub, nil)
	c.OnConnect(w.Connected)
	c.OnConnectionLost(w.Lost)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done; c.Disconnect(10) }()
	if err := c.ConnectWait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	faults := func() []string { return r.hub.Snapshot().State.BusFaults }

	// A bridge's account cannot take vakt's client id and kick the driver off.
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("vakt-zigbee2mqtt").
		SetUsername(busZ2M.Username).SetPassword(busZ2M.Password).SetAutoReconnect(false)
	thief := paho.NewClient(o)
	if tok := thief.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		thief.Disconnect(10)
		t.Fatal("another account took vakt's client id")
	}
	time.Sleep(grace + 200*time.Millisecond)
	if !c.IsConnectionOpen() || len(faults()) != 0 {
		t.Fatalf("after the refused takeover: connected %v, bus faults %v", c.IsConnectionOpen(), faults())
	}

	stopped := time.Now()
	stop()
	hubtest.Eventually(t, "a bus fault", func() bool { return slices.Equal(faults(), []string{"zigbee2mqtt"}) })
	if d := time.Since(stopped); d < grace {
		t.Errorf("bus fault after %s, before the grace of %s", d, grace)
	}
	var refused *hub.ArmRefusedError
	if res := r.hub.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad}); !errors.As(res.Err, &refused) {
		t.Fatalf("armed with the bus lost: %v", res.Err)
	}

	runBusBroker(t, addr)
	hubtest.Eventually(t, "the bus fault restored", func() bool { return len(faults()) == 0 })
	var got []hub.Event
	evs, _ := r.hub.Store().Events(0, 0)
	for _, ev := range evs {
		if ev.Kind == hub.KindBusFault {
			got = append(got, ev)
			if ev.ContactID != 333 || ev.Device != "zigbee2mqtt" || !ev.Report {
				t.Errorf("bus fault event %+v", ev)
			}
		}
	}
	if len(got) != 2 || got[0].Restore || !got[1].Restore {
		t.Fatalf("bus fault events %+v, want a fault and its restore", got)
	}
}
