package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vakt/hub"
)

// scheduleForm posts the schedules form as c with days checked.
func (r *rig) postSchedule(c client, days []string, kv ...string) (*http.Response, string) {
	r.t.Helper()
	f := c.form(kv...)
	for _, d := range days {
		f.Add("days", d)
	}
	return r.req(c, "POST", "/schedules", f)
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// TestSchedulesPage: anna adds an auto-arm and a plug schedule, changes and removes them;
// each change is a config change in the history by her; the page shows the next runs in
// the installation's zone, in Swedish for a Swedish browser.
func TestSchedulesPage(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	res, body := r.req(anna, "GET", "/schedules", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Auto-arm") || !strings.Contains(body, "Europe/Stockholm") {
		t.Fatalf("page: %d %s", res.StatusCode, body)
	}
	res, body = r.postSchedule(anna, weekdays, "kind", "area", "index", "-1", "area", "1", "mode", "night", "arm", "22:30", "disarm", "06:30")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", res.StatusCode, body)
	}
	inst := r.h.Snapshot().Installation
	if len(inst.Schedules) != 1 || inst.Schedules[0].Mode != hub.ModeArmedNight || inst.Schedules[0].Arm.String() != "22:30" || len(inst.Schedules[0].Days) != 5 {
		t.Fatalf("stored: %+v", inst.Schedules)
	}
	if ev := r.lastChange(); ev.User != "anna" || ev.How != hub.HowWeb || !strings.Contains(ev.Note, "area 1 arms night at 22:30") {
		t.Fatalf("history: %s", ev)
	}
	if ev := r.lastChange(); !ev.Report {
		t.Fatalf("a configuration change not reported: %s", ev)
	}
	res, body = r.postSchedule(anna, []string{"sat", "sun"}, "kind", "plug", "device", "coffee_plug", "on", "07:00", "off", "08:00")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add plug: %d %s", res.StatusCode, body)
	}
	if p := r.h.Snapshot().Installation.PlugSchedules; len(p) != 1 || p[0].Device != "coffee_plug" || p[0].Off.String() != "08:00" {
		t.Fatalf("stored plug: %+v", p)
	}
	// The rig's clock: Tuesday 24 November 2026 18:00 (UTC here) = 19:00 in Stockholm.
	_, body = r.req(anna, "GET", "/schedules", nil)
	for _, want := range []string{"arms Tue 2026-11-24 22:30 CET", "disarms Wed 2026-11-25 06:30 CET", "on Sat 2026-11-28 07:00 CET", "Coffee maker plug", "Night"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Change it: away on weekends, no disarm.
	res, body = r.postSchedule(anna, []string{"sat", "sun"}, "kind", "area", "index", "0", "area", "2", "mode", "away", "arm", "23:00")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d %s", res.StatusCode, body)
	}
	if s := r.h.Snapshot().Installation.Schedules; len(s) != 1 || s[0].Area != 2 || s[0].Disarm != nil {
		t.Fatalf("changed: %+v", s)
	}
	// In Swedish.
	req := httptest.NewRequest("GET", "/schedules", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: anna.cookie})
	req.Header.Set("Accept-Language", "sv-SE,sv;q=0.9")
	_, body = r.do(req)
	for _, want := range []string{"Automatisk pålarmning", "lör, sön", "Borta", "larmar på"} {
		if !strings.Contains(body, want) {
			t.Errorf("Swedish page lacks %q", want)
		}
	}
	// Remove both.
	for _, kind := range []string{"area", "plug"} {
		if res, body := r.req(anna, "POST", "/schedules/remove", anna.form("kind", kind, "index", "0")); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove %s: %d %s", kind, res.StatusCode, body)
		}
	}
	if inst := r.h.Snapshot().Installation; len(inst.Schedules)+len(inst.PlugSchedules) != 0 {
		t.Fatalf("not removed: %+v", inst)
	}
	if res, _ := r.req(anna, "POST", "/schedules/remove", anna.form("kind", "area", "index", "0")); res.StatusCode != http.StatusNotFound {
		t.Fatalf("removing a schedule that is gone: %d, want 404", res.StatusCode)
	}
}

