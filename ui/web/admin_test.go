package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/devices/sim"
	"vakt/hub"
	"vakt/uplink"
)

// withSim adds a simulator driver to the rig's device manager, for pairing.
func (r *rig) withSim() *sim.Sim {
	s := sim.New(r.s.dev, io.Discard)
	r.s.dev.AddDriver(s)
	return s
}

// api makes a JSON request as c with its CSRF token.
func (r *rig) api(c client, method, path, body string) (*http.Response, string) {
	r.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, c.csrf)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	return r.do(req)
}

// grant gives ivan installer access as anna, through the users page.
func (r *rig) grant(anna client, hours string) {
	r.t.Helper()
	if res, body := r.req(anna, "POST", "/users/installer", anna.form("hours", hours)); res.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("grant: %d %s", res.StatusCode, body)
	}
}

// lastChange is the newest config change in the history.
func (r *rig) lastChange() hub.Event {
	r.t.Helper()
	evs, err := r.h.Store().Events(0, 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == hub.KindConfigChange {
			return evs[i]
		}
	}
	r.t.Fatal("no config change in the history")
	return hub.Event{}
}

var alertRE = regexp.MustCompile(`role="alert">([^<]*)<`)

func alertText(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func zoneOf(inst *hub.Installation, device string) *hub.Zone {
	for i := range inst.Zones {
		if inst.Zones[i].Device == device {
			return &inst.Zones[i]
		}
	}
	return nil
}

func TestServer_DevicesPage(t *testing.T) {
	r := newRig(t)
	anna, erik, ivan := r.login("anna"), r.login("erik"), r.login("ivan")
	r.s.dev.Report(devices.Report{Driver: "sim", Address: "front_door", Battery: ptr(87), LinkQuality: ptr(140)})
	r.s.dev.Malformed("sim", "front_door", io.ErrUnexpectedEOF)
	if err := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "garage_door", Signal: hub.SignalTamper, Active: true}).Err; err != nil {
		t.Fatal(err)
	}
	// Everyone reads; only an admin (or a granted installer) gets the forms.
	res, body := r.req(erik, "GET", "/devices", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "Front door") || !strings.Contains(body, "87 %") || strings.Contains(body, `action="/devices/front_door/edit"`) {
		t.Fatalf("devices as erik: %d %s", res.StatusCode, body)
	}
	_, body = r.req(anna, "GET", "/devices", nil)
	if !strings.Contains(body, `action="/devices/front_door/edit"`) || !strings.Contains(body, "tamper") {
		t.Fatalf("devices as anna: %s", body)
	}
	res, body = r.api(erik, "GET", "/api/v1/devices/detail", "")
	var rows []deviceRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil || res.StatusCode != 200 {
		t.Fatalf("API: %d %s", res.StatusCode, body)
	}
	for _, d := range rows {
		if d.ID == "front_door" && (d.Zone != 1 || d.Battery == nil || *d.Battery != 87 || d.LinkQuality == nil || d.Malformed != 1) {
			t.Errorf("front door row %+v", d)
		}
		if d.ID == "garage_door" && !d.Tamper {
			t.Errorf("garage door row %+v", d)
		}
	}

	// Rename and move; logged as anna's change through the web.
	res, body = r.req(anna, "POST", "/devices/front_door/edit", anna.form("name", "Entrance", "zone", "20", "area", "2", "zone_type", "instant"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", res.StatusCode, body)
	}
	inst := r.h.Snapshot().Installation
	if z := zoneOf(inst, "front_door"); z == nil || z.Number != 20 || z.Area != 2 || z.Type != hub.ZoneInstant || z.Name != "Entrance" {
		t.Fatalf("zone after edit: %+v", z)
	}
	if e := r.lastChange(); e.User != "anna" || e.How != hub.HowWeb {
		t.Fatalf("change logged as %+v", e)
	}
	// Refusals: a taken zone number (Validate's words), a bad type, an unknown device.
	res, body = r.req(anna, "POST", "/devices/front_door/edit", anna.form("zone", "3"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(alertText(body), "zone") {
		t.Fatalf("taken zone number: %d %q", res.StatusCode, alertText(body))
	}
	if res, _ := r.req(anna, "POST", "/devices/front_door/edit", anna.form("zone_type", "volcano")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad zone type: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "POST", "/devices/front_door/edit", anna.form("zone", "x")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad zone number: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "POST", "/devices/nothing/edit", anna.form("name", "x")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown device: %d", res.StatusCode)
	}
	// The installer once granted; by the API.
	r.grant(anna, "1")
	res, body = r.api(ivan, "POST", "/api/v1/devices/garage_motion", `{"name":"Garage PIR"}`)
	if res.StatusCode != 200 || !strings.Contains(body, "Garage PIR") {
		t.Fatalf("API edit as the installer: %d %s", res.StatusCode, body)
	}
	if e := r.lastChange(); e.User != "ivan" || e.How != hub.HowWeb {
		t.Fatalf("change logged as %+v", e)
	}
	res, body = r.api(ivan, "POST", "/api/v1/devices/garage_motion", `{"zone":3}`)
	var eb errorBody
	if json.Unmarshal([]byte(body), &eb); res.StatusCode != http.StatusBadRequest || eb.Code != "invalid_installation" || eb.Error == "" {
		t.Fatalf("API taken zone: %d %s", res.StatusCode, body)
	}
	// Remove.
	if res, body := r.req(anna, "POST", "/devices/garage_smoke/remove", anna.form()); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", res.StatusCode, body)
	}
	if res, _ := r.api(ivan, "POST", "/api/v1/devices/bathroom_water/remove", ""); res.StatusCode != 200 {
		t.Fatalf("API remove: %d", res.StatusCode)
	}
	inst = r.h.Snapshot().Installation
	for _, d := range inst.Devices {
		if d.ID == "garage_smoke" || d.ID == "bathroom_water" {
			t.Fatalf("%s still there", d.ID)
		}
	}
	if zoneOf(inst, "garage_smoke") != nil {
		t.Fatal("the removed device's zone is still there")
	}
	if res, _ := r.req(erik, "POST", "/devices/front_door/remove", erik.form()); res.StatusCode != http.StatusForbidden {
		t.Fatalf("remove as a user: %d", res.StatusCode)
	}
}

func ptr[T any](v T) *T { return &v }

func TestServer_UsersPage(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	key := r.h.Snapshot().Installation.CodeKey
	res, body := r.req(anna, "GET", "/users", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "Ivan (installer)") || !strings.Contains(body, `action="/users/erik/edit"`) {
		t.Fatalf("users: %d %s", res.StatusCode, body)
	}
	// Add a limited user with a PIN, a tag, a duress code, an area and a window.
	res, body = r.req(anna, "POST", "/users", anna.form("name", "Maja", "role", "limited", "pins", "4444", "tags", "04A1B2", "duress", "9911",
		"has_areas", "1", "areas", "1", "windows", "mon,fri 07:00-17:00", "lock_slot", "5", "password", pw))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", res.StatusCode, body)
	}
	u := userByID(r.h.Snapshot().Installation, "maja")
	if u == nil || u.Role != hub.RoleLimited || len(u.Codes) != 1 || u.Codes[0] != hub.HashCredential(key, "code", "4444") ||
		u.Duress != hub.HashCredential(key, "code", "9911") || len(u.Tags) != 1 || len(u.Areas) != 1 || u.LockSlot != 5 ||
		len(u.Windows) != 1 || u.Windows[0].From != 7*60 || len(u.Windows[0].Days) != 2 || !hub.CheckPassword(u.Password, pw) {
		t.Fatalf("maja: %+v", u)
	}
	if e := r.lastChange(); e.User != "anna" || e.How != hub.HowWeb {
		t.Fatalf("change logged as %+v", e)
	}
	_, body = r.req(anna, "GET", "/users", nil)
	if strings.Contains(body, u.Codes[0]) || strings.Contains(body, "9911") || !strings.Contains(body, "mon,fri 07:00-17:00") {
		t.Fatalf("the page shows a code or misses the window: %s", body)
	}
	// Another's PIN: refused, naming the users and never the code.
	res, body = r.req(anna, "POST", "/users", anna.form("name", "Eve", "role", "user", "pins", "5678"))
	if msg := alertText(body); res.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "erik") || strings.Contains(msg, "5678") {
		t.Fatalf("a taken PIN: %d %q", res.StatusCode, msg)
	}
	if userByID(r.h.Snapshot().Installation, "eve") != nil {
		t.Fatal("eve added with erik's PIN")
	}
	for _, bad := range [][]string{{"name", "Eve", "role", "boss"}, {"name", "Eve", "role", "user", "pins", "12"}, {"name", "", "role", "user"},
		{"name", "Eve", "role", "user", "has_areas", "1", "windows", "someday 25:00-26:00"}, {"name", "Eve", "role", "user", "duress", "x"}} {
		if res, _ := r.req(anna, "POST", "/users", anna.form(bad...)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400", bad, res.StatusCode)
		}
	}
	// Edit: an empty PIN field keeps the codes; a new web password signs erik in.
	erikCodes := userByID(r.h.Snapshot().Installation, "erik").Codes
	if res, body := r.req(anna, "POST", "/users/erik/edit", anna.form("name", "Erik", "role", "user", "password", "erik's new password")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", res.StatusCode, body)
	}
	if e := userByID(r.h.Snapshot().Installation, "erik"); !hub.CheckPassword(e.Password, "erik's new password") || len(e.Codes) != len(erikCodes) || e.Codes[0] != erikCodes[0] {
		t.Fatalf("erik after edit: %+v", e)
	}
	// The API: change lisa's PIN, remove maja.
	res, body = r.api(anna, "POST", "/api/v1/users/lisa", `{"pins":["2468"]}`)
	if res.StatusCode != 200 || strings.Contains(body, "2468") {
		t.Fatalf("API edit: %d %s", res.StatusCode, body)
	}
	if l := userByID(r.h.Snapshot().Installation, "lisa"); len(l.Codes) != 1 || l.Codes[0] != hub.HashCredential(key, "code", "2468") {
		t.Fatalf("lisa: %+v", l)
	}
	if res, body := r.api(anna, "POST", "/api/v1/users/nobody", `{"name":"x"}`); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
		t.Fatalf("API unknown user: %d %s", res.StatusCode, body)
	}
	if res, _ := r.req(anna, "POST", "/users/maja/remove", anna.form()); res.StatusCode != http.StatusSeeOther || userByID(r.h.Snapshot().Installation, "maja") != nil {
		t.Fatalf("remove: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "POST", "/users/anna/remove", anna.form()); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("remove oneself: %d", res.StatusCode)
	}
	// Installer access: granted for a time, logged, revoked.
	r.grant(anna, "2")
	if until := r.h.Snapshot().State.InstallerUntil; !until.Equal(r.clk.Now().Add(2 * time.Hour)) {
		t.Fatalf("installer until %v", until)
	}
	if _, body := r.req(anna, "GET", "/users", nil); !strings.Contains(body, "granted until") {
		t.Fatalf("the page does not say the grant: %s", body)
	}
	if res, body := r.api(anna, "POST", "/api/v1/installer/grant", `{"hours":0}`); res.StatusCode != 200 || r.h.Snapshot().State.InstallerUntil != (time.Time{}) {
		t.Fatalf("revoke: %d %s", res.StatusCode, body)
	}
	if res, _ := r.req(anna, "POST", "/users/installer", anna.form("hours", "500")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("grant for 500 hours: %d", res.StatusCode)
	}
}

