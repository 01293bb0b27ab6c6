package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/devices"
	"vakt/hub"
	"vakt/uplink"
)

// testTimeout bounds how long the transmission test waits for the receivers' answers.
const testTimeout = 20 * time.Second

// installerView is the installer tools' data: pairing, discovered devices, settings, walk
// test and service mode, and the monitoring station.
type installerView struct {
	Now        time.Time               `json:"now"`
	Pairing    devices.PairingStatus   `json:"pairing"`
	Discovered []devices.Discovered    `json:"discovered"`
	Settings   settingsForm            `json:"settings"`
	WalkUntil  time.Time               `json:"walk_until,omitzero"`
	Walk       []walkActivation        `json:"walk"`
	AreaRows   []areaRow               `json:"areas"`
	ActionPlan []contactRow            `json:"action_plan"`
	Roles      []string                `json:"-"`
	Service    []serviceArea           `json:"service"`
	Station    []uplink.ReceiverStatus `json:"station"`
	HasStation bool                    `json:"has_station"`
	Test       *uplink.TestResult      `json:"test,omitempty"`
	Broker     *Broker                 `json:"broker,omitempty"`
	HomeKit    *homekitView            `json:"homekit,omitempty"`
	// HomeKitReset says the page follows a reset of the pairings.
	HomeKitReset bool       `json:"-"`
	Areas        []hub.Area `json:"-"`
	ZoneTypes    []string   `json:"-"`
	Reasons      []string   `json:"-"`
	HasDevices   bool       `json:"-"`
	Imported     bool       `json:"-"`
	formNotice
}

// serviceArea is an area's service mode.
type serviceArea struct {
	Number int       `json:"number"`
	Name   string    `json:"name"`
	Until  time.Time `json:"until,omitzero"`
}

// settingsForm is hub.Settings as the form shows it: durations as text, empty when unset.
type settingsForm struct {
	ExitDelay    string   `json:"exit_delay"`
	EntryDelay   string   `json:"entry_delay"`
	BellCutoff   string   `json:"bell_cutoff"`
	AbortWindow  string   `json:"abort_window"`
	CancelWindow string   `json:"cancel_window"`
	MainsDelay   string   `json:"mains_report_delay"`
	SwingerLimit int      `json:"swinger_limit"`
	Prevent      []string `json:"prevent_arming_on"`
}

// Prevents says whether arming is prevented on reason kind k.
func (f settingsForm) Prevents(k string) bool { return slices.Contains(f.Prevent, k) }

func durText(d *hub.Duration) string {
	if d == nil {
		return ""
	}
	return d.D().String()
}

// granted wraps an installer tool: an installer only while granted, an admin always.
func (s *Server) granted(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.installerActive(c); err != nil {
			return err
		}
		return h(c)
	}
}

func (s *Server) installerView(n formNotice) installerView {
	snap := s.hub.Snapshot()
	inst, st := snap.Installation, &snap.State
	now := s.now()
	v := installerView{Now: now, Discovered: []devices.Discovered{}, Station: []uplink.ReceiverStatus{}, Areas: inst.Areas,
		ZoneTypes: zoneTypes(), formNotice: n, HasDevices: s.dev != nil, Broker: s.mqtt}
	if s.dev != nil {
		v.Pairing = s.dev.Pairing(now)
		if d := s.dev.Discovered(); d != nil {
			v.Discovered = d
		}
	}
	set := inst.Settings
	v.Settings = settingsForm{ExitDelay: durText(set.ExitDelay), EntryDelay: durText(set.EntryDelay), BellCutoff: durText(set.BellCutoff),
		AbortWindow: durText(set.AbortWindow), CancelWindow: durText(set.CancelAfter), MainsDelay: durText(set.MainsDelay),
		SwingerLimit: set.SwingerLimit, Prevent: set.PreventArmingOn}
	if v.Settings.Prevent == nil {
		v.Settings.Prevent = hub.DefaultPreventArmingOn
	}
	for _, k := range hub.ReasonKinds {
		if k != "open_zone" {
			v.Reasons = append(v.Reasons, k)
		}
	}
	v.AreaRows = areaRows(inst)
	v.ActionPlan, v.Roles = contactRows(inst), hub.ContactRoles
	v.Walk = []walkActivation{}
	if now.Before(st.WalkUntil) {
		v.WalkUntil = st.WalkUntil
		v.Walk = s.walkActivations()
	}
	for _, a := range inst.Areas {
		sa := serviceArea{Number: a.Number, Name: a.Name}
		for _, as := range st.Areas {
			if as.Number == a.Number && now.Before(as.ServiceUntil) {
				sa.Until = as.ServiceUntil
			}
		}
		v.Service = append(v.Service, sa)
	}
	if s.up != nil {
		v.HasStation = true
		v.Station = s.up.Status()
	}
	if hk, err := s.homekitView(); err != nil {
		s.log.Warn("HomeKit card", "error", err)
	} else {
		v.HomeKit = hk
	}
	return v
}

