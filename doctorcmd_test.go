package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vakt/hub/hubtest"
	"vakt/uplink/station"
)

// writeConfig writes a config file into dir and returns its path.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDoctor_StoppedAndRunning runs `vakt doctor` with vakt's own flags against a data
// directory, first with vakt stopped (the station's paths are polled, the HomeKit port
// another program holds fails, exit non-zero), then beside a running vakt (its embedded
// broker takes vakt's account from the credentials file; the store is in use).
func TestDoctor_StoppedAndRunning(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	key := make([]byte, 16)
	rand.Read(key)
	st := station.New(io.Discard, key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := st.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Unplug("primary"); st.Unplug("backup") }()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	brokerAddr := free.Addr().String()
	free.Close()
	free, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpsAddr := free.Addr().String()
	free.Close()
	base := fmt.Sprintf("data_dir: %s\nmqtt:\n  broker:\n    listen: %q\nweb:\n  listen: \"127.0.0.1:0\"\n  https_listen: %q\n"+
		"uplink:\n  receivers:\n    - name: arc\n      account: %q\n      primary: {network: tcp, addr: %q, key: %q}\n      backup: {network: udp, addr: %q, key: %q}\n",
		data, brokerAddr, httpsAddr, station.Account, rc.Primary.Addr, rc.Primary.Key, rc.Backup.Addr, rc.Backup.Key)
	config := writeConfig(t, dir, base+fmt.Sprintf("homekit:\n  listen: %q\n", held.Addr().String()))

	// A first start makes the store; vakt is stopped again.
	var out hubtest.Buffer
	if err := run(ctx, []string{"--config", config, "--exit-when-ready"}, nil, &out, &out); err != nil {
		t.Fatalf("first start: %v\n%s", err, out.String())
	}
	out.Reset()
	err = run(ctx, []string{"doctor", "-config", config, "-timeout", "2s"}, nil, &out, &out)
	report := out.String()
	t.Log("\n" + report)
	if err == nil || !strings.Contains(err.Error(), "to fix (the FAIL lines)") {
		t.Errorf("doctor with a FAIL: error %v", err)
	}
	for _, want := range []string{
		"ok    station arc/primary (tcp " + rc.Primary.Addr + "): NULL poll acknowledged in ",
		"ok    station arc/backup (udp " + rc.Backup.Addr + "): NULL poll acknowledged in ",
		"FAIL  HomeKit port " + held.Addr().String() + ": taken while vakt is stopped",
		"WARN  embedded MQTT broker " + brokerAddr + ": no credentials file in the data directory",
		"ok    store " + filepath.Join(data, "vakt.db") + ": sound, ",
		"ok    GPIO and I²C: none named in the config",
		"ok    disk " + data + ": ",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}

	// vakt runs (without the HomeKit bridge): doctor beside it.
	config = writeConfig(t, dir, base)
	var logs hubtest.Buffer
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, []string{"--config", config}, nil, &logs, &logs) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("vakt: %v", err)
		}
	}()
	hubtest.Eventually(t, "vakt's broker and HTTPS up", func() bool {
		return strings.Contains(logs.String(), "embedded MQTT broker") && strings.Contains(logs.String(), "web UI (HTTPS)")
	})
	out.Reset()
	err = run(ctx, []string{"doctor", "-config", config, "-timeout", "2s"}, nil, &out, &out)
	report = out.String()
	t.Log("\n" + report)
	for _, want := range []string{
		"ok    embedded MQTT broker " + brokerAddr + ": account vakt logs in",
		"ok    store " + filepath.Join(data, "vakt.db") + ": in use by the running vakt",
		"ok    station arc: not polled from here while vakt runs",
		"ok    HomeKit: not configured",
		"ok    web server certificate (served on " + httpsAddr + "): ",
		"ok    web local CA (served on " + httpsAddr + "): vakt local CA",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Only the clock may fail here: it is this machine's own.
	for _, l := range strings.Split(report, "\n") {
		if strings.HasPrefix(l, "FAIL") && !strings.HasPrefix(l, "FAIL  clock") {
			t.Errorf("beside a running vakt: %s", l)
		}
	}
	if err != nil && !strings.Contains(report, "FAIL  clock") {
		t.Errorf("doctor failed without a FAIL line: %v", err)
	}
}

func TestDoctor_BadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "data_dir: x\nuplnk: {}\n", "line 2: field uplnk not found"},
		{"bad receiver", "uplink: {receivers: [{name: arc, account: \"1234\", primary: {addr: \"127.0.0.1:1\", key: \"00ff\"}}]}\n", "uplink.receivers[0].primary.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out hubtest.Buffer
			err := run(context.Background(), []string{"doctor", "-config", writeConfig(t, dir, tc.yaml)}, nil, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(out.String(), "ok ") {
				t.Errorf("checks ran on a bad config:\n%s", out.String())
			}
		})
	}
	var out hubtest.Buffer
	if err := run(context.Background(), []string{"doctor", "-config", filepath.Join(dir, "missing.yaml")}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing config: %v", err)
	}
	if err := run(context.Background(), []string{"doctor", "extra"}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "usage: vakt doctor") {
		t.Errorf("extra argument: %v", err)
	}
}
