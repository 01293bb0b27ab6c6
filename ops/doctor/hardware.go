package doctor

import (
	"fmt"
	"strings"

	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c/i2creg"

	"vakt/devices/gpio"
)

// namedPin is a pin the config names, with the field that names it.
type namedPin struct{ field, pin string }

// pins returns every pin the config names, in the order of the config.
func pins(c gpio.Config) []namedPin {
	var out []namedPin
	for i, z := range c.Zones {
		out = append(out, namedPin{fmt.Sprintf("gpio.zones[%d].pin", i), z.Pin})
		if z.TamperPin != "" {
			out = append(out, namedPin{fmt.Sprintf("gpio.zones[%d].tamper_pin", i), z.TamperPin})
		}
	}
	for _, p := range []namedPin{{"gpio.siren.pin", c.Siren.Pin}, {"gpio.strobe.pin", c.Strobe.Pin}, {"gpio.led.pin", c.LED.Pin},
		{"gpio.lid.pin", c.Lid.Pin}, {"gpio.mains.pin", c.Mains.Pin}} {
		if p.pin != "" {
			out = append(out, p)
		}
	}
	return out
}

// hardware checks that the GPIO pins and the I²C bus the config names exist on this host.
// Finding a pin claims nothing: a running vakt's pins are not disturbed.
func (d *doctor) hardware() []Check {
	named := pins(d.cfg.GPIO)
	bus := d.cfg.GPIO.Gauge.Bus
	if len(named) == 0 && bus == "" {
		return []Check{{What: "GPIO and I²C", Detail: "none named in the config"}}
	}
	ok, err := gpio.HostInit()
	var out []Check
	if len(named) > 0 {
		c := Check{What: "GPIO"}
		var missing, found []string
		if ok {
			for _, p := range named {
				if gpioreg.ByName(p.pin) == nil {
					missing = append(missing, fmt.Sprintf("%s (%s)", p.pin, p.field))
				} else {
					found = append(found, p.pin)
				}
			}
		}
		switch {
		case !ok:
			c.Status, c.Detail = Fail, fmt.Sprintf("no GPIO chip on this host, but the config names %d pins", len(named))
			if err != nil {
				c.Detail += " (" + err.Error() + ")"
			}
			c.Fix = "run vakt on the gateway, or remove the gpio pins from the config (vakt runs without wired I/O)"
		case len(missing) > 0:
			c.Status, c.Detail = Fail, "not on this host: "+strings.Join(missing, ", ")
			c.Fix = "use the pin names of this board (as GPIO17), see `gpioinfo`"
		default:
			c.Detail = "present: " + strings.Join(found, ", ")
		}
		out = append(out, c)
	}
	if bus != "" {
		c := Check{What: "I²C bus " + bus}
		b, err := i2creg.Open(bus)
		if err != nil {
			c.Status, c.Detail = Fail, "not found: "+err.Error()
			c.Fix = "enable I²C (raspi-config, or dtparam=i2c_arm=on in config.txt) and check gpio.gauge.bus"
		} else {
			b.Close()
			c.Detail = fmt.Sprintf("present (battery gauge at %#x)", d.cfg.GPIO.Gauge.Addr)
		}
		out = append(out, c)
	}
	return out
}
