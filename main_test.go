package main

import (
	"bytes"
	"context"
	paho "github.com/eclipse/paho.mqtt.golang"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"vakt/devices/broker"
	"vakt/ui/homeassistant"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestLoadConfig_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "data_dir: x\nlog_levle: info\n", "line 2: field log_levle not found"},
		{"bad level", "log_level: loud\n", "log_level: \"loud\""},
		{"bad format", "log_format: xml\n", "log_format"},
		{"small cap", "event_log_cap: 10\n", "event_log_cap: 10"},
		{"empty data dir", "data_dir: \"\"\n", "data_dir"},
		{"wrong type", "event_log_cap: many\n", "line 1: event_log_cap: cannot unmarshal"},
		{"bad duration", "data_dir: x\ndevices:\n  check_in: 2x\n", `line 3: devices.check_in: duration "2x"`},
		{"bad nested duration", "gpio:\n  zones:\n    - {device: a, pin: GPIO17}\n    - device: b\n      debounce: soon\n", `line 5: gpio.zones[1].debounce: duration "soon"`},
		{"bad model duration", "rtl433:\n  models:\n    Kerui-Security:\n      check_in: 1d\n", `line 4: rtl433.models["Kerui-Security"].check_in: duration "1d"`},
		{"duration of wrong kind", "devices:\n  check_in: [1m]\n", "line 2: devices.check_in: want a duration"},
		{"uplink mqtt hub id", "uplink_mqtt: {url: \"tcp://127.0.0.1:1883\", hub_id: \"Home 1\"}\n", "uplink_mqtt.hub_id"},
		{"uplink key length", "uplink: {receivers: [{name: arc, account: \"1234\", primary: {addr: \"127.0.0.1:1\", key: \"00ff\"}}]}\n", "uplink.receivers[0].primary.key"},
		{"gpio unknown key", "gpio: {lid: {pn: GPIO17}}\n", "field pn not found"},
		{"broker unknown role", "mqtt:\n  broker:\n    accounts:\n      - {username: radio, password: radio-pass-1, role: admin}\n", "line 4: mqtt.broker.accounts[].role: \"admin\""},
		{"broker no role", "mqtt:\n  broker:\n    accounts:\n      - {username: radio, password: radio-pass-1}\n", "mqtt.broker.accounts[0].role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			_, err := loadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfig_ExampleIsValid(t *testing.T) {
	cfg, err := loadConfig("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, defaultConfig()) {
		t.Errorf("config.example.yaml %+v differs from the defaults %+v", cfg, defaultConfig())
	}
}

// TestRun_Demo plays a short evening through the demo console, then restarts and checks the
// state survived.
func TestRun_Demo(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := strings.NewReader("arm away 1234\narm away 12\nopen nowhere\nstatus\nquit\n")
	if err := run(ctx, []string{"--demo", "--data", dir}, in, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"exit_delay armed_away by anna", "malformed code", `open "nowhere": unknown device`, "area 1 House    arming"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	in = strings.NewReader("status\nquit\n")
	if err := run(ctx, []string{"--demo", "--data", dir}, in, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "area 1 House    arming") && !strings.Contains(out.String(), "area 1 House    armed_away") {
		t.Errorf("state lost across restart:\n%s", out.String())
	}
}

func TestRun_EmptyInstallationAndBadConfig(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--data", dir, "--exit-when-ready"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ready_ms=") {
		t.Errorf("no ready line: %s", out.String())
	}
	if err := run(context.Background(), []string{"--config", filepath.Join(dir, "missing.yaml")}, nil, &out, &out); err == nil {
		t.Error("a missing config file is not an error")
	}
}

func TestGenHistory(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gen-history", "-events", "2000", "-data", dir}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"--demo", "--data", dir, "--exit-when-ready"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "events=200") {
		t.Errorf("restored store: %s", out.String())
	}
}

