package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/uplink"
)

// rig is a web server over a real hub on a temporary store, with the demo family; anna
// and lisa have web passwords.
type rig struct {
	t   *testing.T
	h   *hub.Hub
	s   *Server
	clk *hubtest.Clock
}

const pw = "correct horse battery"

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, nil)
}

// newRigWith is newRig with more dependencies: more sets them, given the hub and clock.
func newRigWith(t *testing.T, more func(h *hub.Hub, clk *hubtest.Clock, d *Deps)) *rig {
	t.Helper()
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	for i := range inst.Users {
		if err := inst.Users[i].SetPassword(pw); err != nil {
			t.Fatal(err)
		}
	}
	clk := hubtest.NewClock(time.Date(2026, 11, 24, 18, 0, 0, 0, time.Local)) // a Tuesday: lisa's window is open
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{Now: clk.Now})
	mgr := devices.NewManager(h, devices.Options{Now: clk.Now})
	deps := Deps{Hub: h, Devices: mgr, Now: clk.Now}
	if more != nil {
		more(h, clk, &deps)
	}
	s, err := New(Config{Listen: "127.0.0.1:0"}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, h: h, s: s, clk: clk}
}

// client is a signed-in browser: its cookie and CSRF token.
type client struct {
	cookie string
	csrf   string
}

func (r *rig) do(req *http.Request) (*http.Response, string) {
	r.t.Helper()
	res, err := r.s.App().Test(req, 5000)
	if err != nil {
		r.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (r *rig) login(name string) client {
	r.t.Helper()
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"name": {name}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body := r.do(req)
	if res.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("login %s: %d %s", name, res.StatusCode, body)
	}
	var c client
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName {
			c.cookie = ck.Value
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
				r.t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict", ck)
			}
		}
	}
	st, ok, err := r.h.Store().Session(c.cookie)
	if err != nil || !ok {
		r.t.Fatalf("no session after login: %v", err)
	}
	c.csrf = st.CSRF
	return c
}

// req makes a request as c (zero c: nobody); form values for POST.
func (r *rig) req(c client, method, path string, form url.Values) (*http.Response, string) {
	r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	}
	return r.do(req)
}

func (c client) form(kv ...string) url.Values {
	v := url.Values{"csrf": {c.csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestServer_RoutesAuthorised(t *testing.T) {
	r := newRig(t)
	anna, lisa := r.login("anna"), r.login("lisa")
	erik, ivan := r.login("erik"), r.login("ivan") // ivan's installer access is not granted
	for _, rt := range r.s.routes {
		if rt.roles == nil || rt.path == "/events" || rt.path == "/api/v1/events" || rt.path == "/history.csv" {
			continue // public; streams are tested on their own
		}
		path := strings.ReplaceAll(rt.path, ":id", "coffee_plug")
		t.Run(rt.method+" "+path, func(t *testing.T) {
			var form url.Values
			if rt.method == "POST" {
				form = url.Values{}
			}
			// Nobody signed in.
			res, _ := r.req(client{}, rt.method, path, form)
			want := http.StatusUnauthorized
			if rt.method == "GET" && !strings.HasPrefix(path, "/api/") {
				want = http.StatusSeeOther
			}
			if res.StatusCode != want {
				t.Errorf("signed out: %d, want %d", res.StatusCode, want)
			}
			// A wrong role.
			if !rt.allowed(hub.RoleLimited) {
				res, _ := r.req(lisa, rt.method, path, lisa.form())
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("limited user: %d, want 403", res.StatusCode)
				}
			}
			// A user on an admin's or installer's route; an installer while not granted.
			if !rt.allowed(hub.RoleUser) {
				for _, c := range []client{erik, ivan} {
					if res, body := r.req(c, rt.method, path, c.form()); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s: %d, want 403: %s", c.cookie[:4], res.StatusCode, body)
					}
				}
			}
			if rt.method == "POST" {
				// No CSRF token with the cookie.
				res, _ := r.req(anna, rt.method, path, url.Values{})
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("no CSRF token: %d, want 403", res.StatusCode)
				}
				// A wrong one.
				res, _ = r.req(anna, rt.method, path, url.Values{"csrf": {"x" + anna.csrf}})
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("wrong CSRF token: %d, want 403", res.StatusCode)
				}
				return
			}
			res, body := r.req(anna, rt.method, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("admin: %d %s", res.StatusCode, body)
			}
		})
	}
}

