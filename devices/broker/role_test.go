package broker

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"gopkg.in/yaml.v3"

	"vakt/hub/hubtest"
)

// logBuffer collects a logger's lines for a test; the broker's goroutines write to it.
type logBuffer struct{ hubtest.Buffer }

// count returns how many lines hold s.
func (b *logBuffer) count(s string) int {
	n := 0
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

func newLog() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// mayPublish publishes at QoS 1 and reports whether the broker took it: a refused
// publish of an MQTT 3.1.1 client is answered by a disconnect, not an acknowledgement.
func mayPublish(t *testing.T, addr string, a Account, topic string) bool {
	t.Helper()
	c, err := connect(addr, a.Username, a.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(10)
	tok := c.Publish(topic, 1, false, `{"test":true}`)
	return tok.WaitTimeout(2*time.Second) && tok.Error() == nil && c.IsConnectionOpen()
}

// maySubscribe subscribes and reports whether the broker granted the subscription.
func maySubscribe(t *testing.T, addr string, a Account, filter string) bool {
	t.Helper()
	c, err := connect(addr, a.Username, a.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(10)
	tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(2 * time.Second) {
		t.Fatalf("subscribe %s: no answer", filter)
	}
	code, ok := tok.(*paho.SubscribeToken).Result()[filter]
	return tok.Error() == nil && ok && code < 0x80
}

func TestBroker_RoleTopics(t *testing.T) {
	log, _ := newLog()
	b := startBrokerWith(t, Config{Topics: Topics{Zigbee2MQTTBase: "zigbee2mqtt", RTL433: "rtl_433/events", HomeAssistantPrefix: "homeassistant", HomeAssistantBase: "vakt"}}, log,
		vaktAccount, z2mAccount, rtlAccount, haAccount)
	const pub, sub = true, false
	for _, tc := range []struct {
		acct  Account
		write bool
		topic string
		ok    bool
	}{
		// Zigbee2MQTT publishes under its base topic and subscribes to base/# (it reads its
		// own requests there), and to Home Assistant's topics when that is on.
		{z2mAccount, pub, "zigbee2mqtt/front_door", true},
		{z2mAccount, pub, "zigbee2mqtt/bridge/state", true},
		{z2mAccount, pub, "zigbee2mqtt/bridge/devices", true},
		{z2mAccount, pub, "homeassistant/binary_sensor/0x1/contact/config", true},
		{z2mAccount, pub, "rtl_433/events", false},
		{z2mAccount, pub, "vakt/anything", false},
		{z2mAccount, sub, "zigbee2mqtt/#", true},
		{z2mAccount, sub, "zigbee2mqtt/+/set", true},
		{z2mAccount, sub, "zigbee2mqtt/bridge/request/#", true},
		{z2mAccount, sub, "homeassistant/status", true},
		{z2mAccount, sub, "#", false},
		{z2mAccount, sub, "rtl_433/events", false},
		{z2mAccount, sub, "+/events", false},
		{z2mAccount, sub, "$SYS/#", false},
		// rtl_433 publishes its events and nothing else, and reads nothing: not the keypad
		// codes, not the siren commands.
		{rtlAccount, pub, "rtl_433/events", true},
		{rtlAccount, pub, "rtl_433/events/more", false},
		{rtlAccount, pub, "rtl_433/gateway/devices/Kerui", false},
		{rtlAccount, pub, "zigbee2mqtt/hall_siren/set", false},
		{rtlAccount, pub, "zigbee2mqtt/front_door", false},
		{rtlAccount, pub, "zigbee2mqtt/bridge/state", false},
		{rtlAccount, sub, "#", false},
		{rtlAccount, sub, "zigbee2mqtt/#", false},
		{rtlAccount, sub, "zigbee2mqtt/+", false},
		{rtlAccount, sub, "rtl_433/events", false},
		// vakt reads the bridges and commands Zigbee devices.
		{vaktAccount, sub, "zigbee2mqtt/#", true},
		{vaktAccount, sub, "rtl_433/events", true},
		{vaktAccount, pub, "zigbee2mqtt/hall_siren/set", true},
		{vaktAccount, pub, "zigbee2mqtt/bridge/request/permit_join", true},
		{vaktAccount, sub, "#", false},
		{vaktAccount, pub, "rtl_433/events", false},
		// vakt's Home Assistant discovery publishes configs and states, and reads commands
		// and Home Assistant's birth message.
		{vaktAccount, pub, "homeassistant/alarm_control_panel/vakt/area_1/config", true},
		{vaktAccount, pub, "vakt/status", true},
		{vaktAccount, pub, "vakt/area/1", true},
		{vaktAccount, sub, "vakt/#", true},
		{vaktAccount, sub, "homeassistant/status", true},
		{vaktAccount, sub, "homeassistant/+/vakt/+/config", true},
		// Home Assistant reads discovery and vakt's states, commands areas and devices, and
		// reads nothing of the sensor bridges.
		{haAccount, sub, "homeassistant/#", true},
		{haAccount, sub, "vakt/#", true},
		{haAccount, pub, "homeassistant/status", true},
		{haAccount, pub, "vakt/area/1/set", true},
		{haAccount, pub, "vakt/device/coffee_plug/set", true},
		{haAccount, pub, "vakt/area/1", false},
		{haAccount, pub, "vakt/status", false},
		{haAccount, pub, "vakt/device/coffee_plug/availability", false},
		{haAccount, sub, "zigbee2mqtt/#", false},
		{haAccount, sub, "rtl_433/events", false},
		{haAccount, pub, "zigbee2mqtt/hall_siren/set", false},
		{haAccount, sub, "#", false},
	} {
		access := "subscribe"
		if tc.write {
			access = "publish"
		}
		t.Run(tc.acct.Username+" "+access+" "+tc.topic, func(t *testing.T) {
			var got bool
			if tc.write {
				got = mayPublish(t, b.Addr(), tc.acct, tc.topic)
			} else {
				got = maySubscribe(t, b.Addr(), tc.acct, tc.topic)
			}
			if got != tc.ok {
				t.Fatalf("%s %s by %s: allowed=%v, want %v", access, tc.topic, tc.acct.Username, got, tc.ok)
			}
		})
	}
}

// A sensor bridge's account cannot silence a siren or invent a Zigbee tamper, and what it
// tried is logged with the account and topic, once, however often it tries.
func TestBroker_RefusedPublishNotDelivered(t *testing.T) {
	log, logs := newLog()
	b := startBrokerWith(t, Config{}, log, vaktAccount, rtlAccount)
	spy, err := connect(b.Addr(), vaktAccount.Username, vaktAccount.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Disconnect(10)
	got := make(chan string, 16)
	for _, f := range []string{"zigbee2mqtt/#", "rtl_433/events"} {
		spy.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() }).Wait()
	}
	rtl, err := connect(b.Addr(), rtlAccount.Username, rtlAccount.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer rtl.Disconnect(10)
	for range 20 {
		rtl.Publish("zigbee2mqtt/hall_siren/set", 0, false, `{"warning":{"mode":"stop"}}`).Wait()
		rtl.Publish("zigbee2mqtt/front_door", 0, false, `{"tamper":true}`).Wait()
	}
	rtl.Publish("rtl_433/events", 0, false, `{"model":"Kerui-Security","id":1}`).Wait()
	select {
	case topic := <-got:
		if topic != "rtl_433/events" {
			t.Fatalf("delivered %s from the rtl_433 account", topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("rtl_433's own event not delivered")
	}
	if n := logs.count("MQTT topic refused"); n != 1 {
		t.Fatalf("%d refusal lines for 40 refusals, want 1 (then a sum per minute):\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "username=rtl_433") || !strings.Contains(logs.String(), "topic=zigbee2mqtt/hall_siren/set") {
		t.Fatalf("refusal does not name account and topic:\n%s", logs)
	}
}

// A client may not leave a will that its account could not publish itself.
func TestBroker_WillTopicChecked(t *testing.T) {
	b := startBroker(t, vaktAccount, rtlAccount)
	o := paho.NewClientOptions().AddBroker("tcp://"+b.Addr()).SetClientID("rtl-will").
		SetUsername(rtlAccount.Username).SetPassword(rtlAccount.Password).SetAutoReconnect(false).
		SetWill("zigbee2mqtt/hall_siren/set", `{"warning":{"mode":"stop"}}`, 1, false)
	c := paho.NewClient(o)
	if tok := c.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
		c.Disconnect(10)
		t.Fatal("connected with a will on a siren's set topic")
	}
}

func TestConfig_RoleUnknownNamesLine(t *testing.T) {
	src := "accounts:\n  - username: radio\n    password: 12345678\n    role: admin\n"
	var cfg Config
	err := yaml.Unmarshal([]byte(src), &cfg)
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "role") ||
		!strings.Contains(err.Error(), `"admin"`) {
		t.Fatalf("error %v, want the line, the field and the value", err)
	}
}

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		allow, req string
		ok         bool
	}{
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "a/+", true},
		{"a/#", "#", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a/#", false},
		{"a/+/set", "a/+/set", true},
		{"a/+/set", "a/x/get", false},
		{"a/b", "a/b", true},
		{"a/b", "a/+", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
	} {
		if got := covers(tc.allow, tc.req); got != tc.ok {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.allow, tc.req, got, tc.ok)
		}
	}
}

// Without Home Assistant discovery configured, vakt's own account keeps to the bridges'
// topics; a home_assistant account still gets the default topics.
func TestTopics_HomeAssistantOff(t *testing.T) {
	var off Topics
	if r := off.rules(RoleVakt); r.allows("homeassistant/alarm_control_panel/vakt/area_1/config", true) || r.allows("vakt/status", true) {
		t.Fatalf("vakt publishes Home Assistant's topics while discovery is off: %+v", r)
	}
	if r := off.rules(RoleHomeAssistant); !r.allows("vakt/area/1/set", true) || !r.allows("homeassistant/#", false) {
		t.Fatalf("home_assistant's default rules: %+v", r)
	}
	on := Topics{HomeAssistantPrefix: "ha", HomeAssistantBase: "house"}
	if r := on.rules(RoleVakt); !r.allows("ha/sensor/house/x/config", true) || !r.allows("house/area/1", true) || r.allows("homeassistant/x", true) {
		t.Fatalf("vakt's rules with discovery on: %+v", r)
	}
}
