package hub

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds and defaults of scheduled backups.
const (
	DefaultBackupEvery = 24 * time.Hour
	DefaultBackupKeep  = 7
	minBackupEvery     = time.Hour
	maxBackupEvery     = 31 * 24 * time.Hour
	maxBackupKeep      = 1000
	// backupRetry is how soon a failed scheduled backup is tried again (or every, if that
	// is sooner): a USB stick put back in is used within the hour.
	backupRetry = time.Hour
	// backupFirstAfter is how long after start the first backup of a schedule with none
	// in its directory waits, so that a start is not slowed by it.
	backupFirstAfter = time.Minute
)

// Scheduled backups are named vakt-backup-TIME.age, TIME in UTC, so that names sort by age.
const (
	backupPrefix     = "vakt-backup-"
	backupSuffix     = ".age"
	backupTimeLayout = "20060102T150405Z"
)

// BackupConfig is where and how often vakt backs its store up by itself (config.yaml's
// backup:). Backups are off while Dir is empty.
type BackupConfig struct {
	// Dir is the directory the backups go to, e.g. a USB stick's. vakt never creates it:
	// a stick that is not mounted must not fill the SD card below its mount point.
	Dir string `yaml:"dir"`
	// Every is the time between backups; 1h–744h.
	Every Duration `yaml:"every"`
	// Keep is how many of the newest backups are kept in Dir; older ones are deleted.
	Keep int `yaml:"keep"`
	// PassphraseFile holds the passphrase (its first line, at least 12 characters); it is
	// read at each backup, so it may change without a restart.
	PassphraseFile string `yaml:"passphrase_file"`
}

// DefaultBackupConfig is off, with a backup a day and a week of them kept once on.
func DefaultBackupConfig() BackupConfig {
	return BackupConfig{Every: Duration(DefaultBackupEvery), Keep: DefaultBackupKeep}
}

// Validate checks the settings; prefix names them in errors ("backup").
func (c BackupConfig) Validate(prefix string) error {
	if d := c.Every.D(); d < minBackupEvery || d > maxBackupEvery {
		return fmt.Errorf("%s.every: %s, want 1h to 744h", prefix, d)
	}
	if c.Keep < 1 || c.Keep > maxBackupKeep {
		return fmt.Errorf("%s.keep: %d, want 1 to %d", prefix, c.Keep, maxBackupKeep)
	}
	if c.Dir == "" {
		if c.PassphraseFile != "" {
			return fmt.Errorf("%s.dir: empty, so no backups are made; set it, or remove %s.passphrase_file", prefix, prefix)
		}
		return nil
	}
	if !filepath.IsAbs(c.Dir) {
		return fmt.Errorf("%s.dir: %q is not an absolute path", prefix, c.Dir)
	}
	if c.PassphraseFile == "" {
		return fmt.Errorf("%s.passphrase_file: required with %s.dir (a file holding the backups' passphrase)", prefix, prefix)
	}
	return nil
}

// BackupRecord is one backup file.
type BackupRecord struct {
	Time time.Time `json:"time"`
	File string    `json:"file"`
	Size int64     `json:"size"`
}

// BackupStatus is what the web UI shows of scheduled backups.
type BackupStatus struct {
	// Enabled says backups are scheduled; Dir, Every and Keep are their settings.
	Enabled bool          `json:"enabled"`
	Dir     string        `json:"dir,omitempty"`
	Every   time.Duration `json:"every,omitempty"`
	Keep    int           `json:"keep,omitempty"`
	// Last is the newest backup in Dir, nil when there is none.
	Last *BackupRecord `json:"last,omitempty"`
	// FailedAt and Error are the last attempt's failure; both are cleared by a success.
	FailedAt time.Time `json:"failed_at,omitzero"`
	Error    string    `json:"error,omitempty"`
	// Next is when the next backup is due.
	Next time.Time `json:"next,omitzero"`
}

// BackupSchedule makes a backup of the store every so often into a directory and keeps the
// newest few. A failure (the stick not mounted, a full disk, the passphrase file gone) is
// logged and shown in its status, tried again within the hour, and never stops the hub.
type BackupSchedule struct {
	store *Store
	cfg   BackupConfig
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	status BackupStatus
}

// NewBackupSchedule returns the schedule of cfg over store; now nil means time.Now.
func NewBackupSchedule(store *Store, cfg BackupConfig, logger *slog.Logger, now func() time.Time) *BackupSchedule {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &BackupSchedule{store: store, cfg: cfg, log: logger.With("backup_dir", cfg.Dir), now: now}
	b.status = BackupStatus{Enabled: cfg.Dir != ""}
	if b.status.Enabled {
		b.status.Dir, b.status.Every, b.status.Keep = cfg.Dir, cfg.Every.D(), cfg.Keep
	}
	return b
}

// Status returns what the schedule last did and when it next runs.
func (b *BackupSchedule) Status() BackupStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.status
	if st.Last != nil {
		last := *st.Last
		st.Last = &last
	}
	return st
}

