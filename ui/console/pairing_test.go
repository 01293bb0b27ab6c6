package console

import (
	"strings"
	"testing"

	"vakt/devices"
	"vakt/hub"
)

// The devices list shows each device's malformed and dropped message counts.
func TestDeviceList_Counts(t *testing.T) {
	s := &hub.Snapshot{Installation: &hub.Installation{Devices: []hub.Device{{ID: "front_door", Driver: "zigbee2mqtt"}}}}
	got := deviceList(s, map[string]devices.Health{"front_door": {Malformed: 3, Dropped: 2}})
	if !strings.Contains(got, "malformed 3") || !strings.Contains(got, "dropped 2") {
		t.Errorf("devices list %q, want the malformed and dropped counts", got)
	}
}
