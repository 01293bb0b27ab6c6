package zigbee2mqtt

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// synthetic returns n extra devices of one model as bridge/devices entries and as
// installation devices (adopted, no zone), named prefix_NNN with IEEE addresses from base.
func synthetic(n int, prefix string, base uint64, exposes []expose, model string) ([]map[string]any, []hub.Device) {
	var list []map[string]any
	var devs []hub.Device
	for i := range n {
		ieee := fmt.Sprintf("0x%016x", base+uint64(i))
		name := fmt.Sprintf("%s_%03d", prefix, i)
		list = append(list, map[string]any{
			"ieee_address": ieee, "friendly_name": name, "type": "EndDevice", "supported": true,
			"interview_completed": true, "model_id": "lumi." + model, "manufacturer": "LUMI", "power_source": "Battery",
			"definition": map[string]any{"model": model, "vendor": "Aqara", "description": model, "exposes": exposes},
		})
		devs = append(devs, hub.Device{ID: name, Name: name, Driver: Name, Address: ieee, Model: model})
	}
	return list, devs
}

// exposesOf returns the exposes of a model in testdata/bridge_devices.json.
func exposesOf(tb testing.TB, ieee string) []expose {
	var list []struct {
		IEEE       string `json:"ieee_address"`
		Definition struct {
			Exposes []expose `json:"exposes"`
		} `json:"definition"`
	}
	if err := json.Unmarshal(fixture(tb, "bridge_devices.json"), &list); err != nil {
		tb.Fatal(err)
	}
	for _, d := range list {
		if d.IEEE == ieee {
			return d.Definition.Exposes
		}
	}
	tb.Fatalf("no %s in the fixture", ieee)
	return nil
}

// withExtra returns the fixture list plus extra entries, and the test installation plus
// their devices.
func withExtra(tb testing.TB, extra []map[string]any, devs []hub.Device) ([]byte, *hub.Installation) {
	var list []any
	if err := json.Unmarshal(fixture(tb, "bridge_devices.json"), &list); err != nil {
		tb.Fatal(err)
	}
	for _, e := range extra {
		list = append(list, e)
	}
	b, err := json.Marshal(list)
	if err != nil {
		tb.Fatal(err)
	}
	inst := testInstallation()
	inst.Settings.NoExitDelay = true
	inst.Devices = append(inst.Devices, devs...)
	return b, inst
}

// BenchmarkSensorToSiren times an Aqara contact opening, published to the broker as
// Zigbee2MQTT publishes it, until a subscriber has the siren's warning: driver, manager, the
// hub's step and durable bbolt commit, the manager's siren command and the broker both ways.
// Idle, and under 2 000 msg/s of temperature/linkquality reports from 200 other devices on
// a second connection. Between samples (not timed) the area is disarmed, the window closed
// and the area armed again. Bounded: run with -benchtime=300x or so.
func BenchmarkSensorToSiren(b *testing.B) {
	for _, br := range brokers {
		for _, rate := range []int{0, 2000} {
			b.Run(fmt.Sprintf("%s/bg=%d", br.name, rate), func(b *testing.B) {
				benchSensorToSiren(b, br.start(b), rate)
			})
		}
	}
}

