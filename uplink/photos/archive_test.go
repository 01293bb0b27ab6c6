package photos

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"vakt/uplink/photos/phototest"
)

func mustIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// openSealed decrypts a sealed photo with id.
func openSealed(sealed []byte, id age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func put(pic []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(pic); return err }
}

func TestArchive_SealedAtRest(t *testing.T) {
	dir := t.TempDir()
	station, other := mustIdentity(t), mustIdentity(t)
	a, err := OpenArchive(dir, station.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	pics := [][]byte{testJPEG(200 << 10), testJPEG(1000)}
	now := time.Now().UTC()
	for i, pic := range pics {
		if _, err := a.Add(Photo{Alarm: 7, Kind: "burglary", Area: 1, Camera: "hall", N: i + 1, Taken: now.Add(time.Duration(i) * time.Second)}, put(pic)); err != nil {
			t.Fatal(err)
		}
	}
	// A camera that fails half-way leaves nothing behind.
	if _, err := a.Add(Photo{Alarm: 7, Camera: "hall", N: 3, Taken: now}, func(w io.Writer) error {
		w.Write(pics[0][:500])
		return errors.New("connection reset")
	}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("a failed photo: %v", err)
	}
	phototest.AssertNothingReadable(t, dir, pics...)
	list, err := a.List()
	if err != nil || len(list) != 2 || list[0].ID != "7-hall-1" || list[1].ID != "7-hall-2" || list[0].Size <= int64(len(pics[0])) {
		t.Fatalf("list %+v %v", list, err)
	}
	for i, p := range list {
		sealed, err := a.Sealed(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := openSealed(sealed, station)
		if err != nil || !bytes.Equal(got, pics[i]) {
			t.Fatalf("the station's key does not open photo %s: %v", p.ID, err)
		}
		if _, err := openSealed(sealed, other); err == nil {
			t.Fatalf("another key opened photo %s", p.ID)
		}
	}

	// The queue: delivered photos leave it, and it survives a restart.
	if err := a.MarkSent("7-hall-1", now); err != nil {
		t.Fatal(err)
	}
	a, err = OpenArchive(dir, station.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Pending(); err != nil || len(p) != 1 || p[0].ID != "7-hall-2" {
		t.Fatalf("pending after a restart: %+v %v", p, err)
	}
}

func TestArchive_CrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	a, err := OpenArchive(dir, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(Photo{Alarm: 1, Camera: "hall", N: 1, Taken: time.Now()}, put(testJPEG(100))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"2-hall-1.age.tmp", "3-hall-1.age", "4-hall-1.json", "1-hall-2.json.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenArchive(dir, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "1-hall-1.age 1-hall-1.json" {
		t.Fatalf("after reopening: %v", names)
	}
	if err := os.WriteFile(filepath.Join(dir, "1-hall-1.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.List(); err == nil || !strings.Contains(err.Error(), "1-hall-1.json: damaged") {
		t.Fatalf("a damaged record: %v", err)
	}
	if _, err := OpenArchive(dir, nil); err == nil {
		t.Fatal("an archive without a station key")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestArchive_HoldCoversLaterPhotos: a hold placed while a fire is still photographed
// covers the photos taken after it; other alarms' photos are not held.
func TestArchive_HoldCoversLaterPhotos(t *testing.T) {
	a, err := OpenArchive(t.TempDir(), mustIdentity(t).Recipient())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := a.Add(Photo{Alarm: 5, Camera: "kitchen", N: 1, Taken: now}, put(testJPEG(100))); err != nil {
		t.Fatal(err)
	}
	until := now.Add(30 * 24 * time.Hour)
	if n, err := a.Hold(5, until); err != nil || n != 1 {
		t.Fatalf("hold: %d %v", n, err)
	}
	for _, p := range []Photo{{Alarm: 5, Camera: "kitchen", N: 2, Taken: now.Add(time.Minute)}, {Alarm: 6, Camera: "kitchen", N: 1, Taken: now}} {
		if _, err := a.Add(p, put(testJPEG(100))); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := a.List()
	for _, p := range list {
		if held := p.HoldUntil.Equal(until); held != (p.Alarm == 5) {
			t.Errorf("photo %s held until %s", p.ID, p.HoldUntil)
		}
	}
	if gone, err := a.Prune(now.Add(15*24*time.Hour), DefaultRetention); err != nil || len(gone) != 1 || gone[0].Alarm != 6 {
		t.Fatalf("pruned %+v %v", gone, err)
	}
}
