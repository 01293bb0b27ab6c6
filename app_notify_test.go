package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/sdnotify/sdnotifytest"
)

// TestApp_SystemdNotify: vakt started by systemd (NOTIFY_SOCKET, WATCHDOG_USEC) says
// READY=1 only with the stored state restored (the status names the stored installation
// and its events), feeds the watchdog while it runs, and says STOPPING=1 when stopped.
func TestApp_SystemdNotify(t *testing.T) {
	dir := t.TempDir()
	s, err := hub.OpenStore(filepath.Join(dir, "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.GenerateHistory(s, hub.DemoInstallation(bytes.Repeat([]byte{3}, 32)), 40, time.Now().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	last, _ := s.LastSeq()
	s.Close()

	sock := sdnotifytest.Listen(t, filepath.Join(t.TempDir(), "notify"))
	t.Setenv("NOTIFY_SOCKET", sock.Name)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	cfg := defaultConfig()
	cfg.DataDir = dir
	cfg.MQTT.Broker.Listen = "127.0.0.1:0"
	cfg.Web.Listen = "127.0.0.1:0"
	var log hubtest.Buffer
	app, err := New(cfg, Options{Stdout: &log, Stderr: &log})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()

	want := fmt.Sprintf("READY=1\nSTATUS=running: Demo family, 2 areas, 17 devices, 4 users, %d events restored", last)
	if got := sock.Next(); got != want {
		t.Fatalf("first message %q, want %q\n%s", got, want, log.String())
	}
	sock.Until(func(m string) bool { return m == "WATCHDOG=1" })
	sock.Until(func(m string) bool { return m == "WATCHDOG=1" })
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := sock.Until(func(m string) bool { return m != "WATCHDOG=1" })
	if m := got[len(got)-1]; !strings.HasPrefix(m, "STOPPING=1\n") {
		t.Fatalf("at shutdown %q, want STOPPING=1", m)
	}
}
