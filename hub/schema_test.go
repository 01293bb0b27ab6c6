package hub

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// copyTestdata copies a store from testdata into a temporary directory, so a test may
// migrate it; it returns the copy's path.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vakt.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// setSchema writes v as the store's schema version with bbolt directly, as another vakt
// would.
func setSchema(t *testing.T, path string, v []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, v) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSchema_NewStoreIsStamped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Errorf("new store: schema %d, %v; want %d", v, err, SchemaVersion)
	}
	if s.OpenedSchema() != 0 {
		t.Errorf("new store opened as schema %d, want 0 (new)", s.OpenedSchema())
	}
	s.Close()
	s = mustOpenStore(t, path, 0)
	defer s.Close()
	if s.OpenedSchema() != SchemaVersion {
		t.Errorf("reopened store opened as schema %d, want %d", s.OpenedSchema(), SchemaVersion)
	}
}

// TestSchema_OldStoresMigrate opens the stores earlier releases wrote (hub/testdata,
// written by `go run ./hub/internal/genstore -o hub/testdata`): each is migrated to the
// present schema, everything in it is still there, the first releases' user events carry
// the user's number where they belong now, and a hub runs on it.
func TestSchema_OldStoresMigrate(t *testing.T) {
	for _, tc := range []struct {
		file    string
		drivers bool // the release kept sessions, nonces and driver data
	}{{"store-v1-first.db", false}, {"store-v1-last.db", true}} {
		t.Run(tc.file, func(t *testing.T) {
			path := copyTestdata(t, tc.file)
			before := dumpStore(t, path)
			if _, ok := before["meta\x00schema"]; ok {
				t.Fatal("testdata store already has a schema key")
			}
			s := mustOpenStore(t, path, 0)
			if s.OpenedSchema() != 1 {
				t.Errorf("opened as schema %d, want 1", s.OpenedSchema())
			}
			if v, err := s.Schema(); err != nil || v != SchemaVersion {
				t.Errorf("after open: schema %d, %v; want %d", v, err, SchemaVersion)
			}
			inst, err := s.Installation()
			if err != nil || inst == nil || inst.Name != "Demo family" || len(inst.Users) != 4 {
				t.Fatalf("installation after migration: %+v, %v", inst, err)
			}
			events, err := s.Events(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) < 10 {
				t.Fatalf("%d events after migration", len(events))
			}
			users := 0
			for i, ev := range events {
				if ev.Seq != uint64(i+1) {
					t.Fatalf("event %d has seq %d", i, ev.Seq)
				}
				if legacyUserKinds[ev.Kind] && ev.User != "" {
					users++
					want := map[string]int{"anna": 1, "erik": 2}[ev.User]
					if ev.UserNumber != want || ev.Zone != 0 {
						t.Errorf("event %d (%s by %s): user number %d zone %d, want user number %d zone 0", ev.Seq, ev.Kind, ev.User, ev.UserNumber, ev.Zone, want)
					}
				}
				if ev.Kind == KindBypass && (ev.Zone != 5 || ev.UserNumber != 1) {
					t.Errorf("bypass: zone %d user number %d, want zone 5 by user 1", ev.Zone, ev.UserNumber)
				}
			}
			if users < 8 {
				t.Errorf("only %d user events", users)
			}
			if seq, ok, _ := s.Cursor("dc09/primary"); !ok || seq != 3 {
				t.Errorf("cursor dc09/primary %d %v, want 3", seq, ok)
			}
			if tc.drivers {
				if _, ok, _ := s.Session("web-session-token-of-anna"); !ok {
					t.Error("web session lost")
				}
				if v, _ := s.DriverData("homekit", "hap/pairings"); !bytes.Contains(v, []byte("controller-1")) {
					t.Errorf("HomeKit pairings lost: %q", v)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Nothing but the migrated events and the stamp changed.
			after := dumpStore(t, path)
			for k, v := range before {
				if strings.HasPrefix(k, "events\x00") {
					continue
				}
				if !bytes.Equal([]byte(after[k]), []byte(v)) {
					t.Errorf("%q changed in migration", k)
				}
			}
			if len(after) != len(before)+1 {
				t.Errorf("%d keys after migration, %d before: want one more (the schema)", len(after), len(before))
			}
			r, err := CheckStore(path)
			if err != nil || r.Damaged() {
				t.Fatalf("check after migration: %v %+v", err, r)
			}
			// The hub runs on it and goes on numbering.
			clock := &fakeClock{t: scenarioStart.Add(24 * time.Hour)}
			h, stop := startHub(t, path, clock)
			if r := do(t, h, "arm away 1234"); r.Err != nil {
				t.Fatal(r.Err)
			}
			after2, err := h.Store().Events(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after2) <= len(events) || after2[len(after2)-1].Kind != KindExitDelay || after2[len(after2)-1].Seq != uint64(len(after2)) {
				t.Errorf("after arming the log is %d events, ending with %+v", len(after2), after2[len(after2)-1])
			}
			stop()
		})
	}
}

// TestSchema_NewerStoreIsRefused: a store a newer vakt wrote is refused with a message
// that says what to do, and left byte for byte as it was.
func TestSchema_NewerStoreIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
		newer             bool
	}{
		{"newer", "3", "store schema 3 is newer than this vakt (2): upgrade vakt or restore a backup", true},
		{"much newer", "117", "store schema 117 is newer than this vakt (2)", true},
		{"garbage", "two", `schema version "two" does not read`, false},
		{"zero", "0", `schema version "0" does not read`, false},
		{"padded", "02", `schema version "02" does not read`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vakt.db")
			mustOpenStore(t, path, 0).Close()
			setSchema(t, path, []byte(tc.value))
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenStore(path, 0)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if errors.Is(err, ErrSchemaNewer) != tc.newer {
				t.Errorf("errors.Is(ErrSchemaNewer) = %v, want %v", !tc.newer, tc.newer)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("the refused store changed")
			}
			r, err := CheckStore(path)
			if err != nil || !r.Damaged() {
				t.Errorf("store check of a store it cannot read: %v %+v", err, r)
			}
		})
	}
}

