package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vakt/hub"
)

// TestServer_OwnPasswordAndSessions: a user changes their own password with the current one
// (the change is in the history as theirs, and ends their other browser sessions), sees and
// ends their own sessions and nobody else's; an admin sees and ends every user's.
func TestServer_OwnPasswordAndSessions(t *testing.T) {
	r := newRig(t)
	anna1, anna2 := r.login("anna"), r.login("anna")
	erik1, erik2 := r.login("erik"), r.login("erik")
	alive := func(c client) bool {
		_, ok, err := r.h.Store().Session(c.cookie)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// erik sees his own two sessions, the current one marked, and none of anna's.
	res, body := r.req(erik1, "GET", "/account", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, hub.SessionID(erik1.cookie)) || !strings.Contains(body, hub.SessionID(erik2.cookie)) ||
		strings.Contains(body, hub.SessionID(anna1.cookie)) || strings.Count(body, `class="current"`) != 1 {
		t.Fatalf("erik's account page: %d %s", res.StatusCode, body)
	}
	// He cannot end anna's: to him it does not exist.
	if res, _ := r.req(erik1, "POST", "/sessions/"+hub.SessionID(anna1.cookie)+"/revoke", erik1.form()); res.StatusCode != http.StatusNotFound || !alive(anna1) {
		t.Fatalf("erik revoking anna's session: %d", res.StatusCode)
	}

	// A wrong current password, then a short new one, change nothing.
	if res, body := r.req(erik1, "POST", "/account/password", erik1.form("current", "wrong password!", "password", "a new long password")); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "Wrong current password") {
		t.Fatalf("wrong current password: %d %s", res.StatusCode, body)
	}
	if res, body := r.req(erik1, "POST", "/account/password", erik1.form("current", pw, "password", "short")); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "at least 10") {
		t.Fatalf("short new password: %d %s", res.StatusCode, body)
	}
	if u := userByID(r.h.Snapshot().Installation, "erik"); !hub.CheckPassword(u.Password, pw) {
		t.Fatal("erik's password changed after refusals")
	}
	res, _ = r.req(erik1, "POST", "/account/password", erik1.form("current", pw, "password", "a new long password"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account?done=password" {
		t.Fatalf("change password: %d", res.StatusCode)
	}
	if u := userByID(r.h.Snapshot().Installation, "erik"); !hub.CheckPassword(u.Password, "a new long password") {
		t.Fatal("erik's password did not change")
	}
	if !alive(erik1) || alive(erik2) {
		t.Fatalf("after the change: this session alive %v (want true), the other %v (want false)", alive(erik1), alive(erik2))
	}
	evs, err := r.h.Store().History(0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if i := 0; evs[i].Kind != hub.KindConfigChange || evs[i].User != "erik" || evs[i].How != hub.HowWeb || !strings.Contains(evs[i].Note, "password") {
		t.Fatalf("history after the change: %+v", evs[0])
	}
	if !strings.Contains(mustBody(r, erik1, "/account?done=password"), "Password changed") {
		t.Error("no notice after the change")
	}

	// anna, an admin, sees erik's session and ends it, and one of her own.
	res, body = r.req(anna1, "GET", "/account", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, hub.SessionID(erik1.cookie)) || !strings.Contains(body, hub.SessionID(anna2.cookie)) {
		t.Fatalf("anna's account page: %d %s", res.StatusCode, body)
	}
	for _, c := range []client{erik1, anna2} {
		res, _ := r.req(anna1, "POST", "/sessions/"+hub.SessionID(c.cookie)+"/revoke", anna1.form())
		if res.StatusCode != http.StatusSeeOther || alive(c) {
			t.Fatalf("anna revoking a session: %d, alive %v", res.StatusCode, alive(c))
		}
	}
	if res, _ := r.req(erik1, "GET", "/", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a revoked session still gets the panel: %d", res.StatusCode)
	}
	// Ending her own current session signs her out.
	res, _ = r.req(anna1, "POST", "/sessions/"+hub.SessionID(anna1.cookie)+"/revoke", anna1.form())
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" || alive(anna1) {
		t.Fatalf("anna ending her own session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func mustBody(r *rig, c client, path string) string {
	r.t.Helper()
	res, body := r.req(c, "GET", path, nil)
	if res.StatusCode != http.StatusOK {
		r.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	return body
}

// TestAPI_OwnPasswordAndSessions: the account page's JSON twins, with an API token.
func TestAPI_OwnPasswordAndSessions(t *testing.T) {
	r := newRig(t)
	erik := r.login("erik")
	tok := struct{ Token string }{r.apiToken(erik)}
	api := func(method, path, body string) (*http.Response, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		return r.do(req)
	}
	res, body := api("GET", "/api/v1/sessions", "")
	var list []sessionRow
	if err := json.Unmarshal([]byte(body), &list); err != nil || res.StatusCode != http.StatusOK || len(list) != 2 {
		t.Fatalf("sessions: %d %s", res.StatusCode, body)
	}
	for _, s := range list {
		if s.User != "erik" || s.CSRF != "" {
			t.Errorf("session %+v", s)
		}
		if (s.ID == hub.SessionID(tok.Token)) != s.Current || (s.Kind == hub.SessionAPI) != s.Current {
			t.Errorf("the token's own session is the current one: %+v", s)
		}
	}
	if res, body := api("POST", "/api/v1/password", `{"current":"nope nope nope","password":"a new long password"}`); res.StatusCode != http.StatusForbidden || !strings.Contains(body, `"code":"wrong_current_password"`) {
		t.Fatalf("wrong current password: %d %s", res.StatusCode, body)
	}
	if res, body := api("POST", "/api/v1/password", `{"current":"`+pw+`","password":"a new long password"}`); res.StatusCode != http.StatusNoContent {
		t.Fatalf("change password: %d %s", res.StatusCode, body)
	}
	if _, ok, _ := r.h.Store().Session(erik.cookie); ok {
		t.Fatal("the browser session outlived the password change")
	}
	if res, _ := api("POST", "/api/v1/sessions/"+hub.SessionID(tok.Token)+"/revoke", ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke the token itself: %d", res.StatusCode)
	}
	if res, _ := api("GET", "/api/v1/sessions", ""); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked token still works: %d", res.StatusCode)
	}
}

// TestServer_OwnLanguage: a user picks their language on /account (their pages then speak
// it, whatever the browser asks for), and back to the browser's; an admin sets anyone's
// in the user form; a language vakt does not speak is refused.
func TestServer_OwnLanguage(t *testing.T) {
	r := newRig(t)
	erik, anna := r.login("erik"), r.login("anna")
	if _, body := r.req(erik, "GET", "/account", nil); !strings.Contains(body, `action="/account/lang"`) || !strings.Contains(body, `<option value="" selected>The browser&#39;s</option>`) {
		t.Fatalf("account page: %s", body)
	}
	if res, _ := r.req(erik, "POST", "/account/lang", erik.form("lang", "sv")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting sv: %d", res.StatusCode)
	}
	if ch := r.lastChange(); ch.User != "erik" {
		t.Fatalf("change: %+v", ch)
	}
	res, body := r.req(erik, "GET", "/account?done=lang", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "Språket är sparat.") || !strings.Contains(body, `<option value="sv" selected>Svenska</option>`) {
		t.Fatalf("erik's account in Swedish: %d %s", res.StatusCode, body)
	}
	if _, body := r.req(erik, "GET", "/", nil); !strings.Contains(body, `lang="sv"`) || !strings.Contains(body, "Historik") {
		t.Fatalf("erik's panel is not in Swedish: %s", body)
	}
	if _, body := r.req(anna, "GET", "/", nil); strings.Contains(body, "Historik") {
		t.Fatal("anna's panel follows erik's language")
	}
	if res, _ := r.req(erik, "POST", "/account/lang", erik.form("lang", "de")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("setting de: %d", res.StatusCode)
	}
	if res, _ := r.api(erik, "POST", "/api/v1/lang", `{"lang":""}`); res.StatusCode != http.StatusNoContent {
		t.Fatalf("API back to the browser's: %d", res.StatusCode)
	}
	if _, body := r.req(erik, "GET", "/", nil); strings.Contains(body, "Historik") {
		t.Fatal("erik's panel is still Swedish")
	}

	// The admin sets lisa's in the user form, and the API's user list says so.
	form := anna.form("name", "Lisa", "role", "limited", "has_areas", "1", "areas", "1", "windows", "mon,tue,wed,thu,fri 07:00-21:00", "lang", "sv")
	if res, body := r.req(anna, "POST", "/users/lisa/edit", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin setting lisa's language: %d %s", res.StatusCode, body)
	}
	if _, body := r.api(anna, "GET", "/api/v1/users", ""); !strings.Contains(body, `"id":"lisa"`) || !strings.Contains(body, `"lang":"sv"`) {
		t.Fatalf("users: %s", body)
	}
	if res, _ := r.api(anna, "POST", "/api/v1/users/lisa", `{"name":"Lisa","role":"limited","lang":"fi"}`); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("lisa in Finnish: %d", res.StatusCode)
	}
}
