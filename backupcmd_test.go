package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestBackupCmd_RoundTrip: `vakt backup` of a stopped vakt's store and `vakt restore` of it
// into a fresh data directory bring back the installation and the history; the store
// backed up is not changed by it.
func TestBackupCmd_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"installation", "import", "-data", dir, "examples/installation.yaml"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "vakt.db")
	before, _ := os.ReadFile(store)
	const pass = "a long enough backup passphrase"
	t.Setenv(passphraseEnv, pass)
	file := filepath.Join(t.TempDir(), "house.age")
	if err := run(ctx, []string{"backup", "-data", dir, "-o", file}, nil, &out, &out); err != nil {
		t.Fatalf("backup: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "vakt restore -data "+dir+" "+file) {
		t.Errorf("backup does not say how to restore: %s", out.String())
	}
	if after, _ := os.ReadFile(store); string(after) != string(before) {
		t.Error("backing up changed the store")
	}
	// Not over an existing file.
	if err := run(ctx, []string{"backup", "-data", dir, "-o", file}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}

	t.Setenv(passphraseEnv, "")
	passFile := filepath.Join(t.TempDir(), "passphrase")
	os.WriteFile(passFile, []byte(pass+"\n"), 0o600)
	fresh := filepath.Join(t.TempDir(), "fresh")
	out.Reset()
	if err := run(ctx, []string{"restore", "-data", fresh, "-passphrase-file", passFile, file}, nil, &out, &out); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "restored "+filepath.Join(fresh, "vakt.db")) {
		t.Errorf("restore says: %s", out.String())
	}
	a, b := openBoth(t, store, filepath.Join(fresh, "vakt.db"))
	ia, _ := a.Installation()
	ib, _ := b.Installation()
	if !reflect.DeepEqual(ia, ib) {
		t.Error("restored installation differs")
	}
	ea, _ := a.Events(0, 0)
	eb, _ := b.Events(0, 0)
	if len(ea) == 0 || !reflect.DeepEqual(ea, eb) {
		t.Errorf("restored history differs: %d events, %d", len(ea), len(eb))
	}
}

func openBoth(t *testing.T, p1, p2 string) (*hub.Store, *hub.Store) {
	t.Helper()
	a, err := hub.OpenStore(p1, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := hub.OpenStore(p2, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// TestBackupCmd_Refusals: no passphrase, a short one, a running vakt, a wrong passphrase
// or a backup that is not one: each a clear error, and nothing changed.
func TestBackupCmd_Refusals(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"installation", "import", "-data", dir, "examples/installation.yaml"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	const pass = "a long enough backup passphrase"
	file := filepath.Join(t.TempDir(), "house.age")
	t.Setenv(passphraseEnv, pass)
	if err := run(ctx, []string{"backup", "-data", dir, "-o", file}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "vakt.db")
	before, _ := os.ReadFile(store)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("too short\n"), 0o600)
	other := filepath.Join(t.TempDir(), "other.age")
	os.WriteFile(other, []byte("hello"), 0o600)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not the passphrase at all\n"), 0o600)

	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"no passphrase", "", []string{"backup", "-data", dir, "-o", filepath.Join(t.TempDir(), "b.age")}, "no passphrase: give -passphrase-file FILE, set $VAKT_BACKUP_PASSPHRASE"},
		{"short passphrase", "", []string{"backup", "-data", dir, "-passphrase-file", short, "-o", filepath.Join(t.TempDir(), "b.age")}, "at least 12 characters"},
		{"missing passphrase file", "", []string{"backup", "-data", dir, "-passphrase-file", "/nonexistent/p", "-o", filepath.Join(t.TempDir(), "b.age")}, "backup passphrase file"},
		{"no output", pass, []string{"backup", "-data", dir}, "usage: vakt backup"},
		{"no store", pass, []string{"backup", "-data", t.TempDir(), "-o", filepath.Join(t.TempDir(), "b.age")}, "no store at"},
		{"wrong passphrase", "", []string{"restore", "-data", dir, "-passphrase-file", wrong, file}, "wrong passphrase; nothing changed"},
		{"not a backup", pass, []string{"restore", "-data", dir, other}, "not a vakt backup: it is not an age-encrypted file; nothing changed"},
		{"no backup file", pass, []string{"restore", "-data", dir, "/nonexistent/b.age"}, "no such file"},
		{"restore usage", pass, []string{"restore", "-data", dir}, "usage: vakt restore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(passphraseEnv, tc.env)
			err := run(ctx, tc.args, strings.NewReader(""), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want an error saying %q", err, tc.want)
			}
			if after, _ := os.ReadFile(store); string(after) != string(before) {
				t.Error("the store changed")
			}
		})
	}

	// A running vakt holds its store: the CLI says where to back up instead, and refuses
	// to restore over it.
	s, err := hub.OpenStore(store, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, _ := os.ReadFile(store)
	t.Setenv(passphraseEnv, pass)
	err = run(ctx, []string{"backup", "-data", dir, "-o", filepath.Join(t.TempDir(), "b.age")}, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "vakt is running") || !strings.Contains(err.Error(), "web UI's Backup page") {
		t.Errorf("backup of a running vakt: %v", err)
	}
	err = run(ctx, []string{"restore", "-data", dir, file}, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "vakt is running; stop it first") {
		t.Errorf("restore over a running vakt: %v", err)
	}
	if after, _ := os.ReadFile(store); string(after) != string(held) {
		t.Error("the store in use changed")
	}
}