// fakeUplink is a station with one receiver that acknowledges every test.
type fakeUplink struct{}

func (fakeUplink) Status() []uplink.ReceiverStatus {
	return []uplink.ReceiverStatus{{Name: "central", Format: "dc09", Account: "1234", Paths: []uplink.PathStatus{{Name: "primary", Network: "tcp", Addr: "192.0.2.1:9000", OK: true}}}}
}

func (fakeUplink) AwaitTest(_ context.Context, seq uint64) (uplink.TestResult, error) {
	return uplink.TestResult{Seq: seq, Receivers: []uplink.ReceiverResult{{AckInfo: uplink.AckInfo{Seq: seq, Receiver: "central", Path: "primary"}, Acked: true}}}, nil
}

func TestServer_InstallerTools(t *testing.T) {
	r := newRig(t)
	r.s.up = fakeUplink{}
	s := r.withSim()
	anna, ivan := r.login("anna"), r.login("ivan")
	if res, _ := r.req(ivan, "GET", "/installer", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("installer not granted: %d", res.StatusCode)
	}
	r.grant(anna, "4")
	res, body := r.req(ivan, "GET", "/installer", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "central") || !strings.Contains(body, "192.0.2.1:9000") {
		t.Fatalf("installer page: %d %s", res.StatusCode, body)
	}

	// Pairing: open, a device joins, adopt it into a zone.
	if res, _ := r.req(ivan, "POST", "/installer/pairing", ivan.form("area", "2", "minutes", "60")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("pairing for an hour: %d", res.StatusCode)
	}
	if res, _ := r.req(ivan, "POST", "/installer/pairing", ivan.form("area", "2", "minutes", "2", "driver", "zigbee")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("pairing on a driver that is not there: %d", res.StatusCode)
	}
	if res, body := r.req(ivan, "POST", "/installer/pairing", ivan.form("area", "2", "minutes", "2")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pairing: %d %s", res.StatusCode, body)
	}
	s.Announce("shed_pir", "motion", []devices.Capability{devices.CapMotion})
	res, body = r.api(ivan, "GET", "/api/v1/installer", "")
	var v installerView
	if err := json.Unmarshal([]byte(body), &v); err != nil || !v.Pairing.Active || len(v.Discovered) != 1 || v.Discovered[0].Suggested == 0 {
		t.Fatalf("API installer: %d %s", res.StatusCode, body)
	}
	_, body = r.req(ivan, "GET", "/installer", nil)
	if !strings.Contains(body, `data-address="shed_pir"`) || !strings.Contains(body, `class="countdown"`) {
		t.Fatalf("pairing page: %s", body)
	}
	if res, _ := r.req(ivan, "POST", "/installer/adopt", ivan.form("driver", "sim", "address", "nothing", "area", "2", "name", "x")); res.StatusCode != http.StatusNotFound {
		t.Fatalf("adopt an undiscovered device: %d", res.StatusCode)
	}
	if res, _ := r.req(ivan, "POST", "/installer/adopt", ivan.form("driver", "sim", "address", "shed_pir", "area", "2", "zone_type", "volcano")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("adopt with a bad type: %d", res.StatusCode)
	}
	res, body = r.req(ivan, "POST", "/installer/adopt", ivan.form("driver", "sim", "address", "shed_pir", "name", "Shed motion", "area", "2",
		"zone", "40", "zone_type", "follower", "chime", "1", "interior", "1"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("adopt: %d %s", res.StatusCode, body)
	}
	if z := zoneOf(r.h.Snapshot().Installation, "shed_motion"); z == nil || z.Number != 40 || z.Area != 2 || z.Type != hub.ZoneFollower || !z.Chime || !z.Interior {
		t.Fatalf("adopted zone: %+v", z)
	}
	if e := r.lastChange(); e.User != "ivan" || e.How != hub.HowWeb {
		t.Fatalf("adoption logged as %+v", e)
	}

	// Settings, with Validate's refusal shown.
	res, body = r.req(ivan, "POST", "/installer/settings", ivan.form("exit_delay", "45s", "bell_cutoff", "10m", "prevent_arming_on", "tamper", "prevent_arming_on", "mains"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d %s", res.StatusCode, body)
	}
	set := r.h.Snapshot().Installation.Settings
	if set.ExitDelay == nil || set.ExitDelay.D() != 45*time.Second || set.EntryDelay != nil || len(set.PreventArmingOn) != 2 {
		t.Fatalf("settings: %+v", set)
	}
	res, body = r.req(ivan, "POST", "/installer/settings", ivan.form("bell_cutoff", "1s"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(alertText(body), "bell_cutoff") {
		t.Fatalf("a bell cut-off of 1 s: %d %q", res.StatusCode, alertText(body))
	}
	if res, _ := r.req(ivan, "POST", "/installer/settings", ivan.form("exit_delay", "soon")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad duration: %d", res.StatusCode)
	}
	res, body = r.api(ivan, "POST", "/api/v1/installer/settings", `{"exit_delay":"30s","prevent_arming_on":["nonsense"]}`)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "nonsense") {
		t.Fatalf("API bad reason: %d %s", res.StatusCode, body)
	}

	// Walk test and service mode.
	if res, body := r.req(ivan, "POST", "/installer/walktest", ivan.form("on", "1")); res.StatusCode != http.StatusSeeOther || r.h.Snapshot().State.WalkUntil.IsZero() {
		t.Fatalf("walk test: %d %s", res.StatusCode, body)
	}
	// The activations are listed as they come, newest first, on the page and in its twin.
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, "No activations yet") {
		t.Fatalf("walk test with no activation yet:\n%s", body)
	}
	for _, dev := range []string{"front_door", "living_window"} {
		if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: dev, Signal: hub.SignalContact, Active: true}); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, "Front door") || !strings.Contains(body, "Living room window") {
		t.Fatalf("walk test activations not listed:\n%s", body)
	}
	if res, body := r.api(ivan, "GET", "/api/v1/installer", ""); res.StatusCode != 200 || strings.Index(body, "Living room window") > strings.Index(body, "Front door") {
		t.Fatalf("walk test activations in the API, newest first: %d %s", res.StatusCode, body)
	}
	for _, dev := range []string{"front_door", "living_window"} {
		r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: dev, Signal: hub.SignalContact, Active: false})
	}
	if res, _ := r.req(ivan, "POST", "/installer/walktest", ivan.form("on", "0")); res.StatusCode != http.StatusSeeOther || !r.h.Snapshot().State.WalkUntil.IsZero() {
		t.Fatalf("walk test off: %d", res.StatusCode)
	}
	if res, body := r.api(ivan, "POST", "/api/v1/installer/service", `{"area":2,"on":true,"minutes":30}`); res.StatusCode != 200 {
		t.Fatalf("service mode: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[1]; !a.ServiceUntil.Equal(r.clk.Now().Add(30 * time.Minute)) {
		t.Fatalf("service until %v", a.ServiceUntil)
	}
	if res, _ := r.req(ivan, "POST", "/installer/service", ivan.form("area", "x", "on", "1")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("service mode for area x: %d", res.StatusCode)
	}
	r.h.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowCode})
	if res, body := r.req(ivan, "POST", "/installer/walktest", ivan.form("on", "1")); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Disarm first") {
		t.Fatalf("walk test while armed: %d %s", res.StatusCode, body)
	}

	// The transmission test and its answer per receiver.
	res, body = r.req(ivan, "POST", "/installer/test", ivan.form())
	if res.StatusCode != 200 || !strings.Contains(body, "central: <span class=\"ok\">acknowledged</span> (primary)") {
		t.Fatalf("transmission test: %d %s", res.StatusCode, body)
	}
	res, body = r.api(ivan, "POST", "/api/v1/installer/test", "")
	var tr uplink.TestResult
	if err := json.Unmarshal([]byte(body), &tr); err != nil || res.StatusCode != 200 || !tr.OK() || tr.Seq == 0 {
		t.Fatalf("API transmission test: %d %s", res.StatusCode, body)
	}

	// Export.
	res, body = r.req(ivan, "GET", "/installer/installation.yaml", nil)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Disposition"), "installation.yaml") || !strings.Contains(body, "shed_motion") || strings.Contains(body, "code_key") {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}

	// Access ends when the grant does.
	r.clk.Add(5 * time.Hour)
	if res, _ := r.req(ivan, "GET", "/installer", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("after the grant: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "GET", "/installer", nil); res.StatusCode != 200 {
		t.Fatalf("admin: %d", res.StatusCode)
	}
}

