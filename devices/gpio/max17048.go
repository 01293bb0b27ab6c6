package gpio

import (
	"encoding/binary"
	"errors"
	"fmt"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// ErrNotMAX17048 means the device at the gauge's address answered with another chip's
// version.
var ErrNotMAX17048 = errors.New("not a MAX17048/MAX17049 fuel gauge")

// MAX17048 registers, from the datasheet's register summary. Every register is 16 bits, most
// significant byte first.
const (
	regVCELL   = 0x02 // cell voltage, 78.125 µV per LSB
	regSOC     = 0x04 // state of charge, 1/256 % per LSB
	regMODE    = 0x06 // write-only commands: bit 14 quick-start
	regVERSION = 0x08 // production version, 0x001X
	regCRATE   = 0x16 // charge or discharge rate, signed, 0.208 %/hr per LSB
)

const (
	vcellLSB   = 78125 * physic.NanoVolt
	crateLSB   = 0.208 // %/hr
	modeQuick  = 0x4000
	versionFam = 0x0010
)

// MAX17048 is the Maxim (Analog Devices) MAX17048 single-cell Li-ion fuel gauge. Its
// ModelGauge algorithm estimates the state of charge from the cell voltage alone, with no
// sense resistor. The chip runs from the cell it measures, so it stops answering when the
// cell is missing or flat.
type MAX17048 struct {
	dev i2c.Dev
}

// NewMAX17048 returns the gauge at addr (normally 0x36) on bus. It does not touch the bus.
func NewMAX17048(bus i2c.Bus, addr uint16) *MAX17048 {
	return &MAX17048{dev: i2c.Dev{Bus: bus, Addr: addr}}
}

// GaugeReading is one sample of the gauge.
type GaugeReading struct {
	// Percent is the state of charge; it can read slightly above 100 on a full cell.
	Percent float64
	Voltage physic.ElectricPotential
	// RatePerHour is the charge rate in % per hour: negative while discharging.
	RatePerHour float64
}

// HoursLeft estimates how long the cell lasts at the present discharge rate; ok is false
// when it is not discharging. Hours = remaining charge / discharge current, in which the
// cell's capacity cancels out.
func (r GaugeReading) HoursLeft() (hours float64, ok bool) {
	if r.RatePerHour >= 0 {
		return 0, false
	}
	return r.Percent / -r.RatePerHour, true
}

// Version reads the production version (0x001X on a MAX17048/MAX17049).
func (m *MAX17048) Version() (uint16, error) {
	return m.read(regVERSION)
}

// Probe checks that a MAX17048 answers at the address.
func (m *MAX17048) Probe() error {
	v, err := m.Version()
	if err != nil {
		return err
	}
	if v&0xfff0 != versionFam {
		return fmt.Errorf("version %#04x: %w", v, ErrNotMAX17048)
	}
	return nil
}

// Voltage reads the cell voltage.
func (m *MAX17048) Voltage() (physic.ElectricPotential, error) {
	v, err := m.read(regVCELL)
	return physic.ElectricPotential(v) * vcellLSB, err
}

// Percent reads the state of charge.
func (m *MAX17048) Percent() (float64, error) {
	v, err := m.read(regSOC)
	return float64(v) / 256, err
}

// RatePerHour reads the charge rate in % per hour, negative while discharging.
func (m *MAX17048) RatePerHour() (float64, error) {
	v, err := m.read(regCRATE)
	return float64(int16(v)) * crateLSB, err
}

// Read samples voltage, state of charge and rate.
func (m *MAX17048) Read() (GaugeReading, error) {
	var r GaugeReading
	var err error
	if r.Voltage, err = m.Voltage(); err != nil {
		return GaugeReading{}, err
	}
	if r.Percent, err = m.Percent(); err != nil {
		return GaugeReading{}, err
	}
	if r.RatePerHour, err = m.RatePerHour(); err != nil {
		return GaugeReading{}, err
	}
	return r, nil
}

// QuickStart restarts the state-of-charge estimate from the present cell voltage. Use it
// only when the first estimate is known to be wrong (a cell swapped with power on): it
// discards what the gauge learnt.
func (m *MAX17048) QuickStart() error {
	return m.write(regMODE, modeQuick)
}

func (m *MAX17048) read(reg byte) (uint16, error) {
	var b [2]byte
	if err := m.dev.Tx([]byte{reg}, b[:]); err != nil {
		return 0, fmt.Errorf("max17048 %#02x: read register %#02x: %w", m.dev.Addr, reg, err)
	}
	return binary.BigEndian.Uint16(b[:]), nil
}

func (m *MAX17048) write(reg byte, v uint16) error {
	if err := m.dev.Tx([]byte{reg, byte(v >> 8), byte(v)}, nil); err != nil {
		return fmt.Errorf("max17048 %#02x: write register %#02x: %w", m.dev.Addr, reg, err)
	}
	return nil
}
