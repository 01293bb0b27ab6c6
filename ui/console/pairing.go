package console

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"vakt/devices"
	"vakt/hub"
)

const pairingHelp = `pairing (installer):
  pair [area N] [60s]           open pairing (Zigbee permit_join, 433 MHz learn mode, sim)
  new ADDRESS contact|motion|smoke|water|panic|siren|keypad   a new simulated device transmits
  discovered                    devices seen but not adopted, with the suggested zone type
  adopt ADDRESS [as ID] [area N] [type ZONETYPE] [zone N] CODE   add it (admin or granted installer)
  remove ID CODE                take a device and its zone out (admin or granted installer)
  devices                       every device with its health
  silent DEVICE [off]           a simulated device stops checking in: missing after 2 min
  switch DEVICE on|off CODE     a smart plug;  lock|unlock DEVICE CODE  a door lock
                                (CODE: a code, "tag ID" or "by USER"; every action is logged)
monitoring station (demo):
  station                       the uplink's receivers and paths: acks, polls, faults, queue
  unplug primary|backup         take a path down (failover, uplink fault); plug … brings it back
  test CODE                     transmission test: says whether and when the station acknowledged`

func (c *Console) devicesCommand(ctx context.Context, f []string) error {
	switch f[0] {
	case "pair":
		area, d := 1, 60*time.Second
		for i := 1; i < len(f); i++ {
			switch {
			case f[i] == "area" && i+1 < len(f):
				n, err := strconv.Atoi(f[i+1])
				if err != nil {
					return fmt.Errorf("area %q is not a number", f[i+1])
				}
				area, i = n, i+1
			default:
				v, err := time.ParseDuration(f[i])
				if err != nil {
					return fmt.Errorf("pair: %q is neither area N nor a duration such as 60s", f[i])
				}
				d = v
			}
		}
		if err := c.mgr.StartPairing(ctx, "", area, d); err != nil {
			return err
		}
		c.printf("  📡 pairing open for area %d for %s\n", area, d)
	case "new":
		if len(f) != 3 {
			return fmt.Errorf("new ADDRESS TYPE")
		}
		caps := map[string][]devices.Capability{
			"contact": {devices.CapContact, devices.CapTamper, devices.CapBattery},
			"motion":  {devices.CapMotion, devices.CapTamper, devices.CapBattery},
			"smoke":   {devices.CapSmoke, devices.CapBattery},
			"water":   {devices.CapWater, devices.CapBattery},
			"panic":   {devices.CapPanic},
			"siren":   {devices.CapSiren},
			"keypad":  {devices.CapKeypad},
		}[f[2]]
		if caps == nil {
			return fmt.Errorf("new %s: unknown type %q", f[1], f[2])
		}
		if !c.mgr.Pairing(c.now()).Active {
			c.printf("  (pairing is closed: vakt notes the transmission but offers nothing; type pair first)\n")
		}
		c.sim.Announce(f[1], "sim-"+f[2], caps)
	case "discovered":
		ds := c.mgr.Discovered()
		if len(ds) == 0 {
			c.printf("  nothing discovered (pair, then new ADDRESS TYPE)\n")
		}
		for _, d := range ds {
			c.printf("  %s %s model %s caps %v → suggested %s\n", d.Driver, d.Address, d.Model, d.Caps, d.Suggested)
		}
	case "adopt":
		if len(f) < 3 {
			return fmt.Errorf("adopt ADDRESS [as ID] [area N] [type ZONETYPE] [zone N] CREDENTIAL")
		}
		a := devices.Adoption{Address: f[1]}
		for _, d := range c.mgr.Discovered() {
			if d.Address == f[1] {
				a.Driver = d.Driver
			}
		}
		if a.Driver == "" {
			return fmt.Errorf("adopt %s: %w", f[1], devices.ErrNotDiscovered)
		}
		var cred []string
	options:
		for i := 2; i < len(f); i += 2 {
			if i+1 >= len(f) {
				cred = f[i:]
				break
			}
			switch f[i] {
			case "as":
				a.ID = f[i+1]
			case "area", "zone":
				n, err := strconv.Atoi(f[i+1])
				if err != nil {
					return fmt.Errorf("%s %q is not a number", f[i], f[i+1])
				}
				if f[i] == "area" {
					a.Area = n
				} else {
					a.Zone = n
				}
			case "type":
				if err := a.ZoneType.UnmarshalText([]byte(f[i+1])); err != nil {
					return err
				}
			default:
				cred = f[i:]
				break options
			}
		}
		by, err := hub.ParseCredential(cred)
		if err != nil {
			return fmt.Errorf("adopt: %w (an admin's or a granted installer's code, tag or \"by USER\")", err)
		}
		if err := c.mgr.Adopt(ctx, by, a); err != nil {
			return err
		}
	case "remove":
		if len(f) < 3 {
			return fmt.Errorf("remove ID CREDENTIAL")
		}
		by, err := hub.ParseCredential(f[2:])
		if err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		return c.mgr.Remove(ctx, by, f[1])
	case "silent":
		if len(f) < 2 {
			return fmt.Errorf("silent DEVICE [off]")
		}
		c.sim.Silence(f[1], len(f) < 3 || f[2] != "off")
	case "devices":
		c.printf("%s", deviceList(c.hub.Snapshot(), c.mgr.Health()))
	case "switch":
		if len(f) < 4 || (f[2] != "on" && f[2] != "off") {
			return fmt.Errorf("switch DEVICE on|off CREDENTIAL")
		}
		by, err := hub.ParseCredential(f[3:])
		if err != nil {
			return fmt.Errorf("switch: %w", err)
		}
		return c.mgr.Switch(ctx, by, f[1], f[2] == "on")
	case "lock", "unlock":
		if len(f) < 3 {
			return fmt.Errorf("%s DEVICE CREDENTIAL", f[0])
		}
		by, err := hub.ParseCredential(f[2:])
		if err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
		return c.mgr.Lock(ctx, by, f[1], f[0] == "lock")
	}
	return nil
}

func deviceList(s *hub.Snapshot, health map[string]devices.Health) string {
	zones := map[string]hub.Zone{}
	for _, z := range s.Installation.Zones {
		zones[z.Device] = z
	}
	ids := make([]string, 0, len(s.Installation.Devices))
	byID := map[string]hub.Device{}
	for _, d := range s.Installation.Devices {
		ids = append(ids, d.ID)
		byID[d.ID] = d
	}
	sort.Strings(ids)
	out := ""
	for _, id := range ids {
		d := byID[id]
		line := fmt.Sprintf("  %-16s %-8s %-12s", d.ID, d.Driver, d.Model)
		if z, ok := zones[id]; ok {
			line += fmt.Sprintf(" zone %d %s area %d", z.Number, z.Type, z.Area)
		} else if d.Kind != "" {
			line += fmt.Sprintf(" %s area %d", d.Kind, d.Area)
		}
		if h, ok := health[id]; ok {
			if !h.LastSeen.IsZero() {
				line += " seen " + h.LastSeen.Format("15:04:05")
			}
			if h.Battery != nil {
				line += fmt.Sprintf(" battery %d%%", *h.Battery)
			}
			if h.Temperature != nil {
				line += fmt.Sprintf(" %.1f°C", *h.Temperature)
			}
			if h.Missing {
				line += " MISSING"
			}
			if h.Malformed > 0 {
				line += fmt.Sprintf(" malformed %d", h.Malformed)
			}
			if h.Dropped > 0 {
				line += fmt.Sprintf(" dropped %d", h.Dropped)
			}
		}
		out += line + "\n"
	}
	return out
}