func TestServer_Headers(t *testing.T) {
	r := newRig(t)
	res, _ := r.req(client{}, "GET", "/login", nil)
	if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", got)
	}
	res, _ = r.req(client{}, "GET", "/static/style.css", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, _ = r.req(client{}, "GET", "/static/nothing.js", nil)
	if res.StatusCode != 404 {
		t.Errorf("missing static file: %d", res.StatusCode)
	}
}

func TestServer_LoginBackoff(t *testing.T) {
	r := newRig(t)
	try := func(name, password string) int {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"name": {name}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, _ := r.do(req)
		return res.StatusCode
	}
	for i := range freeLogins {
		if got := try("erik", "wrong password!"); got != http.StatusForbidden {
			t.Fatalf("wrong password %d: %d, want 403", i, got)
		}
	}
	if got := try("erik", pw); got != http.StatusTooManyRequests {
		t.Fatalf("right password during back-off: %d, want 429", got)
	}
	r.clk.Add(2 * time.Second)
	if got := try("erik", pw); got != http.StatusSeeOther {
		t.Fatalf("right password after back-off: %d, want 303", got)
	}
	if got := try("nobody", pw); got != http.StatusForbidden {
		t.Fatalf("unknown user: %d, want 403", got)
	}
}

func TestServer_ArmDisarmThroughPanel(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	res, body := r.req(anna, "GET", "/", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "House") || !strings.Contains(body, "Ready to arm") {
		t.Fatalf("panel: %d %s", res.StatusCode, body)
	}
	// No PIN: 400; wrong PIN: 403, counted against this session.
	if res, _ := r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("arm without PIN: %d", res.StatusCode)
	}
	res, body = r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away", "pin", "0000"))
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Wrong code") {
		t.Fatalf("wrong PIN: %d %s", res.StatusCode, body)
	}
	if res, _ := r.req(anna, "POST", "/arm", anna.form("area", "x", "mode", "away", "pin", "1234")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad area: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "upside-down", "pin", "1234")); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad mode: %d", res.StatusCode)
	}
	res, body = r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away", "pin", "1234"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("arm: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeArming || a.How != hub.HowWeb || a.User != "anna" {
		t.Fatalf("area after arming: %+v", a)
	}
	_, body = r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, "Arming") || !strings.Contains(body, "data-until=\"") {
		t.Fatalf("panel while arming: %s", body)
	}
	res, body = r.req(anna, "POST", "/disarm", anna.form("area", "1", "pin", "1234"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disarm: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeDisarmed {
		t.Fatalf("area after disarm: %+v", a)
	}
	res, body = r.req(anna, "POST", "/disarm", anna.form("area", "1", "pin", "1234"))
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "already disarmed") {
		t.Fatalf("disarm twice: %d %s", res.StatusCode, body)
	}
}

