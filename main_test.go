package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the logger and the console writing at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func TestLoadConfig_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "data_dir: x\nlog_levle: info\n", "line 2: field log_levle not found"},
		{"bad level", "log_level: loud\n", "log_level: \"loud\""},
		{"bad format", "log_format: xml\n", "log_format"},
		{"small cap", "event_log_cap: 10\n", "event_log_cap: 10"},
		{"empty data dir", "data_dir: \"\"\n", "data_dir"},
		{"wrong type", "event_log_cap: many\n", "line 1"},
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
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := strings.NewReader("arm away 1234\narm away 12\nopen nowhere\nstatus\nquit\n")
	if err := run(ctx, []string{"--demo", "--data", dir}, in, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"exit_delay armed_away zone 1 by anna", "malformed code", `open "nowhere": unknown device`, "area 1 House    arming"} {
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