// TestServer_InstallerBroker: the installer's tools show the MQTT broker (vakt's own
// account, and the named accounts without their passwords) to a granted installer and an
// admin, and to nobody else; an external broker shows its address only.
func TestServer_InstallerBroker(t *testing.T) {
	r := newRig(t)
	r.s.mqtt = &Broker{URL: "mqtt://192.0.2.7:1883", Username: "vakt", Password: "0a1b2c3d4e5f60718293a4b5", File: "/var/lib/vakt/mqtt-credentials",
		Accounts: []BrokerAccount{{Username: "z2m", Role: "zigbee2mqtt"}, {Username: "rtl", Role: "rtl_433", PasswordEnv: "RTL_MQTT_PASSWORD"}}}
	anna, ivan, erik := r.login("anna"), r.login("ivan"), r.login("erik")
	if res, body := r.req(ivan, "GET", "/installer", nil); res.StatusCode != http.StatusForbidden || strings.Contains(body, "0a1b2c3d4e5f60718293a4b5") {
		t.Fatalf("installer not granted: %d", res.StatusCode)
	}
	for _, path := range []string{"/", "/users", "/devices", "/account"} {
		if _, body := r.req(erik, "GET", path, nil); strings.Contains(body, "0a1b2c3d4e5f60718293a4b5") {
			t.Fatalf("%s shows erik the broker's password", path)
		}
	}
	if res, _ := r.req(erik, "GET", "/installer", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("erik on the installer tools: %d", res.StatusCode)
	}
	r.grant(anna, "4")
	for _, c := range []client{anna, ivan} {
		res, body := r.req(c, "GET", "/installer", nil)
		if res.StatusCode != 200 || !strings.Contains(body, `id="broker"`) || !strings.Contains(body, "mqtt://192.0.2.7:1883") ||
			!strings.Contains(body, "0a1b2c3d4e5f60718293a4b5") || !strings.Contains(body, "/var/lib/vakt/mqtt-credentials") ||
			!strings.Contains(body, `<tr data-account="z2m"><td><code>z2m</code></td><td>zigbee2mqtt</td><td>as in config.yaml</td></tr>`) ||
			!strings.Contains(body, "$RTL_MQTT_PASSWORD") {
			t.Fatalf("installer page's broker: %d %s", res.StatusCode, body)
		}
	}
	res, body := r.api(ivan, "GET", "/api/v1/installer", "")
	var v installerView
	if err := json.Unmarshal([]byte(body), &v); err != nil || res.StatusCode != 200 || v.Broker == nil || v.Broker.Password != "0a1b2c3d4e5f60718293a4b5" || len(v.Broker.Accounts) != 2 {
		t.Fatalf("API installer's broker: %d %s", res.StatusCode, body)
	}
	req := httptest.NewRequest("GET", "/installer", nil)
	req.Header.Set("Accept-Language", "sv")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: ivan.cookie})
	if _, body := r.do(req); !strings.Contains(body, "MQTT-broker") || !strings.Contains(body, "som i config.yaml") {
		t.Fatalf("in Swedish: %s", body)
	}
	r.s.mqtt = &Broker{URL: "mqtt://broker.lan:1883", External: true}
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, "mqtt://broker.lan:1883") || !strings.Contains(body, "An external broker") || strings.Contains(body, "data-account") {
		t.Fatalf("external broker: %s", body)
	}
}

