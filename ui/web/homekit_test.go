package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ui/homekit"
)

// withHomeKit runs a real HomeKit bridge over the rig's hub and shows it in the tools.
func (r *rig) withHomeKit() *homekit.Bridge {
	r.t.Helper()
	b := homekit.New(homekit.Config{Listen: "127.0.0.1:0"}, r.h, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hubtest.Run(r.t, "homekit", b.Run)
	hubtest.Eventually(r.t, "the bridge serves", func() bool { return b.Addr() != "" })
	r.s.homekit = b
	return b
}

var setupCodeRE = regexp.MustCompile(`<code class="setup-code">(\d{3}-\d{2}-\d{3})</code>`)

// TestInstaller_HomeKit: the tools show the setup code, its QR code and how many are paired;
// an admin resets the pairings (confirmed, logged with who) and sees the new code; a granted
// installer sees the code but no reset. Without a bridge there is no card.
func TestInstaller_HomeKit(t *testing.T) {
	r := newRig(t)
	anna, ivan := r.login("anna"), r.login("ivan")
	if _, body := r.req(anna, "GET", "/installer", nil); strings.Contains(body, `id="homekit"`) {
		t.Fatal("a HomeKit card without a bridge")
	}
	if res, _ := r.req(anna, "POST", "/installer/homekit/reset", anna.form("confirm", "1")); res.StatusCode != http.StatusNotFound {
		t.Fatalf("reset without a bridge: %d, want 404", res.StatusCode)
	}
	// a bridge that is not running (stopped by an error in the log): 503, nothing reset
	r.s.homekit = homekit.New(homekit.Config{}, r.h, nil, slog.New(slog.DiscardHandler))
	if res, _ := r.req(anna, "POST", "/installer/homekit/reset", anna.form("confirm", "1")); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("reset with the bridge down: %d, want 503", res.StatusCode)
	}
	b := r.withHomeKit()
	code, payload := b.SetupCode()
	_, body := r.req(anna, "GET", "/installer", nil)
	m := setupCodeRE.FindStringSubmatch(body)
	if m == nil || m[1] != code {
		t.Fatalf("setup code %v on the page, want %s:\n%s", m, code, body)
	}
	for _, want := range []string{`<svg class="qr"`, payload, `data-paired>0<`, `action="/installer/homekit/reset"`, "Add Accessory"} {
		if !strings.Contains(body, want) {
			t.Errorf("HomeKit card lacks %q", want)
		}
	}
	if got := svgBits(t, body); !equalBits(got, qrBits(t, payload)) {
		t.Error("the QR code drawn is not the payload's")
	}

	r.grant(anna, "2")
	_, body = r.req(ivan, "GET", "/installer", nil)
	if !strings.Contains(body, code) || strings.Contains(body, `action="/installer/homekit/reset"`) {
		t.Error("the installer should see the code and no reset")
	}
	if res, _ := r.req(ivan, "POST", "/installer/homekit/reset", ivan.form("confirm", "1")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("reset by the installer: %d, want 403", res.StatusCode)
	}

	// Unconfirmed: refused, nothing changes.
	res, body := r.req(anna, "POST", "/installer/homekit/reset", anna.form())
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Tick the box") {
		t.Fatalf("unconfirmed reset: %d %s", res.StatusCode, alertText(body))
	}
	if c, _ := b.SetupCode(); c != code {
		t.Fatal("an unconfirmed reset changed the code")
	}
	res, _ = r.req(anna, "POST", "/installer/homekit/reset", anna.form("confirm", "1"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/installer?homekit=reset#homekit" {
		t.Fatalf("reset: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if ev := r.lastChange(); ev.User != "anna" || ev.How != hub.HowWeb || !strings.Contains(ev.Note, "HomeKit") {
		t.Fatalf("history: %+v, want anna's HomeKit reset", ev)
	}
	hubtest.Eventually(t, "the bridge serves again", func() bool { return b.Addr() != "" })
	newCode, _ := b.SetupCode()
	_, body = r.req(anna, "GET", "/installer?homekit=reset", nil)
	if newCode == code || !strings.Contains(body, newCode) || !strings.Contains(body, "Every HomeKit pairing is removed") {
		t.Fatalf("after the reset the page shows %v, want the new code %s", setupCodeRE.FindStringSubmatch(body), newCode)
	}

	// The JSON twin.
	_, body = r.api(anna, "GET", "/api/v1/installer", "")
	var v struct {
		HomeKit *homekitView `json:"homekit"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.HomeKit == nil || v.HomeKit.Code != newCode || !strings.HasPrefix(v.HomeKit.Payload, "X-HM://") {
		t.Fatalf("API HomeKit: %v %s", err, body)
	}
	if res, body := r.api(anna, "POST", "/api/v1/installer/homekit/reset", `{"confirm":false}`); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("API unconfirmed reset: %d %s", res.StatusCode, body)
	}
	if res, body := r.api(anna, "POST", "/api/v1/installer/homekit/reset", `{"confirm":`); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("API bad body: %d %s", res.StatusCode, body)
	}
	res, body = r.api(anna, "POST", "/api/v1/installer/homekit/reset", `{"confirm":true}`)
	if err := json.Unmarshal([]byte(body), &v); res.StatusCode != http.StatusOK || err != nil || v.HomeKit == nil || v.HomeKit.Code == newCode {
		t.Fatalf("API reset: %d %v %s", res.StatusCode, err, body)
	}

	// In Swedish.
	if res, _ := r.req(anna, "POST", "/account/lang", anna.form("lang", "sv")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting Swedish: %d", res.StatusCode)
	}
	_, body = r.req(anna, "GET", "/installer", nil)
	for _, want := range []string{"Installationskod", "Parkopplade enheter", "Återställ HomeKit-parkopplingar"} {
		if !strings.Contains(body, want) {
			t.Errorf("Swedish card lacks %q", want)
		}
	}
}

var rectRE = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-\d+z`)

// svgBits reads back the modules the page's QR code draws.
func svgBits(t *testing.T, page string) [][]bool {
	t.Helper()
	i := strings.Index(page, `<svg class="qr"`)
	j := strings.Index(page[i:], "</svg>")
	if i < 0 || j < 0 {
		t.Fatal("no QR code on the page")
	}
	svg := page[i : i+j]
	var n int
	if _, err := fmt.Sscanf(svg[strings.Index(svg, `viewBox="`):], `viewBox="0 0 %d`, &n); err != nil {
		t.Fatal(err)
	}
	bits := make([][]bool, n)
	for y := range bits {
		bits[y] = make([]bool, n)
	}
	for _, m := range rectRE.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		run, _ := strconv.Atoi(m[3])
		if x+run > n || y >= n {
			t.Fatalf("modules %d..%d,%d outside the %d-module code", x, x+run-1, y, n)
		}
		for i := range run {
			bits[y][x+i] = true
		}
	}
	return bits
}

func qrBits(t *testing.T, payload string) [][]bool {
	t.Helper()
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	return q.Bitmap()
}

func equalBits(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}
