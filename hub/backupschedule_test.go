package hub

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// scheduleFixture is a store with some history, a backup directory and a passphrase file.
func scheduleFixture(t *testing.T, keep int) (*Store, BackupConfig) {
	t.Helper()
	path := fullStore(t)
	s := mustOpenStore(t, path, 0)
	t.Cleanup(func() { s.Close() })
	dir := t.TempDir()
	pf := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pf, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, BackupConfig{Dir: dir, Every: Duration(24 * time.Hour), Keep: keep, PassphraseFile: pf}
}

func testLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestBackupSchedule_KeepsTheNewest: each scheduled backup is a whole backup that
// restores; only the newest keep are kept, and files that are not the schedule's own are
// never touched; what a cut-off backup left behind is cleaned up.
func TestBackupSchedule_KeepsTheNewest(t *testing.T) {
	s, cfg := scheduleFixture(t, 2)
	for _, f := range []string{"notes.txt", "vakt-backup-latest.age", ".vakt-backup-20261120T000000Z.age.tmp-123"} {
		os.WriteFile(filepath.Join(cfg.Dir, f), []byte("x"), 0o600)
	}
	b := NewBackupSchedule(s, cfg, nil, nil)
	for i := range 4 {
		rec, err := b.BackupNow(scenarioStart.Add(time.Duration(i) * 24 * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Size < 1000 {
			t.Errorf("backup %d is %d bytes", i, rec.Size)
		}
	}
	want := []string{"notes.txt", "vakt-backup-20261126T180000Z.age", "vakt-backup-20261127T180000Z.age", "vakt-backup-latest.age"}
	if got := names(t, cfg.Dir); !slices.Equal(got, want) {
		t.Errorf("backup directory holds %v, want %v", got, want)
	}
	st := b.Status()
	if !st.Enabled || st.Last == nil || st.Last.File != filepath.Join(cfg.Dir, "vakt-backup-20261127T180000Z.age") || st.Error != "" {
		t.Errorf("status %+v", st)
	}
	f, err := os.Open(st.Last.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Restore(filepath.Join(t.TempDir(), "vakt.db"), f, testPassphrase, scenarioStart); err != nil {
		t.Fatalf("the newest scheduled backup does not restore: %v", err)
	}
}

// TestBackupSchedule_FailuresAreShown: a stick not mounted, a missing or short passphrase
// file are errors in the status that say what is wrong; nothing is created where the
// stick would be mounted; the next success clears the error.
func TestBackupSchedule_FailuresAreShown(t *testing.T) {
	s, cfg := scheduleFixture(t, 3)
	good := cfg
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("too short\n"), 0o600)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	unmounted := filepath.Join(t.TempDir(), "media", "usb")
	for _, tc := range []struct {
		name string
		edit func(*BackupConfig)
		want string
	}{
		{"stick not mounted", func(c *BackupConfig) { c.Dir = unmounted }, "does not exist: is the USB stick mounted?"},
		{"not a directory", func(c *BackupConfig) { c.Dir = notDir }, "is not a directory"},
		{"passphrase file gone", func(c *BackupConfig) { c.PassphraseFile = "/nonexistent/passphrase" }, "backup passphrase file: open /nonexistent/passphrase"},
		{"short passphrase", func(c *BackupConfig) { c.PassphraseFile = short }, "at least 12 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			var log bytes.Buffer
			b := NewBackupSchedule(s, c, testLogger(&log), nil)
			if _, err := b.BackupNow(scenarioStart); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
			st := b.Status()
			if !strings.Contains(st.Error, tc.want) || !st.FailedAt.Equal(scenarioStart) || st.Last != nil {
				t.Errorf("status %+v", st)
			}
			if !strings.Contains(log.String(), "scheduled backup failed") {
				t.Errorf("not logged: %s", log.String())
			}
			if _, err := os.Stat(filepath.Dir(unmounted)); !os.IsNotExist(err) {
				t.Error("the schedule made the mount point's directory")
			}
			if len(names(t, good.Dir)) != 0 {
				t.Errorf("a failed backup left %v", names(t, good.Dir))
			}
			b.cfg = good
			if _, err := b.BackupNow(scenarioStart.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if st := b.Status(); st.Error != "" || !st.FailedAt.IsZero() || st.Last == nil {
				t.Errorf("after a success: %+v", st)
			}
			for _, n := range names(t, good.Dir) {
				os.Remove(filepath.Join(good.Dir, n))
			}
		})
	}
}

// TestBackupSchedule_Run: the schedule goes on from the newest backup in its directory,
// makes one every period, tries a failed one again within the hour, and ends with its
// context without an error.
func TestBackupSchedule_Run(t *testing.T) {
	s, cfg := scheduleFixture(t, 10)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		// The newest backup is 20 hours old: the next is due in 4 hours.
		old := filepath.Join(cfg.Dir, "vakt-backup-"+start.Add(-20*time.Hour).UTC().Format(backupTimeLayout)+".age")
		os.WriteFile(old, []byte("an older backup"), 0o600)
		b := NewBackupSchedule(s, cfg, nil, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		synctest.Wait()
		if st := b.Status(); !st.Next.Equal(start.Add(4*time.Hour)) || st.Last == nil || st.Last.File != old {
			t.Fatalf("at start: %+v", st)
		}
		time.Sleep(4*time.Hour + time.Second)
		synctest.Wait()
		if n := len(names(t, cfg.Dir)); n != 2 {
			t.Fatalf("after 4h: %d files, want 2", n)
		}
		// The passphrase file goes away: the next is tried again an hour after it fails.
		os.Rename(cfg.PassphraseFile, cfg.PassphraseFile+".away")
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		st := b.Status()
		if st.Error == "" || !st.Next.Equal(st.FailedAt.Add(time.Hour)) {
			t.Fatalf("after a failure: %+v", st)
		}
		os.Rename(cfg.PassphraseFile+".away", cfg.PassphraseFile)
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := b.Status(); st.Error != "" || len(names(t, cfg.Dir)) != 3 {
			t.Fatalf("after the retry: %+v, %v", st, names(t, cfg.Dir))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestBackupSchedule_WarnsLoosePassphrase: a passphrase file others may read is a warning
// at start that names it; backups still run.
func TestBackupSchedule_WarnsLoosePassphrase(t *testing.T) {
	s, cfg := scheduleFixture(t, 3)
	os.Chmod(cfg.PassphraseFile, 0o644)
	var log bytes.Buffer
	b := NewBackupSchedule(s, cfg, testLogger(&log), nil)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		time.Sleep(backupFirstAfter + time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(log.String(), "other users may read the backups' passphrase") || !strings.Contains(log.String(), cfg.PassphraseFile) {
		t.Errorf("no warning: %s", log.String())
	}
	if st := b.Status(); st.Last == nil || st.Error != "" {
		t.Errorf("the backup did not run: %+v", st)
	}
}

func TestBackupConfig_Validate(t *testing.T) {
	ok := BackupConfig{Dir: "/media/usb/vakt", Every: Duration(24 * time.Hour), Keep: 7, PassphraseFile: "/etc/vakt/backup-passphrase"}
	if err := ok.Validate("backup"); err != nil {
		t.Fatal(err)
	}
	if err := DefaultBackupConfig().Validate("backup"); err != nil {
		t.Fatalf("the default: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*BackupConfig)
		want string
	}{
		{"every minute", func(c *BackupConfig) { c.Every = Duration(time.Minute) }, "backup.every: 1m0s, want 1h to 744h"},
		{"every year", func(c *BackupConfig) { c.Every = Duration(9000 * time.Hour) }, "backup.every: 9000h0m0s"},
		{"keep none", func(c *BackupConfig) { c.Keep = 0 }, "backup.keep: 0, want 1 to 1000"},
		{"relative dir", func(c *BackupConfig) { c.Dir = "usb" }, `backup.dir: "usb" is not an absolute path`},
		{"no passphrase", func(c *BackupConfig) { c.PassphraseFile = "" }, "backup.passphrase_file: required"},
		{"passphrase without dir", func(c *BackupConfig) { c.Dir = "" }, "backup.dir: empty"},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate("backup"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
