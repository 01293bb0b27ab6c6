package gpio

import (
	"context"
	"time"

	"vakt/hub"
)

// watchDisk checks free space at start and every interval until ctx ends.
func (d *Driver) watchDisk(ctx context.Context) {
	path := d.cfg.Disk.Path
	w := diskWatch{minFree: uint64(orInt(d.cfg.Disk.MinFreeMB, DefaultMinFreeMB)) << 20}
	t := time.NewTicker(orDuration(d.cfg.Disk.Interval, DefaultDiskInterval))
	defer t.Stop()
	failing := false
	for {
		free, err := d.diskFree(path)
		if err != nil && !failing {
			d.log.Error("check free space", "path", path, "error", err)
		}
		failing = err != nil
		if w.observe(free, err) {
			d.sink(hub.Input{Kind: hub.InDiskFault, Active: w.fault, Path: path})
		}
		d.mu.Lock()
		d.status.DiskKnown, d.status.DiskFreeMB, d.status.DiskLow = err == nil, int64(free>>20), w.fault
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// diskWatch turns free-space checks into the hub's disk fault. A filesystem that cannot be
// checked is at fault too: the event log must never fail silently.
type diskWatch struct {
	minFree  uint64
	reported bool
	fault    bool
}

func (w *diskWatch) observe(free uint64, err error) bool {
	fault := err != nil || free < w.minFree
	changed := !w.reported || fault != w.fault
	w.reported, w.fault = true, fault
	return changed
}
