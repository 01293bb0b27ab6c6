package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vakt/hub"
)

// TestStoreCmd_DamagedStore: vakt refuses to start on a damaged store with one message
// that says what to do; store check exits non-zero and says what is wrong; store salvage
// writes a new store vakt starts on.
func TestStoreCmd_DamagedStore(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"gen-history", "-events", "3000", "-data", dir}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "demo.db")
	out.Reset()
	if err := run(context.Background(), []string{"store", "check", "-data", dir, "-demo"}, nil, &out, &errOut); err != nil {
		t.Fatalf("check of a sound store: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "is sound") {
		t.Errorf("check says %q", out.String())
	}
	// Cut the file short, as a full SD card or a pulled plug might.
	info, _ := os.Stat(path)
	if err := os.Truncate(path, info.Size()/3); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-demo", "-data", dir, "-exit-when-ready"}, nil, &out, &errOut)
	if !errors.Is(err, hub.ErrStoreDamaged) {
		t.Fatalf("start on a damaged store: %v", err)
	}
	for _, want := range []string{path, "truncated", "vakt store check -data " + dir + " -demo", "vakt store salvage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}
	out.Reset()
	err = run(context.Background(), []string{"store", "check", "-data", dir, "-demo"}, nil, &out, &errOut)
	if !errors.Is(err, hub.ErrStoreDamaged) || !strings.Contains(out.String(), "truncated") {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	newFile := filepath.Join(dir, "salvaged.db")
	out.Reset()
	if err := run(context.Background(), []string{"store", "salvage", "-data", dir, "-demo", "-o", newFile}, nil, &out, &errOut); err != nil {
		t.Fatalf("salvage: %v", err)
	}
	if !strings.Contains(out.String(), "events saved: ") || !strings.Contains(out.String(), "events lost: ") {
		t.Errorf("salvage says %q", out.String())
	}
	if err := os.Rename(newFile, path); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"-demo", "-data", dir, "-exit-when-ready"}, nil, &out, &errOut); err != nil {
		t.Fatalf("start on the salvaged store: %v", err)
	}
}

// TestStoreCmd_Usage: a subcommand without its verb or file is a usage error.
func TestStoreCmd_Usage(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{{"store"}, {"store", "fix"}, {"store", "salvage", "-data", t.TempDir()}} {
		if err := run(context.Background(), args, nil, &out, &out); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestRun_WarnsLoosePermissions: a store or data directory others may read is a warning
// at start naming the path and the mode, not a refusal; what vakt creates is 0600 in 0700.
func TestRun_WarnsLoosePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var out, logs bytes.Buffer
	if err := run(context.Background(), []string{"-data", dir, "-exit-when-ready"}, nil, &out, &logs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vakt.db")
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Errorf("data dir is %s, want 0700", d.Mode())
	}
	if f, _ := os.Stat(path); f.Mode().Perm() != 0o600 {
		t.Errorf("store is %s, want 0600", f.Mode())
	}
	if strings.Contains(logs.String(), "other users may read") {
		t.Errorf("warned about its own files:\n%s", logs.String())
	}
	os.Chmod(dir, 0o755)
	os.Chmod(path, 0o644)
	logs.Reset()
	if err := run(context.Background(), []string{"-data", dir, "-exit-when-ready"}, nil, &out, &logs); err != nil {
		t.Fatalf("loose permissions refused: %v", err)
	}
	for _, want := range []string{"path=" + dir + " mode=drwxr-xr-x", "path=" + path + " mode=-rw-r--r--"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning with %q:\n%s", want, logs.String())
		}
	}
}
