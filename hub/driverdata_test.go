package hub

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"path/filepath"
	"testing"
)

// TestStore_DriverDataSurvivesReopen: what a driver saves is there after the store is closed
// and opened again, kept apart per driver; nil deletes.
func TestStore_DriverDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	s := mustOpenStore(t, path, 0)
	if v, err := s.DriverData("zigbee2mqtt", "devices"); err != nil || v != nil {
		t.Fatalf("new store: %q, %v", v, err)
	}
	for _, kv := range [][3]string{{"zigbee2mqtt", "devices", "[1]"}, {"zigbee2mqtt", "last_seen", "{}"}, {"rtl433", "devices", "[2]"}, {"zigbee2mqtt", "devices", "[3]"}} {
		if err := s.SaveDriverData(kv[0], kv[1], []byte(kv[2])); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveDriverData("zigbee2mqtt", "last_seen", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpenStore(t, path, 0)
	defer s.Close()
	for _, kv := range [][3]string{{"zigbee2mqtt", "devices", "[3]"}, {"zigbee2mqtt", "last_seen", ""}, {"rtl433", "devices", "[2]"}, {"gpio", "devices", ""}} {
		v, err := s.DriverData(kv[0], kv[1])
		if err != nil || string(v) != kv[2] {
			t.Errorf("%s %s: %q, %v; want %q", kv[0], kv[1], v, err, kv[2])
		}
	}
}

// TestStore_StagedDriverDataGoesWithCommit: staged driver data costs no transaction of its
// own: it is read back at once, written with the next commit, and at close.
func TestStore_StagedDriverDataGoesWithCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	s, err := OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	inDB := func() []byte {
		var v []byte
		s.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketDrivers); b != nil {
				if d := b.Bucket([]byte("z")); d != nil {
					v = bytes.Clone(d.Get([]byte("k")))
				}
			}
			return nil
		})
		return v
	}
	s.StageDriverData("z", "k", []byte("one"))
	if v, _ := s.DriverData("z", "k"); string(v) != "one" {
		t.Fatalf("staged value reads %q", v)
	}
	if v := inDB(); v != nil {
		t.Fatalf("staging wrote %q at once", v)
	}
	st := State{NextSeq: 1}
	if err := s.Commit(&st, nil); err != nil {
		t.Fatal(err)
	}
	if v := inDB(); string(v) != "one" {
		t.Fatalf("after a commit the store holds %q", v)
	}
	s.StageDriverData("z", "k", []byte("two"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.DriverData("z", "k"); string(v) != "two" {
		t.Fatalf("after close and reopen: %q", v)
	}
}
