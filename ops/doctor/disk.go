package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// disk checks the free space on the data directory's file system and, where the kernel
// shows them, the SD card's (or eMMC's) wear counters.
func (d *doctor) disk() []Check {
	return append([]Check{d.freeSpace()}, d.wear()...)
}

func (d *doctor) freeSpace() Check {
	c := Check{What: "disk " + d.cfg.DataDir}
	var st unix.Statfs_t
	if err := unix.Statfs(d.cfg.DataDir, &st); err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "create the data directory (vakt makes it on first start) or fix data_dir"
		return c
	}
	free := st.Bavail * uint64(st.Bsize)
	total := st.Blocks * uint64(st.Bsize)
	c.Detail = fmt.Sprintf("%s free of %s", mb(free), mb(total))
	min := uint64(d.cfg.MinFreeMB) << 20
	switch {
	case free < min:
		c.Status = Fail
		c.Fix = fmt.Sprintf("below gpio.disk.min_free_mb (%d MB), a disk fault: free space (old logs: journalctl --vacuum-size=50M) or use a larger card", d.cfg.MinFreeMB)
	case free < 2*min:
		c.Status = Warn
		c.Fix = fmt.Sprintf("near gpio.disk.min_free_mb (%d MB): free space before it becomes a disk fault", d.cfg.MinFreeMB)
	}
	return c
}

func mb(b uint64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%d GB", b>>30)
	}
	return fmt.Sprintf("%d MB", b>>20)
}

// wear reads the eMMC/SD wear counters of each mmcblk device: life_time holds two
// estimates (type A and type B memory) in steps of 10% of the life used, 0x0B meaning
// beyond it; pre_eol_info says how much of the reserved blocks is used (0x01 normal,
// 0x02 80%, 0x03 urgent). Most SD cards (as opposed to eMMC) show neither.
func (d *doctor) wear() []Check {
	devs, _ := filepath.Glob(filepath.Join(d.cfg.SysRoot, "block", "mmcblk*"))
	sort.Strings(devs)
	var out []Check
	for _, dev := range devs {
		name := filepath.Base(dev)
		if strings.Contains(name, "boot") || strings.Contains(name, "rpmb") {
			continue // an eMMC's boot and RPMB partitions share its counters
		}
		c := Check{What: "SD card wear " + name}
		life, lerr := os.ReadFile(filepath.Join(dev, "device", "life_time"))
		eol, eerr := os.ReadFile(filepath.Join(dev, "device", "pre_eol_info"))
		if lerr != nil && eerr != nil {
			c.Detail = "not shown by this card (no life_time or pre_eol_info)"
			c.Fix = "an SD card wears out unseen: keep backups, and prefer a high-endurance card"
			out = append(out, c)
			continue
		}
		var parts []string
		if lerr == nil {
			worst := 0
			for _, f := range strings.Fields(string(life)) {
				v, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), 16, 8)
				if err == nil && int(v) > worst {
					worst = int(v)
				}
			}
			switch {
			case worst == 0:
				parts = append(parts, "life used: not estimated")
			case worst >= 0x0B:
				parts = append(parts, "life used: beyond its estimated life")
				c.Status = Fail
			default:
				parts = append(parts, fmt.Sprintf("life used: %d–%d%%", (worst-1)*10, worst*10))
				if worst >= 0x09 {
					c.Status = Warn
				}
			}
		}
		if eerr == nil {
			v, _ := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(eol)), "0x"), 16, 8)
			switch v {
			case 1:
				parts = append(parts, "reserved blocks: normal")
			case 2:
				parts = append(parts, "reserved blocks: 80% used")
				c.Status = max(c.Status, Warn)
			case 3:
				parts = append(parts, "reserved blocks: urgent")
				c.Status = Fail
			default:
				parts = append(parts, "reserved blocks: not estimated")
			}
		}
		c.Detail = strings.Join(parts, ", ")
		switch c.Status {
		case Warn:
			c.Fix = "plan a new card: make a backup and keep it off the card"
		case Fail:
			c.Fix = "replace the card now: make a backup first"
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		out = append(out, Check{What: "SD card wear", Detail: "not shown by this kernel (no /sys/block/mmcblk*)"})
	}
	return out
}