// TestRun_DemoWiredBox plays the box's own inputs through the demo's simulated pins and
// gauge, and so through the real gpio driver: a wired door, the lid, a mains cut, a low
// battery, each as the seed describes.
func TestRun_DemoWiredBox(t *testing.T) {
	out, pw, step, quit := startDemo(t)
	// status shows the door once the driver's debounce has passed: ask until it does.
	repeat := func(cmd, want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			io.WriteString(pw, cmd+"\n")
			if strings.Contains(out.String(), want) {
				return
			}
		}
		t.Fatalf("%s: no %q in:\n%s", cmd, want, out.String())
	}
	step("open back_door", "")
	repeat("status", "active: Back door")
	step("close back_door", "")
	step("lid open", "tamper device hub (trouble) → station CID 1137")
	step("lid close", "tamper restored device hub → station CID 3137")
	step("mains off", "mains_lost via system (on backup battery; reported in 1h0m0s)")
	step("mains on", "mains_lost restored via system (restored before the report delay)")
	step("battery 15", "hub_battery_low → station CID 1302")
	step("battery 80", "hub_battery_low restored → station CID 3302")
	quit()
}

// TestInstallationImport sets a house up from a file, as an installer would, then arms it
// with an imported code.
func TestInstallationImport(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"installation", "import", "-data", dir, "examples/installation.yaml"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"installation", "import", "-data", dir, "config.example.yaml"}, nil, &out, &out); err == nil {
		t.Fatal("a config file imported as an installation")
	}
	out.Reset()
	if err := run(ctx, []string{"installation", "export", "-data", dir}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "name: Our house") || strings.Contains(out.String(), `"1234"`) {
		t.Fatalf("export:\n%s", out.String())
	}
	s, err := hub.OpenStore(filepath.Join(dir, "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A fixed clock: the example's schedules (area 1 arms at 23:00) must not race erik's arming.
	h, err := hub.New(s, nil, hub.Options{Now: hubtest.NewClock(hubtest.T0).Now})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(rctx) }()
	defer func() { cancel(); <-done }()
	if r := h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "5678", How: hub.HowKeypad}); r.Err != nil {
		t.Fatalf("arm with erik's imported code: %v", r.Err)
	}
	evs, _ := s.Events(0, 0)
	if evs[0].Kind != hub.KindConfigChange || evs[0].User != "installer" {
		t.Fatalf("the import is not in the history: %+v", evs[0])
	}
}

// TestRun_DemoStation: the demo reports to its own station, encrypted; a transmission test
// says when the station acknowledged; pulling the primary path's plug moves traffic to the
// backup with the fault reported, and plugging it back restores it.
func TestRun_DemoStation(t *testing.T) {
	out, _, step, quit := startDemo(t)
	step("test 1234", "acknowledged by demo-station over primary")
	step("smoke kitchen_smoke", "station (primary): #0003 ADM-CID #1234|1110 01 006")
	step("unplug primary", "primary path unplugged")
	step("smoke kitchen_smoke off", "uplink_fault device demo-station/primary → station CID 1350")
	step("station", "ADM-CID #1234|1350 00 001") // the primary's fault, over the backup
	step("plug primary", "uplink_fault restored device demo-station/primary")
	quit()
	for _, want := range []string{"station (backup): #0004 ADM-CID #1234|3110 01 006", "station (backup): #0005 ADM-CID #1234|1350 00 001"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// startDemo runs the demo on a pipe. step types a command and waits until the output holds
// want; quit types quit and waits for the demo to end.
func startDemo(t *testing.T) (out *hubtest.Buffer, stdin io.Writer, step func(cmd, want string), quit func()) {
	t.Helper()
	return startDemoIn(t, t.TempDir())
}

// startDemoIn is startDemo with the data directory dir, and more arguments.
func startDemoIn(t *testing.T, dir string, args ...string) (out *hubtest.Buffer, stdin io.Writer, step func(cmd, want string), quit func()) {
	t.Helper()
	out = &hubtest.Buffer{}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--demo", "--data", dir}, args...), pr, out, out) }()
	step = func(cmd, want string) {
		t.Helper()
		io.WriteString(pw, cmd+"\n")
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if strings.Contains(out.String(), want) {
				return
			}
		}
		t.Fatalf("%s: no %q in:\n%s", cmd, want, out.String())
	}
	quit = func() {
		t.Helper()
		io.WriteString(pw, "quit\n")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	return out, pw, step, quit
}

// vaktGoroutines returns the goroutines (by their header line) running vakt's own code,
// other than the caller.
func vaktGoroutines() map[string]string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]string{}
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		if strings.Contains(g, "\nvakt/") || strings.Contains(g, "\nvakt.") {
			header, _, _ := strings.Cut(g, "\n")
			id, _, _ := strings.Cut(strings.TrimPrefix(header, "goroutine "), " ")
			out[id] = g
		}
	}
	return out
}

