package web

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vakt/hub"
)

// TestInstaller_ImportWithDiff: the granted installer uploads an installation file and is
// shown what it would change, by name only (no codes, no hashes); nothing changes until
// the confirmation, which applies it through the hub as the installer (logged). A file
// that does not validate is refused with the error naming the line or field; a used
// confirmation does not apply twice.
func TestInstaller_ImportWithDiff(t *testing.T) {
	r := newRig(t)
	anna, ivan := r.login("anna"), r.login("ivan")
	r.grant(anna, "4")
	res, export := r.req(ivan, "GET", "/installer/installation.yaml", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(export, "name: Garage") {
		t.Fatalf("export: %d %s", res.StatusCode, export)
	}
	before := r.h.Snapshot().Installation
	// The installer's export leaves out the web password hashes (an admin's has them); the
	// import keeps the stored ones, so the family still signs in afterwards.
	if !strings.HasPrefix(export, "# Web passwords are left out") || strings.Contains(export, "password:") {
		t.Fatalf("the installer's export has the password hashes:\n%s", export)
	}
	if _, full := r.req(anna, "GET", "/installer/installation.yaml", nil); !strings.Contains(full, "password: $argon2id$") {
		t.Fatalf("the admin's export lacks the password hashes:\n%s", full)
	}
	changed := strings.Replace(export, "name: Garage\n", "name: Garage and shed\n", 1)
	changed = strings.Replace(changed, "name: Kitchen smoke detector\n", "name: Kitchen smoke alarm\n", 1)

	// The installer tools offer the upload.
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, `action="/installer/import" enctype="multipart/form-data"`) {
		t.Fatalf("no import form:\n%s", body)
	}

	// Uploaded as a file: the diff, and nothing changed yet.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", ivan.csrf)
	fw, _ := mw.CreateFormFile("file", "installation.yaml")
	fw.Write([]byte(changed))
	mw.Close()
	req := httptest.NewRequest("POST", "/installer/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: cookieName, Value: ivan.cookie})
	res, body := r.do(req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("import preview: %d %s", res.StatusCode, body)
	}
	for _, want := range []string{`data-what="areas"`, "changed: Garage and shed (2)", `data-what="devices"`, "changed: Kitchen smoke alarm (kitchen_smoke)", `name="token" value="`} {
		if !strings.Contains(body, want) {
			t.Errorf("preview lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `data-what="users"`) || strings.Contains(body, `data-what="zones"`) {
		t.Errorf("preview shows unchanged parts:\n%s", body)
	}
	for _, u := range before.Users {
		for _, secret := range append(append(u.Codes, u.Tags...), u.Duress, u.Password) {
			if secret != "" && strings.Contains(body, secret) {
				t.Fatalf("preview shows %s's code or hash", u.ID)
			}
		}
	}
	if after := r.h.Snapshot().Installation; after.Areas[1].Name != "Garage" {
		t.Fatal("the import applied before the confirmation")
	}
	tok := between(body, `name="token" value="`, `"`)

	// Another session cannot confirm ivan's upload.
	if res, _ := r.req(anna, "POST", "/installer/import/apply", anna.form("token", tok)); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("anna confirms ivan's import: %d", res.StatusCode)
	}
	if res, body := r.req(ivan, "POST", "/installer/import/apply", ivan.form("token", tok)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply: %d %s", res.StatusCode, body)
	}
	after := r.h.Snapshot().Installation
	if after.Areas[1].Name != "Garage and shed" || len(after.Users) != len(before.Users) || string(after.CodeKey) != string(before.CodeKey) {
		t.Fatalf("after the import: %+v", after.Areas)
	}
	if ev := r.lastChange(); ev.User != "ivan" || ev.How != hub.HowWeb || !strings.Contains(ev.Note, "import") {
		t.Errorf("import logged as %+v", ev)
	}
	if _, body := r.req(ivan, "GET", "/installer?imported=1", nil); !strings.Contains(body, "Installation imported.") {
		t.Error("no notice after the import")
	}
	if after.Users[0].Password == "" || after.Users[0].Password != before.Users[0].Password {
		t.Error("the import without passwords removed anna's web password")
	}
	r.login("anna") // fails the test if she cannot sign in any more
	// anna still arms with her PIN: the codes came through.
	if res := r.h.Do(t.Context(), hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Errorf("arming with anna's PIN after the import: %v", res.Err)
	}
	// Used once.
	if res, _ := r.req(ivan, "POST", "/installer/import/apply", ivan.form("token", tok)); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("applied twice: %d", res.StatusCode)
	}

	// A bad file: refused, naming the line or the field, in Swedish too; nothing changes.
	res, body = r.req(ivan, "POST", "/installer/import", ivan.form("yaml", "name: x\nareas:\n  - number: 1\n    colour: red\n"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "line 4") || !strings.Contains(body, "colour") {
		t.Errorf("unknown key: %d %s", res.StatusCode, body)
	}
	bad := strings.Replace(changed, "area: 1\n", "area: 9\n", 1)
	res, body = r.req(ivan, "POST", "/installer/import", ivan.form("yaml", bad))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `class="problem"`) || !strings.Contains(body, "9") {
		t.Errorf("a zone in no area: %d %s", res.StatusCode, body)
	}
	if r.h.Snapshot().Installation.Areas[1].Name != "Garage and shed" {
		t.Error("a refused file changed the installation")
	}

	// Not granted: no import.
	erik := r.login("erik")
	if res, _ := r.req(erik, "POST", "/installer/import", erik.form("yaml", export)); res.StatusCode != http.StatusForbidden {
		t.Errorf("a user imports: %d", res.StatusCode)
	}
}

// between is the text of s after start up to end.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}

// TestInstaller_ImportAPI: the same over the JSON API: the diff with a token, then apply;
// a bad file is a 400 with the error.
func TestInstaller_ImportAPI(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	_, export := r.req(anna, "GET", "/installer/installation.yaml", nil)
	changed := strings.Replace(export, "name: Garage\n", "name: Carport\n", 1)
	js, _ := json.Marshal(map[string]string{"yaml": changed})
	res, body := r.api(anna, "POST", "/api/v1/installer/import", string(js))
	var d importDiff
	if err := json.Unmarshal([]byte(body), &d); res.StatusCode != http.StatusOK || err != nil || d.Token == "" || d.Same ||
		d.Sections[0].Key != "areas" || len(d.Sections[0].Changed) != 1 || d.Sections[0].Changed[0] != "Carport (2)" {
		t.Fatalf("API preview: %d %s", res.StatusCode, body)
	}
	if r.h.Snapshot().Installation.Areas[1].Name != "Garage" {
		t.Fatal("applied before the confirmation")
	}
	if res, body := r.api(anna, "POST", "/api/v1/installer/import/apply", `{"token":"`+d.Token+`"}`); res.StatusCode != http.StatusOK {
		t.Fatalf("API apply: %d %s", res.StatusCode, body)
	}
	if r.h.Snapshot().Installation.Areas[1].Name != "Carport" {
		t.Fatal("not applied")
	}
	if res, body := r.api(anna, "POST", "/api/v1/installer/import", `{"yaml":"areas: [{number: 1, colour: red}]"}`); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "colour") {
		t.Fatalf("API bad file: %d %s", res.StatusCode, body)
	}
}

