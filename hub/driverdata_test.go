package hub

import (
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
