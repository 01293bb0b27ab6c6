package hub

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var day = flag.Bool("day", false, "replay a typical house's day and report the store's disk writes (BENCHMARKS.md)")

// typicalHouse is DESIGN §6's typical house: 20 doors, 10 motion sensors, 5 smoke
// detectors, 10 thermometers, one area.
func typicalHouse() *Installation {
	inst := &Installation{Name: "typical", CodeKey: testKey, Areas: []Area{{Number: 1, Name: "House"}}}
	inst.Users = []User{{ID: "anna", Number: 1, Name: "Anna", Role: RoleAdmin}}
	n := 0
	add := func(prefix string, count int, zt ZoneType, interior bool) {
		for i := range count {
			id := fmt.Sprintf("%s_%d", prefix, i+1)
			inst.Devices = append(inst.Devices, Device{ID: id, Name: id, Driver: "zigbee2mqtt"})
			if zt != 0 {
				n++
				inst.Zones = append(inst.Zones, Zone{Number: n, Name: id, Area: 1, Type: zt, Device: id, Interior: interior})
			}
		}
	}
	add("door", 2, ZoneEntryExit, false)
	add("window", 18, ZoneInstant, false)
	add("motion", 10, ZoneInstant, true)
	add("smoke", 5, ZoneFire, false)
	for i := range 10 {
		id := fmt.Sprintf("thermo_%d", i+1)
		inst.Devices = append(inst.Devices, Device{ID: id, Name: id, Driver: "zigbee2mqtt", Area: 1})
	}
	return inst
}

type timedInput struct {
	at time.Time
	in Input
}

// dayOfInputs is one day of the typical house, as the hub gets it: every door and window
// opened 10 times and closed a minute later, every motion sensor 150 times (clear 90 s
// later), check-ins (a repeated state) of every sensor once an hour, the house armed away
// 08:00–17:00 and armed home 23:00–07:00, with all the activity while people are home.
// Thermometers' readings go to the device manager's health, not to the hub.
func dayOfInputs(start time.Time) []timedInput {
	var ins []timedInput
	at := func(h, m, s int) time.Time {
		return start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	home := func(k, of int) time.Time { // k-th of "of" moments spread over 07:05–07:55 and 17:05–22:55
		span := 50*time.Minute + 350*time.Minute
		d := time.Duration(int64(span) * int64(k) / int64(of))
		if d < 50*time.Minute {
			return at(7, 5, 0).Add(d)
		}
		return at(17, 5, 0).Add(d - 50*time.Minute)
	}
	report := func(dev string, sig Signal, active bool) Input {
		return Input{Kind: InReport, Device: dev, Signal: sig, Active: active}
	}
	for i := range 20 {
		dev := fmt.Sprintf("window_%d", i-1)
		if i < 2 {
			dev = fmt.Sprintf("door_%d", i+1)
		} else {
			dev = fmt.Sprintf("window_%d", i-1)
		}
		for k := range 10 {
			t := home(k*20+i, 200).Add(time.Duration(i) * time.Second)
			ins = append(ins, timedInput{t, report(dev, SignalContact, true)}, timedInput{t.Add(time.Minute), report(dev, SignalContact, false)})
		}
	}
	for i := range 10 {
		dev := fmt.Sprintf("motion_%d", i+1)
		for k := range 150 {
			t := home(k*10+i, 1500).Add(time.Duration(i) * 3 * time.Second)
			ins = append(ins, timedInput{t, report(dev, SignalMotion, true)}, timedInput{t.Add(90 * time.Second), report(dev, SignalMotion, false)})
		}
	}
	for h := range 24 {
		for i := range 5 {
			ins = append(ins, timedInput{at(h, 30, i), report(fmt.Sprintf("smoke_%d", i+1), SignalSmoke, false)})
		}
	}
	by := Input{User: "anna", How: HowKeypad}
	arm := func(t time.Time, m Mode) {
		in := by
		in.Kind, in.Area, in.Mode = InArm, 1, m
		ins = append(ins, timedInput{t, in})
	}
	disarm := func(t time.Time) {
		in := by
		in.Kind, in.Area = InDisarm, 1
		ins = append(ins, timedInput{t, in})
	}
	disarm(at(7, 0, 0))
	arm(at(8, 0, 0), ModeArmedAway)
	disarm(at(17, 0, 0))
	arm(at(23, 0, 0), ModeArmedHome)
	sort.SliceStable(ins, func(i, j int) bool { return ins[i].at.Before(ins[j].at) })
	return ins
}

// procIO reads this process's write counters.
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

// TestDayOfWrites replays a typical house's day over 24 h of the hub's clock through the
// real run loop and store, and reports what the store wrote: go test ./hub -run
// TestDayOfWrites -day -v (under strace -f -c -e trace=fdatasync,pwrite64 for the fsyncs;
// see BENCHMARKS.md). Not a timed test: it asserts nothing about time.
func TestDayOfWrites(t *testing.T) {
	if !*day {
		t.Skip("run with -day")
	}
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start}
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	h, err := New(s, typicalHouse(), Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	commits := 0
	var bytesLogged int
	h.commit = func(inst *Installation, st *State, evs []Event) error {
		commits++
		bytesLogged += len(evs)
		return s.CommitInstallation(inst, st, evs)
	}
	ins := dayOfInputs(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	h.Do(ctx, Input{Kind: InTick}) // the start-up turn
	before := procIO(t)
	for _, ti := range ins {
		clock.mu.Lock()
		clock.t = ti.at
		clock.mu.Unlock()
		if r := h.Do(ctx, ti.in); r.Err != nil && !strings.Contains(r.Err.Error(), "already") {
			t.Fatalf("%s %+v: %v", ti.at.Format("15:04:05"), ti.in, r.Err)
		}
	}
	clock.Add(time.Hour) // to midnight and a little past
	h.Do(ctx, Input{Kind: InTick})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after := procIO(t)
	fi, _ := os.Stat(path)
	t.Logf("inputs %d, commits %d, events %d", len(ins), commits, bytesLogged)
	t.Logf("wchar %d bytes (%.2f MB), syscw %d, write_bytes %d, store file %d bytes",
		after["wchar"]-before["wchar"], float64(after["wchar"]-before["wchar"])/1e6, after["syscw"]-before["syscw"], after["write_bytes"]-before["write_bytes"], fi.Size())
	s.Close()
}