func (s *Server) installerPage(c *fiber.Ctx) error {
	return s.renderInstaller(c, http.StatusOK, installerView{Imported: c.Query("imported") == "1", HomeKitReset: c.Query("homekit") == "reset"}, formNotice{})
}

// renderInstaller shows the tools; a transmission test's answer rides along in with.
func (s *Server) renderInstaller(c *fiber.Ctx, status int, with installerView, n formNotice) error {
	v := s.installerView(n)
	v.Test = with.Test
	v.Imported = with.Imported
	v.HomeKitReset = with.HomeKitReset
	return s.render(c, status, "installer", page{Title: translate(lang(c), "installer"), Data: v})
}

func (s *Server) apiInstaller(c *fiber.Ctx) error { return c.JSON(s.installerView(formNotice{})) }

func (s *Server) again(c *fiber.Ctx) func(formNotice) error {
	return func(n formNotice) error { return s.renderInstaller(c, http.StatusBadRequest, installerView{}, n) }
}

// engineErr maps the engine's refusals of tools to what the user sees.
func engineErr(err error) error {
	switch {
	case errors.Is(err, hub.ErrWalkTestArmed), errors.Is(err, hub.ErrServiceArmed):
		return &badInput{key: "disarm_first", what: err.Error()}
	case errors.Is(err, devices.ErrPairing):
		return invalid("pairing")
	case errors.Is(err, devices.ErrNotDiscovered):
		return fiber.ErrNotFound
	}
	return err
}

// startPairing opens pairing for minutes on driver ("" every driver) for area.
func (s *Server) startPairing(c *fiber.Ctx, driver string, area int, minutes float64) error {
	if s.dev == nil {
		return fiber.ErrServiceUnavailable
	}
	if minutes <= 0 || minutes > 10 || area < 0 || len(driver) > 64 {
		return invalid("pairing")
	}
	d := time.Duration(minutes * float64(time.Minute))
	s.log.Info("pairing opened", "user", sess(c).User, "driver", driver, "area", area, "for", d)
	return engineErr(s.dev.StartPairing(c.UserContext(), driver, area, d))
}

func (s *Server) pairingPost(c *fiber.Ctx) error {
	area, err := formInt(c, "area")
	if err != nil {
		return err
	}
	minutes, err := strconv.ParseFloat(c.FormValue("minutes", "2"), 64)
	if err != nil {
		return invalid("minutes")
	}
	if err := s.startPairing(c, strings.TrimSpace(c.FormValue("driver")), area, minutes); err != nil {
		return err
	}
	return c.Redirect("/installer#pairing", http.StatusSeeOther)
}

