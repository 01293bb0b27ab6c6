package zigbee2mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"vakt/hub"
)

// Memory keeps what the driver learned across restarts; the hub's store is one. With the
// embedded broker nothing is retained over a restart of vakt, and Zigbee2MQTT publishes
// bridge/devices only when it starts itself: without a memory every renamed device would
// be unknown until Zigbee2MQTT restarts.
type Memory interface {
	DriverData(driver, key string) ([]byte, error)
	SaveDriverData(driver, key string, v []byte) error
}

var _ Memory = (*hub.Store)(nil)

// stager is a Memory that can keep a value to write with the hub's next commit (the hub's
// store): the newest last_seen per device then costs no write of its own.
type stager interface {
	StageDriverData(driver, key string, v []byte)
}

var _ stager = (*hub.Store)(nil)

// Keys of the driver's memory.
const (
	memDevices  = "devices"   // the device list: bridge/devices with renames applied
	memLastSeen = "last_seen" // by address: the newest last_seen read
)

// saveEvery bounds how often the newest last_seen per device is handed to the memory. The
// hub's store only stages it, to be written with the hub's next commit (or at close), so a
// busy house costs an SD card no commit of its own for it (one per 5 s was 129 MB a day).
// What a crash loses of it can only let a message through that the hub already acted on:
// the hub ignores a repeated state, and an intrusion stamped before the arming and over a
// minute old never triggers.
const saveEvery = 5 * time.Second

// maxSkew is how far ahead of vakt's clock a device's last_seen may be before it is taken
// as wrong: trusted, it would make every later real message look older and block the
// device.
const maxSkew = time.Minute

// load reads the driver's memory: the device list (so names resolve at once after a
// restart, with no hold for Zigbee2MQTT's list) and the newest last_seen per device.
func (d *Driver) load() {
	if d.mem == nil {
		return
	}
	if b, err := d.mem.DriverData(Name, memDevices); err != nil {
		d.log.Warn("read the remembered device list", "error", err)
	} else if b != nil {
		var devs []*device
		if err := json.Unmarshal(b, &devs); err != nil {
			d.log.Warn("remembered device list unreadable; waiting for Zigbee2MQTT's", "error", err)
		} else {
			cat := &catalog{byIEEE: make(map[string]*device, len(devs)), byName: make(map[string]*device, len(devs))}
			for _, dev := range devs {
				cat.byIEEE[dev.IEEE] = dev
				cat.byName[dev.Name] = dev
			}
			d.mu.Lock()
			d.cat = cat
			d.mu.Unlock()
			d.saved = b
			d.listed, d.holding = true, false
			d.log.Info("device list remembered from the last run", "devices", len(devs))
		}
	}
	b, err := d.mem.DriverData(Name, memLastSeen)
	if err != nil || b == nil {
		if err != nil {
			d.log.Warn("read the remembered last_seen times", "error", err)
		}
		return
	}
	var seen map[string]time.Time
	if err := json.Unmarshal(b, &seen); err != nil {
		d.log.Warn("remembered last_seen times unreadable", "error", err)
		return
	}
	limit := d.now().Add(maxSkew)
	for addr, t := range seen {
		if t.After(limit) {
			continue // vakt's clock went back: such a time would block the device
		}
		d.seen[addr] = t
	}
}

// saveDevices remembers the current device list, when it changed.
func (d *Driver) saveDevices() {
	if d.mem == nil {
		return
	}
	d.mu.Lock()
	devs := make([]*device, 0, len(d.cat.byIEEE))
	for _, dev := range d.cat.byIEEE {
		devs = append(devs, dev)
	}
	d.mu.Unlock()
	slices.SortFunc(devs, func(a, b *device) int { return strings.Compare(a.IEEE, b.IEEE) })
	b, err := json.Marshal(devs)
	if err != nil {
		d.log.Warn("remember the device list", "error", err)
		return
	}
	if bytes.Equal(b, d.saved) {
		return // the retained list read again on a reconnect
	}
	if err := d.mem.SaveDriverData(Name, memDevices, b); err != nil {
		d.log.Warn("remember the device list", "error", err)
		return
	}
	d.saved = b
}

// sawAt records the newest last_seen of a device, to be written within saveEvery.
func (d *Driver) sawAt(addr string, t time.Time) {
	d.seen[addr] = t
	if d.mem != nil && d.flush == nil {
		d.flush = time.NewTimer(saveEvery)
	}
}

// saveSeen writes the newest last_seen per device.
func (d *Driver) saveSeen() error {
	if d.flush != nil {
		d.flush.Stop()
		d.flush = nil
	}
	if d.mem == nil {
		return nil
	}
	b, err := json.Marshal(d.seen)
	if st, ok := d.mem.(stager); ok && err == nil {
		st.StageDriverData(Name, memLastSeen, b)
		return nil
	}
	if err == nil {
		err = d.mem.SaveDriverData(Name, memLastSeen, b)
	}
	if err != nil {
		return fmt.Errorf("remember last_seen: %w", err)
	}
	return nil
}
