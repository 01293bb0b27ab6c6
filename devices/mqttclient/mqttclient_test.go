package mqttclient_test

import (
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/hub/hubtest"
)

var account = broker.Account{Username: "vakt", Password: "s3cret-pass", Role: broker.RoleVakt}

// runBroker runs the embedded broker on addr until the returned stop is called or the test
// ends.
func runBroker(t *testing.T, addr string) (stop func()) {
	t.Helper()
	return runBrokerWith(t, addr, broker.Topics{})
}

// runBrokerWith is runBroker with the bridges' and Home Assistant's topics.
func runBrokerWith(t *testing.T, addr string, topics broker.Topics) (stop func()) {
	t.Helper()
	var b *broker.Broker
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err = broker.New(broker.Config{Listen: addr, Topics: topics}, []broker.Account{account}, nil); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return hubtest.Run(t, "broker", b.Run)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestClient_ResubscribesAfterBrokerRestart: the broker goes down and comes back; the client
// reconnects by itself, renews its subscription and runs its OnConnect hooks.
func TestClient_ResubscribesAfterBrokerRestart(t *testing.T) {
	addr := freeAddr(t)
	stop := runBroker(t, addr)
	c, err := mqttclient.New(mqttclient.Config{URL: "tcp://" + addr, Username: account.Username, Password: account.Password}, "test-driver", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	if err := c.Subscribe(mqttclient.Subscription{Topic: "zigbee2mqtt/+", QoS: 1, Handler: func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }}); err != nil {
		t.Fatal(err)
	}
	hooks := make(chan struct{}, 4)
	c.OnConnect(func() { hooks <- struct{}{} })
	if err := c.ConnectWait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(10)
	expect := func(payload string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			if err := c.Publish("zigbee2mqtt/front_door", 1, false, []byte(payload)); err != nil {
				t.Logf("publish: %v", err)
			}
			select {
			case p := <-got:
				if p == payload {
					return
				}
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatalf("%s never came back through the broker", payload)
			}
		}
	}
	<-hooks
	expect(`{"contact":false}`)
	stop()
	stop = runBroker(t, addr)
	defer stop()
	select {
	case <-hooks:
	case <-time.After(15 * time.Second):
		t.Fatal("no reconnect after the broker came back")
	}
	expect(`{"contact":true}`)
	if n := c.Connects(); n < 2 {
		t.Fatalf("connects %d, want at least 2", n)
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		cfg  mqttclient.Config
		want string
	}{
		{mqttclient.Config{URL: "127.0.0.1:1883"}, "mqtt.url"},
		{mqttclient.Config{URL: "http://127.0.0.1:1883"}, "scheme \"http\""},
		{mqttclient.Config{URL: "ssl://h:8883", Cert: "c.pem"}, "mqtt.cert and mqtt.key"},
	} {
		if err := tc.cfg.Validate("mqtt"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := mqttclient.New(mqttclient.Config{URL: "ssl://127.0.0.1:8883", CA: "/nonexistent.pem"}, "x", nil); err == nil || !strings.Contains(err.Error(), "mqtt.ca") {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestClient_WillOnCut: a client with a last will that loses its connection without a
// clean disconnect gets its will published by the broker, retained.
func TestClient_WillOnCut(t *testing.T) {
	addr := freeAddr(t)
	// vakt's account may publish its Home Assistant status (the will) with discovery on.
	runBrokerWith(t, addr, broker.Topics{HomeAssistantPrefix: "homeassistant", HomeAssistantBase: "vakt"})
	proxy := hubtest.NewProxy(t, addr)
	cfg := mqttclient.Config{URL: "tcp://" + proxy.Addr(), Username: account.Username, Password: account.Password}
	c, err := mqttclient.New(cfg, "vakt-will", nil, mqttclient.WithWill(mqttclient.Will{Topic: "vakt/status", Payload: []byte("offline"), QoS: 1, Retained: true}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ConnectWait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(10)
	if err := c.Publish("vakt/status", 1, true, []byte("online")); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	w, err := mqttclient.New(mqttclient.Config{URL: "tcp://" + addr, Username: account.Username, Password: account.Password}, "watcher", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	if err := w.Subscribe(mqttclient.Subscription{Topic: "vakt/status", QoS: 1, Handler: func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }}); err != nil {
		t.Fatal(err)
	}
	if err := w.ConnectWait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	defer w.Disconnect(10)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-got:
			if p == "offline" {
				return
			}
		case <-deadline:
			t.Fatal("the will was not published")
		}
	}
}