// TestRun_FailureLeavesNothingRunning: vakt whose broker port is taken fails with that
// error, and when run returns, nothing it started is still running; the store is closed.
func TestRun_FailureLeavesNothingRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte("data_dir: "+dir+"\nmqtt:\n  broker:\n    listen: "+ln.Addr().String()+"\n"), 0o600)
	before := vaktGoroutines()
	for i := range 20 { // the goroutines race the return: try it a few times
		var out hubtest.Buffer
		err := run(context.Background(), []string{"--config", path}, nil, &out, &out)
		if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Fatalf("run %d: error %v, want the taken address %s", i, err, ln.Addr())
		}
		for id, g := range vaktGoroutines() {
			if _, ok := before[id]; !ok {
				t.Fatalf("run %d returned %q with a goroutine still running:\n%s", i, err, g)
			}
		}
		s, err := hub.OpenStore(filepath.Join(dir, "vakt.db"), 0) // closed: it opens
		if err != nil {
			t.Fatalf("run %d left the store open: %v", i, err)
		}
		s.Close()
	}
}

// appTestConfig is the default config with a data directory of the test's and the
// embedded broker on a free loopback port, which it returns.
func appTestConfig(t *testing.T) (Config, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.MQTT.Broker.Listen = addr
	return cfg, addr
}

// TestApp_Lifecycle: New starts nothing; Close without Run and twice is fine; Close ends a
// Run in progress, which returns once every part has stopped.
func TestApp_Lifecycle(t *testing.T) {
	cfg, _ := appTestConfig(t)
	if _, err := New(Config{}, Options{}); err == nil {
		t.Error("New takes an empty config")
	}
	before := vaktGoroutines()
	app, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("New made the data directory: %v", err)
	}
	if len(vaktGoroutines()) != len(before) {
		t.Error("New started a goroutine")
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}

	var out hubtest.Buffer
	app, err = New(cfg, Options{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "embedded MQTT broker"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not started:\n%s", out.String())
		}
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for id, g := range vaktGoroutines() {
		if _, ok := before[id]; !ok {
			t.Fatalf("Close returned with a goroutine still running:\n%s", g)
		}
	}
}

// TestRun_Help: --help, -h and help print every subcommand and the flags, and succeed.
func TestRun_Help(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, nil, &out, &errOut); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		for _, want := range []string{"installation export|import", "store check|salvage", "gen-history", "-demo", "-config file", "-exit-when-ready"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: no %q in:\n%s", args, want, out.String())
			}
		}
	}
	for _, args := range [][]string{{"store", "check", "-h"}, {"installation", "export", "-h"}, {"gen-history", "-h"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, nil, &out, &out); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--bogus"}, nil, &out, &out); err == nil || !strings.Contains(out.String(), "store check|salvage") {
		t.Errorf("an unknown flag: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"instalation"}, nil, &out, &out); err == nil {
		t.Error("a misspelt subcommand runs the hub")
	}
}