// TestSchedulesPage_BadInput: every mistake is refused with a message naming the field,
// and changes nothing.
func TestSchedulesPage_BadInput(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	before := r.h.Snapshot().Installation
	for _, tc := range []struct {
		name string
		days []string
		kv   []string
		want string
	}{
		{"a time past midnight", weekdays, []string{"kind", "area", "area", "1", "mode", "away", "arm", "25:00"}, `Arm at: not a time of day: write HH:MM between 00:00 and 23:59 (&#34;25:00&#34;)`},
		{"no arming time", weekdays, []string{"kind", "area", "area", "1", "mode", "away"}, "Arm at: a time is needed"},
		{"a bad disarm time", weekdays, []string{"kind", "area", "area", "1", "mode", "away", "arm", "22:00", "disarm", "6.30"}, "Disarm at (optional): not a time of day"},
		{"no days", nil, []string{"kind", "area", "area", "1", "mode", "away", "arm", "22:00"}, "Days: choose at least one day"},
		{"a made-up day", []string{"funday"}, []string{"kind", "area", "area", "1", "mode", "away", "arm", "22:00"}, "Days: not a day of the week"},
		{"an unknown area", weekdays, []string{"kind", "area", "area", "7", "mode", "away", "arm", "22:00"}, "Area: no such area (&#34;7&#34;)"},
		{"disarming as a mode", weekdays, []string{"kind", "area", "area", "1", "mode", "disarmed", "arm", "22:00"}, "Mode: choose away, home or night"},
		{"an unknown plug", weekdays, []string{"kind", "plug", "device", "toaster", "on", "07:00"}, "Plug: no such plug (&#34;toaster&#34;)"},
		{"a sensor as a plug", weekdays, []string{"kind", "plug", "device", "front_door", "on", "07:00"}, "Plug: no such plug"},
		{"a plug without times", weekdays, []string{"kind", "plug", "device", "coffee_plug"}, "On at: give an on time"},
		{"on and off at once", weekdays, []string{"kind", "plug", "device", "coffee_plug", "on", "07:00", "off", "07:00"}, "Off at: the same as the other time"},
		{"a change to a schedule that is not there", weekdays, []string{"kind", "area", "index", "3", "area", "1", "mode", "away", "arm", "22:00"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := r.postSchedule(anna, tc.days, tc.kv...)
			if tc.want == "" {
				if res.StatusCode != http.StatusNotFound {
					t.Fatalf("%d, want 404", res.StatusCode)
				}
				return
			}
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("%d, want 400 with %q:\n%s", res.StatusCode, tc.want, problemLine(body))
			}
		})
	}
	// A refused new schedule keeps what was entered in the add form.
	_, body := r.postSchedule(anna, nil, "kind", "area", "index", "-1", "area", "2", "mode", "night", "arm", "21:45", "disarm", "07:15")
	for _, want := range []string{`name="arm" type="time" value="21:45"`, `name="disarm" type="time" value="07:15"`, `<option value="night" selected>`, `<option value="2" selected>Garage`} {
		if !strings.Contains(body, want) {
			t.Errorf("the add form lost %s", want)
		}
	}
	res, body := r.req(anna, "POST", "/schedules/timezone", anna.form("timezone", "Europe/Atlantis"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Time zone: not a known time zone") {
		t.Fatalf("a bad time zone: %d %s", res.StatusCode, problemLine(body))
	}
	if r.h.Snapshot().Installation != before {
		t.Fatal("a refused change changed the installation")
	}
	// A user may not; nor an installer without access (the route table's test covers the rest).
	erik := r.login("erik")
	if res, _ := r.postSchedule(erik, weekdays, "kind", "area", "area", "1", "mode", "away", "arm", "22:00"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("erik: %d, want 403", res.StatusCode)
	}
	// A good time zone is stored, and the default is stored as unset.
	if res, body := r.req(anna, "POST", "/schedules/timezone", anna.form("timezone", "Europe/Helsinki")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("time zone: %d %s", res.StatusCode, body)
	}
	if loc := r.h.Snapshot().Installation.Location(); loc.String() != "Europe/Helsinki" {
		t.Fatalf("zone %s", loc)
	}
}

