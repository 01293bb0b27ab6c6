package zigbee2mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// Accounts of the test brokers: vakt's driver and the stand-in for Zigbee2MQTT.
var (
	vaktAccount = broker.Account{Username: "vakt", Password: "vakt-test-pass", Role: broker.RoleVakt}
	z2mAccount  = broker.Account{Username: "zigbee2mqtt", Password: "z2m-test-pass", Role: broker.RoleZigbee2MQTT}
	codeKey     = []byte("0123456789abcdef0123456789abcdef")
)

// startEmbedded runs vakt's embedded broker on a free loopback port and returns its URL.
func startEmbedded(tb testing.TB) string {
	tb.Helper()
	url, _ := startEmbeddedStop(tb)
	return url
}

// startEmbeddedStop is startEmbedded with a stop, as vakt stopping stops its broker: what
// was retained is gone.
func startEmbeddedStop(tb testing.TB) (url string, stop func()) {
	tb.Helper()
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"}, []broker.Account{vaktAccount, z2mAccount}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	stop = hubtest.Run(tb, "broker", b.Run)
	return "tcp://" + b.Addr(), stop
}

// mosquitto is a mosquitto broker the test started on a free loopback port, with the two
// accounts in a password file and anonymous clients refused.
type mosquitto struct {
	tb   testing.TB
	bin  string
	conf string
	port int
	log  hubtest.Buffer // mosquitto's stdout and stderr
	cmd  *exec.Cmd
}

