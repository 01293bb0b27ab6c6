package gpio

import (
	"context"
	"time"

	"vakt/hub"
)

// gaugeFailLimit is how many gauge reads in a row may fail before the battery is reported
// at fault: one bus glitch is not a fault, a gauge that stays silent has lost its cell.
const gaugeFailLimit = 3

// watchBattery reads the gauge at start and every interval until ctx ends.
func (d *Driver) watchBattery(ctx context.Context, g *MAX17048) {
	w := batteryWatch{lowPercent: orInt(d.cfg.Gauge.LowPercent, DefaultLowPercent)}
	t := time.NewTicker(orDuration(d.cfg.Gauge.Interval, DefaultGaugeInterval))
	defer t.Stop()
	for {
		r, err := g.Read()
		if err != nil && w.fails == 0 {
			d.log.Warn("read fuel gauge", "error", err)
		}
		if w.observe(r, err) {
			d.sink(hub.Input{Kind: hub.InHubBattery, Active: w.low})
		}
		d.mu.Lock()
		s := &d.status
		s.BatteryKnown, s.BatteryLow = err == nil, w.low
		s.BatteryPercent, s.BatteryVolts, s.BatteryRate = r.Percent, float64(r.Voltage)/1e9, r.RatePerHour
		s.HoursLeft, _ = r.HoursLeft()
		s.RemainingMAh = int(r.Percent * float64(d.cfg.Gauge.CapacityMAh) / 100)
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// batteryWatch turns gauge readings into the hub's battery-low state, with hysteresis.
type batteryWatch struct {
	lowPercent int
	reported   bool // the hub has been told the state at least once
	low        bool
	fails      int // reads failed in a row
}

// observe takes one reading and reports whether the hub must be told the low state: on
// the first reading and on every change.
func (w *batteryWatch) observe(r GaugeReading, err error) bool {
	low := w.low
	switch {
	case err != nil:
		w.fails++
		if w.fails < gaugeFailLimit {
			return false
		}
		low = true
	case w.low:
		w.fails = 0
		low = r.Percent < float64(w.lowPercent+BatteryHysteresis)
	default:
		w.fails = 0
		low = r.Percent < float64(w.lowPercent)
	}
	changed := !w.reported || low != w.low
	w.reported, w.low = true, low
	return changed
}
