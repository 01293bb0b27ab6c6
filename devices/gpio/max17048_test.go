package gpio

import (
	"errors"
	"math"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// Register reads as a MAX17048 answers them: the register address written, two bytes
// read most significant first.
func opVersion(v uint16) i2ctest.IO { return readOp(regVERSION, v) }

func readOp(reg byte, v uint16) i2ctest.IO {
	return i2ctest.IO{Addr: DefaultGaugeAddr, W: []byte{reg}, R: []byte{byte(v >> 8), byte(v)}}
}

// opsReading is one Read: VCELL, SOC, CRATE.
func opsReading(vcell, soc, crate uint16) []i2ctest.IO {
	return []i2ctest.IO{readOp(regVCELL, vcell), readOp(regSOC, soc), readOp(regCRATE, crate)}
}

// socRaw is a state of charge in the SOC register's 1/256 % units.
func socRaw(percent float64) uint16 { return uint16(math.Round(percent * 256)) }

func TestMAX17048_Read(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: append([]i2ctest.IO{opVersion(0x0012)},
		// 0xB900 × 78.125 µV = 3.7 V; 0x3280 / 256 = 50.5 %; int16(0xFFD0) = -48 → -9.984 %/h.
		opsReading(0xB900, 0x3280, 0xFFD0)...)}
	g := NewMAX17048(bus, DefaultGaugeAddr)
	if err := g.Probe(); err != nil {
		t.Fatal(err)
	}
	r, err := g.Read()
	if err != nil {
		t.Fatal(err)
	}
	if r.Voltage != 3700*physic.MilliVolt {
		t.Errorf("voltage %s, want 3.7V", r.Voltage)
	}
	if r.Percent != 50.5 {
		t.Errorf("percent %v, want 50.5", r.Percent)
	}
	if math.Abs(r.RatePerHour-(-9.984)) > 1e-9 {
		t.Errorf("rate %v %%/h, want -9.984", r.RatePerHour)
	}
	if h, ok := r.HoursLeft(); !ok || math.Abs(h-50.5/9.984) > 1e-9 {
		t.Errorf("hours left %v %t, want %v", h, ok, 50.5/9.984)
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}

func TestMAX17048_Charging(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: opsReading(0xD000, 0x5000, 0x0030)}
	r, err := NewMAX17048(bus, DefaultGaugeAddr).Read()
	if err != nil {
		t.Fatal(err)
	}
	if r.RatePerHour <= 0 {
		t.Errorf("rate %v, want positive while charging", r.RatePerHour)
	}
	if h, ok := r.HoursLeft(); ok {
		t.Errorf("hours left %v while charging, want none", h)
	}
}

func TestMAX17048_Probe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
		want    error
	}{
		{"MAX17048", 0x0011, nil},
		{"MAX17048 later revision", 0x001f, nil},
		{"other chip", 0x0003, ErrNotMAX17048},
		{"nothing pulled the bus", 0xffff, ErrNotMAX17048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{opVersion(tc.version)}}
			if err := NewMAX17048(bus, DefaultGaugeAddr).Probe(); !errors.Is(err, tc.want) {
				t.Errorf("Probe() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMAX17048_QuickStart(t *testing.T) {
	bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{{Addr: 0x36, W: []byte{0x06, 0x40, 0x00}}}}
	if err := NewMAX17048(bus, 0x36).QuickStart(); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Error(err)
	}
}
