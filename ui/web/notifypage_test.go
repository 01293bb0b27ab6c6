package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ui/notify"
)

// ntfyEndpoint is an ntfy server on 127.0.0.1 recording "topic: body" per publish, failing
// with 500 while failing is set.
type ntfyEndpoint struct {
	*httptest.Server
	mu      sync.Mutex
	got     []string
	failing bool
}

func newNtfyEndpoint(t *testing.T) *ntfyEndpoint {
	e := &ntfyEndpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		e.got = append(e.got, strings.TrimPrefix(r.URL.Path, "/")+": "+string(b))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *ntfyEndpoint) messages() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func (e *ntfyEndpoint) fail(on bool) {
	e.mu.Lock()
	e.failing = on
	e.mu.Unlock()
}

// newNotifyRig is the rig with a running notifier on an ntfy server of the test.
func newNotifyRig(t *testing.T) (*rig, *ntfyEndpoint, *notify.Notifier) {
	srv := newNtfyEndpoint(t)
	var n *notify.Notifier
	r := newRigWith(t, func(h *hub.Hub, clk *hubtest.Clock, d *Deps) {
		cfg := notify.DefaultConfig()
		cfg.Ntfy.Server = srv.URL
		cfg.FaultAfter = 1
		var err error
		if n, err = notify.New(cfg, h, notify.Options{Now: clk.Now, Loc: time.UTC}); err != nil {
			t.Fatal(err)
		}
		hubtest.Run(t, "notify", n.Run)
		d.Notifier = n
	})
	return r, srv, n
}