// TestRun_OldStoreMigratesAndNewerIsRefused: vakt started on a store the last release
// before schema versions wrote migrates it, says so, and is ready with the current schema;
// a backup of it taken before restores and migrates the same way; a store a newer vakt
// wrote stops the start with what to do, unchanged.
func TestRun_OldStoreMigratesAndNewerIsRefused(t *testing.T) {
	old, err := os.ReadFile("hub/testdata/store-v1-last.db")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dir, 0o700)
	store := filepath.Join(dir, "vakt.db")
	os.WriteFile(store, old, 0o600)
	const pass = "a long enough backup passphrase"
	t.Setenv(passphraseEnv, pass)
	var out hubtest.Buffer
	file := filepath.Join(t.TempDir(), "v1.age")
	if err := run(context.Background(), []string{"backup", "-data", dir, "-o", file}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(store); string(b) != string(old) {
		t.Fatal("backing up an old store changed it")
	}
	var logs hubtest.Buffer
	if err := run(context.Background(), []string{"-data", dir, "-exit-when-ready"}, nil, &out, &logs); err != nil {
		t.Fatalf("start on an old store: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"msg=\"store migrated\" from_schema=1 schema=2", "msg=ready", "schema=2", "installation=\"Demo family\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	// The old backup restores over the migrated store (vakt stopped) and migrates again.
	out.Reset()
	if err := run(context.Background(), []string{"restore", "-data", dir, file}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "schema 1") || !strings.Contains(out.String(), "kept as "+store+".before-restore-") {
		t.Errorf("restore says: %s", out.String())
	}
	logs.Reset()
	if err := run(context.Background(), []string{"-data", dir, "-exit-when-ready"}, nil, &out, &logs); err != nil || !strings.Contains(logs.String(), "from_schema=1") {
		t.Fatalf("start on the restored old store: %v\n%s", err, logs.String())
	}

	// A newer vakt's store.
	db, err := hub.OpenStore(store, 0)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	setSchemaRaw(t, store, "3")
	before, _ := os.ReadFile(store)
	err = run(context.Background(), []string{"-data", dir, "-exit-when-ready"}, nil, &out, &logs)
	if err == nil || !strings.Contains(err.Error(), "store schema 3 is newer than this vakt (2): upgrade vakt or restore a backup") {
		t.Errorf("start on a newer store: %v", err)
	}
	if after, _ := os.ReadFile(store); string(after) != string(before) {
		t.Error("the newer store changed")
	}
}

// setSchemaRaw writes the store's schema version with bbolt directly, as a newer vakt would.
func setSchemaRaw(t *testing.T, path, v string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(v)) }); err != nil {
		t.Fatal(err)
	}
}

// TestApp_BackupFailureNeverStopsVakt: scheduled backups to a USB stick that is not
// mounted are a logged failure at start; vakt runs on and stops cleanly.
func TestApp_BackupFailureNeverStopsVakt(t *testing.T) {
	cfg, _ := appTestConfig(t)
	cfg.Web.Listen = "127.0.0.1:0"
	pf := filepath.Join(t.TempDir(), "passphrase")
	os.WriteFile(pf, []byte("a long enough backup passphrase\n"), 0o600)
	cfg.Backup = hub.BackupConfig{Dir: filepath.Join(t.TempDir(), "media", "usb"), Every: hub.Duration(24 * time.Hour), Keep: 7, PassphraseFile: pf}
	var logs hubtest.Buffer
	app, err := New(cfg, Options{Stdout: &logs, Stderr: &logs})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	hubtest.Eventually(t, "the backup failure logged", func() bool {
		return strings.Contains(logs.String(), "scheduled backup failed") && strings.Contains(logs.String(), "is the USB stick mounted?")
	})
	select {
	case err := <-done:
		t.Fatalf("vakt stopped on a backup failure: %v", err)
	default:
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(cfg.Backup.Dir)); !os.IsNotExist(err) {
		t.Error("vakt made the mount point's directory")
	}
}

// TestRun_Version: --version says vakt's version and the store schema it writes.
func TestRun_Version(t *testing.T) {
	var out hubtest.Buffer
	if err := run(context.Background(), []string{"--version"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if want := "vakt " + buildVersion() + " (store schema 2)\n"; out.String() != want {
		t.Errorf("--version: %q, want %q", out.String(), want)
	}
}
