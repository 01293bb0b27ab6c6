package hub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
)

// MinBackupPassphrase is the fewest characters a backup's passphrase may have: a backup
// holds every code hash, password hash, secret and key of the house, and it may sit on a
// USB stick that gets lost.
const MinBackupPassphrase = 12

// backupWorkFactor is the scrypt cost (log2 N) of a backup's passphrase: 32 MiB and about a
// second on a Raspberry Pi, where age's default (2^18: 256 MiB) would crowd the hub out of
// a small board's memory. A passphrase of 12 characters or more carries the rest.
const backupWorkFactor = 15

// Errors of backups and restores. Each comes wrapped with the file it is about.
var (
	// ErrPassphraseShort means a backup passphrase is shorter than MinBackupPassphrase.
	ErrPassphraseShort = fmt.Errorf("the backup passphrase must have at least %d characters", MinBackupPassphrase)
	// ErrNotBackup means the file is not a vakt backup: not age-encrypted, or encrypted
	// for something other than a passphrase.
	ErrNotBackup = errors.New("not a vakt backup")
	// ErrWrongPassphrase means the passphrase does not open the backup.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrBackupDamaged means the backup is cut short or altered, or what it holds is not a
	// sound vakt store.
	ErrBackupDamaged = errors.New("backup is damaged")
)

// ageMagic starts every age file.
const ageMagic = "age-encryption.org/v1\n"

// CheckBackupPassphrase says whether p may protect a backup.
func CheckBackupPassphrase(p string) error {
	if len([]rune(p)) < MinBackupPassphrase {
		return ErrPassphraseShort
	}
	return nil
}

// Backup writes a consistent copy of the whole store, as it is at one moment, to w,
// encrypted with passphrase (age, scrypt): the installation, the state, the history, the
// cursors, the sessions, the secrets and what drivers saved (the web UI's certificate
// authority, HomeKit pairings). The hub keeps running: the copy is one read transaction,
// which commits do not wait for. What drivers staged in memory is written first, so the
// copy has it too. The file opens with the `age` tool as well: `age -d FILE > vakt.db`.
func (s *Store) Backup(w io.Writer, passphrase string) error {
	if err := CheckBackupPassphrase(passphrase); err != nil {
		return err
	}
	if err := s.flushStaged(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return backupDB(s.db, w, passphrase)
}

// BackupStore is Backup of the store at path while no vakt runs on it: it opens the store
// read-only and changes nothing in it, not even a migration. A store a running vakt holds
// is ErrStoreLocked (back it up through that vakt instead); a damaged one a *DamageError.
func BackupStore(path string, w io.Writer, passphrase string) error {
	if err := CheckBackupPassphrase(passphrase); err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := inspectStore(path); err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return fmt.Errorf("backup %s: %w", path, ErrStoreLocked)
	}
	if err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	defer db.Close()
	return backupDB(db, w, passphrase)
}