// Run makes the backups until ctx ends; with no directory configured it only waits. It
// returns nil: no failure of a backup stops the hub.
func (b *BackupSchedule) Run(ctx context.Context) error {
	if b.cfg.Dir == "" {
		<-ctx.Done()
		return nil
	}
	if info, err := os.Stat(b.cfg.PassphraseFile); err == nil && info.Mode().Perm()&0o077 != 0 {
		b.log.Warn("other users may read the backups' passphrase: chmod 600", "path", b.cfg.PassphraseFile, "mode", info.Mode().String())
	}
	now := b.now()
	next := now.Add(backupFirstAfter)
	if last, err := b.newest(); err != nil {
		b.fail(now, err)
	} else if last != nil {
		b.mu.Lock()
		b.status.Last = last
		b.mu.Unlock()
		if due := last.Time.Add(b.cfg.Every.D()); due.After(next) {
			next = due
		}
	}
	for {
		b.mu.Lock()
		b.status.Next = next
		b.mu.Unlock()
		t := time.NewTimer(next.Sub(b.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		now := b.now()
		if _, err := b.BackupNow(now); err != nil {
			next = now.Add(min(backupRetry, b.cfg.Every.D()))
		} else {
			next = now.Add(b.cfg.Every.D())
		}
	}
}

// BackupNow makes one scheduled backup stamped now, then deletes the oldest beyond keep.
// Its outcome goes to the log and the status.
func (b *BackupSchedule) BackupNow(now time.Time) (*BackupRecord, error) {
	rec, err := b.backup(now)
	if err != nil {
		b.fail(now, err)
		return nil, err
	}
	b.mu.Lock()
	b.status.Last, b.status.FailedAt, b.status.Error = rec, time.Time{}, ""
	b.mu.Unlock()
	b.log.Info("backup written", "file", rec.File, "size", rec.Size, "took", b.now().Sub(now).Round(time.Millisecond))
	if err := b.rotate(); err != nil {
		b.log.Warn("old backups not deleted", "error", err)
	}
	return rec, nil
}

// checkDir says what is wrong with the backup directory, if anything.
func (b *BackupSchedule) checkDir() error {
	info, err := os.Stat(b.cfg.Dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("backup directory %s does not exist: is the USB stick mounted? (vakt does not create it)", b.cfg.Dir)
	case err != nil:
		return fmt.Errorf("backup directory: %w", err)
	case !info.IsDir():
		return fmt.Errorf("backup directory %s is not a directory", b.cfg.Dir)
	}
	return nil
}

func (b *BackupSchedule) backup(now time.Time) (*BackupRecord, error) {
	if err := b.checkDir(); err != nil {
		return nil, err
	}
	pass, err := ReadPassphraseFile(b.cfg.PassphraseFile)
	if err != nil {
		return nil, err
	}
	if err := CheckBackupPassphrase(pass); err != nil {
		return nil, fmt.Errorf("backup passphrase file %s: %w", b.cfg.PassphraseFile, err)
	}
	name := backupPrefix + now.UTC().Format(backupTimeLayout) + backupSuffix
	path := filepath.Join(b.cfg.Dir, name)
	size, err := b.store.BackupFile(path, pass)
	if err != nil {
		return nil, err
	}
	return &BackupRecord{Time: now.UTC().Truncate(time.Second), File: path, Size: size}, nil
}

func (b *BackupSchedule) fail(now time.Time, err error) {
	b.mu.Lock()
	b.status.FailedAt, b.status.Error = now, err.Error()
	b.mu.Unlock()
	b.log.Error("scheduled backup failed", "error", err)
}

// backups lists the schedule's backups in its directory, newest first; other files are
// not its own and are never touched.
func (b *BackupSchedule) backups() ([]BackupRecord, error) {
	entries, err := os.ReadDir(b.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var out []BackupRecord
	for _, e := range entries {
		name := e.Name()
		stamp, ok := strings.CutPrefix(name, backupPrefix)
		if !ok || e.IsDir() {
			continue
		}
		stamp, ok = strings.CutSuffix(stamp, backupSuffix)
		t, err := time.Parse(backupTimeLayout, stamp)
		if !ok || err != nil {
			continue
		}
		rec := BackupRecord{Time: t, File: filepath.Join(b.cfg.Dir, name)}
		if info, err := e.Info(); err == nil {
			rec.Size = info.Size()
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(x, y BackupRecord) int { return y.Time.Compare(x.Time) })
	return out, nil
}

// newest is the newest backup in the directory, nil when there is none.
func (b *BackupSchedule) newest() (*BackupRecord, error) {
	if err := b.checkDir(); err != nil {
		return nil, err
	}
	all, err := b.backups()
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return &all[0], nil
}

// rotate deletes the backups beyond the newest keep, and what a backup cut off by a crash
// or a full disk left behind.
func (b *BackupSchedule) rotate() error {
	all, err := b.backups()
	if err != nil {
		return err
	}
	var errs []error
	for _, old := range all[min(b.cfg.Keep, len(all)):] {
		if err := os.Remove(old.File); err != nil {
			errs = append(errs, err)
		} else {
			b.log.Info("old backup deleted", "file", old.File)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(b.cfg.Dir, "."+backupPrefix+"*"+backupSuffix+".tmp-*"))
	for _, f := range leftovers {
		errs = append(errs, os.Remove(f))
	}
	return errors.Join(errs...)
}

// ReadPassphraseFile reads a passphrase file's first line, saying which file when it cannot.
func ReadPassphraseFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("backup passphrase file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("backup passphrase file %s: empty", path)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