func (s *Server) apiPairing(c *fiber.Ctx) error {
	var r struct {
		Driver  string  `json:"driver"`
		Area    int     `json:"area"`
		Minutes float64 `json:"minutes"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.startPairing(c, r.Driver, r.Area, r.Minutes); err != nil {
		return err
	}
	return s.apiInstaller(c)
}

// adoptRequest adopts a discovered device into a zone.
type adoptRequest struct {
	Driver   string `json:"driver"`
	Address  string `json:"address"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Area     int    `json:"area"`
	Zone     int    `json:"zone"`
	ZoneType string `json:"zone_type"`
	Chime    bool   `json:"chime"`
	Interior bool   `json:"interior"`
	PIN      string `json:"pin"`
}

func (s *Server) adopt(c *fiber.Ctx, r adoptRequest) error {
	if s.dev == nil {
		return fiber.ErrServiceUnavailable
	}
	a := devices.Adoption{Driver: r.Driver, Address: r.Address, Name: strings.TrimSpace(r.Name), Area: r.Area, Zone: r.Zone,
		Chime: r.Chime, Interior: r.Interior}
	if r.ID = strings.TrimSpace(r.ID); r.ID != "" {
		if a.ID = userID(r.ID); a.ID == "" {
			return invalid("id")
		}
	} else if a.Name != "" {
		a.ID = userID(a.Name)
	}
	if r.Driver == "" || r.Address == "" || r.Area < 0 || r.Zone < 0 || len(a.Name) > 64 {
		return invalid("device")
	}
	if r.ZoneType != "" {
		if err := a.ZoneType.UnmarshalText([]byte(r.ZoneType)); err != nil {
			return invalid("zone_type")
		}
	}
	return engineErr(configErr(s.dev.Adopt(c.UserContext(), sess(c).credential(r.PIN), a)))
}

func (s *Server) adoptPost(c *fiber.Ctx) error {
	r := adoptRequest{Driver: c.FormValue("driver"), Address: c.FormValue("address"), ID: c.FormValue("id"), Name: c.FormValue("name"),
		ZoneType: c.FormValue("zone_type"), Chime: c.FormValue("chime") != "", Interior: c.FormValue("interior") != "", PIN: c.FormValue("pin")}
	var err error
	if r.Area, err = formInt(c, "area"); err != nil {
		return err
	}
	if v := strings.TrimSpace(c.FormValue("zone")); v != "" {
		if r.Zone, err = formInt(c, "zone"); err != nil {
			return err
		}
	}
	if err := s.adopt(c, r); err != nil {
		return s.fail(c, err, s.again(c))
	}
	return c.Redirect("/devices", http.StatusSeeOther)
}

func (s *Server) apiAdopt(c *fiber.Ctx) error {
	var r adoptRequest
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.adopt(c, r); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiDeviceList(c)
}

// parseSettings reads the settings form into hub.Settings; empty durations are unset.
func parseSettings(f settingsForm, old hub.Settings) (hub.Settings, error) {
	set := old
	for _, d := range []struct {
		name string
		text string
		to   **hub.Duration
	}{{"exit_delay", f.ExitDelay, &set.ExitDelay}, {"entry_delay", f.EntryDelay, &set.EntryDelay}, {"bell_cutoff", f.BellCutoff, &set.BellCutoff},
		{"abort_window", f.AbortWindow, &set.AbortWindow}, {"cancel_window", f.CancelWindow, &set.CancelAfter}, {"mains_report_delay", f.MainsDelay, &set.MainsDelay}} {
		t := strings.TrimSpace(d.text)
		if t == "" {
			*d.to = nil
			continue
		}
		v, err := time.ParseDuration(t)
		if err != nil {
			return set, invalid(d.name)
		}
		*d.to = hub.NewDuration(v)
	}
	set.SwingerLimit = f.SwingerLimit
	set.PreventArmingOn = slices.Clone(f.Prevent)
	if set.PreventArmingOn == nil {
		set.PreventArmingOn = []string{}
	}
	return set, nil
}

// saveSettings changes the installation's settings through the hub; Validate's refusal is
// shown as it is.
func (s *Server) saveSettings(c *fiber.Ctx, f settingsForm, pin string) error {
	set, err := parseSettings(f, s.hub.Snapshot().Installation.Settings)
	if err != nil {
		return err
	}
	return s.configure(c, pin, "settings changed in the web UI", func(inst *hub.Installation) error {
		inst.Settings = set
		return nil
	})
}

func (s *Server) settingsPost(c *fiber.Ctx) error {
	f := settingsForm{ExitDelay: c.FormValue("exit_delay"), EntryDelay: c.FormValue("entry_delay"), BellCutoff: c.FormValue("bell_cutoff"),
		AbortWindow: c.FormValue("abort_window"), CancelWindow: c.FormValue("cancel_window"), MainsDelay: c.FormValue("mains_report_delay"),
		Prevent: []string{}}
	if v := strings.TrimSpace(c.FormValue("swinger_limit")); v != "" {
		n, err := formInt(c, "swinger_limit")
		if err != nil {
			return err
		}
		f.SwingerLimit = n
	}
	for _, b := range c.Request().PostArgs().PeekMulti("prevent_arming_on") {
		f.Prevent = append(f.Prevent, string(b))
	}
	if err := s.saveSettings(c, f, c.FormValue("pin")); err != nil {
		return s.fail(c, err, s.again(c))
	}
	return c.Redirect("/installer#settings", http.StatusSeeOther)
}

func (s *Server) apiSettings(c *fiber.Ctx) error {
	var f settingsForm
	if err := body(c, &f); err != nil {
		return err
	}
	if err := s.saveSettings(c, f, ""); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiInstaller(c)
}

// toolRequest starts or ends a walk test or service mode.
type toolRequest struct {
	On      bool    `json:"on"`
	Area    int     `json:"area"`
	Minutes float64 `json:"minutes"`
	PIN     string  `json:"pin"`
}

func (s *Server) tool(c *fiber.Ctx, kind hub.InputKind, r toolRequest) error {
	if r.Minutes < 0 || r.Minutes > 24*60 || r.Area < 0 {
		return invalid("minutes")
	}
	in := sess(c).credential(r.PIN)
	in.Kind, in.Active, in.Area, in.Duration = kind, r.On, r.Area, time.Duration(r.Minutes*float64(time.Minute))
	return engineErr(s.do(c, in))
}

func formTool(c *fiber.Ctx) (toolRequest, error) {
	r := toolRequest{On: c.FormValue("on") == "1", PIN: c.FormValue("pin")}
	if v := c.FormValue("area"); v != "" {
		n, err := formInt(c, "area")
		if err != nil {
			return r, err
		}
		r.Area = n
	}
	if v := c.FormValue("minutes"); v != "" {
		m, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return r, invalid("minutes")
		}
		r.Minutes = m
	}
	return r, nil
}