// backupDB writes db, as one read transaction sees it, to w, encrypted with passphrase.
func backupDB(db *bolt.DB, w io.Writer, passphrase string) error {
	rcpt, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	rcpt.SetWorkFactor(backupWorkFactor)
	aw, err := age.Encrypt(w, rcpt)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(aw)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// BackupFile writes a backup to path through a temporary file in the same directory, so
// that path is either the whole backup or not there; it returns the backup's size. An
// existing file at path is replaced.
func (s *Store) BackupFile(path, passphrase string) (int64, error) {
	if err := CheckBackupPassphrase(passphrase); err != nil {
		return 0, err
	}
	return WriteFileAtomic(path, func(w io.Writer) error { return s.Backup(w, passphrase) })
}

// WriteFileAtomic writes what write writes to path through a temporary file in the same
// directory, synced and renamed into place: path is the whole of it or as it was. It
// returns the size written.
func WriteFileAtomic(path string, write func(io.Writer) error) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if info, serr := f.Stat(); serr == nil {
		size = info.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return size, nil
}

// RestoreReport says what a restore put in place.
type RestoreReport struct {
	// Path is the store restored; Previous the name the store it replaced was kept under,
	// empty when there was none.
	Path, Previous string
	// Schema is the backup's schema version: an older one is migrated when vakt next opens
	// the store.
	Schema int
	// Store is the check of the restored store: its events.
	Store *StoreReport
}

// WriteTo prints the report for a person.
func (r *RestoreReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "restored %s: %d events", r.Path, r.Store.Events)
	if r.Store.Events > 0 {
		fmt.Fprintf(&b, " (%d to %d)", r.Store.FirstSeq, r.Store.LastSeq)
	}
	fmt.Fprintf(&b, ", schema %d\n", r.Schema)
	if r.Previous != "" {
		fmt.Fprintf(&b, "the store it replaced is kept as %s\n", r.Previous)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Restore decrypts the backup read from r with passphrase and puts the store in it at
// path. It checks everything before it touches path: the backup decrypts and is whole,
// it holds a sound vakt store (bbolt's check and vakt's own), of a schema this vakt reads.
// Only then is the new store renamed into place, in one step; the store it replaces is
// kept beside it (PATH.before-restore-TIME). A wrong passphrase, a damaged or cut-short
// backup, a file that is no vakt backup, or a store in use by a running vakt (stop vakt
// first) is an error that changes nothing at path. now names the kept store.
func Restore(path string, r io.Reader, passphrase string, now time.Time) (*RestoreReport, error) {
	done := false // the new store is in place
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// A fresh install: the data directory is made, and removed again (while still
		// empty) when the restore fails.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		ok := false
		defer func() {
			if !ok {
				os.Remove(dir)
			}
		}()
		defer func() { ok = done }()
	}
	// Refuse early a store in use, before the scrypt work; checked again under the lock.
	if unlock, err := lockForRestore(path); err != nil {
		return nil, err
	} else {
		unlock()
	}
	br := bufio.NewReader(r)
	if head, _ := br.Peek(len(ageMagic)); string(head) != ageMagic {
		if len(head) > 0 && strings.HasPrefix(ageMagic, string(head)) {
			return nil, fmt.Errorf("restore: %w: it is cut short after %d bytes", ErrBackupDamaged, len(head))
		}
		return nil, fmt.Errorf("restore: %w: it is not an age-encrypted file", ErrNotBackup)
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	dr, err := age.Decrypt(br, id)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch) && strings.Contains(err.Error(), "not passphrase-encrypted"):
		return nil, fmt.Errorf("restore: %w: it is encrypted to a key, not with a passphrase", ErrNotBackup)
	case errors.As(err, &nomatch):
		return nil, fmt.Errorf("restore: %w", ErrWrongPassphrase)
	case err != nil:
		return nil, fmt.Errorf("restore: %w: its header does not read (%v)", ErrBackupDamaged, err)
	}

	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".restore-*")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if !done {
			os.Remove(tmp)
		}
	}()
	tw := &trackWriter{w: f}
	if _, err := io.Copy(tw, dr); err != nil {
		f.Close()
		if tw.err != nil { // the disk, not the backup
			return nil, fmt.Errorf("restore: write %s: %w", tmp, err)
		}
		return nil, fmt.Errorf("restore: %w: it is cut short or altered (%v)", ErrBackupDamaged, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	report, schema, err := checkRestored(tmp)
	if err != nil {
		return nil, err
	}

	unlock, err := lockForRestore(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rep := &RestoreReport{Path: path, Schema: schema, Store: report}
	rep.Store.Path = path
	if _, err := os.Stat(path); err == nil {
		// Keep the store being replaced under a second name; path itself changes only by
		// the rename below, so a crash leaves the old store or the new one, never none.
		prev := path + ".before-restore-" + now.UTC().Format("20060102T150405Z")
		if err := os.Link(path, prev); err != nil {
			return nil, fmt.Errorf("restore: keep the current store: %w", err)
		}
		rep.Previous = prev
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		if rep.Previous != "" {
			os.Remove(rep.Previous)
		}
		return nil, fmt.Errorf("restore: %w", err)
	}
	done = true
	syncDir(dir)
	return rep, nil
}

// trackWriter remembers its writer's error, to tell a full disk from a damaged backup.
type trackWriter struct {
	w   io.Writer
	err error
}

func (t *trackWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// checkRestored checks the decrypted store at tmp: a sound bbolt file holding a vakt store
// this vakt reads. It returns the check and the store's schema version.
func checkRestored(tmp string) (*StoreReport, int, error) {
	r, err := CheckStore(tmp)
	if err != nil {
		return nil, 0, fmt.Errorf("restore: %w: %v", ErrBackupDamaged, err)
	}
	// A store from a newer vakt is refused as such, whatever else this vakt thinks of it.
	schema := 0
	if db, err := bolt.Open(tmp, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second}); err == nil {
		err = db.View(func(tx *bolt.Tx) error {
			var err error
			schema, err = checkSchema(tx, tmp)
			return err
		})
		db.Close()
		var se *SchemaError
		switch {
		case errors.As(err, &se) && se.Version != 0:
			return nil, 0, fmt.Errorf("restore: the backup holds store schema %d, newer than this vakt (%d): %w; upgrade vakt first", se.Version, SchemaVersion, ErrSchemaNewer)
		case err != nil && !r.Damaged():
			return nil, 0, fmt.Errorf("restore: %w: %v", ErrBackupDamaged, err)
		}
	}
	if r.Damaged() {
		return nil, 0, fmt.Errorf("restore: %w: it does not hold a sound vakt store: %s", ErrBackupDamaged, strings.Join(r.Problems, "; "))
	}
	return r, schema, nil
}

// lockForRestore takes bbolt's own lock on the store at path, if there is one, so that no
// vakt opens it while it is replaced; a vakt that has it open is ErrStoreLocked.
func lockForRestore(path string) (unlock func(), err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("restore %s: %w: vakt is running; stop it first (a restore replaces the whole store, which a running vakt holds)", path, ErrStoreLocked)
		}
		return nil, fmt.Errorf("restore: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// syncDir makes a rename in dir durable; where a directory cannot be synced, the rename
// is as durable as the file system makes it anyway.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// IsBackupError reports whether err is about the backup (wrong passphrase, damaged, not a
// backup) rather than the place it goes to.
func IsBackupError(err error) bool {
	return errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrBackupDamaged) || errors.Is(err, ErrNotBackup)
}
