package broker

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/hub/hubtest"
)

func startBroker(t *testing.T, accounts ...Account) *Broker {
	t.Helper()
	return startBrokerWith(t, Config{}, nil, accounts...)
}

// startBrokerWith runs a broker with cfg (on a free loopback port) until the test ends.
func startBrokerWith(t *testing.T, cfg Config, logger *slog.Logger, accounts ...Account) *Broker {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	b, err := New(cfg, accounts, logger)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)
	return b
}

func connect(addr, user, pass string) (paho.Client, error) {
	return connectAs(addr, user+"-test", user, pass)
}

func connectAs(addr, clientID, user, pass string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetConnectTimeout(2 * time.Second).SetAutoReconnect(false).SetConnectRetry(false)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(3 * time.Second) {
		return nil, context.DeadlineExceeded
	}
	return c, tok.Error()
}

// Accounts of the test brokers, one of each role.
var (
	vaktAccount = Account{Username: "vakt", Password: "s3cret-pass", Role: RoleVakt}
	z2mAccount  = Account{Username: "zigbee2mqtt", Password: "z2m-pass-123", Role: RoleZigbee2MQTT}
	rtlAccount  = Account{Username: "rtl_433", Password: "rtl-pass-123", Role: RoleRTL433}
	haAccount   = Account{Username: "hass", Password: "hass-pass-123", Role: RoleHomeAssistant}
)

func TestBroker_RequiresCredentials(t *testing.T) {
	b := startBroker(t, vaktAccount, z2mAccount)
	for _, tc := range []struct {
		name, user, pass string
		ok               bool
	}{
		{"no credentials", "", "", false},
		{"wrong password", "vakt", "guess", false},
		{"spoofed user", "rtl_433", "s3cret-pass", false},
		{"vakt", "vakt", "s3cret-pass", true},
		{"zigbee2mqtt", "zigbee2mqtt", "z2m-pass-123", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := connect(b.Addr(), tc.user, tc.pass)
			if (err == nil) != tc.ok {
				t.Fatalf("connect: %v, want ok=%v", err, tc.ok)
			}
			if c != nil && c.IsConnected() {
				c.Disconnect(10)
			}
		})
	}
}

func TestBroker_Delivers(t *testing.T) {
	b := startBroker(t, vaktAccount)
	c, err := connect(b.Addr(), "vakt", "s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(10)
	got := make(chan string, 1)
	c.Subscribe("zigbee2mqtt/+", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }).Wait()
	c.Publish("zigbee2mqtt/front_door", 1, false, `{"contact":false}`).Wait()
	select {
	case p := <-got:
		if !strings.Contains(p, "contact") {
			t.Fatalf("got %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
}

func TestConfig_Validate(t *testing.T) {
	env := func(k string) string { return map[string]string{"Z2M_PASS": "from-env-123"}[k] }
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad listen", Config{Listen: "1883"}, "mqtt.broker.listen"},
		{"empty user", Config{Accounts: []Account{{Password: "12345678"}}}, "accounts[0].username"},
		{"no role", Config{Accounts: []Account{{Username: "z", Password: "12345678"}}}, "accounts[0].role"},
		{"vakt's role", Config{Accounts: []Account{{Username: "z", Password: "12345678", Role: RoleVakt}}}, "accounts[0].role"},
		{"negative limit", Config{Limits: Limits{MaxConnections: -1}}, "limits.max_connections"},
		{"tiny packets", Config{Limits: Limits{MaxPacketSize: 100}}, "limits.max_packet_size"},
		{"short password", Config{Accounts: []Account{{Username: "z", Password: "1"}}}, "accounts[0].password"},
		{"unset env", Config{Accounts: []Account{{Username: "z", PasswordEnv: "NOPE"}}}, "password_env: NOPE"},
		{"twice", Config{Accounts: []Account{{Username: "z", Password: "12345678", Role: RoleRTL433}, {Username: "z", Password: "12345678"}}}, "accounts[1].username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	ok := Config{Accounts: []Account{{Username: "z", PasswordEnv: "Z2M_PASS", Role: RoleZigbee2MQTT}}}
	if err := ok.Validate(env); err != nil || ok.Accounts[0].Password != "from-env-123" {
		t.Fatalf("env password: %v", err)
	}
}