func (s *Server) toolPost(kind hub.InputKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		r, err := formTool(c)
		if err != nil {
			return err
		}
		if err := s.tool(c, kind, r); err != nil {
			return err
		}
		return c.Redirect("/installer#tests", http.StatusSeeOther)
	}
}

func (s *Server) apiTool(kind hub.InputKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var r toolRequest
		if err := body(c, &r); err != nil {
			return err
		}
		if err := s.tool(c, kind, r); err != nil {
			return err
		}
		return s.apiInstaller(c)
	}
}

func (s *Server) walkTestPost(c *fiber.Ctx) error   { return s.toolPost(hub.InWalkTest)(c) }
func (s *Server) servicePost(c *fiber.Ctx) error    { return s.toolPost(hub.InServiceMode)(c) }
func (s *Server) apiWalkTest(c *fiber.Ctx) error    { return s.apiTool(hub.InWalkTest)(c) }
func (s *Server) apiServiceMode(c *fiber.Ctx) error { return s.apiTool(hub.InServiceMode)(c) }

// transmissionTest logs a manual test report and waits for every receiver's answer.
func (s *Server) transmissionTest(c *fiber.Ctx, pin string) (*uplink.TestResult, error) {
	in := sess(c).credential(pin)
	in.Kind = hub.InManualTest
	res := s.hub.Do(c.UserContext(), in)
	if res.Err != nil && !errors.Is(res.Err, hub.ErrNotDurable) {
		return nil, res.Err
	}
	var seq uint64
	for _, e := range res.Events {
		if e.Kind == hub.KindManualTest {
			seq = e.Seq
		}
	}
	if s.up == nil || seq == 0 {
		return &uplink.TestResult{Seq: seq, Receivers: []uplink.ReceiverResult{}}, nil
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), testTimeout)
	defer cancel()
	tr, err := s.up.AwaitTest(ctx, seq)
	if err != nil {
		return nil, err
	}
	return &tr, nil
}

func (s *Server) testPost(c *fiber.Ctx) error {
	tr, err := s.transmissionTest(c, c.FormValue("pin"))
	if err != nil {
		return err
	}
	return s.renderInstaller(c, http.StatusOK, installerView{Test: tr}, formNotice{Done: true})
}

func (s *Server) apiTransmissionTest(c *fiber.Ctx) error {
	tr, err := s.transmissionTest(c, "")
	if err != nil {
		return err
	}
	return c.JSON(tr)
}

// export downloads the installation as YAML: codes and tags only as their hashes, never
// the code key.
func (s *Server) export(c *fiber.Ctx) error {
	// An admin's export is the whole installation; the installer's leaves out the family's
	// web password hashes (hub.MarshalInstallationNoPasswords says why the codes stay).
	marshal := hub.MarshalInstallation
	if sess(c).role != hub.RoleAdmin {
		marshal = hub.MarshalInstallationNoPasswords
	}
	b, err := marshal(s.hub.Snapshot().Installation)
	if err != nil {
		return err
	}
	s.log.Info("installation exported", "user", sess(c).User, "role", sess(c).role.String())
	c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="installation.yaml"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b)
}

// walkActivation is one device the walk test heard, as the installer tools list it.
type walkActivation struct {
	Time time.Time `json:"time"`
	Area int       `json:"area"`
	Zone int       `json:"zone"`
	Name string    `json:"name"`
}

// maxWalkShown bounds the activations listed; the history keeps them all.
const maxWalkShown = 200

// walkActivations lists the running walk test's activations, newest first: the history
// back to the walk test's start.
func (s *Server) walkActivations() []walkActivation {
	out := []walkActivation{}
	evs, err := s.hub.Store().History(0, 4*maxWalkShown)
	if err != nil {
		s.log.Warn("walk test activations", "error", err)
		return out
	}
	for _, ev := range evs {
		if ev.Kind == hub.KindWalkTest && !ev.Restore {
			break // the walk test's start
		}
		if ev.Kind != hub.KindWalkActivation || len(out) >= maxWalkShown {
			continue
		}
		name := ev.ZoneName
		if name == "" {
			name = ev.Note
		}
		out = append(out, walkActivation{Time: ev.Time, Area: ev.Area, Zone: ev.Zone, Name: name})
	}
	return out
}
