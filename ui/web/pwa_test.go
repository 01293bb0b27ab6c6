package web

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"vakt/ui/web/browsertest"
)

// The manifest, the service worker and the offline page need no sign-in; the offline page
// shows no state, no name and no CSRF token (the service worker keeps it); the icons are the
// sizes the manifest says.
func TestServer_PWA(t *testing.T) {
	r := newRig(t)
	res, body := r.req(client{}, "GET", "/manifest.webmanifest", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/manifest+json") {
		t.Fatalf("manifest: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var m struct {
		Name, ShortName, StartURL, Display, ThemeColor string
		Icons                                          []struct{ Src, Sizes, Type string }
	}
	dec := json.NewDecoder(strings.NewReader(strings.NewReplacer(`"short_name"`, `"ShortName"`, `"start_url"`, `"StartURL"`, `"theme_color"`, `"ThemeColor"`).Replace(body)))
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "vakt" || m.ShortName != "vakt" || m.StartURL != "/" || m.Display != "standalone" || m.ThemeColor == "" || len(m.Icons) != 2 {
		t.Errorf("manifest %+v", m)
	}
	for _, ic := range m.Icons {
		res, body := r.req(client{}, "GET", ic.Src, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s: %d %s", ic.Src, res.StatusCode, res.Header.Get("Content-Type"))
		}
		img, err := png.Decode(strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", ic.Src, err)
		}
		if got := img.Bounds(); ic.Sizes != fmt.Sprintf("%dx%d", got.Dx(), got.Dy()) {
			t.Errorf("%s is %v, manifest says %s", ic.Src, img.Bounds(), ic.Sizes)
		}
	}
	res, body = r.req(client{}, "GET", "/sw.js", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(body, `"/offline"`) {
		t.Fatalf("sw.js: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// It never keeps the panel or the API.
	for _, kept := range []string{`"/"`, `"/api`, `"/events"`} {
		if strings.Contains(body, kept) {
			t.Errorf("sw.js keeps %s", kept)
		}
	}
	anna := r.login("anna")
	res, body = r.req(anna, "GET", "/offline", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "No connection to vakt") || strings.Contains(body, "anna") || strings.Contains(body, anna.csrf) || strings.Contains(body, "House") {
		t.Fatalf("offline: %d %s", res.StatusCode, body)
	}
	res, body = r.req(anna, "GET", "/", nil)
	if !strings.Contains(body, `<link rel="manifest" href="/manifest.webmanifest">`) || !strings.Contains(body, `<script src="/static/pwa.js" defer></script>`) {
		t.Errorf("the layout does not link the manifest and pwa.js")
	}
}

// In Chromium the manifest parses with no error, and the service worker registers for the
// whole site, becomes active and keeps only static assets and the offline page, which it
// shows when vakt cannot be reached.
func TestBrowser_PWA(t *testing.T) {
	b := browsertest.Start(t)
	if os.Getenv("VAKT_SCREENSHOTS") == "" {
		b.ScreenshotDir = filepath.Join("testdata", "screenshots")
	}
	r := newRig(t)
	base := r.serve()
	b.Visit(base + "/login")

	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Action[*cdpage.GetAppManifestResult](func(ctx context.Context, tg *chromedp.Target) (*cdpage.GetAppManifestResult, error) {
		res, err := cdp.Call(ctx, tg, cdpage.GetAppManifest, cdpage.GetAppManifestParams{})
		return &res, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		t.Errorf("manifest: %s (line %d)", e.Message, e.Line)
	}
	if res.Manifest == nil || res.Manifest.Name != "vakt" || !strings.HasSuffix(strings.ToLower(res.Manifest.Display), "standalone") || len(res.Manifest.Icons) != 2 || res.Manifest.StartURL != base+"/" {
		t.Fatalf("manifest as Chromium read it: %s %+v", res.Data, res.Manifest)
	}

	type reg struct {
		Scope  string   `json:"scope"`
		Active bool     `json:"active"`
		Cached []string `json:"cached"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[reg](`(async () => {
		const r = await navigator.serviceWorker.ready;
		const keys = await caches.keys();
		const cached = [];
		for (const k of keys) {
			for (const req of await (await caches.open(k)).keys()) cached.push(new URL(req.url).pathname);
		}
		return {scope: r.scope, active: !!r.active, cached};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if got.Scope != base+"/" || !got.Active {
		t.Fatalf("service worker: %+v", got)
	}
	for _, p := range got.Cached {
		if p != "/offline" && !strings.HasPrefix(p, "/static/") {
			t.Errorf("the service worker keeps %s", p)
		}
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
	b.Visit(base + "/ca")
	b.WaitText("h1", "Trust vakt on your phone")
	b.Axe(t)

	// vakt gone: the panel's address says so, and shows no state.
	if err := r.s.App().Shutdown(); err != nil {
		t.Fatal(err)
	}
	b.Visit(base + "/")
	b.WaitText("h1", "No connection to vakt")
	if txt := b.Text("main"); strings.Contains(txt, "House") || strings.Contains(txt, "Disarmed") {
		t.Errorf("the offline page shows state: %q", txt)
	}
	b.Axe(t)
	b.Screenshot("offline-phone", 390, 844)
}

// TestBrowser_PWAOverHTTPS is the family installing the app on a phone: a browser that
// does not trust vakt's CA is stopped at the certificate; once the CA is trusted (in the
// browser's own certificate database, as a phone's owner does from /ca) the panel opens
// over HTTPS as a secure context, anna signs in, the service worker takes over, and
// Chromium finds the site installable as an app with no error.
func TestBrowser_PWAOverHTTPS(t *testing.T) {
	r := newRig(t)
	s, _, base := serveHTTPS(t, r)

	// Not trusted yet: the browser refuses the page (no way past it from a test, as it
	// should be).
	stranger := browsertest.Start(t)
	sctx, scancel := context.WithTimeout(stranger.Context(), 20*time.Second)
	_, err := chromedp.Run(sctx, chromedp.Navigate(base+"/login"))
	scancel()
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
		t.Fatalf("a browser that does not trust vakt's CA opened %s: %v", base, err)
	}

	b := browsertest.StartTrusting(t, s.ca.PEM())
	if os.Getenv("VAKT_SCREENSHOTS") == "" {
		b.ScreenshotDir = filepath.Join("testdata", "screenshots")
	}
	signInAs(b, base, "anna")
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("not over HTTPS: %s", base)
	}
	b.InstallableApp(t)
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
	b.Screenshot("panel-https-phone", 390, 844)
}