func benchSensorToSiren(b *testing.B, url string, rate int) {
	climate, devs := synthetic(200, "climate", 0x00158d0100000000, exposesOf(b, ieeeClimate), "WSDCGQ11LM")
	list, inst := withExtra(b, climate, devs)
	r := newRig(b, url, inst)
	r.z2m.publish("bridge/devices", list, true)
	r.z2m.waitFor("zigbee2mqtt/Coffee plug/get")

	// The siren's subscriber: when each warning arrives.
	type arrival struct {
		at      time.Time
		payload string
	}
	arrivals := make(chan arrival, 16)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("siren-watch").
		SetUsername(z2mAccount.Username).SetPassword(z2mAccount.Password).SetOrderMatters(true))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	sub.Subscribe("zigbee2mqtt/Attic siren/set", 1, func(_ paho.Client, m paho.Message) {
		arrivals <- arrival{time.Now(), string(m.Payload())}
	}).Wait()
	await := func(part string) time.Time {
		for {
			select {
			case a := <-arrivals:
				if strings.Contains(a.payload, part) {
					return a.at
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("no siren %s in 10 s", part)
			}
		}
	}

	// Background telemetry from a second connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var bgSent atomic.Int64
	bgDone := make(chan struct{})
	if rate > 0 {
		bg := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("telemetry").
			SetUsername(z2mAccount.Username).SetPassword(z2mAccount.Password))
		if tok := bg.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		go func() {
			defer close(bgDone)
			defer bg.Disconnect(50)
			const tick = 5 * time.Millisecond
			per := rate * int(tick) / int(time.Second)
			t := time.NewTicker(tick)
			defer t.Stop()
			n := 0
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				for range per {
					i := n % len(climate)
					p := fmt.Appendf(nil, `{"humidity":%.2f,"linkquality":%d,"temperature":%.2f}`, 40+float64(n%200)/10, 60+n%150, 20+float64(n%50)/10)
					bg.Publish(fmt.Sprintf("zigbee2mqtt/climate_%03d", i), 0, false, p)
					n++
				}
				bgSent.Store(int64(n))
			}
		}()
	} else {
		close(bgDone)
	}

	open, closed := fixture(b, "aqara_mccgq11lm_open.json"), fixture(b, "aqara_mccgq11lm_closed.json")
	arm := func() {
		if res := r.hub.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	reset := func() {
		if res := r.hub.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowWeb}); res.Err != nil {
			b.Fatal(res.Err)
		}
		await(`"stop"`)
		r.z2m.publish("Living room window", closed, false)
		hubtest.Eventually(b, "window closed", func() bool { return !r.hub.Snapshot().State.Zones[0].Active })
		if res := r.hub.Do(ctx, hub.Input{Kind: hub.InAcknowledge, Area: 1, User: "anna", How: hub.HowWeb}); res.Err != nil {
			b.Fatal(res.Err)
		}
		arm()
	}
	sample := func() time.Duration {
		start := time.Now()
		r.z2m.publish("Living room window", open, false)
		return await(`"burglar"`).Sub(start)
	}

	arm()
	for range 10 { // warm up
		sample()
		reset()
	}
	bgStart, bgStartAt := bgSent.Load(), time.Now()
	var lat []time.Duration
	for b.Loop() {
		lat = append(lat, sample())
		b.StopTimer()
		reset()
		b.StartTimer()
	}
	bgRate := float64(bgSent.Load()-bgStart) / time.Since(bgStartAt).Seconds()
	cancel()
	<-bgDone
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	if rate > 0 {
		b.ReportMetric(bgRate, "bg-msg/s")
	}
	if n := r.count(hub.KindBurglary); n != len(lat)+10 {
		b.Errorf("%d burglaries for %d openings", n, len(lat)+10)
	}
}

// memory returns the live heap after a collection and the process's resident set, in MB.
func memory() (heap, rss float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap = float64(ms.HeapAlloc) / (1 << 20)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return heap, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rss = kb / 1024
		}
	}
	return heap, rss
}

// adopted250 runs the whole path (embedded broker, hub, manager, driver) with 250 Zigbee
// devices adopted and listed, each of which has reported, and returns the memory in use
// before and after.
func adopted250(tb testing.TB) (heap0, heap, rss float64) {
	heap0, _ = memory()
	contacts, devs := synthetic(239, "door", 0x00158d0200000000, exposesOf(tb, ieeeWindow), "MCCGQ11LM")
	list, inst := withExtra(tb, contacts, devs) // 11 fixture devices (10 adopted) + 239 = 250 adopted
	for i, d := range devs {
		inst.Zones = append(inst.Zones, hub.Zone{Number: 100 + i, Name: d.Name, Area: 1, Type: hub.ZoneInstant, Device: d.ID})
	}
	if n := len(inst.Devices); n != 249 {
		tb.Fatalf("%d devices", n)
	}
	inst.Devices = append(inst.Devices, hub.Device{ID: "bedroom_climate", Name: "Bedroom climate", Driver: Name, Address: ieeeClimate, Model: "WSDCGQ11LM"})
	r := newRig(tb, startEmbedded(tb), inst)
	r.z2m.publish("bridge/devices", list, true)
	for _, d := range devs {
		r.z2m.publish(d.Name, fixture(tb, "aqara_mccgq11lm_closed.json"), false)
	}
	hubtest.Eventually(tb, "every device's state read", func() bool {
		n := 0
		for _, h := range r.mgr.Health() {
			if h.LinkQuality != nil {
				n++
			}
		}
		return n >= len(devs)
	})
	heap, rss = memory()
	return heap0, heap, rss
}

// BenchmarkAdopted250 reports the memory of the running path with 250 adopted devices. The
// figures are its result; the loop times nothing.
func BenchmarkAdopted250(b *testing.B) {
	heap0, heap, rss := adopted250(b)
	for b.Loop() {
	}
	b.ReportMetric(heap, "heap-MB")
	b.ReportMetric(heap-heap0, "heap-added-MB")
	b.ReportMetric(rss, "rss-MB")
}

// TestMemory_250Devices keeps the heap of the running path with 250 adopted devices in
// check (DESIGN §6: the whole of vakt under 40 MB resident). The resident set is logged, not
// asserted: the race detector multiplies it.
func TestMemory_250Devices(t *testing.T) {
	heap0, heap, rss := adopted250(t)
	t.Logf("250 devices adopted: heap %.1f MB (%.1f MB added), resident %.1f MB", heap, heap-heap0, rss)
	if heap-heap0 > 20 {
		t.Errorf("heap grew %.1f MB for 250 devices", heap-heap0)
	}
}
