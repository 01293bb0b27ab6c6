package devices_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/devices"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// A flood of unknown transmitters (100 000 addresses, as anyone with a 433 MHz sender can
// make) costs bounded memory and log lines, inside and outside a pairing window.
func TestManager_UnknownTransmitterFlood(t *testing.T) {
	c := hubtest.NewClock(hubtest.T0)
	s, err := hub.OpenStore(filepath.Join(t.TempDir(), "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := hub.New(s, hub.DemoInstallation(key), hub.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	logs := &hubtest.Buffer{}
	mgr := devices.NewManager(h, devices.Options{Now: c.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	mgr.AddDriver(sim.New(mgr, &hubtest.Buffer{}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, f := range []func(context.Context) error{h.Run, mgr.Run} {
		wg.Go(func() { f(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()

	flood := func(prefix string, n int) {
		for i := range n {
			mgr.Report(devices.Report{Driver: "rtl433", Address: fmt.Sprintf("%s/%d", prefix, i),
				Signals: []devices.SignalValue{{Signal: hub.SignalContact, Active: true}}})
			if i%1000 == 999 {
				c.Add(time.Second)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	flood("warm", 2000)
	before := heap()
	flood("Kerui-Security", 100_000)
	if grew := int64(heap()) - int64(before); grew > 2<<20 {
		t.Errorf("heap grew %d KB for 100 000 unknown transmitters, want bounded", grew>>10)
	}
	if n := strings.Count(logs.String(), "\n"); n > 100 {
		t.Errorf("%d log lines for 102 000 unknown transmitters, want a few a minute", n)
	}
	if !strings.Contains(logs.String(), "messages from more devices not in the installation") {
		t.Errorf("no sum of the unlogged ones:\n%.2000s", logs.String())
	}

	if err := mgr.StartPairing(ctx, "sim", 1, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	flood("pairing", 10_000)
	if n := len(mgr.Discovered()); n > 256 {
		t.Errorf("%d devices offered for adoption after a flood while pairing, want a bounded list", n)
	}
}