// TestDiffInstallations_Schedules: an import that adds, changes or removes schedules says so,
// naming them by what they do.
func TestDiffInstallations_Schedules(t *testing.T) {
	old := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	old.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedNight, Arm: hub.NewClockTime(23, 0), Days: []hub.Weekday{1, 2}}}
	cur := hub.DemoInstallation(old.CodeKey)
	cur.Schedules = []hub.Schedule{{Area: 1, Mode: hub.ModeArmedNight, Arm: hub.NewClockTime(22, 30), Disarm: hub.NewClockTime(6, 30), Days: []hub.Weekday{2, 1}}}
	cur.PlugSchedules = []hub.PlugSchedule{{Device: "coffee_plug", On: hub.NewClockTime(6, 15), Days: []hub.Weekday{1}}}
	d := diffInstallations(old, cur)
	got := map[string]diffSection{}
	for _, s := range d.Sections {
		got[s.Key] = s
	}
	if s := got["schedules"]; len(s.Added) != 1 || s.Added[0] != "House: night 22:30–06:30 mon,tue" || len(s.Removed) != 1 || s.Removed[0] != "House: night 23:00 mon,tue" {
		t.Errorf("schedules: %+v", s)
	}
	if s := got["plug_schedules"]; len(s.Added) != 1 || s.Added[0] != "coffee_plug: 06:15– mon" {
		t.Errorf("plug schedules: %+v", s)
	}
	if d.Same || diffInstallations(cur, cur).Same != true {
		t.Error("Same is wrong")
	}
}