// TestNotifyPage_EditAndDeliver: erik chooses mains news by ntfy on the page, and the next
// mains loss reaches his topic without a restart; the test button sends and shows its success;
// bad input is refused naming the field; he may not edit anna's settings, anna may edit his.
func TestNotifyPage_EditAndDeliver(t *testing.T) {
	r, srv, _ := newNotifyRig(t)
	erik, anna := r.login("erik"), r.login("anna")

	res, body := r.req(erik, "GET", "/notify", nil)
	if res.StatusCode != 200 || !strings.Contains(body, "No notifications yet.") || strings.Contains(body, "always on for admins") {
		t.Fatalf("erik's page: %d\n%s", res.StatusCode, body)
	}
	res, body = r.req(erik, "POST", "/notify", erik.form("user", "erik", "events", "arming", "events", "mains", "ntfy_topic", "erik-home"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d %s", res.StatusCode, body)
	}
	res, body = r.req(erik, "GET", "/notify?done=saved", nil)
	if !strings.Contains(body, "Notification settings saved.") || !strings.Contains(body, `value="erik-home"`) || !strings.Contains(body, "Saved here") {
		t.Fatalf("after saving: %s", body)
	}
	if res := r.h.Do(t.Context(), hub.Input{Kind: hub.InMains, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	hubtest.Eventually(t, "erik's mains news", func() bool { return len(srv.messages()) == 1 })
	if got := srv.messages()[0]; !strings.HasPrefix(got, "erik-home: ") {
		t.Errorf("got %q", got)
	}

	// The test button.
	res, body = r.req(erik, "POST", "/notify/test", erik.form("user", "erik", "channel", "ntfy"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("test: %d %s", res.StatusCode, body)
	}
	if got := srv.messages(); len(got) != 2 || !strings.HasPrefix(got[1], "erik-home: ") {
		t.Errorf("test message: %q", got)
	}
	_, body = r.req(erik, "GET", "/notify?done=test", nil)
	if !strings.Contains(body, "Test message sent.") || !strings.Contains(body, "Last delivered: <time>") {
		t.Errorf("after the test: %s", body)
	}
	// A test that fails shows the channel as failing, and on the panel as a trouble.
	srv.fail(true)
	res, body = r.req(erik, "POST", "/notify/test", erik.form("user", "erik", "channel", "ntfy"))
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(body, "HTTP 500") || !strings.Contains(body, "Failing") {
		t.Errorf("failed test: %d %s", res.StatusCode, body)
	}
	_, body = r.req(anna, "GET", "/api/v1/state", nil)
	if !strings.Contains(body, "notification channel fault: erik/ntfy") {
		t.Errorf("no trouble in the state: %s", body)
	}
	srv.fail(false)

	// Bad input.
	res, body = r.req(erik, "POST", "/notify", erik.form("user", "erik", "events", "gossip", "ntfy_topic", "a/b"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, `events[0]: &#34;gossip&#34;`) || !strings.Contains(body, "ntfy_topic: &#34;a/b&#34;") {
		t.Errorf("bad input: %d %s", res.StatusCode, body)
	}
	res, _ = r.req(erik, "POST", "/notify", erik.form("user", "erik", "sms", "+46701234567"))
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("an SMS number without a modem is kept out, not refused: %d", res.StatusCode)
	}

	// Someone else's settings.
	if res, _ := r.req(erik, "GET", "/notify?user=anna", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("erik reads anna's: %d", res.StatusCode)
	}
	if res, _ := r.req(erik, "POST", "/notify", erik.form("user", "anna", "ntfy_topic", "x")); res.StatusCode != http.StatusForbidden {
		t.Errorf("erik edits anna's: %d", res.StatusCode)
	}
	if res, _ := r.req(anna, "GET", "/notify?user=nobody", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %d", res.StatusCode)
	}
	_, body = r.req(anna, "GET", "/notify", nil)
	if !strings.Contains(body, `value="alarm" checked disabled`) || !strings.Contains(body, "always on for admins") || !strings.Contains(body, `href="/notify?user=erik"`) {
		t.Errorf("anna's page: %s", body)
	}
	if res, _ := r.req(anna, "POST", "/notify", anna.form("user", "erik", "events", "arming", "ntfy_topic", "erik-2")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("anna edits erik's: %d", res.StatusCode)
	}
	rc, src, err := r.s.notifier.Recipient("erik")
	if err != nil || src != notify.SourceStore || rc.Ntfy != "erik-2" || rc.SMS != "" {
		t.Errorf("erik's settings %+v %q %v", rc, src, err)
	}
}

// TestNotifyPage_PushSubscriptions: a browser's subscription posted as the page's script
// posts it (JSON, the CSRF token in its header) is stored for the signed-in user and listed
// by host only; a bad one is refused; the remove button deletes it.
func TestNotifyPage_PushSubscriptions(t *testing.T) {
	r, _, n := newNotifyRig(t)
	erik := r.login("erik")
	post := func(body string) int {
		req := httptest.NewRequest("POST", "/api/v1/notify/webpush", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", erik.csrf)
		req.Header.Set("User-Agent", "Mozilla/5.0 (Android 14) Chrome/140")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: erik.cookie})
		res, _ := r.do(req)
		return res.StatusCode
	}
	// A P-256 public key (uncompressed, from RFC 8291's example) and a 16-byte secret.
	const p256dh = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	const auth = "BTBZMqHH6r4Tts7J_aSIgg"
	if code := post(`{"endpoint":"https://push.example.net/wpush/v2/abc","keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `"}}`); code != http.StatusNoContent {
		t.Fatalf("subscribe: %d", code)
	}
	for _, bad := range []string{
		`{"endpoint":"http://push.example.net/x","keys":{"p256dh":"` + p256dh + `","auth":"` + auth + `"}}`,
		`{"endpoint":"https://push.example.net/x","keys":{"p256dh":"AAAA","auth":"` + auth + `"}}`,
		`{"endpoint":"https://push.example.net/x","keys":{"p256dh":"` + p256dh + `","auth":"short"}}`,
		`not json`,
	} {
		if code := post(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, code)
		}
	}
	subs, _ := n.Subscriptions("erik")
	if len(subs) != 1 || subs[0].Agent != "Mozilla/5.0 (Android 14) Chrome/140" {
		t.Fatalf("stored %+v", subs)
	}
	_, body := r.req(erik, "GET", "/notify", nil)
	if !strings.Contains(body, "push.example.net") || strings.Contains(body, "/wpush/v2/abc") {
		t.Errorf("the page lists the browser by host only: %s", body)
	}
	if res, _ := r.req(erik, "POST", "/notify/webpush/remove", erik.form("user", "erik", "browser", "2")); res.StatusCode != http.StatusNotFound {
		t.Errorf("no such browser: %d", res.StatusCode)
	}
	if res, _ := r.req(erik, "POST", "/notify/webpush/remove", erik.form("user", "erik", "browser", "1")); res.StatusCode != http.StatusSeeOther {
		t.Errorf("remove: %d", res.StatusCode)
	}
	if subs, _ := n.Subscriptions("erik"); len(subs) != 0 {
		t.Errorf("left %+v", subs)
	}
}

// TestPanel_AlarmSeen: with an alarm in memory the panel offers "I've seen it"; it takes no
// PIN, logs alarm_seen by anna by web (which stops the SMS escalation) and leaves the
// memory; with nothing to see it is a 409.
func TestPanel_AlarmSeen(t *testing.T) {
	r := newRig(t)
	anna := r.login("anna")
	if res := r.h.Do(t.Context(), hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	_, body := r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, `action="/seen"`) || !strings.Contains(body, "I&#39;ve seen it") {
		t.Fatalf("no seen button: %s", body)
	}
	if res, body := r.req(anna, "POST", "/seen", anna.form("area", "1")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("seen: %d %s", res.StatusCode, body)
	}
	evs, _ := r.h.Store().Events(0, 1000)
	var seen []hub.Event
	for _, ev := range evs {
		if ev.Kind == hub.KindAlarmSeen {
			seen = append(seen, ev)
		}
	}
	if len(seen) != 1 || seen[0].User != "anna" || seen[0].How != hub.HowWeb || seen[0].Area != 1 {
		t.Errorf("logged %+v", seen)
	}
	if len(r.h.Snapshot().State.Areas[0].FireMemory) == 0 {
		t.Error("the memory was cleared without a PIN")
	}
	if res, _ := r.req(anna, "POST", "/seen", anna.form("area", "2")); res.StatusCode != http.StatusConflict {
		t.Errorf("nothing to see in the garage: %d", res.StatusCode)
	}
}
