package gpio

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"vakt/hub"
)

func gaugeOn(bus i2c.BusCloser) Option {
	return WithBusOpener(func(name string) (i2c.BusCloser, error) {
		if name != "1" {
			return nil, errors.New("no such bus")
		}
		return bus, nil
	})
}

func batteryLow(active bool) hub.Input { return hub.Input{Kind: hub.InHubBattery, Active: active} }

func TestDriver_BatteryHysteresis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		steps := []struct {
			percent float64
			want    []hub.Input
		}{
			{50, []hub.Input{batteryLow(false)}}, // the state at start
			{21, nil},
			{19.5, []hub.Input{batteryLow(true)}}, // below 20
			{22, nil},                             // above 20, not yet 25
			{24.9, nil},
			{25, []hub.Input{batteryLow(false)}}, // back at 20 + 5
			{19.9, []hub.Input{batteryLow(true)}},
		}
		ops := []i2ctest.IO{opVersion(0x0012)}
		for _, s := range steps {
			ops = append(ops, opsReading(0xB900, socRaw(s.percent), 0xFFD0)...)
		}
		bus := &i2ctest.Playback{DontPanic: true, Ops: ops}
		d := start(t, Config{Gauge: GaugeConfig{Bus: "1", LowPercent: 20, CapacityMAh: 2000}}, gaugeOn(bus))
		for i, s := range steps {
			if i > 0 {
				time.Sleep(DefaultGaugeInterval)
			}
			expect(t, "reading at "+(time.Duration(i)*DefaultGaugeInterval).String(), d.rec.take(), s.want...)
		}
		st := d.Status()
		if !st.BatteryKnown || !st.BatteryLow || st.BatteryVolts != 3.7 || st.RemainingMAh != 397 {
			t.Errorf("status %+v, want known, low, 3.7 V, 397 mAh (19.9 %% of 2000)", st)
		}
		if want := st.BatteryPercent / 9.984; st.HoursLeft != want {
			t.Errorf("hours left %v, want %v", st.HoursLeft, want)
		}
		if err := d.stop(); err != nil {
			t.Fatalf("Run: %v (every register read played back?)", err)
		}
	})
}

func TestDriver_GaugeSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One good reading, then the gauge stops answering: its cell is gone.
		bus := &i2ctest.Playback{DontPanic: true, Ops: append([]i2ctest.IO{opVersion(0x0012)}, opsReading(0xB900, socRaw(80), 0)...)}
		d := start(t, Config{Gauge: GaugeConfig{Bus: "1"}}, gaugeOn(bus))
		expect(t, "at start", d.rec.take(), batteryLow(false))
		time.Sleep(2 * DefaultGaugeInterval)
		expect(t, "two failed reads", d.rec.take())
		if st := d.Status(); st.BatteryKnown {
			t.Errorf("status %+v, want battery unknown", st)
		}
		time.Sleep(DefaultGaugeInterval)
		expect(t, "third failed read", d.rec.take(), batteryLow(true))
		time.Sleep(10 * DefaultGaugeInterval)
		expect(t, "still silent", d.rec.take())
	})
}

func TestDriver_GaugeCloseError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A second reading the driver never makes: Playback's Close reports it, and Run
		// returns the bus's close error.
		ops := append([]i2ctest.IO{opVersion(0x0012)}, opsReading(0xB900, socRaw(80), 0)...)
		bus := &i2ctest.Playback{DontPanic: true, Ops: append(ops, opsReading(0xB900, socRaw(80), 0)...)}
		d := start(t, Config{Gauge: GaugeConfig{Bus: "1"}}, gaugeOn(bus))
		expect(t, "at start", d.rec.take(), batteryLow(false))
		if err := d.stop(); err == nil || !strings.Contains(err.Error(), `gpio.gauge.bus: close "1"`) {
			t.Fatalf("Run() = %v, want the close error", err)
		}
	})
}

func TestDriver_GaugeSetupErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  GaugeConfig
		ops  []i2ctest.IO
		want string
	}{
		{"bus missing", GaugeConfig{Bus: "7"}, nil, `gpio.gauge.bus: open "7": no such bus`},
		{"another chip", GaugeConfig{Bus: "1"}, []i2ctest.IO{opVersion(0x0300)}, "gpio.gauge.addr: 0x36: version 0x0300: not a MAX17048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true, Ops: tc.ops}
			d, err := New(Config{Gauge: tc.cfg}, func(hub.Input) { t.Error("input sent") }, testLogger(t), gaugeOn(bus))
			if err != nil {
				t.Fatal(err)
			}
			// Run fails before it starts anything, so no bubble is needed.
			if err := d.Run(t.Context()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run() = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBatteryWatch_FirstReadingBetweenThresholds(t *testing.T) {
	w := batteryWatch{lowPercent: 20}
	if !w.observe(GaugeReading{Percent: 22}, nil) || w.low {
		t.Fatalf("first reading 22%%: want reported, not low (%+v)", w)
	}
	if w.observe(GaugeReading{Percent: 22}, nil) {
		t.Fatal("unchanged reading reported again")
	}
}