func TestServer_ArmRefusedBypass(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	ctx := context.Background()
	if res := r.h.Do(ctx, hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	_, body := r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, "Not ready") || !strings.Contains(body, "Living room window") {
		t.Fatalf("panel with an open window: %s", body)
	}
	res, body := r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away", "pin", "1234"))
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "Living room window") || !strings.Contains(body, `name="bypass" value="3"`) {
		t.Fatalf("refused: %d %s", res.StatusCode, body)
	}
	res, body = r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away", "pin", "1234", "bypass", "3"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("bypass and arm: %d %s", res.StatusCode, body)
	}
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeArming || len(a.Bypassed) != 1 {
		t.Fatalf("area: %+v", a)
	}
	// The API says the same with the reasons by name.
	req := httptest.NewRequest("POST", "/api/v1/arm", strings.NewReader(`{"area":2,"mode":"away","pin":"1234"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, anna.csrf)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: anna.cookie})
	if err := r.h.Do(ctx, hub.Input{Kind: hub.InReport, Device: "garage_door", Signal: hub.SignalTamper, Active: true}).Err; err != nil {
		t.Fatal(err)
	}
	res, body = r.do(req)
	var eb errorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || res.StatusCode != http.StatusConflict || len(eb.Reasons) == 0 || eb.Reasons[0].Name == "" {
		t.Fatalf("API refusal: %d %s", res.StatusCode, body)
	}
}

func TestServer_SetupFirstAdmin(t *testing.T) {
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), &hub.Installation{Name: "New", CodeKey: []byte("0123456789abcdef"), Areas: []hub.Area{{Number: 1}}}, hub.Options{})
	s, err := New(Config{}, Deps{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, h: h, s: s}
	link, err := s.firstLink("http://x")
	if err != nil || !strings.HasPrefix(link, "http://x/setup?token=") {
		t.Fatalf("first link %q, %v", link, err)
	}
	tok := strings.TrimPrefix(link, "http://x/setup?token=")
	if res, _ := r.req(client{}, "GET", "/setup?token=wrong", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong setup token: %d", res.StatusCode)
	}
	if res, body := r.req(client{}, "GET", "/setup?token="+tok, nil); res.StatusCode != 200 || !strings.Contains(body, `name="pin"`) {
		t.Fatalf("setup page: %d %s", res.StatusCode, body)
	}
	if res, _ := r.req(client{}, "POST", "/setup", url.Values{"token": {tok}, "name": {"Anna"}, "password": {"short"}, "pin": {"1234"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("short password: %d", res.StatusCode)
	}
	res, body := r.req(client{}, "POST", "/setup", url.Values{"token": {tok}, "name": {"Anna"}, "password": {pw}, "pin": {"1234"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setup: %d %s", res.StatusCode, body)
	}
	u := h.Snapshot().Installation.Users
	if len(u) != 1 || u[0].ID != "anna" || u[0].Role != hub.RoleAdmin || !hub.CheckPassword(u[0].Password, pw) || len(u[0].Codes) != 1 {
		t.Fatalf("users after setup: %+v", u)
	}
	if res, _ := r.req(client{}, "POST", "/setup", url.Values{"token": {tok}, "name": {"Eve"}, "password": {pw}, "pin": {"4321"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("setup link used twice: %d", res.StatusCode)
	}
	r.login("anna")
}

func TestServer_DemoLoginLink(t *testing.T) {
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation([]byte("0123456789abcdef")), hub.Options{})
	s, err := New(Config{}, Deps{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, h: h, s: s}
	link, err := s.firstLink("http://x")
	if err != nil || !strings.HasPrefix(link, "http://x/login/link?token=") {
		t.Fatalf("demo link %q, %v", link, err)
	}
	path := strings.TrimPrefix(link, "http://x")
	res, _ := r.req(client{}, "GET", path, nil)
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("login link: %d", res.StatusCode)
	}
	c := client{cookie: res.Cookies()[0].Value}
	if res, _ := r.req(c, "GET", "/", nil); res.StatusCode != 200 {
		t.Fatalf("panel after the login link: %d", res.StatusCode)
	}
	if res, _ := r.req(client{}, "GET", path, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("login link used twice: %d", res.StatusCode)
	}
}

// apiToken makes an API token for c through POST /api/v1/tokens.
func (r *rig) apiToken(c client) string {
	r.t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/tokens", strings.NewReader(`{"name":"home assistant"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(csrfHeader, c.csrf)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: c.cookie})
	res, body := r.do(req)
	var tok struct{ Token string }
	if json.Unmarshal([]byte(body), &tok); res.StatusCode != http.StatusCreated || tok.Token == "" {
		r.t.Fatalf("new token: %d %s", res.StatusCode, body)
	}
	return tok.Token
}

func TestServer_APIToken(t *testing.T) {
	r := newRig(t)
	erik := r.login("erik")
	tok := struct{ Token string }{r.apiToken(erik)}
	api := func(method, path, body, token string) (*http.Response, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		return r.do(req)
	}
	// A token needs no CSRF header.
	if res, body := api("POST", "/api/v1/arm", `{"area":1,"mode":"home","pin":"5678"}`, tok.Token); res.StatusCode != 200 || !strings.Contains(body, `"mode":"arming"`) {
		t.Fatalf("arm with a token: %d %s", res.StatusCode, body)
	}
	if res, _ := api("POST", "/api/v1/disarm", `{"area":1}`, "nope"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", res.StatusCode)
	}
	if res, _ := api("POST", "/api/v1/disarm", `{"area":`, tok.Token); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad JSON: %d", res.StatusCode)
	}
	if res, body := api("POST", "/api/v1/disarm", `{"area":1}`, tok.Token); res.StatusCode != 200 {
		t.Fatalf("disarm as the token's user: %d %s", res.StatusCode, body)
	}
	if res, body := api("GET", "/api/v1/history?kind=disarm", ``, tok.Token); res.StatusCode != 200 || !strings.Contains(body, `"user":"erik"`) || !strings.Contains(body, `"how":"web"`) {
		t.Fatalf("history: %d %s", res.StatusCode, body)
	}
	if res, _ := api("GET", "/api/v1/history?kind=nonsense", ``, tok.Token); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad kind: %d", res.StatusCode)
	}
	if res, _ := api("POST", "/api/v1/users/lisa/password", `{"password":"a new password"}`, tok.Token); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a user set another's password: %d", res.StatusCode)
	}
}