// TestSchedulesAPI: the JSON twin reads the schedules and replaces them in one change;
// a mistake names the field with its index.
func TestSchedulesAPI(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	res, body := r.api(anna, "POST", "/api/v1/schedules", `{"timezone":"Europe/Stockholm","schedules":[{"area":1,"mode":"night","arm":"23:00","disarm":"06:30","days":["mon","tue"]},{"area":2,"mode":"away","arm":"22:00","days":["sun"]}],"plug_schedules":[{"device":"coffee_plug","on":"06:15","days":["mon"]}]}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("set: %d %s", res.StatusCode, body)
	}
	var v schedulesView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Schedules) != 2 || v.Schedules[0].Disarm != "06:30" || v.Schedules[1].Days[0] != "sun" || len(v.PlugSchedules) != 1 || v.Timezone != "Europe/Stockholm" {
		t.Fatalf("view: %s", body)
	}
	if len(v.Schedules[0].Next) != 2 || v.Schedules[0].Next[0].What != "arm" {
		t.Fatalf("next runs: %+v", v.Schedules[0].Next)
	}
	if ev := r.lastChange(); ev.User != "anna" || !strings.Contains(ev.Note, "2 for areas, 1 for plugs") {
		t.Fatalf("history: %s", ev)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"schedules":[{"area":1,"mode":"night","arm":"23:00","days":["mon"]},{"area":1,"mode":"away","arm":"25:00","days":["mon"]}]}`, "schedules[1].arm"},
		{`{"schedules":[{"area":1,"mode":"night","arm":"23:00","days":[]}]}`, "schedules[0].days"},
		{`{"schedules":[{"area":9,"mode":"night","arm":"23:00","days":["mon"]}]}`, "schedules[0].area"},
		{`{"plug_schedules":[{"device":"hall_siren","on":"06:00","days":["mon"]}]}`, "plug_schedules[0].device"},
		{`{"timezone":"Mars/Olympus"}`, "timezone"},
	} {
		res, body := r.api(anna, "POST", "/api/v1/schedules", tc.body)
		var e struct{ Error, Code, Field string }
		json.Unmarshal([]byte(body), &e)
		if res.StatusCode != http.StatusBadRequest || e.Field != tc.field || e.Code != "invalid_schedule" || !strings.HasPrefix(e.Error, tc.field+": ") {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, res.StatusCode, body, tc.field)
		}
	}
	if res, body := r.api(anna, "GET", "/api/v1/schedules", ""); res.StatusCode != http.StatusOK || !strings.Contains(body, `"arm":"23:00"`) {
		t.Fatalf("a refused set changed the schedules: %s", body)
	}
	// A wrong PIN given for the change is refused by the hub.
	if res, _ := r.api(anna, "POST", "/api/v1/schedules", `{"schedules":[],"pin":"0000"}`); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a wrong PIN: %d, want 403", res.StatusCode)
	}
}

func problemLine(body string) string {
	if i := strings.Index(body, `class="problem"`); i >= 0 {
		return body[i:min(len(body), i+300)]
	}
	return body
}

// TestPanel_ScheduledArming: the panel says an area was armed by its schedule, and says
// NOT ARMED with the reasons when a scheduled arming was refused.
func TestPanel_ScheduledArming(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	// The rig's clock is 19:00 in Stockholm: the house at 19:10, the garage at 19:20.
	res, body := r.api(anna, "POST", "/api/v1/schedules", `{"schedules":[{"area":1,"mode":"away","arm":"19:10","days":["tue"]},{"area":2,"mode":"away","arm":"19:20","days":["tue"]}]}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("set: %d %s", res.StatusCode, body)
	}
	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "garage_motion", Signal: hub.SignalMotion, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	for range 4 { // 19:05, 19:10, 19:15, 19:20
		r.clk.Add(5 * time.Minute)
		if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InTick}); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	_, body = r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, `<p class="by">schedule</p>`) {
		t.Errorf("the house's arming does not say it was the schedule:\n%s", body)
	}
	if !strings.Contains(body, "NOT ARMED — the scheduled arming was refused: open: Garage motion") {
		t.Errorf("the garage's refused arming is not on the panel:\n%s", body)
	}
	res, body = r.api(anna, "GET", "/api/v1/state", "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `"not_armed_by_schedule":true`) || !strings.Contains(body, `"how":"schedule"`) {
		t.Errorf("state API: %s", body)
	}
}
