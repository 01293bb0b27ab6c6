package web

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// serverKey is a WireGuard public key as `wg pubkey` prints it.
const serverKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

// TestAway_WireGuardForAPhone: every signed-in user reads how to reach vakt from abroad; an
// admin has vakt make a phone's WireGuard configuration. The phone's public key in the
// server's peer is the one its private key gives (checked with WireGuard's own `wg
// pubkey`), the phone reaches only what was asked, the page is never cached, the QR code
// is inline, and nothing of the key is kept. Bad fields are refused naming the field.
func TestAway_WireGuardForAPhone(t *testing.T) {
	r := newRig(t)
	anna, erik := r.login("anna"), r.login("erik")

	res, body := r.req(erik, "GET", "/away", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "never opens a port") || strings.Contains(body, `action="/away/wireguard"`) {
		t.Fatalf("erik's away page: %d\n%s", res.StatusCode, body)
	}
	if res, _ := r.req(erik, "POST", "/away/wireguard", erik.form("endpoint", "home.example.net:51820", "server_public_key", serverKey)); res.StatusCode != http.StatusForbidden {
		t.Errorf("erik makes a WireGuard configuration: %d", res.StatusCode)
	}
	if _, body := r.req(anna, "GET", "/account", nil); !strings.Contains(body, `href="/away"`) {
		t.Error("the account page does not lead to the away page")
	}
	if _, body := r.req(anna, "GET", "/away", nil); !strings.Contains(body, `action="/away/wireguard"`) {
		t.Fatalf("anna's away page has no form:\n%s", body)
	}

	res, body = r.req(anna, "POST", "/away/wireguard", anna.form("name", "Anna's phone", "endpoint", "home.example.net:51820",
		"server_public_key", serverKey, "address", "10.6.0.7/32", "allowed_ips", "192.168.1.20", "dns", "192.168.1.1"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("make: %d\n%s", res.StatusCode, body)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: the page holds a private key", cc)
	}
	if !strings.Contains(body, `<svg class="qr"`) || strings.Contains(body, "<img") {
		t.Error("no inline QR code")
	}
	body = html.UnescapeString(body)
	priv := regexp.MustCompile(`PrivateKey = ([A-Za-z0-9+/=]{44})`).FindStringSubmatch(body)
	pub := regexp.MustCompile(`# vakt: Anna's phone\nPublicKey = ([A-Za-z0-9+/=]{44})\nAllowedIPs = 10.6.0.7/32`).FindStringSubmatch(body)
	if priv == nil || pub == nil {
		t.Fatalf("no key pair in:\n%s", body)
	}
	for _, want := range []string{"Address = 10.6.0.7/32", "DNS = 192.168.1.1", "PublicKey = " + serverKey, "Endpoint = home.example.net:51820", "AllowedIPs = 192.168.1.20/32", "PersistentKeepalive = 25"} {
		if !strings.Contains(body, want) {
			t.Errorf("the phone's configuration lacks %q", want)
		}
	}
	raw, _ := base64.StdEncoding.DecodeString(priv[1])
	k, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()); got != pub[1] {
		t.Errorf("the server's peer has key %s, the phone's private key gives %s", pub[1], got)
	}
	if raw[0]&7 != 0 || raw[31]&128 != 0 || raw[31]&64 == 0 {
		t.Errorf("the private key is not clamped as wg genkey clamps: %x", raw)
	}
	if wg, err := exec.LookPath("wg"); err == nil {
		cmd := exec.Command(wg, "pubkey")
		cmd.Stdin = strings.NewReader(priv[1] + "\n")
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != pub[1] {
			t.Errorf("wg pubkey says %q (%v), the server's peer has %s", out, err, pub[1])
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("wg (wireguard-tools) is missing: test.sh installs it")
	}
	// Nothing of the key is kept.
	if b, err := os.ReadFile(r.h.Store().Path()); err != nil || strings.Contains(string(b), priv[1]) || strings.Contains(string(b), string(raw)) {
		t.Errorf("the phone's private key is in the store (%v)", err)
	}

	// The API makes the same, as JSON.
	res, body = r.api(anna, "POST", "/api/v1/wireguard", `{"endpoint":"[2001:db8::1]:51820","server_public_key":"`+serverKey+`","allowed_ips":"192.168.1.0/24"}`)
	var cfg wireguardConfig
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &cfg) != nil || !strings.Contains(cfg.Phone, "Endpoint = [2001:db8::1]:51820") ||
		!strings.Contains(cfg.Phone, "AllowedIPs = 192.168.1.0/24") || !strings.Contains(cfg.Server, "AllowedIPs = 10.6.0.2/32") {
		t.Errorf("API: %d %s", res.StatusCode, body)
	}

	for _, tc := range []struct{ field, value, want string }{
		{"endpoint", "home.example.net", "Server name and port"},
		{"endpoint", "home.example.net:99999", "want 1–65535"},
		{"server_public_key", "abc", "Server public key"},
		{"address", "10.6.0.2", "Address in the tunnel"},
		{"dns", "my-router", "DNS server"},
		{"allowed_ips", "192.168.1.300", "Reachable addresses"},
	} {
		form := map[string]string{"endpoint": "home.example.net:51820", "server_public_key": serverKey, "allowed_ips": "192.168.1.20"}
		form[tc.field] = tc.value
		var kv []string
		for k, v := range form {
			kv = append(kv, k, v)
		}
		res, body := r.req(anna, "POST", "/away/wireguard", anna.form(kv...))
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || strings.Contains(body, "PrivateKey") {
			t.Errorf("%s=%q: %d, want 400 saying %q", tc.field, tc.value, res.StatusCode, tc.want)
		}
	}
	if res, body := r.api(anna, "POST", "/api/v1/wireguard", `{"endpoint":"x:1","server_public_key":"nope"}`); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "bad_server_public_key") {
		t.Errorf("API, bad key: %d %s", res.StatusCode, body)
	}
	// In Swedish for a Swedish user.
	if res, _ := r.req(anna, "POST", "/account/lang", anna.form("lang", "sv")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("language: %d", res.StatusCode)
	}
	if _, body := r.req(anna, "GET", "/away", nil); !strings.Contains(body, "Borta hemifrån") {
		t.Error("the away page is not in Swedish")
	}
}

// TestBrowser_AwayQRCodeScans: the QR code Chromium draws for the phone's configuration
// decodes (with zbar, as the WireGuard app's camera would) to exactly the configuration
// shown beside it; the page passes axe.
func TestBrowser_AwayQRCodeScans(t *testing.T) {
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg (zbar-tools) is missing: test.sh installs it")
		}
		t.Skip("zbarimg is missing: apt-get install zbar-tools (./test.sh does)")
	}
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")
	b.Visit(base + "/away")
	b.Type(`#wireguard input[name="endpoint"]`, "home.example.net:51820")
	b.Type(`#wireguard input[name="server_public_key"]`, serverKey)
	b.Click(`#wireguard button.primary`)
	b.WaitText(`#wireguard-result`, "PrivateKey")
	b.Axe(t)
	shown := b.Text(`#wireguard-result pre`)
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(`svg.qr`)))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "-q", "--raw", f).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSuffix(string(out), "\n"); got != shown {
		t.Errorf("the QR code says\n%q\nthe page shows\n%q", got, shown)
	}
}
