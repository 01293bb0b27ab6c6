package hub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// damagedStoreEvents is how many events mustFillStore logs: enough for a few dozen pages.
const damagedStoreEvents = 2000

// mustFillStore makes a store at path with the demo installation, a state, a secret, a
// cursor, driver data and damagedStoreEvents events, and closes it.
func mustFillStore(tb testing.TB, path string) {
	tb.Helper()
	s := mustOpenStore(tb, path, 0)
	if err := s.SaveInstallation(DemoInstallation(testKey)); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Secret("mqtt_password", 12); err != nil {
		tb.Fatal(err)
	}
	if err := s.SetCursor("dc09/arc", 10); err != nil {
		tb.Fatal(err)
	}
	if err := s.SaveDriverData("zigbee2mqtt", "devices", []byte(`[]`)); err != nil {
		tb.Fatal(err)
	}
	var evs []Event
	for seq := uint64(1); seq <= damagedStoreEvents; seq++ {
		evs = append(evs, Event{Seq: seq, Time: scenarioStart.Add(time.Duration(seq) * time.Minute), Area: 1,
			Kind: KindArm, User: "anna", ZoneName: "a name long enough to fill the pages a little faster"})
		if len(evs) == 100 {
			if err := s.Commit(&State{NextSeq: seq + 1}, evs); err != nil {
				tb.Fatal(err)
			}
			evs = nil
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
}

// storePages reads the page size and the ids of the leaf pages holding events, in key
// order as far as the file's layout goes.
func storePages(tb testing.TB, path string) (pageSize int, freelist uint64, eventLeaves []uint64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b, err := openBoltFile(f)
	if err != nil {
		tb.Fatal(err)
	}
	for id := uint64(2); id < b.meta.pgid; id++ {
		p, err := b.page(id, boltLeafPage)
		if err == nil && bytes.Contains(p, []byte(`{"seq":`)) {
			eventLeaves = append(eventLeaves, id)
		}
	}
	if len(eventLeaves) < 5 {
		tb.Fatalf("only %d event pages", len(eventLeaves))
	}
	return b.pageSize, b.meta.freelist, eventLeaves
}

// overwrite writes data at page id of the file.
func overwrite(tb testing.TB, path string, pageSize int, id uint64, off int, data []byte) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, int64(id)*int64(pageSize)+int64(off)); err != nil {
		tb.Fatal(err)
	}
}

// damageKinds are the ways a store file is damaged on an SD card, each applied to a full
// store; want is what the error must say.
var damageKinds = []struct {
	name   string
	damage func(tb testing.TB, path string)
	want   string
}{
	{"zero bytes", func(tb testing.TB, path string) {
		if err := os.Truncate(path, 0); err != nil {
			tb.Fatal(err)
		}
	}, "empty (0 bytes)"},
	{"truncated", func(tb testing.TB, path string) {
		info, _ := os.Stat(path)
		if err := os.Truncate(path, info.Size()/2); err != nil {
			tb.Fatal(err)
		}
	}, "truncated"},
	{"free-page list overwritten", func(tb testing.TB, path string) {
		ps, fl, _ := storePages(tb, path)
		overwrite(tb, path, ps, fl, 8, []byte{boltLeafPage, 0}) // "invalid freelist page" in bbolt
	}, "free-page list is damaged"},
	{"event page overwritten", func(tb testing.TB, path string) {
		ps, _, leaves := storePages(tb, path)
		overwrite(tb, path, ps, leaves[len(leaves)/2], 0, make([]byte, ps)) // "Page expected to be" in bbolt
	}, "bucket events: page"},
	{"both meta pages bad", func(tb testing.TB, path string) {
		ps, _, _ := storePages(tb, path)
		overwrite(tb, path, ps, 0, 16, []byte("garbage!"))
		overwrite(tb, path, ps, 1, 16, []byte("garbage!"))
	}, "both meta pages are bad"},
}