// TestServer_WebNoPIN: a signed-in user arms and disarms on the panel without a PIN only
// where the admin allows it for them, and then as themselves; acknowledging still takes one.
func TestServer_WebNoPIN(t *testing.T) {
	r := newRig(t)
	anna, erik := r.login("anna"), r.login("erik")
	required := `autocomplete="off" required placeholder="PIN"`
	if _, body := r.req(erik, "GET", "/", nil); strings.Count(body, required) < 2 {
		t.Fatalf("erik's panel without the flag: %s", body)
	}
	if res, _ := r.req(erik, "POST", "/arm", erik.form("area", "1", "mode", "away", "pin", "")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("arming without a PIN, not allowed: %d", res.StatusCode)
	}
	edit := func(noPIN bool) {
		t.Helper()
		form := anna.form("name", "Erik", "role", "user", "has_areas", "1")
		if noPIN {
			form.Set("web_no_pin", "1")
		}
		if res, body := r.req(anna, "POST", "/users/erik/edit", form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("setting erik's web_no_pin %v: %d %s", noPIN, res.StatusCode, body)
		}
	}
	edit(true)
	if _, body := r.req(anna, "GET", "/users", nil); !strings.Contains(body, `name="web_no_pin" value="1" checked`) || !strings.Contains(body, "web without PIN") {
		t.Fatalf("users page: %s", body)
	}
	if _, body := r.req(anna, "GET", "/", nil); strings.Contains(body, "PIN (not needed)") {
		t.Fatal("anna's panel lost its PIN")
	}
	if _, body := r.req(erik, "GET", "/", nil); strings.Contains(body, required) || !strings.Contains(body, `placeholder="PIN (not needed)"`) {
		t.Fatalf("erik's panel with the flag: %s", body)
	}
	if res, body := r.req(erik, "POST", "/arm", erik.form("area", "1", "mode", "away", "pin", "")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("arming without a PIN: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeArming || a.User != "erik" || a.How != hub.HowWeb {
		t.Fatalf("after arming: %+v", a)
	}
	if res, body := r.req(erik, "POST", "/disarm", erik.form("area", "1")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disarming without a PIN: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeDisarmed {
		t.Fatalf("after disarming: %+v", a)
	}
	if res, _ := r.req(erik, "POST", "/ack", erik.form("area", "1")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("acknowledging without a PIN: %d", res.StatusCode)
	}
	// A wrong PIN given is still checked, not skipped.
	if res, _ := r.req(erik, "POST", "/arm", erik.form("area", "1", "mode", "away", "pin", "0000")); res.StatusCode == http.StatusSeeOther {
		t.Fatalf("a wrong PIN armed: %d", res.StatusCode)
	}
	edit(false)
	if res, _ := r.req(erik, "POST", "/arm", erik.form("area", "1", "mode", "away")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("arming without a PIN after the admin took it back: %d", res.StatusCode)
	}
}

// TestServer_InstallerAreas: the installer renames an area, sets its delays and adds one;
// bad durations and delays outside the bounds are refused with the field named and
// change nothing; each change is in the history as the installer's.
func TestServer_InstallerAreas(t *testing.T) {
	r := newRig(t)
	anna, ivan, erik := r.login("anna"), r.login("ivan"), r.login("erik")
	r.grant(anna, "4")
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, `id="areas"`) || !strings.Contains(body, `value="Garage"`) {
		t.Fatalf("areas on the installer page:\n%s", body)
	}
	res, body := r.req(ivan, "POST", "/installer/area", ivan.form("number", "2", "name", "Carport", "exit_delay", "0s", "entry_delay", "15s"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename area 2: %d %s", res.StatusCode, body)
	}
	a := r.h.Snapshot().Installation.Areas[1]
	if a.Name != "Carport" || a.ExitDelay == nil || a.ExitDelay.D() != 0 || a.EntryDelay.D() != 15*time.Second || a.BellCutoff != nil {
		t.Fatalf("area 2 after the change: %+v", a)
	}
	evs, _ := r.h.Store().History(0, 1)
	if evs[0].Kind != hub.KindConfigChange || evs[0].User != "ivan" || evs[0].How != hub.HowWeb || !strings.Contains(evs[0].Note, "Carport") {
		t.Fatalf("history: %+v", evs[0])
	}
	if res, body := r.api(ivan, "POST", "/api/v1/installer/area", `{"number":3,"name":"Shed","bell_cutoff":"2m"}`); res.StatusCode != 200 || !strings.Contains(body, `"Shed"`) {
		t.Fatalf("add area 3: %d %s", res.StatusCode, body)
	}
	if n := len(r.h.Snapshot().Installation.Areas); n != 3 {
		t.Fatalf("%d areas", n)
	}
	for _, tc := range []struct{ form []string }{
		{[]string{"number", "2", "name", "Carport", "entry_delay", "soon"}},
		{[]string{"number", "2", "name", "Carport", "entry_delay", "60s"}}, // EN 50131: at most 45 s
		{[]string{"number", "2", "name", ""}},
		{[]string{"number", "x", "name", "Carport"}},
	} {
		if res, _ := r.req(ivan, "POST", "/installer/area", ivan.form(tc.form...)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400", tc.form, res.StatusCode)
		}
	}
	if a := r.h.Snapshot().Installation.Areas[1]; a.EntryDelay.D() != 15*time.Second {
		t.Fatalf("a refused change changed area 2: %+v", a)
	}
	if res, _ := r.req(erik, "POST", "/installer/area", erik.form("number", "2", "name", "Mine")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a user renamed an area: %d", res.StatusCode)
	}
}
