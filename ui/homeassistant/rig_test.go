package homeassistant

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/hub/hubtest"
)

var (
	vaktAccount = broker.Account{Username: "vakt", Password: "vakt-pass-123", Role: broker.RoleVakt}
	haAccount   = broker.Account{Username: "hass", Password: "hass-pass-123", Role: broker.RoleHomeAssistant}
)

// rig is a real embedded broker, a real hub on a real store with the demo installation,
// the device manager with simulated devices, the bridge, and a client in Home Assistant's
// place on Home Assistant's account, which keeps every retained message it has seen.
type rig struct {
	t     *testing.T
	cfg   Config
	clock *hubtest.Clock
	path  string
	addr  string
	// bridgeAddr, when set, is where the bridge connects instead of addr (a proxy).
	bridgeAddr string
	h          *hub.Hub
	mgr        *devices.Manager
	b          *Bridge
	logs       *hubtest.Buffer
	ha         *haClient

	stopHub, stopMgr, stopBridge func()
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	def := DefaultConfig()
	if cfg.DiscoveryPrefix == "" {
		cfg.DiscoveryPrefix = def.DiscoveryPrefix
	}
	if err := cfg.Validate("homeassistant"); err != nil {
		t.Fatal(err)
	}
	bc := broker.Config{Listen: "127.0.0.1:0", Limits: broker.DefaultLimits(),
		Topics: broker.Topics{HomeAssistantPrefix: cfg.DiscoveryPrefix, HomeAssistantBase: cfg.BaseTopic}}
	b, err := broker.New(bc, []broker.Account{vaktAccount, haAccount}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)
	return newRigAt(t, cfg, b.Addr())
}

// newRigAt is newRig on the broker at addr, which takes the accounts' names and passwords.
func newRigAt(t *testing.T, cfg Config, addr string) *rig {
	t.Helper()
	r := &rig{t: t, cfg: cfg, clock: hubtest.NewClock(hubtest.T0), path: hubtest.StorePath(t), logs: &hubtest.Buffer{}, addr: addr}
	r.ha = newHAClient(t, addr, cfg)
	r.start(hub.DemoInstallation(make([]byte, 32)))
	return r
}

// start starts the hub (inst nil: the stored installation), the device manager and the
// bridge.
func (r *rig) start(inst *hub.Installation) {
	r.t.Helper()
	r.h, r.stopHub = hubtest.StartHub(r.t, r.path, inst, hub.Options{Now: r.clock.Now})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r.mgr = devices.NewManager(r.h, devices.Options{Logger: logger, Now: r.clock.Now, CheckIn: 2 * time.Hour})
	r.mgr.AddDriver(sim.New(r.mgr, io.Discard))
	r.stopMgr = hubtest.Run(r.t, "devices", r.mgr.Run)
	r.startBridge()
}

func (r *rig) startBridge() {
	r.t.Helper()
	addr := r.addr
	if r.bridgeAddr != "" {
		addr = r.bridgeAddr
	}
	bus := mqttclient.Config{URL: "tcp://" + addr, Username: vaktAccount.Username, Password: vaktAccount.Password}
	logger := slog.New(slog.NewTextHandler(r.logs, nil))
	r.b = New(r.cfg, bus, r.h, r.mgr, Options{Logger: logger, Version: "1.2.3-test", HealthEvery: 20 * time.Millisecond})
	r.stopBridge = hubtest.Run(r.t, "bridge", r.b.Run)
	r.waitRetained(r.b.topics.status(), online)
}

// restart stops the bridge, the manager and the hub, runs between (nil: nothing) with
// them stopped, and starts them again on the same store.
func (r *rig) restart(between func()) {
	r.t.Helper()
	r.stopBridge()
	r.stopMgr()
	r.stopHub()
	if between != nil {
		between()
	}
	r.start(nil)
}

// do runs a command on the hub as the web UI would.
func (r *rig) do(in hub.Input) hub.Result {
	r.t.Helper()
	return r.h.Do(context.Background(), in)
}

// advance moves the hub's clock and lets its loop run its deadlines.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.clock.Add(d)
	if err := r.h.Submit(context.Background(), hub.Input{Kind: hub.InTick}); err != nil {
		r.t.Fatal(err)
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

// waitRetained waits until the retained payload on topic is want.
func (r *rig) waitRetained(topic, want string) {
	r.t.Helper()
	hubtest.Eventually(r.t, topic+" = "+want, func() bool {
		v, ok := r.ha.retained(topic)
		return ok && v == want
	})
}

// waitGone waits until topic holds no retained message.
func (r *rig) waitGone(topic string) {
	r.t.Helper()
	hubtest.Eventually(r.t, topic+" cleared", func() bool {
		_, ok := r.ha.retained(topic)
		return !ok
	})
}

// events returns the hub's logged events, oldest first.
func (r *rig) events() []hub.Event {
	r.t.Helper()
	evs, err := r.h.Store().Events(0, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// haClient plays Home Assistant on the broker: it reads discovery and vakt's base topic
// and keeps the newest payload of every topic, as a retained store would (an empty
// payload removes it).
type haClient struct {
	t   *testing.T
	c   paho.Client
	mu  sync.Mutex
	msg map[string]string
	// seen lists every (topic, payload) received, in order.
	seen []string
}

func newHAClient(t *testing.T, addr string, cfg Config) *haClient {
	t.Helper()
	h := &haClient{t: t, msg: map[string]string{}}
	subscribed := make(chan error, 1)
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("home-assistant").
		SetUsername(haAccount.Username).SetPassword(haAccount.Password).SetOrderMatters(true).
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) { // and after every reconnect, as Home Assistant does
			go func() {
				var err error
				for _, f := range []string{cfg.DiscoveryPrefix + "/#", cfg.BaseTopic + "/#"} {
					if tok := c.Subscribe(f, 1, h.received); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
						err = fmt.Errorf("subscribe %s: %v", f, tok.Error())
					}
				}
				select {
				case subscribed <- err:
				default:
				}
			}()
		})
	h.c = paho.NewClient(o)
	if tok := h.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("Home Assistant's client: %v", tok.Error())
	}
	if err := <-subscribed; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.c.Disconnect(10) })
	return h
}

func (h *haClient) received(_ paho.Client, m paho.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, m.Topic()+" "+string(m.Payload()))
	if len(m.Payload()) == 0 {
		delete(h.msg, m.Topic())
		return
	}
	h.msg[m.Topic()] = string(m.Payload())
}

// forget drops what the client holds, as a broker that lost its retained messages would
// have it.
func (h *haClient) forget() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msg = map[string]string{}
}

func (h *haClient) retained(topic string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.msg[topic]
	return v, ok
}

// configs returns the discovery configs held, by topic.
func (h *haClient) configs(prefix string) map[string]map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[string]any{}
	for t, v := range h.msg {
		if strings.HasPrefix(t, prefix+"/") && strings.HasSuffix(t, "/config") {
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				h.t.Errorf("%s: not JSON: %v", t, err)
				continue
			}
			out[t] = m
		}
	}
	return out
}

// seenSince returns the messages on topic received after the first n, in order.
func (h *haClient) payloads(topic string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.seen {
		if t, p, _ := strings.Cut(s, " "); t == topic {
			out = append(out, p)
		}
	}
	return out
}

// publish sends a message as Home Assistant.
func (h *haClient) publish(topic string, retained bool, payload string) {
	h.t.Helper()
	if tok := h.c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		h.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}