// TestOpenStore_DamageIsAClearError opens each kind of damaged store: a clear error that
// names the file, the damage and what to do; never a panic, never a fresh store.
func TestOpenStore_DamageIsAClearError(t *testing.T) {
	for _, tc := range damageKinds {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vakt.db")
			mustFillStore(t, path)
			tc.damage(t, path)
			before, _ := os.ReadFile(path)
			s, err := openAndRead(path)
			if err == nil {
				s.Close()
				t.Fatal("a damaged store opened")
			}
			if !errors.Is(err, ErrStoreDamaged) {
				t.Fatalf("error %v, want ErrStoreDamaged", err)
			}
			for _, want := range []string{path, tc.want, "backup", "vakt store check -data " + filepath.Dir(path), "vakt store salvage"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// openAndRead opens the store and reads what a starting hub reads, turning a panic into
// an error so the test reports it.
func openAndRead(path string) (s *Store, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("panic: " + strings.TrimSpace(strings.SplitN(fmtAny(r), "\n", 2)[0]))
		}
	}()
	s, err = OpenStore(path, 0)
	if err != nil {
		return nil, err
	}
	if _, err := s.Installation(); err != nil {
		return s, err
	}
	if _, _, err := s.State(); err != nil {
		return s, err
	}
	if _, err := s.Events(0, 0); err != nil {
		return s, err
	}
	return s, nil
}

func fmtAny(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}

// TestOpenStore_CreatesOnlyWhenNoFile: a missing file is a new store; a sound one opens
// with everything in it.
func TestOpenStore_CreatesOnlyWhenNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	mustFillStore(t, path)
	s := mustOpenStore(t, path, 0)
	defer s.Close()
	if last, _ := s.LastSeq(); last != damagedStoreEvents {
		t.Fatalf("last seq %d, want %d", last, damagedStoreEvents)
	}
}

// TestCheckStore reports a sound store as sound and every kind of damage as damage,
// without panicking.
func TestCheckStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vakt.db")
	mustFillStore(t, path)
	r, err := CheckStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Damaged() || r.Events != damagedStoreEvents || r.FirstSeq != 1 || r.LastSeq != damagedStoreEvents {
		t.Fatalf("sound store: %+v", r)
	}
	for _, tc := range damageKinds {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vakt.db")
			mustFillStore(t, path)
			tc.damage(t, path)
			r, err := CheckStore(path)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			r.WriteTo(&out)
			if !r.Damaged() || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("report does not say %q:\n%s", tc.want, out.String())
			}
		})
	}
}

// TestCheckStore_VaktData finds damage in vakt's own data that bbolt cannot see.
func TestCheckStore_VaktData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *Store) error
		want   string
	}{
		{"installation does not decode", func(s *Store) error { return s.putMeta(keyInstallation, []byte("{")) }, "installation does not decode"},
		{"installation invalid", func(s *Store) error { return s.putMeta(keyInstallation, []byte(`{"areas":[]}`)) }, "installation is not valid"},
		{"state does not decode", func(s *Store) error { return s.putMeta(keyState, []byte(`{"next_seq":"x"}`)) }, "state does not decode"},
		{"event does not decode", func(s *Store) error { return s.putEvent(7, []byte(`{"seq":7,"kind":"nonsense"}`)) }, "event 7 does not decode"},
		{"event out of place", func(s *Store) error { return s.putEvent(8, []byte(`{"seq":9,"kind":"arm"}`)) }, "event 8 says it is event 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vakt.db")
			mustFillStore(t, path)
			s := mustOpenStore(t, path, 0)
			if err := tc.change(s); err != nil {
				t.Fatal(err)
			}
			s.Close()
			r, err := CheckStore(path)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Damaged() || !strings.Contains(strings.Join(r.Problems, "\n"), tc.want) {
				t.Fatalf("problems %q, want %q", r.Problems, tc.want)
			}
		})
	}
}

