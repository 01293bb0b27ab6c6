// Package daywrites replays a typical house's day through the real embedded MQTT broker,
// the real Zigbee2MQTT driver, the device manager, the hub and its bbolt store, with an
// injected clock, and reports what the process wrote (BENCHMARKS.md, DESIGN §6: ≤ 5 MB and
// ≤ 1 500 fsyncs a day).
package daywrites

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/devices/zigbee2mqtt"
	"vakt/hub"
)

var day = flag.Bool("day", false, "replay a typical house's day through broker, driver and hub and report the disk writes")

var (
	vaktAccount = broker.Account{Username: "vakt", Password: "vakt-bench-pass", Role: broker.RoleVakt}
	z2mAccount  = broker.Account{Username: "zigbee2mqtt", Password: "z2m-bench-pass", Role: broker.RoleZigbee2MQTT}
)

// clock is the injected clock of the hub and the manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// sensor is one Zigbee device of the typical house.
type sensor struct {
	id, ieee, model string
}

// house is DESIGN §6's typical house as Zigbee2MQTT devices: 20 doors and windows (Aqara
// MCCGQ11LM), 10 motion sensors (RTCGQ11LM), 5 smoke detectors (frient SMSZB-120), 10
// thermometers (WSDCGQ11LM); one area.
func house() (*hub.Installation, []sensor) {
	inst := &hub.Installation{Name: "typical", CodeKey: []byte("0123456789abcdef0123456789abcdef"), Areas: []hub.Area{{Number: 1, Name: "House"}}}
	inst.Users = []hub.User{{ID: "anna", Number: 1, Name: "Anna", Role: hub.RoleAdmin}}
	var ss []sensor
	n := 0
	add := func(prefix, model string, count int, zt hub.ZoneType, interior bool) {
		for i := range count {
			n++
			s := sensor{id: fmt.Sprintf("%s_%d", prefix, i+1), ieee: fmt.Sprintf("0x00158d00%08x", n), model: model}
			ss = append(ss, s)
			d := hub.Device{ID: s.id, Name: s.id, Driver: zigbee2mqtt.Name, Address: s.ieee, Model: model}
			if zt == 0 {
				d.Area = 1
			}
			inst.Devices = append(inst.Devices, d)
			if zt != 0 {
				inst.Zones = append(inst.Zones, hub.Zone{Number: len(inst.Zones) + 1, Name: s.id, Area: 1, Type: zt, Device: s.id, Interior: interior})
			}
		}
	}
	add("door", "MCCGQ11LM", 2, hub.ZoneEntryExit, false)
	add("window", "MCCGQ11LM", 18, hub.ZoneInstant, false)
	add("motion", "RTCGQ11LM", 10, hub.ZoneInstant, true)
	add("smoke", "SMSZB-120", 5, hub.ZoneFire, false)
	add("thermo", "WSDCGQ11LM", 10, 0, false)
	return inst, ss
}