// TestRun_BrokerPasswordNotLogged: the embedded broker's password is never in the log; it
// is in the data directory's credentials file (mode 0600, written again when missing) and
// shown by the console's broker command.
func TestRun_BrokerPasswordNotLogged(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mqtt-credentials")
	readCreds := func() map[string]string {
		t.Helper()
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %s, want 0600", file, fi.Mode())
		}
		data, _ := os.ReadFile(file)
		kv := map[string]string{}
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ": "); ok && !strings.HasPrefix(l, "#") {
				kv[k] = v
			}
		}
		return kv
	}
	out, _, step, quit := startDemoIn(t, dir)
	step("help", "broker")
	creds := readCreds()
	if len(creds["password"]) != 24 || creds["username"] != "vakt" || !strings.HasPrefix(creds["url"], "mqtt://127.0.0.1:") {
		t.Fatalf("credentials file: %v", creds)
	}
	if !strings.Contains(out.String(), "credentials="+file) {
		t.Errorf("the log does not say where the credentials are:\n%s", out.String())
	}
	if strings.Contains(out.String(), creds["password"]) {
		t.Fatalf("the password is in the log:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Type broker for the MQTT credentials") {
		t.Errorf("the intro does not mention the broker command:\n%s", out.String())
	}
	step("broker", "password "+creds["password"])
	quit()

	// Started again: a deleted file is written again, a widened one made private.
	os.Remove(file)
	var log hubtest.Buffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := defaultConfig()
	cfg.DataDir, cfg.MQTT.Broker.Listen = dir, addr
	for i := range 2 {
		app, err := New(cfg, Options{Demo: true, Stdin: strings.NewReader(""), Stdout: &log, Stderr: &log})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- app.Run(context.Background()) }()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "credentials="); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("not started:\n%s", log.String())
			}
		}
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := readCreds()
		if got["password"] != creds["password"] || got["url"] != "mqtt://"+addr {
			t.Errorf("run %d: credentials file %v, want password %s at %s", i, got, creds["password"], addr)
		}
		if strings.Contains(log.String(), creds["password"]) {
			t.Fatalf("the password is in the log:\n%s", log.String())
		}
		os.Chmod(file, 0o644)
		log.Reset()
	}
}

// TestApp_HomeAssistant: with a homeassistant section, vakt announces its areas on its own
// embedded broker with its own account (whose role must allow the discovery prefix and the
// base topic), and Home Assistant's account (role home_assistant) reads them.
func TestApp_HomeAssistant(t *testing.T) {
	cfg, addr := appTestConfig(t)
	cfg.MQTT.Broker.Accounts = []broker.Account{{Username: "hass", Password: "hass-pass-123", Role: broker.RoleHomeAssistant}}
	cfg.Web.Listen = "127.0.0.1:0"
	ha := homeassistant.DefaultConfig()
	cfg.HomeAssistant = &ha
	var out hubtest.Buffer
	app, err := New(cfg, Options{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	defer func() {
		if err := app.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	got := make(chan string, 64)
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("home-assistant").SetUsername("hass").SetPassword("hass-pass-123").
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect as Home Assistant: %v\n%s", tok.Error(), out.String())
	}
	defer c.Disconnect(10)
	for _, f := range []string{"homeassistant/#", "vakt/#"} {
		if tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	wait := func(want string) {
		t.Helper()
		for deadline := time.After(10 * time.Second); ; {
			select {
			case m := <-got:
				if strings.HasPrefix(m, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q:\n%s", want, out.String())
			}
		}
	}
	wait("homeassistant/alarm_control_panel/vakt/area_1/config {")
	wait("vakt/status online")
}

// TestRun_DemoHomeKit: the console's homekit command prints the setup code, the QR code's
// payload and the QR code; without a homekit section it says how to turn HomeKit on.
func TestRun_DemoHomeKit(t *testing.T) {
	_, _, step, quit := startDemo(t)
	step("homekit", "HomeKit is off (add a homekit section to config.yaml)")
	quit()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "vakt.yaml")
	if err := os.WriteFile(cfg, []byte("homekit:\n  listen: 127.0.0.1:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, pw, _, quit := startDemoIn(t, dir, "--config", cfg)
	// the bridge may still be starting: ask until it answers
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "paired controllers: 0"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("homekit: no setup code in:\n%s", out.String())
		}
		io.WriteString(pw, "homekit\n")
	}
	m := regexp.MustCompile(`HomeKit setup code (\d{3}-\d{2}-\d{3}) .*\n\s+payload (X-HM://[0-9A-Z]{13})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no setup code and payload in:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "█") {
		t.Errorf("no QR code in:\n%s", out.String())
	}
	// the log line says the same
	if !strings.Contains(out.String(), "code="+m[1]) || !strings.Contains(out.String(), "payload="+m[2]) {
		t.Errorf("the log does not show code %s and payload %s", m[1], m[2])
	}
	quit()
}
