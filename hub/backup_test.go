package hub

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
)

const testPassphrase = "correct horse battery staple"

// dumpStore reads every bucket, nested bucket, key and value of the store at path:
// "bucket/nested\x00key" → value.
func dumpStore(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return dumpStoreOpen(t, db)
}

func dumpStoreOpen(t *testing.T, db *bolt.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				out[prefix+"/"+string(k)+"/"] = ""
				return walk(prefix+"/"+string(k), b.Bucket(k))
			}
			out[prefix+"\x00"+string(k)] = string(v)
			return nil
		})
	}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)+"/"] = ""
			return walk(string(name), b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fullStore makes a store with everything a house keeps: installation, state, history,
// cursors, sessions, secrets, nonces and driver data; it returns its path, closed.
func fullStore(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vakt.db")
	clock := &fakeClock{t: scenarioStart}
	h, stop := startHub(t, path, clock)
	for _, line := range []string{"arm away 1234", "disarm 1234", "test 1234"} {
		if r := do(t, h, line); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	s := h.Store()
	if _, err := s.Secret("mqtt_password", 12); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor("dc09/primary", 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession("token-of-anna", Session{Kind: SessionWeb, User: "anna", Created: scenarioStart}); err != nil {
		t.Fatal(err)
	}
	if err := s.UseNonce("mqtt/home", "n1", scenarioStart, time.Minute, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDriverData("homekit", "hap/pairings", []byte("the iPhone")); err != nil {
		t.Fatal(err)
	}
	s.StageDriverData("zigbee2mqtt", "last_seen", []byte("staged, not yet written"))
	stop()
	return path
}

// backupOf backs up the store at path and returns the backup's bytes.
func backupOf(t *testing.T, path, passphrase string) []byte {
	t.Helper()
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	var buf bytes.Buffer
	if err := s.Backup(&buf, passphrase); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBackup_RestoresEverything(t *testing.T) {
	path := fullStore(t)
	want := dumpStore(t, path)
	for _, k := range []string{"sessions/", "nonces/", "drivers/homekit/", "cursors\x00dc09/primary", "meta\x00secret/mqtt_password", "drivers/zigbee2mqtt\x00last_seen"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("the test store lacks %q", k)
		}
	}
	backup := backupOf(t, path, testPassphrase)
	if !bytes.HasPrefix(backup, []byte(ageMagic)) {
		t.Fatalf("backup does not start as an age file: %q", backup[:30])
	}
	if bytes.Contains(backup, []byte("anna")) || bytes.Contains(backup, []byte("Demo family")) {
		t.Fatal("backup is not encrypted")
	}
	// The age tool's own library opens it with the passphrase.
	id, _ := age.NewScryptIdentity(testPassphrase)
	if r, err := age.Decrypt(bytes.NewReader(backup), id); err != nil {
		t.Fatal(err)
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}

	fresh := filepath.Join(t.TempDir(), "new", "vakt.db")
	rep, err := Restore(fresh, bytes.NewReader(backup), testPassphrase, scenarioStart)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Previous != "" || rep.Schema != SchemaVersion || rep.Store.Events != 3 {
		t.Errorf("report %+v %+v", rep, rep.Store)
	}
	got := dumpStore(t, fresh)
	if len(got) != len(want) {
		t.Errorf("restored %d keys, backed up %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: restored %q, want %q", k, got[k], v)
		}
	}
	// And a hub runs on it, armed state and numbering going on.
	h, stop := startHub(t, fresh, &fakeClock{t: scenarioStart.Add(time.Hour)})
	defer stop()
	if r := do(t, h, "arm away 1234"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if last, _ := h.Store().LastSeq(); last != 4 {
		t.Errorf("log goes on at %d, want 4", last)
	}
}

// TestRestore_BadBackupChangesNothing: a wrong passphrase, a backup cut short anywhere,
// altered bytes, random bytes, an age file for a key, one holding no bbolt file or a bbolt
// file that is no vakt store, and one from a newer vakt: each a clear error, and the store
// in place byte for byte as it was, with nothing left beside it.
func TestRestore_BadBackupChangesNothing(t *testing.T) {
	src := fullStore(t)
	good := backupOf(t, src, testPassphrase)

	encrypt := func(plain []byte) []byte {
		r, _ := age.NewScryptRecipient(testPassphrase)
		r.SetWorkFactor(backupWorkFactor)
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, r)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		w.Close()
		return buf.Bytes()
	}
	otherBolt := func() []byte {
		p := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error {
			b, _ := tx.CreateBucket([]byte("widgets"))
			return b.Put([]byte("a"), []byte("b"))
		})
		db.Close()
		b, _ := os.ReadFile(p)
		return b
	}
	newer := func() []byte {
		p := filepath.Join(t.TempDir(), "vakt.db")
		b, _ := os.ReadFile(src)
		os.WriteFile(p, b, 0o600)
		setSchema(t, p, []byte("3"))
		b, _ = os.ReadFile(p)
		return encrypt(b)
	}
	x25519 := func() []byte {
		id, _ := age.GenerateX25519Identity()
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, id.Recipient())
		w.Write([]byte("anything"))
		w.Close()
		return buf.Bytes()
	}
	random := make([]byte, 5000)
	rand.Read(random)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40

	type tc struct {
		name, passphrase string
		backup           []byte
		is               error
		want             string
	}
	cases := []tc{
		{"wrong passphrase", "correct horse battery stapler", good, ErrWrongPassphrase, "wrong passphrase"},
		{"short wrong passphrase", "short", good, ErrWrongPassphrase, "wrong passphrase"},
		{"empty", testPassphrase, nil, ErrNotBackup, "not an age-encrypted file"},
		{"cut in the magic", testPassphrase, good[:10], ErrBackupDamaged, "cut short after 10 bytes"},
		{"random bytes", testPassphrase, random, ErrNotBackup, "not an age-encrypted file"},
		{"a store, not a backup", testPassphrase, mustRead(t, src), ErrNotBackup, "not an age-encrypted file"},
		{"altered", testPassphrase, flipped, ErrBackupDamaged, "cut short or altered"},
		{"for a key", testPassphrase, x25519(), ErrNotBackup, "not with a passphrase"},
		{"no bbolt file inside", testPassphrase, encrypt([]byte("hello, this is not a database")), ErrBackupDamaged, "not a vakt store"},
		{"another program's bbolt file", testPassphrase, encrypt(otherBolt()), ErrBackupDamaged, "the installation is missing"},
		{"from a newer vakt", testPassphrase, newer(), ErrSchemaNewer, "the backup holds store schema 3, newer than this vakt (2)"},
	}
	// Cut short in the header, just after it, in the middle, and by one byte.
	hdr := bytes.Index(good, []byte("\n---")) + 4
	for _, n := range []int{len(ageMagic) + 5, hdr - 3, hdr + 20, hdr + 200, len(good) / 2, len(good) - 17, len(good) - 1} {
		cases = append(cases, tc{"cut at " + strconv.Itoa(n), testPassphrase, good[:n], ErrBackupDamaged, "backup is damaged"})
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "vakt.db")
	if err := os.WriteFile(path, mustRead(t, fullStore(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, path)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Restore(path, bytes.NewReader(c.backup), c.passphrase, scenarioStart)
			if err == nil {
				t.Fatal("restored")
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want %v saying %q", err, c.is, c.want)
			}
			if !bytes.Equal(mustRead(t, path), before) {
				t.Fatal("the store in place changed")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("left beside the store: %v", names)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestore_RefusesStoreInUse: a restore over the store of a running vakt is refused and
// says to stop vakt; the store is unchanged. A restore over a stopped store keeps the old
// one beside it.
func TestRestore_RefusesStoreInUse(t *testing.T) {
	src := fullStore(t)
	backup := backupOf(t, src, testPassphrase)
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	before := mustRead(t, path)
	_, err := Restore(path, bytes.NewReader(backup), testPassphrase, scenarioStart)
	if !errors.Is(err, ErrStoreLocked) || !strings.Contains(err.Error(), "vakt is running; stop it first") {
		t.Errorf("restore over a store in use: %v", err)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("the store in use changed")
	}
	s.Close()
	rep, err := Restore(path, bytes.NewReader(backup), testPassphrase, scenarioStart)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".before-restore-20261124T180000Z"; rep.Previous != want {
		t.Errorf("previous store kept as %q, want %q", rep.Previous, want)
	}
	if !bytes.Equal(mustRead(t, rep.Previous), before) {
		t.Error("the kept store is not the one replaced")
	}
	var out strings.Builder
	rep.WriteTo(&out)
	if !strings.Contains(out.String(), "3 events (1 to 3), schema 2") || !strings.Contains(out.String(), rep.Previous) {
		t.Errorf("report: %s", out.String())
	}
}

func TestBackup_ShortPassphrase(t *testing.T) {
	s := mustOpenStore(t, filepath.Join(t.TempDir(), "vakt.db"), 0)
	defer s.Close()
	for _, p := range []string{"", "elevenchars", "ÅÄÖåäöÅÄÖåä"} {
		var buf bytes.Buffer
		if err := s.Backup(&buf, p); !errors.Is(err, ErrPassphraseShort) || !strings.Contains(err.Error(), "at least 12 characters") {
			t.Errorf("passphrase %q: %v", p, err)
		}
		if buf.Len() != 0 {
			t.Errorf("passphrase %q: wrote %d bytes", p, buf.Len())
		}
	}
	if _, err := s.BackupFile(filepath.Join(t.TempDir(), "b.age"), "short"); !errors.Is(err, ErrPassphraseShort) {
		t.Errorf("BackupFile: %v", err)
	}
}

// TestBackup_WhileCommitting: a backup taken while the hub commits is one consistent
// moment: it restores to a sound store whose log has no gap and whose state goes on
// where its log ends.
func TestBackup_WhileCommitting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	h, stop := startHub(t, path, &fakeClock{t: scenarioStart})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 40; i++ {
			line := []string{"arm away 1234", "disarm 1234"}[i%2]
			in, _ := ParseLine(h.Snapshot().Installation, line)
			h.Do(t.Context(), in)
		}
	}()
	var backups [][]byte
	for i := 0; i < 3; i++ {
		var buf bytes.Buffer
		if err := h.Store().Backup(&buf, testPassphrase); err != nil {
			t.Fatal(err)
		}
		backups = append(backups, buf.Bytes())
	}
	<-done
	for i, b := range backups {
		p := filepath.Join(t.TempDir(), "vakt.db")
		rep, err := Restore(p, bytes.NewReader(b), testPassphrase, scenarioStart)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		s := mustOpenStore(t, p, 0)
		st, _, _ := s.State()
		last, _ := s.LastSeq()
		s.Close()
		if st.NextSeq != last+1 || len(rep.Store.Lost) != 0 {
			t.Errorf("backup %d: state goes on at %d, log ends at %d, lost %v", i, st.NextSeq, last, rep.Store.Lost)
		}
	}
}

// TestRestore_OverADamagedStore: what a backup is for. The damaged store vakt refuses to
// start on is replaced (and kept beside), and vakt opens the restored one.
func TestRestore_OverADamagedStore(t *testing.T) {
	backup := backupOf(t, fullStore(t), testPassphrase)
	path := filepath.Join(t.TempDir(), "vakt.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xde, 0xad}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(path, 0); !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), "vakt restore -data "+filepath.Dir(path)+" BACKUPFILE") {
		t.Fatalf("damaged store: %v", err)
	}
	rep, err := Restore(path, bytes.NewReader(backup), testPassphrase, scenarioStart)
	if err != nil {
		t.Fatal(err)
	}
	if b := mustRead(t, rep.Previous); !bytes.Equal(b, bytes.Repeat([]byte{0xde, 0xad}, 8192)) {
		t.Error("the damaged store is not kept")
	}
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	if inst, _ := s.Installation(); inst == nil || inst.Name != "Demo family" {
		t.Errorf("restored installation %+v", inst)
	}
}

// TestRestore_FreshInstallFailureLeavesNoDirectory: a failed restore onto a fresh install
// does not leave the data directory it made.
func TestRestore_FreshInstallFailureLeavesNoDirectory(t *testing.T) {
	backup := backupOf(t, fullStore(t), testPassphrase)
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Restore(filepath.Join(dir, "vakt.db"), bytes.NewReader(backup), "the wrong passphrase", scenarioStart); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data directory was left: %v", err)
	}
	if _, err := Restore(filepath.Join(dir, "vakt.db"), bytes.NewReader(backup[:len(backup)/2]), testPassphrase, scenarioStart); !errors.Is(err, ErrBackupDamaged) {
		t.Fatalf("half a backup: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data directory was left: %v", err)
	}
	if _, err := Restore(filepath.Join(dir, "vakt.db"), bytes.NewReader(backup), testPassphrase, scenarioStart); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("data directory after the restore: %v %v", info, err)
	}
}