// bridgeDevices is Zigbee2MQTT's retained device list for the sensors, each entry copied
// from the driver's fixture for its model.
func bridgeDevices(t *testing.T, ss []sensor) []byte {
	b, err := os.ReadFile("../../devices/zigbee2mqtt/testdata/bridge_devices.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture []map[string]any
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	byModel := map[string]map[string]any{}
	for _, d := range fixture {
		if def, ok := d["definition"].(map[string]any); ok {
			byModel[def["model"].(string)] = d
		}
	}
	var out []map[string]any
	for _, s := range ss {
		d := map[string]any{}
		for k, v := range byModel[s.model] {
			d[k] = v
		}
		d["ieee_address"], d["friendly_name"] = s.ieee, s.id
		out = append(out, d)
	}
	b, _ = json.Marshal(out)
	return b
}

// message is one payload Zigbee2MQTT publishes at a time of the day; arm is a keypad
// arming instead (mode, or disarm when zero).
type message struct {
	at     time.Time
	sensor string
	fields map[string]any
	arm    *hub.Mode
}

// dayOfMessages is hub/day_test.go's day as Zigbee2MQTT payloads: every door and window
// opened 10 times and closed a minute later, every motion sensor 150 times (clear 90 s
// later), hourly check-ins of every contact, motion and smoke sensor (its unchanged state),
// every thermometer every 5 minutes, armed away 08:00–17:00 and armed home 23:00–07:00.
func dayOfMessages(start time.Time) []message {
	var ms []message
	at := func(h, m, s int) time.Time {
		return start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	home := func(k, of int) time.Time {
		span := 400 * time.Minute
		d := time.Duration(int64(span) * int64(k) / int64(of))
		if d < 50*time.Minute {
			return at(7, 5, 0).Add(d)
		}
		return at(17, 5, 0).Add(d - 50*time.Minute)
	}
	f := func(k string, v any) map[string]any {
		return map[string]any{"battery": 100, "linkquality": 90, "voltage": 3015, k: v}
	}
	for i := range 20 {
		dev := fmt.Sprintf("door_%d", i+1)
		if i >= 2 {
			dev = fmt.Sprintf("window_%d", i-1)
		}
		for k := range 10 {
			t := home(k*20+i, 200).Add(time.Duration(i) * time.Second)
			ms = append(ms, message{t, dev, f("contact", false), nil}, message{t.Add(time.Minute), dev, f("contact", true), nil})
		}
		for h := range 24 {
			ms = append(ms, message{at(h, 10, i), dev, f("contact", true), nil})
		}
	}
	for i := range 10 {
		dev := fmt.Sprintf("motion_%d", i+1)
		for k := range 150 {
			t := home(k*10+i, 1500).Add(time.Duration(i) * 3 * time.Second)
			ms = append(ms, message{t, dev, f("occupancy", true), nil}, message{t.Add(90 * time.Second), dev, f("occupancy", false), nil})
		}
		for h := range 24 {
			ms = append(ms, message{at(h, 20, i), dev, f("occupancy", false), nil})
		}
	}
	for h := range 24 {
		for i := range 5 {
			ms = append(ms, message{at(h, 30, i), fmt.Sprintf("smoke_%d", i+1), f("smoke", false), nil})
		}
	}
	for i := range 10 {
		for m := 0; m < 24*60; m += 5 {
			fs := f("temperature", 21.0+float64(m%60)/100)
			fs["humidity"], fs["pressure"] = 48.6, 1013.2
			ms = append(ms, message{start.Add(time.Duration(m)*time.Minute + time.Duration(i)*7*time.Second), fmt.Sprintf("thermo_%d", i+1), fs, nil})
		}
	}
	mode := func(m hub.Mode) *hub.Mode { return &m }
	ms = append(ms, message{at(7, 0, 0), "", nil, mode(0)}, message{at(8, 0, 0), "", nil, mode(hub.ModeArmedAway)},
		message{at(17, 0, 0), "", nil, mode(0)}, message{at(23, 0, 0), "", nil, mode(hub.ModeArmedHome)})
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].at.Before(ms[j].at) })
	return ms
}

// countingMemory is the driver's memory (the store), counting its writes.
type countingMemory struct {
	*hub.Store
	writes atomic.Int64
}

func (m *countingMemory) SaveDriverData(driver, key string, v []byte) error {
	m.writes.Add(1)
	return m.Store.SaveDriverData(driver, key, v)
}

// procIO reads this process's I/O counters.
func procIO(t *testing.T) map[string]int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	out := map[string]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			out[k], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return out
}

