package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/devices"
	"vakt/hub"
)

// deviceRow is one device on the devices page: where it is and how it is.
type deviceRow struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Driver      string    `json:"driver"`
	Model       string    `json:"model,omitempty"`
	Kind        string    `json:"kind"`
	Zone        int       `json:"zone,omitempty"`
	ZoneType    string    `json:"zone_type,omitempty"`
	Area        int       `json:"area,omitempty"`
	AreaName    string    `json:"area_name,omitempty"`
	Battery     *int      `json:"battery,omitempty"`
	LinkQuality *int      `json:"link_quality,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Missing     bool      `json:"missing,omitempty"`
	Tamper      bool      `json:"tamper,omitempty"`
	Fault       bool      `json:"fault,omitempty"`
	BatteryLow  bool      `json:"battery_low,omitempty"`
	Malformed   int       `json:"malformed,omitempty"`
	Dropped     int       `json:"dropped,omitempty"`
}

// devicesView is the devices page's data.
type devicesView struct {
	Devices   []deviceRow `json:"devices"`
	Areas     []hub.Area  `json:"-"`
	ZoneTypes []string    `json:"-"`
	// MayChange shows the forms: an admin, or an installer while granted.
	MayChange bool `json:"-"`
	formNotice
}

// zoneTypes are the zone types an installer may choose.
func zoneTypes() []string {
	var out []string
	for t := hub.ZoneType(1); ; t++ {
		n := t.String()
		if strings.HasPrefix(n, "zonetype(") {
			return out
		}
		out = append(out, n)
	}
}

// deviceRows lists the installation's devices with their zone, area and health.
func (s *Server) deviceRows() []deviceRow {
	snap := s.hub.Snapshot()
	inst := snap.Installation
	var health map[string]devices.Health
	if s.dev != nil {
		health = s.dev.Health()
	}
	rows := []deviceRow{}
	for _, d := range inst.Devices {
		r := deviceRow{ID: d.ID, Name: d.Name, Driver: d.Driver, Model: d.Model, Kind: d.Kind, Area: d.Area}
		if r.Kind == "" {
			r.Kind = "sensor"
		}
		if i := slices.IndexFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == d.ID }); i >= 0 {
			z := inst.Zones[i]
			r.Zone, r.ZoneType, r.Area = z.Number, z.Type.String(), z.Area
		}
		for _, a := range inst.Areas {
			if a.Number == r.Area {
				r.AreaName = a.Name
			}
		}
		if h, ok := health[d.ID]; ok {
			r.Battery, r.LinkQuality, r.Temperature, r.LastSeen = h.Battery, h.LinkQuality, h.Temperature, h.LastSeen
			r.Missing, r.Malformed, r.Dropped = h.Missing, h.Malformed, h.Dropped
		}
		for _, st := range snap.State.Devices {
			if st.ID == d.ID {
				r.Missing = r.Missing || st.Missing
				r.Tamper, r.Fault, r.BatteryLow = st.Tamper, st.Fault, st.BatteryLow
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func (s *Server) devicesPage(c *fiber.Ctx) error {
	return s.renderDevices(c, http.StatusOK, formNotice{})
}

func (s *Server) renderDevices(c *fiber.Ctx, status int, n formNotice) error {
	v := devicesView{Devices: s.deviceRows(), Areas: s.hub.Snapshot().Installation.Areas, ZoneTypes: zoneTypes(), formNotice: n}
	if r := sess(c).role; r == hub.RoleAdmin || r == hub.RoleInstaller && s.installerActive(c) == nil {
		v.MayChange = true
	}
	return s.render(c, status, "devices", page{Title: translate(lang(c), "devices"), Data: v})
}

func (s *Server) apiDeviceList(c *fiber.Ctx) error { return c.JSON(s.deviceRows()) }

// deviceEdit is a change to a device: its name, and its zone's number, area and type.
// Zero or empty fields are left as they are.
type deviceEdit struct {
	Name     string `json:"name"`
	Zone     int    `json:"zone"`
	Area     int    `json:"area"`
	ZoneType string `json:"zone_type"`
	PIN      string `json:"pin"`
}

// editDevice renames or moves a device through the hub.
func (s *Server) editDevice(c *fiber.Ctx, id string, e deviceEdit) error {
	e.Name = strings.TrimSpace(e.Name)
	if len(e.Name) > 64 || e.Zone < 0 || e.Area < 0 {
		return invalid("device")
	}
	var zt hub.ZoneType
	if e.ZoneType != "" {
		if err := zt.UnmarshalText([]byte(e.ZoneType)); err != nil {
			return invalid("zone_type")
		}
	}
	return s.configure(c, e.PIN, "device "+id+" changed in the web UI", func(inst *hub.Installation) error {
		i := slices.IndexFunc(inst.Devices, func(d hub.Device) bool { return d.ID == id })
		if i < 0 {
			return hub.ErrUnknownDevice
		}
		d := &inst.Devices[i]
		if e.Name != "" {
			d.Name = e.Name
		}
		zi := slices.IndexFunc(inst.Zones, func(z hub.Zone) bool { return z.Device == id })
		if zi < 0 {
			if e.Zone == 0 || zt == 0 {
				if e.Area != 0 {
					d.Area = e.Area
				}
				return nil
			}
			// A device without a zone gets one when given a number and a type.
			inst.Zones = append(inst.Zones, hub.Zone{Number: e.Zone, Name: d.Name, Area: max(e.Area, d.Area, 1), Type: zt, Device: id})
			return nil
		}
		z := &inst.Zones[zi]
		if e.Name != "" {
			z.Name = e.Name
		}
		if e.Zone != 0 {
			z.Number = e.Zone
		}
		if e.Area != 0 {
			z.Area = e.Area
		}
		if zt != 0 {
			z.Type = zt
		}
		return nil
	})
}

func (s *Server) formDeviceEdit(c *fiber.Ctx) (deviceEdit, error) {
	e := deviceEdit{Name: c.FormValue("name"), ZoneType: c.FormValue("zone_type"), PIN: c.FormValue("pin")}
	for _, f := range []struct {
		name string
		to   *int
	}{{"zone", &e.Zone}, {"area", &e.Area}} {
		if v := strings.TrimSpace(c.FormValue(f.name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1<<16 {
				return e, invalid(f.name)
			}
			*f.to = n
		}
	}
	return e, nil
}

func (s *Server) deviceEditPost(c *fiber.Ctx) error {
	e, err := s.formDeviceEdit(c)
	if err != nil {
		return err
	}
	if err := s.editDevice(c, strings.Clone(c.Params("id")), e); err != nil {
		return s.fail(c, err, func(n formNotice) error { return s.renderDevices(c, http.StatusBadRequest, n) })
	}
	return c.Redirect("/devices", http.StatusSeeOther)
}

func (s *Server) deviceRemovePost(c *fiber.Ctx) error {
	if s.dev == nil {
		return fiber.ErrServiceUnavailable
	}
	if err := configErr(s.dev.Remove(c.UserContext(), sess(c).credential(c.FormValue("pin")), strings.Clone(c.Params("id")))); err != nil {
		return s.fail(c, err, func(n formNotice) error { return s.renderDevices(c, http.StatusBadRequest, n) })
	}
	return c.Redirect("/devices", http.StatusSeeOther)
}

func (s *Server) apiDeviceEdit(c *fiber.Ctx) error {
	var e deviceEdit
	if err := body(c, &e); err != nil {
		return err
	}
	if err := s.editDevice(c, strings.Clone(c.Params("id")), e); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiDeviceList(c)
}

func (s *Server) apiDeviceRemove(c *fiber.Ctx) error {
	if s.dev == nil {
		return fiber.ErrServiceUnavailable
	}
	var r struct {
		PIN string `json:"pin"`
	}
	if len(c.Body()) > 0 {
		if err := body(c, &r); err != nil {
			return err
		}
	}
	if err := configErr(s.dev.Remove(c.UserContext(), sess(c).credential(r.PIN), strings.Clone(c.Params("id")))); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiDeviceList(c)
}
