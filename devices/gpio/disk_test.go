package gpio

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"vakt/hub"
)

func diskFault(path string, active bool) hub.Input {
	return hub.Input{Kind: hub.InDiskFault, Active: active, Path: path}
}

func TestDriver_DiskFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		// No filesystem here has 1 PiB free.
		d := start(t, Config{Disk: DiskConfig{Path: dir, MinFreeMB: MaxMinFreeMB}})
		expect(t, "at start", d.rec.take(), diskFault(dir, true))
		if st := d.Status(); !st.DiskKnown || !st.DiskLow || st.DiskFreeMB <= 0 {
			t.Errorf("status %+v, want known, low, some MB free", st)
		}
		time.Sleep(10 * DefaultDiskInterval)
		expect(t, "still short", d.rec.take())
	})
}

func TestDriver_DiskRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		d := start(t, Config{Disk: DiskConfig{Path: dir, MinFreeMB: 1}})
		expect(t, "at start", d.rec.take(), diskFault(dir, false))
	})
}

func TestDriver_DiskRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var free atomic.Uint64
		free.Store(100 << 20)
		d := start(t, Config{Disk: DiskConfig{Path: "/data", Interval: Duration(time.Minute)}}, func(d *Driver) {
			d.diskFree = func(string) (uint64, error) { return free.Load(), nil }
		})
		expect(t, "100 MB free at start", d.rec.take(), diskFault("/data", true))
		free.Store(199 << 20)
		time.Sleep(time.Minute)
		expect(t, "199 MB free", d.rec.take())
		free.Store(200 << 20)
		time.Sleep(time.Minute)
		expect(t, "200 MB free", d.rec.take(), diskFault("/data", false))
		if st := d.Status(); st.DiskLow || st.DiskFreeMB != 200 {
			t.Errorf("status %+v, want 200 MB free, not low", st)
		}
	})
}

func TestDriver_DiskMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A data directory that cannot be checked is a fault: the log must not fail silently.
		path := filepath.Join(t.TempDir(), "gone")
		d := start(t, Config{Disk: DiskConfig{Path: path}})
		expect(t, "at start", d.rec.take(), diskFault(path, true))
		if st := d.Status(); st.DiskKnown {
			t.Errorf("status %+v, want disk unknown", st)
		}
	})
}

func TestDiskFree(t *testing.T) {
	free, err := diskFree(t.TempDir())
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil || free == 0 {
		t.Fatalf("diskFree = %d, %v", free, err)
	}
}