// TestDayOfWritesThroughBroker replays a typical house's day (the hub's and the manager's
// clock injected, 24 h in seconds) as Zigbee2MQTT payloads with last_seen, published to the
// embedded broker and read by the real driver, and reports the process's write counters:
//
//	go test -c -o /tmp/daywrites.test ./bench/daywrites
//	cd bench/daywrites && strace -f -c -e trace=fdatasync,pwrite64 /tmp/daywrites.test -test.run . -test.v -day
//
// Not a timed test: it asserts only that every message was taken.
func TestDayOfWritesThroughBroker(t *testing.T) {
	if !*day {
		t.Skip("run with -day")
	}
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour) // last_seen never ahead of the driver's real clock
	clk := &clock{t: start}
	inst, ss := house()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"}, []broker.Account{vaktAccount, z2mAccount}, nil)
	if err != nil {
		t.Fatal(err)
	}
	brokerDone := make(chan error, 1)
	go func() { brokerDone <- b.Run(ctx) }()
	url := "tcp://" + b.Addr()

	path := filepath.Join(t.TempDir(), "vakt.db")
	store, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var commits, events atomic.Int64
	h, err := hub.New(store, inst, hub.Options{Now: clk.Now, BeforeCommit: func(evs []hub.Event) error {
		commits.Add(1)
		events.Add(int64(len(evs)))
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mgr := devices.NewManager(h, devices.Options{Now: clk.Now})
	client, err := mqttclient.New(mqttclient.Config{URL: url, Username: vaktAccount.Username, Password: vaktAccount.Password}, "vakt-zigbee2mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := &countingMemory{Store: store}
	drv := zigbee2mqtt.New(zigbee2mqtt.Config{}, client, mgr, mem, nil)
	mgr.AddDriver(drv)

	// Zigbee2MQTT's stand-in publishes its retained device list first.
	z := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("zigbee2mqtt").
		SetUsername(z2mAccount.Username).SetPassword(z2mAccount.Password).SetCleanSession(true))
	if tok := z.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("stand-in: connect: %v", tok.Error())
	}
	defer z.Disconnect(100)
	if tok := z.Publish("zigbee2mqtt/bridge/devices", 1, true, bridgeDevices(t, ss)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish bridge/devices: %v", tok.Error())
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, run := range []func(context.Context) error{h.Run, mgr.Run, drv.Run} {
		wg.Go(func() { errs <- run(runCtx) })
	}
	if err := client.ConnectWait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	h.Do(ctx, hub.Input{Kind: hub.InTick}) // the start-up turn

	ms := dayOfMessages(start)
	before := procIO(t)
	for _, m := range ms {
		clk.Set(m.at)
		if m.arm != nil {
			in := hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowKeypad}
			if *m.arm != 0 {
				in.Kind, in.Mode = hub.InArm, *m.arm
			}
			if r := h.Do(ctx, in); r.Err != nil && !strings.Contains(r.Err.Error(), "already") {
				t.Fatalf("%s %+v: %v", m.at.Format("15:04:05"), in, r.Err)
			}
			continue
		}
		m.fields["last_seen"] = m.at.Format(time.RFC3339Nano)
		payload, _ := json.Marshal(m.fields)
		if tok := z.Publish("zigbee2mqtt/"+m.sensor, 0, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		// Wait until the manager has it (its last_seen), then let the hub step what the
		// manager submitted at this time of the injected clock.
		for deadline := time.Now().Add(10 * time.Second); !mgr.Health()[m.sensor].LastSeen.Equal(m.at); time.Sleep(50 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: the manager never saw it", m.at.Format("15:04:05"), m.sensor)
			}
		}
		if _, ok := m.fields["temperature"]; !ok {
			h.Do(ctx, hub.Input{Kind: hub.InTick})
		}
	}
	clk.Set(start.Add(24*time.Hour + time.Minute))
	h.Do(ctx, hub.Input{Kind: hub.InTick})
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("run: %v", err)
		}
	}
	after := procIO(t)
	driverWrites := mem.writes.Load()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-brokerDone
	fi, _ := os.Stat(path)
	wchar := after["wchar"] - before["wchar"]
	t.Logf("messages %d, hub commits %d, events %d, driver store writes %d", len(ms), commits.Load(), events.Load(), driverWrites)
	t.Logf("wchar %d bytes (%.2f MB), syscw %d, write_bytes %d, store file %d bytes", wchar, float64(wchar)/1e6, after["syscw"]-before["syscw"], after["write_bytes"]-before["write_bytes"], fi.Size())
	t.Logf("the driver's last_seen memory is staged and written with the hub's commits (and at close): it adds no transaction of its own")
}
