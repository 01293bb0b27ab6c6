package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestStationMQTT: with uplink_mqtt and cameras, the wiring builds the uplink and the
// photos on it, names the photos of an alarm in the area of a camera for the DC-09 report,
// and creates the photo archive in the data directory; without cameras, only the uplink.
func TestStationMQTT(t *testing.T) {
	dir := t.TempDir()
	y := "data_dir: " + dir + "\nuplink_mqtt:\n  url: tcp://127.0.0.1:1\n  hub_id: home\n" +
		"  station_public_key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n" +
		"  station_signing_key: " + string(bytes.Repeat([]byte("ab"), 32)) + "\n" +
		"photos:\n  cameras:\n    - {name: hall, url: \"http://127.0.0.1:1/snap.jpg\", areas: [1]}\n"
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation(bytes.Repeat([]byte{7}, 32)), hub.Options{})
	um, ph, err := stationMQTT(cfg, h, nil)
	if err != nil || um == nil || ph == nil {
		t.Fatalf("stationMQTT: %v %v %v", um, ph, err)
	}
	if got := ph.Verification(hub.Event{Seq: 42, Kind: hub.KindBurglary, Area: 1}); got != "vakt/home/photos/42" {
		t.Errorf("burglary in area 1: %q", got)
	}
	for _, ev := range []hub.Event{{Seq: 43, Kind: hub.KindBurglary, Area: 2}, {Seq: 44, Kind: hub.KindFire, Area: 1, Restore: true}, {Seq: 45, Kind: hub.KindPanic, Area: 1}} {
		if got := ph.Verification(ev); got != "" {
			t.Errorf("%+v: %q, want no photos", ev, got)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "photos")); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("photo archive: %v %v", st, err)
	}
	cfg.Photos = nil
	if um, ph, err := stationMQTT(cfg, h, nil); err != nil || um == nil || ph != nil {
		t.Fatalf("without cameras: %v %v %v", um, ph, err)
	}
	cfg.UplinkMQTT = nil
	if um, ph, err := stationMQTT(cfg, h, nil); err != nil || um != nil || ph != nil {
		t.Fatalf("without the uplink: %v %v %v", um, ph, err)
	}
}