// TestSchema_MigrationIsAllOrNothing: when a later migration fails, the earlier ones of
// the same open are undone with it and the store is as it was.
func TestSchema_MigrationIsAllOrNothing(t *testing.T) {
	path := copyTestdata(t, "store-v1-first.db")
	before := dumpStore(t, path)
	saved := migrations
	defer func() { migrations = saved }()
	migrations = append(append([]migration(nil), saved...), migration{to: SchemaVersion + 1, what: "a failing one",
		run: func(*bolt.Tx) error { return errors.New("disk says no") }})
	if s, err := OpenStore(path, 0); err == nil {
		s.Close()
		t.Fatal("opened with a failing migration")
	} else if !strings.Contains(err.Error(), "disk says no") || !strings.Contains(err.Error(), "a failing one") {
		t.Errorf("error %q does not say which migration failed", err)
	}
	after := dumpStore(t, path)
	if len(after) != len(before) {
		t.Fatalf("%d keys after the failed migration, %d before", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%q changed by a failed migration", k)
		}
	}
}

// TestSchema_MigrationKeepsWhatItDoesNotKnow: an old user event with a field this vakt
// does not know is left as it was rather than re-encoded without it.
func TestSchema_MigrationKeepsWhatItDoesNotKnow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	odd := []byte(`{"seq":1,"time":"2026-11-24T18:00:00Z","area":1,"kind":"disarm","zone":1,"user":"anna","how":"keypad","future":true}`)
	plain := []byte(`{"seq":2,"time":"2026-11-24T18:00:01Z","area":1,"kind":"disarm","zone":1,"user":"anna","how":"keypad"}`)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, n := range [][]byte{bucketMeta, bucketEvents, bucketCursors} {
			if _, err := tx.CreateBucket(n); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketEvents)
		if err := b.Put(seqKey(1), odd); err != nil {
			return err
		}
		return b.Put(seqKey(2), plain)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	d := dumpStoreOpen(t, s.db)
	if got := d["events\x00"+string(seqKey(1))]; got != string(odd) {
		t.Errorf("event with an unknown field rewritten: %s", got)
	}
	if got, want := d["events\x00"+string(seqKey(2))], `{"seq":2,"time":"2026-11-24T18:00:01Z","area":1,"kind":"disarm","user":"anna","user_number":1,"how":"keypad"}`; got != want {
		t.Errorf("old disarm event\n got %s\nwant %s", got, want)
	}
}