func TestServer_HistoryFiltersAndCSV(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r.h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, Code: "5678", How: hub.HowCode})
		r.h.Do(ctx, hub.Input{Kind: hub.InDisarm, Area: 2, Code: "1234", How: hub.HowCode})
	}
	res, body := r.req(anna, "GET", "/history?kind=disarm&user=anna&area=2", nil)
	if res.StatusCode != 200 || strings.Count(body, "<tr class=\"k-disarm\">") != 3 || strings.Contains(body, "k-exit_delay") {
		t.Fatalf("history: %d %s", res.StatusCode, body)
	}
	// One tap: a user's arming and disarming, and nothing else (erik's arming never
	// completed here: each was disarmed in the exit delay, so he has none).
	res, body = r.req(anna, "GET", "/history", nil)
	if !strings.Contains(body, `href="/history?kind=arm%2Cdisarm&amp;user=erik"`) || !strings.Contains(body, `href="/history?kind=arm%2Cdisarm&amp;user=lisa"`) {
		t.Fatalf("no quick filter per user: %s", body)
	}
	res, body = r.req(anna, "GET", "/history?kind=arm%2Cdisarm&user=anna", nil)
	if res.StatusCode != 200 || strings.Count(body, `<tr class="k-disarm">`) != 3 || strings.Contains(body, "k-exit_delay") ||
		!strings.Contains(body, `aria-current="page">Anna`) || !strings.Contains(body, `<option selected>arm,disarm</option>`) {
		t.Fatalf("anna's comings: %d %s", res.StatusCode, body)
	}
	if _, body = r.req(anna, "GET", "/history?kind=arm%2Cdisarm&user=erik", nil); strings.Contains(body, "<tr class=") {
		t.Fatalf("erik's comings: %s", body)
	}
	res, body = r.req(anna, "GET", "/history?kind=exit_delay,disarm&area=2", nil)
	if res.StatusCode != 200 || strings.Count(body, `<tr class="k-exit_delay">`) != 3 || strings.Count(body, `<tr class="k-disarm">`) != 3 {
		t.Fatalf("exit_delay,disarm: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(body, `href="/history.csv?area=2&amp;kind=exit_delay%2Cdisarm"`) {
		t.Fatalf("CSV link: %s", body)
	}
	if res, _ := r.req(anna, "GET", "/history?kind=arm,nonsense", nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad kind in a list: %d", res.StatusCode)
	}
	res, body = r.req(anna, "GET", "/history.csv?user=erik", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(body, "seq,time,") || strings.Count(body, ",erik,") < 3 || strings.Contains(body, ",anna,") {
		t.Fatalf("CSV: %d %s", res.StatusCode, body)
	}
	if res, _ := r.req(anna, "GET", "/history?from=yesterday", nil); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad date: %d", res.StatusCode)
	}
}

func TestServer_EventsStream(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go r.s.App().Listener(ln)
	t.Cleanup(func() { r.s.stopStreams(); r.s.App().Shutdown() })
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/events", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: anna.cookie})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(res.Body)
	next := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("stream ended before %q: %v", prefix, lines.Err())
		return ""
	}
	next("event: state")
	go r.h.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowCode})
	next("event: event")
	if d := next("data: "); !strings.Contains(d, `"kind":"exit_delay"`) && !strings.Contains(d, `"kind":"arm`) {
		t.Fatalf("event data %s", d)
	}
	if d := next("data: {\"seq\""); !strings.Contains(d, `"mode":"arming"`) {
		t.Fatalf("state data %s", d)
	}
}

func TestMessages_BothLanguages(t *testing.T) {
	for k := range messages["en"] {
		if _, ok := messages["sv"][k]; !ok {
			t.Errorf("no Swedish for %q", k)
		}
	}
	for k := range messages["sv"] {
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("no English for %q", k)
		}
	}
}

// A context that ends at once (a console that quits at start) must still end Run: the
// shutdown may come before the server has taken the listener.
func TestServer_RunEndsWhenCancelledAtOnce(t *testing.T) {
	r := newRig(t)
	for range 20 {
		s, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Hub: r.h})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not end")
		}
	}
}