// TestSalvageStore copies what is readable from each kind of damage into a new store that
// vakt opens and goes on with, and says which events were lost.
func TestSalvageStore(t *testing.T) {
	for _, tc := range damageKinds {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, out := filepath.Join(dir, "vakt.db"), filepath.Join(dir, "new.db")
			mustFillStore(t, path)
			tc.damage(t, path)
			r, err := SalvageStore(path, out, scenarioStart)
			if tc.name == "zero bytes" || tc.name == "both meta pages bad" {
				if err == nil || !strings.Contains(err.Error(), "nothing is readable") {
					t.Fatalf("error %v, want nothing is readable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rep strings.Builder
			r.WriteTo(&rep)
			t.Log(rep.String())
			if tc.name == "truncated" {
				// The tree's root is gone with the file's end: the events on the pages
				// still there are saved, the installation and state are not.
				s := mustOpenStore(t, out, 0)
				defer s.Close()
				evs, _ := s.Events(0, 0)
				if r.Events == 0 || len(evs) != r.Events || r.Installation {
					t.Fatalf("saved %d events, new store has %d; report %+v", r.Events, len(evs), r)
				}
				return
			}
			lost := 0
			for _, l := range r.Lost {
				lost += int(l.To - l.From + 1)
			}
			if r.Events+lost != damagedStoreEvents {
				t.Errorf("saved %d and lost %d events, want %d in all", r.Events, lost, damagedStoreEvents)
			}
			if tc.name == "event page overwritten" && (lost == 0 || lost > 100) {
				t.Errorf("lost %d events with one page", lost)
			}
			if !r.Installation || !r.State || r.Secrets != 1 || r.Cursors != 1 {
				t.Errorf("report %+v", r)
			}
			s := mustOpenStore(t, out, 0)
			defer s.Close()
			evs, err := s.Events(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != r.Events && len(evs) != r.Events+1 { // +1: the marker of a lost tail
				t.Errorf("new store has %d events, report says %d", len(evs), r.Events)
			}
			if c, ok, _ := s.Cursor("dc09/arc"); !ok || c != 10 {
				t.Errorf("cursor %d %v", c, ok)
			}
			if d, _ := s.DriverData("zigbee2mqtt", "devices"); string(d) != "[]" {
				t.Errorf("driver data %q", d)
			}
			// The hub goes on where the log ended, without reusing a lost sequence.
			h, err := New(s, nil, Options{Now: func() time.Time { return scenarioStart }})
			if err != nil {
				t.Fatal(err)
			}
			if next := h.Snapshot().State.NextSeq; next != damagedStoreEvents+1 {
				t.Errorf("next seq %d, want %d", next, damagedStoreEvents+1)
			}
			if err := s.Commit(&State{NextSeq: damagedStoreEvents + 2}, []Event{{Seq: damagedStoreEvents + 1, Time: scenarioStart, Kind: KindDisarm}}); err != nil {
				t.Errorf("commit after salvage: %v", err)
			}
		})
	}
}

// TestSalvageStore_LostTail loses the newest events: the new log ends in a marker at the
// last lost sequence, so the next event follows it and no lost sequence is used again.
func TestSalvageStore_LostTail(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "vakt.db"), filepath.Join(dir, "new.db")
	mustFillStore(t, path)
	ps, _, leaves := storePages(t, path)
	// The leaf holding the newest event.
	f, _ := os.ReadFile(path)
	var last uint64
	for _, id := range leaves {
		if bytes.Contains(f[int(id)*ps:int(id+1)*ps], []byte(`{"seq":2000,`)) {
			last = id
		}
	}
	if last == 0 {
		t.Fatal("no page holds the newest event")
	}
	overwrite(t, path, ps, last, 0, make([]byte, 16))
	r, err := SalvageStore(path, out, scenarioStart)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lost) != 1 || r.Lost[0].To != damagedStoreEvents {
		t.Fatalf("lost %v, want a run up to %d", r.Lost, damagedStoreEvents)
	}
	s := mustOpenStore(t, out, 0)
	defer s.Close()
	evs, _ := s.History(0, 1)
	if len(evs) != 1 || evs[0].Seq != damagedStoreEvents || evs[0].Kind != KindDiskFault || !strings.Contains(evs[0].Note, "lost") {
		t.Fatalf("newest event %+v, want the salvage marker", evs)
	}
	if err := s.Commit(&State{NextSeq: damagedStoreEvents + 2}, []Event{{Seq: damagedStoreEvents + 1, Time: scenarioStart, Kind: KindDisarm}}); err != nil {
		t.Fatalf("commit after salvage: %v", err)
	}
}

// TestSalvageStore_RefusesExistingFile never overwrites a file.
func TestSalvageStore_RefusesExistingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vakt.db")
	mustFillStore(t, path)
	if _, err := SalvageStore(path, path, scenarioStart); err == nil {
		t.Fatal("salvaged onto itself")
	}
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("keep"), 0o600)
	if _, err := SalvageStore(path, other, scenarioStart); err == nil {
		t.Fatal("salvaged over an existing file")
	}
}

func (s *Store) putMeta(key, v []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(key, v) })
}

func (s *Store) putEvent(seq uint64, v []byte) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketEvents).Put(k[:], v) })
}
