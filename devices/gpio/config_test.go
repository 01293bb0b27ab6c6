package gpio

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpioreg"

	"vakt/hub"
)

func TestConfig_Validate(t *testing.T) {
	a, b, c := newPin(t, low).N, newPin(t, low).N, newPin(t, low).N
	alias := fmt.Sprintf("ALIAS%d", pinSeq.Add(1))
	if err := gpioreg.RegisterAlias(alias, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister(alias) })
	zones := func(z ...ZoneConfig) []ZoneConfig { return z }
	valid := Config{
		Zones:  zones(ZoneConfig{Device: "door", Pin: a}, ZoneConfig{Device: "pir", Pin: b, TamperPin: c, Pull: PullDown, NormallyOpen: true}),
		Gauge:  GaugeConfig{Bus: "1", Addr: 0x36},
		Disk:   DiskConfig{Path: "/var/lib/vakt"},
		Siren:  OutputConfig{Pin: newPin(t, low).N},
		Strobe: OutputConfig{Pin: newPin(t, low).N, ActiveLow: true},
		LED:    OutputConfig{Pin: newPin(t, low).N},
		Lid:    InputConfig{Pin: newPin(t, low).N},
		Mains:  InputConfig{Pin: newPin(t, low).N, Pull: PullNone},
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		wants []string
	}{
		{"valid", func(*Config) {}, nil},
		{"empty", func(c *Config) { *c = Config{} }, nil},
		{"unknown pin", func(c *Config) {
			c.Zones = append(c.Zones, ZoneConfig{Device: "window", Pin: "GPIO99"})
		}, []string{`gpio.zones[2].pin: unknown pin "GPIO99"`}},
		{"unknown tamper pin", func(c *Config) { c.Zones[0].TamperPin = "GPIO99" },
			[]string{`gpio.zones[0].tamper_pin: unknown pin "GPIO99"`}},
		{"unknown output pin", func(c *Config) { c.Siren.Pin = "GPIO99" },
			[]string{`gpio.siren.pin: unknown pin "GPIO99"`}},
		{"same pin twice", func(c *Config) { c.Lid.Pin = a },
			[]string{"gpio.lid.pin: " + a + " already used by gpio.zones[0].pin"}},
		{"same pin through an alias", func(c *Config) { c.Mains.Pin = alias },
			[]string{"gpio.mains.pin: " + alias + " already used by gpio.zones[0].pin"}},
		{"tamper loop on the zone's pin", func(c *Config) { c.Zones[1].TamperPin = b },
			[]string{"gpio.zones[1].tamper_pin: " + b + " already used by gpio.zones[1].pin"}},
		{"I²C address too high", func(c *Config) { c.Gauge.Addr = 0x78 },
			[]string{"gpio.gauge.addr: 0x78 is not a 7-bit device address"}},
		{"I²C address reserved", func(c *Config) { c.Gauge.Addr = 0x07 },
			[]string{"gpio.gauge.addr: 0x7 is not a 7-bit device address"}},
		{"bad pull", func(c *Config) { c.Zones[1].Pull = "sideways" },
			[]string{`gpio.zones[1].pull: unknown pull "sideways" (want up, down or none)`}},
		{"bad lid pull", func(c *Config) { c.Lid.Pull = "Up" },
			[]string{`gpio.lid.pull: unknown pull "Up"`}},
		{"negative debounce", func(c *Config) { c.Zones[0].Debounce = Duration(-5 * time.Millisecond) },
			[]string{"gpio.zones[0].debounce: negative (-5ms)"}},
		{"negative mains debounce", func(c *Config) { c.Mains.Debounce = -1 },
			[]string{"gpio.mains.debounce: negative"}},
		{"zone without device", func(c *Config) { c.Zones[0].Device = "" },
			[]string{"gpio.zones[0].device: required"}},
		{"zone without pin", func(c *Config) { c.Zones[0].Pin = "" },
			[]string{"gpio.zones[0].pin: required"}},
		{"device twice", func(c *Config) { c.Zones[1].Device = "door" },
			[]string{`gpio.zones[1].device: "door" already used by gpio.zones[0].device`}},
		{"low percent", func(c *Config) { c.Gauge.LowPercent = 96 },
			[]string{"gpio.gauge.low_percent: 96 out of range 0–95"}},
		{"negative disk threshold", func(c *Config) { c.Disk.MinFreeMB = -1 },
			[]string{"gpio.disk.min_free_mb: negative"}},
		{"every problem at once", func(c *Config) {
			c.Zones[0].Pull, c.Gauge.Addr, c.LED.Pin = "x", 0x80, "nope"
		}, []string{"gpio.zones[0].pull:", "gpio.gauge.addr:", "gpio.led.pin:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			cfg.Zones = append([]ZoneConfig(nil), valid.Zones...)
			tc.edit(&cfg)
			err := cfg.Validate()
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(tc.wants[0], fe.Field+":") {
				t.Errorf("first error %v is not a *FieldError for %q", fe, tc.wants[0])
			}
		})
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	d, err := New(Config{Zones: []ZoneConfig{{Device: "door", Pin: "GPIO99"}}}, func(hub.Input) {}, nil)
	if d != nil || err == nil || err.Error() != `gpio.zones[0].pin: unknown pin "GPIO99"` {
		t.Fatalf("New() = %v, %v; want the unknown pin named", d, err)
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Fatal("New with a nil sink: want an error")
	}
}

func TestConfig_Wired(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, false},
		{Config{Disk: DiskConfig{Path: "/data"}}, false},
		{Config{Gauge: GaugeConfig{Bus: "1"}}, true},
		{Config{LED: OutputConfig{Pin: "GPIO4"}}, true},
		{Config{Zones: []ZoneConfig{{Device: "door", Pin: "GPIO17"}}}, true},
	} {
		if got := tc.cfg.Wired(); got != tc.want {
			t.Errorf("%+v.Wired() = %t, want %t", tc.cfg, got, tc.want)
		}
	}
}