// Wrong PINs on the panel count towards the engine's lockout of this session only.
func TestServer_WrongPINsLockTheSession(t *testing.T) {
	r := newRig(t)
	anna, erik := r.login("anna"), r.login("erik")
	for i := range 5 {
		if res, _ := r.req(anna, "POST", "/disarm", anna.form("area", "1", "pin", "0000")); res.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong PIN %d: %d", i, res.StatusCode)
		}
	}
	if res, _ := r.req(anna, "POST", "/arm", anna.form("area", "1", "mode", "away", "pin", "1234")); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right PIN in a locked session: %d, want 429", res.StatusCode)
	}
	if res, body := r.req(erik, "POST", "/arm", erik.form("area", "1", "mode", "away", "pin", "5678")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("another session: %d %s", res.StatusCode, body)
	}
}

// TestAlarmBanner: every signed-in page carries the (hidden) alarm banner and its script,
// in the user's language; the sign-in page does not.
func TestAlarmBanner(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	for _, path := range []string{"/", "/history", "/devices", "/account"} {
		res, body := r.req(anna, "GET", path, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="alarm-banner"`) || !strings.Contains(body, `src="/static/alarm.js"`) ||
			!strings.Contains(body, `data-label="ALARM"`) {
			t.Errorf("%s: %d, no alarm banner", path, res.StatusCode)
		}
	}
	_, body := r.req(client{}, "GET", "/login", nil)
	if strings.Contains(body, "alarm-banner") {
		t.Error("the sign-in page has the alarm banner")
	}
	res, body := r.req(anna, "GET", "/static/alarm.js", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `new EventSource("/events")`) {
		t.Errorf("alarm.js: %d", res.StatusCode)
	}
}

// TestPanel_EntryDelay: with the house armed away and the front door opened, the panel
// says "Entry delay" (Swedish: "Inpasseringstid") and its countdown runs to the entry
// delay's end.
func TestPanel_EntryDelay(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if res := r.h.Do(ctx, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, Code: "1234", How: hub.HowKeypad}); res.Err != nil {
		t.Fatal(res.Err)
	}
	r.clk.Add(hub.DefaultExitDelay + time.Second)
	r.h.Do(ctx, hub.Input{Kind: hub.InTick})
	if res := r.h.Do(ctx, hub.Input{Kind: hub.InReport, Device: "front_door", Signal: hub.SignalContact, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	until := r.h.Snapshot().State.Areas[0].EntryUntil
	if until.IsZero() {
		t.Fatal("no entry delay")
	}
	anna := r.login("anna")
	_, body := r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, `<span class="mode">Entry delay</span>`) ||
		!strings.Contains(body, `class="countdown" data-until="`+strconv.FormatInt(until.UnixMilli(), 10)+`"`) {
		t.Errorf("panel in the entry delay:\n%s", body)
	}
	if res, _ := r.req(anna, "POST", "/account/lang", anna.form("lang", "sv")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting Swedish: %d", res.StatusCode)
	}
	if _, body := r.req(anna, "GET", "/", nil); !strings.Contains(body, `<span class="mode">Inpasseringstid</span>`) {
		t.Error("no Swedish entry delay")
	}
}

// stationUplink is a station with two receivers: central (primary up, backup in fault,
// a test acknowledged over the primary) and guard (nothing answered yet).
type stationUplink struct{ fakeUplink }

var stationTestAt = time.Date(2026, 11, 24, 17, 30, 5, 0, time.Local)

func (stationUplink) Status() []uplink.ReceiverStatus {
	return []uplink.ReceiverStatus{
		{Name: "central", Paths: []uplink.PathStatus{{Name: "primary", OK: true}, {Name: "backup", Fault: true}},
			LastTest: &uplink.AckInfo{Seq: 7, Receiver: "central", Path: "primary", At: stationTestAt}},
		{Name: "guard", Paths: []uplink.PathStatus{{Name: "primary"}}},
	}
}

// TestPanel_StationLink: the panel shows each station path's state and the last
// acknowledged transmission test per receiver, in the page's language; without a station
// there is no card. The state API carries the same.
func TestPanel_StationLink(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	if _, body := r.req(anna, "GET", "/", nil); strings.Contains(body, `id="station"`) {
		t.Fatal("a station card without a station")
	}
	r.s.up = stationUplink{}
	_, body := r.req(anna, "GET", "/", nil)
	for _, want := range []string{`id="station"`, "Monitoring station", `data-receiver="central"`, `primary <span class="ok">up</span>`,
		`backup <span class="problem">fault</span>`, "last transmission test: <time", stationTestAt.Format("2006-01-02 15:04:05") + `</time> (primary)`,
		`data-receiver="guard"`, "last transmission test: none acknowledged since start"} {
		if !strings.Contains(body, want) {
			t.Errorf("panel lacks %q:\n%s", want, body)
		}
	}
	if res, _ := r.req(anna, "POST", "/account/lang", anna.form("lang", "sv")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting Swedish: %d", res.StatusCode)
	}
	_, body = r.req(anna, "GET", "/", nil)
	for _, want := range []string{"Larmcentral", `<span class="ok">uppe</span>`, `<span class="problem">fel</span>`, "senaste provlarm: <time", "inget kvitterat sedan start"} {
		if !strings.Contains(body, want) {
			t.Errorf("Swedish panel lacks %q", want)
		}
	}
	_, body = r.api(anna, "GET", "/api/v1/state", "")
	var v panelView
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Station) != 2 || !v.Station[0].Paths[0].Up || !v.Station[0].Paths[1].Fault ||
		v.Station[0].LastTest == nil || !v.Station[0].LastTest.At.Equal(stationTestAt) || v.Station[1].LastTest != nil {
		t.Errorf("state API station: %v %s", err, body)
	}
}

// TestServer_WrongPINsPerAddress: wrong PINs count per session in the engine and per
// address here, so new sessions from one address do not buy fresh tries.
func TestServer_WrongPINsPerAddress(t *testing.T) {
	r := newRig(t)
	a, b, c3 := r.login("anna"), r.login("anna"), r.login("anna")
	wrong := func(c client) int {
		t.Helper()
		res, _ := r.req(c, "POST", "/arm", c.form("area", "1", "mode", "away", "pin", "0000"))
		return res.StatusCode
	}
	// Four each from two sessions: neither reaches the engine's five.
	for i, c := range []client{a, a, a, a, b, b, b, b, c3} {
		if got := wrong(c); got != http.StatusForbidden {
			t.Fatalf("wrong PIN %d: status %d, want 403", i+1, got)
		}
	}
	if got := wrong(c3); got != http.StatusForbidden { // the tenth from this address
		t.Fatalf("tenth wrong PIN: status %d", got)
	}
	// Now every session of the address waits, even with the right PIN.
	res, body := r.req(b, "POST", "/arm", b.form("area", "1", "mode", "away", "pin", "1234"))
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "2026") {
		t.Fatalf("right PIN from a locked address: %d\n%s", res.StatusCode, body)
	}
	if st := r.h.Snapshot().State.Areas[0]; st.Set != hub.ModeDisarmed {
		t.Fatalf("armed from a locked address: %s", st.Mode)
	}
	// After the lockout the right PIN works again.
	r.clk.Add(pinLockout + time.Second)
	if res, body := r.req(b, "POST", "/arm", b.form("area", "1", "mode", "away", "pin", "1234")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right PIN after the lockout: %d\n%s", res.StatusCode, body)
	}
}

// TestMessages_EveryMethod: the history and the panel say how in words, for every way
// of arming the hub knows, Home Assistant's included.
func TestMessages_EveryMethod(t *testing.T) {
	for m := hub.HowCode; m.String() != fmt.Sprintf("method(%d)", uint8(m)); m++ {
		for _, l := range []string{"en", "sv"} {
			if _, ok := messages[l]["how_"+m.String()]; !ok {
				t.Errorf("%s: no words for how %s", l, m)
			}
		}
	}
	if got := translate("sv", "how_"+hub.HowHomeAssistant.String()); got != "Home Assistant" {
		t.Fatalf("Home Assistant in Swedish: %q", got)
	}
}

// TestServer_HistorySaysHowInWords: an arming from Home Assistant shows as "Home
// Assistant" in the history and on the panel, in the reader's language.
func TestServer_HistorySaysHowInWords(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, Code: "5678", How: hub.HowHomeAssistant, Iface: "home_assistant"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res, body := r.req(anna, "GET", "/history?kind=exit_delay", nil); res.StatusCode != 200 || !strings.Contains(body, "<td>Home Assistant</td>") {
		t.Fatalf("history: %d %s", res.StatusCode, body)
	}
	if res, body := r.req(anna, "GET", "/", nil); res.StatusCode != 200 || !strings.Contains(body, "erik · Home Assistant") {
		t.Fatalf("panel: %d %s", res.StatusCode, body)
	}
}