func startMosquitto(tb testing.TB) *mosquitto {
	tb.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		tb.Fatal("mosquitto not found: install it (Debian: apt-get install -y mosquitto); CI installs it")
	}
	passwd, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		tb.Fatal("mosquitto_passwd not found: install mosquitto (Debian: apt-get install -y mosquitto)")
	}
	dir := tb.TempDir()
	pwFile := filepath.Join(dir, "passwd")
	for i, a := range []broker.Account{vaktAccount, z2mAccount} {
		args := []string{"-b", pwFile, a.Username, a.Password}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			tb.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := &mosquitto{tb: tb, bin: bin, port: port, conf: filepath.Join(dir, "mosquitto.conf")}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous false
password_file %s
persistence false
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
`, port, pwFile)
	if os.Geteuid() == 0 {
		conf += "user root\n" // else mosquitto drops to the mosquitto user, who cannot read the test's files
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	m.start()
	tb.Cleanup(m.stop)
	return m
}

func (m *mosquitto) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.port) }

func (m *mosquitto) start() {
	m.tb.Helper()
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = &m.log, &m.log
	if err := cmd.Start(); err != nil {
		m.tb.Fatalf("start mosquitto: %v", err)
	}
	m.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.port)); err == nil {
			c.Close()
			return
		}
	}
	m.stop()
	m.tb.Fatalf("mosquitto did not listen on %d: %s", m.port, m.log.String())
}

// stop kills the broker at once, as a crash or a power cut would.
func (m *mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// testInstallation is the demo family (codes: anna 1234, tag 04A1B2C3) with the Zigbee
// devices of testdata/bridge_devices.json. The bedroom climate sensor is left for discovery.
func testInstallation() *hub.Installation {
	inst := hub.DemoInstallation(codeKey)
	z := func(id, name, addr, model, kind string, area int) hub.Device {
		return hub.Device{ID: id, Name: name, Driver: Name, Address: addr, Model: model, Kind: kind, Area: area}
	}
	inst.Devices = []hub.Device{
		z("living_window", "Living room window", ieeeWindow, "MCCGQ11LM", "", 0),
		z("hall_motion", "Hall motion", ieeeHall, "RTCGQ11LM", "", 0),
		z("garage_motion", "Garage motion", ieeeGarage, "SNZB-03", "", 0),
		z("kitchen_smoke", "Kitchen smoke", ieeeSmoke, "SMSZB-120", "", 0),
		z("bathroom_leak", "Bathroom leak", ieeeLeak, "SJCGQ11LM", "", 0),
		z("hall_siren", "Hall siren", ieeeSiren, "HS2WD-E", "siren", 1),
		z("attic_siren", "Attic siren", ieeeAttic, "SIRZB-110", "siren", 1),
		z("hall_keypad", "Hall keypad", ieeeKeypad, "KEYZB-110", "keypad", 1),
		z("coffee_plug", "Coffee plug", ieeePlug, "SP-EUC01", "plug", 1),
		z("front_lock", "Front door lock", ieeeLock, "YRD256HA20BP", "lock", 1),
	}
	inst.Zones = []hub.Zone{
		{Number: 1, Name: "Living room window", Area: 1, Type: hub.ZoneInstant, Device: "living_window", Chime: true},
		{Number: 2, Name: "Hall motion", Area: 1, Type: hub.ZoneFollower, Device: "hall_motion", Interior: true},
		{Number: 3, Name: "Garage motion", Area: 2, Type: hub.ZoneInstant, Device: "garage_motion", Interior: true},
		{Number: 4, Name: "Kitchen smoke", Area: 1, Type: hub.ZoneFire, Device: "kitchen_smoke"},
		{Number: 5, Name: "Bathroom leak", Area: 1, Type: hub.ZoneTechnical, Device: "bathroom_leak"},
	}
	return inst
}

// rig is a real hub on a temporary bbolt store, a devices.Manager, the driver on its own
// MQTT connection (remembering in the store, as main wires it), and a second connection
// standing in for Zigbee2MQTT.
type rig struct {
	tb     testing.TB
	path   string
	store  *hub.Store
	hub    *hub.Hub
	clock  *hubtest.Clock
	mgr    *devices.Manager
	drv    *Driver
	client *mqttclient.Client
	z2m    *z2m
	stop   func() // stops vakt as a shutdown does and closes the store; the stand-in goes too
}

func newRig(tb testing.TB, url string, inst *hub.Installation) *rig {
	tb.Helper()
	return startRig(tb, url, inst, hubtest.StorePath(tb), hubtest.NewClock(hubtest.T0))
}

// restart stops vakt and starts it again over the same store and clock, on the broker at
// url, with a new stand-in for Zigbee2MQTT (which has not restarted: it publishes nothing
// by itself).
func (r *rig) restart(url string) *rig {
	r.tb.Helper()
	r.stop()
	return startRig(r.tb, url, nil, r.path, r.clock)
}

func startRig(tb testing.TB, url string, inst *hub.Installation, path string, clock *hubtest.Clock) *rig {
	tb.Helper()
	h, stopHub := hubtest.StartHub(tb, path, inst, hub.Options{Now: clock.Now})
	store := h.Store()
	r := &rig{tb: tb, path: path, store: store, hub: h, clock: clock}
	r.mgr = devices.NewManager(h, devices.Options{})
	var err error
	r.client, err = mqttclient.New(mqttclient.Config{URL: url, Username: vaktAccount.Username, Password: vaktAccount.Password}, "vakt-zigbee2mqtt", nil)
	if err != nil {
		tb.Fatal(err)
	}
	r.drv = New(Config{}, r.client, r.mgr, store, nil)
	r.mgr.AddDriver(r.drv)

	// The manager and the driver stop together, the client going in between as in a
	// shutdown; the hub and its store after them.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, run := range []func(context.Context) error{r.mgr.Run, r.drv.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- run(ctx) }()
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			if r.z2m != nil {
				r.z2m.client.Disconnect(100)
			}
			cancel()
			r.client.Disconnect(100)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					tb.Errorf("run: %v", err)
				}
			}
			stopHub()
		})
	}
	tb.Cleanup(r.stop)
	if err := r.client.ConnectWait(10 * time.Second); err != nil {
		tb.Fatal(err)
	}
	r.z2m = startZ2M(tb, url)
	return r
}

// kinds lists the hub's logged event kinds.
func (r *rig) kinds() []hub.EventKind {
	evs, err := r.hub.Store().Events(0, 0)
	if err != nil {
		r.tb.Fatal(err)
	}
	var ks []hub.EventKind
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

func (r *rig) count(k hub.EventKind) int {
	n := 0
	for _, x := range r.kinds() {
		if x == k {
			n++
		}
	}
	return n
}

func (r *rig) area(n int) hub.AreaState {
	for _, a := range r.hub.Snapshot().State.Areas {
		if a.Number == n {
			return a
		}
	}
	r.tb.Fatalf("no area %d", n)
	return hub.AreaState{}
}

// tick moves the hub's clock and lets it run what is due.
func (r *rig) tick(d time.Duration) {
	r.clock.Add(d)
	if err := r.hub.Submit(context.Background(), hub.Input{Kind: hub.InTick}); err != nil {
		r.tb.Fatal(err)
	}
}

// z2m stands in for Zigbee2MQTT on the broker: it publishes what Zigbee2MQTT publishes for
// real devices (the fixtures) and records the requests vakt sends it. It reconnects faster
// than vakt's client (every 50 ms) so that after a broker restart it is back in time to see
// what vakt asks on reconnecting.
type z2m struct {
	tb     testing.TB
	client paho.Client

	mu  sync.Mutex
	got []received
}

type received struct {
	topic, payload string
}

func startZ2M(tb testing.TB, url string) *z2m {
	tb.Helper()
	z := &z2m{tb: tb}
	handler := func(_ paho.Client, m paho.Message) {
		t := m.Topic()
		if !strings.HasSuffix(t, "/set") && !strings.HasSuffix(t, "/get") && !strings.Contains(t, "/bridge/request/") {
			return
		}
		z.mu.Lock()
		z.got = append(z.got, received{t, string(m.Payload())})
		z.mu.Unlock()
	}
	o := paho.NewClientOptions().AddBroker(url).SetClientID("zigbee2mqtt").
		SetUsername(z2mAccount.Username).SetPassword(z2mAccount.Password).
		SetAutoReconnect(true).SetConnectRetry(true).SetCleanSession(true).
		SetConnectRetryInterval(50 * time.Millisecond).SetMaxReconnectInterval(50 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe("zigbee2mqtt/#", 1, handler)
		})
	z.client = paho.NewClient(o)
	if tok := z.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("stand-in for Zigbee2MQTT: connect: %v", tok.Error())
	}
	tb.Cleanup(func() { z.client.Disconnect(100) })
	z.subscribed()
	return z
}

// subscribed waits until the stand-in's subscription is in place: a request published now
// is seen.
func (z *z2m) subscribed() {
	z.tb.Helper()
	n := 0
	hubtest.Eventually(z.tb, "stand-in subscribed", func() bool {
		if n++; n%20 == 1 { // every 100 ms
			z.client.Publish("zigbee2mqtt/bridge/request/ping", 1, false, []byte(`{}`))
		}
		return len(z.requests("zigbee2mqtt/bridge/request/ping")) > 0
	})
	z.reset()
}

// publish sends a payload as Zigbee2MQTT does: QoS 0, retained only for the bridge's lists
// and availability.
func (z *z2m) publish(topic string, payload []byte, retained bool) {
	z.tb.Helper()
	var qos byte
	if retained {
		qos = 1
	}
	tok := z.client.Publish("zigbee2mqtt/"+topic, qos, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		z.tb.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (z *z2m) fixture(topic, name string) {
	z.tb.Helper()
	z.publish(topic, fixture(z.tb, name), false)
}

// requests returns the payloads vakt sent on topic so far.
func (z *z2m) requests(topic string) []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []string
	for _, r := range z.got {
		if r.topic == topic {
			out = append(out, r.payload)
		}
	}
	return out
}

// waitFor waits for a request on topic containing all of parts, and returns it; failing,
// it says what did come on topic.
func (z *z2m) waitFor(topic string, parts ...string) (got string) {
	z.tb.Helper()
	found := false
	defer func() {
		if !found { // Eventually failed the test
			z.tb.Logf("requests on %s: %q", topic, z.requests(topic))
		}
	}()
	hubtest.Eventually(z.tb, fmt.Sprintf("%s with %q", topic, parts), func() bool {
		for _, p := range z.requests(topic) {
			ok := true
			for _, part := range parts {
				ok = ok && strings.Contains(p, part)
			}
			if ok {
				got, found = p, true
				return true
			}
		}
		return false
	})
	return got
}

func (z *z2m) reset() {
	z.mu.Lock()
	z.got = nil
	z.mu.Unlock()
}
