// Package browsertest drives Debian's headless Chromium from tests, through chromedp, for the
// web UI's end-to-end tests: visit a page, click, type, wait for a live update, take
// screenshots at phone and desktop size, and check the page with axe-core.
//
// Each helper fails the test on error and must be called from the test's goroutine. When
// Chromium or axe-core is missing, a test is skipped with the command that installs it, and
// fails with that command in CI (CI=true), so developers without them still run the rest.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds each helper's action (a visit, a click, a wait for text).
const DefaultTimeout = 10 * time.Second

// startTimeout bounds Chromium's start: a cold start on a loaded 2-core CI machine takes
// a few seconds, far below this.
const startTimeout = 60 * time.Second

// Browser is one headless Chromium with one tab, owned by one test and closed when the
// test ends.
type Browser struct {
	// Timeout bounds each helper's action; DefaultTimeout unless the test changes it.
	Timeout time.Duration
	// ScreenshotDir is where Screenshot saves PNGs: $VAKT_SCREENSHOTS unless the test
	// sets it (e.g. "testdata/screenshots"). Empty: screenshots are taken but not saved.
	ScreenshotDir string

	tb  testing.TB
	ctx context.Context // the tab's context, with no deadline: it owns the browser

	mu      sync.Mutex
	console []string // the page's console errors and uncaught exceptions
}

// Start starts headless Chromium with a new tab for tb and closes both when tb ends. It
// skips tb (fails it in CI) when Chromium is not installed.
func Start(tb testing.TB) *Browser {
	tb.Helper()
	return start(tb)
}

// StartTrusting is Start with a browser that trusts the certificate authority caPEM, as a
// phone does once its owner installed and trusted vakt's CA: the CA goes into the NSS
// database of a home directory of the browser's own (Chromium on Linux reads the user's
// trusted authorities from $HOME/.pki/nssdb), with NSS's certutil. Nothing else is
// trusted beyond the system's roots, and no certificate error is ignored.
func StartTrusting(tb testing.TB, caPEM []byte) *Browser {
	tb.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		missing(tb, "NSS's certutil", "apt-get install libnss3-tools")
	}
	home := tb.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		tb.Fatal(err)
	}
	ca := filepath.Join(home, "ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", db, "--empty-password"},
		{"-A", "-d", db, "-n", "vakt local CA", "-t", "C,,", "-i", ca},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			tb.Fatalf("browsertest: certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return start(tb, chromedp.Env("HOME="+home))
}

func start(tb testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	tb.Helper()
	path := chromiumPath()
	if path == "" {
		missing(tb, "Chromium (chromium or chromium-browser on PATH, or CHROME_PATH)", "apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Root in a container: Chromium's sandbox needs user namespaces it does not get.
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{
		Timeout:       DefaultTimeout,
		ScreenshotDir: os.Getenv("VAKT_SCREENSHOTS"),
		tb:            tb,
		ctx:           ctx,
	}

	// The first action starts the browser and ties it to ctx, so it runs on ctx itself
	// (not on a context with a deadline) and is bounded from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			cancelTab()
			cancelAlloc()
			tb.Fatalf("browsertest: start %s: %v", path, err)
		}
	case <-time.After(startTimeout):
		cancelTab()
		cancelAlloc()
		tb.Fatalf("browsertest: start %s: no answer after %s", path, startTimeout)
	}

	var wg sync.WaitGroup
	messages := chromedp.Console(ctx)
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				b.mu.Lock()
				b.console = append(b.console, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
				b.mu.Unlock()
			}
		}
	})
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
		if tb.Failed() {
			for _, line := range b.ConsoleErrors() {
				tb.Logf("browser console: %s", line)
			}
		}
	})
	return b
}

// chromiumPath is Chromium's executable: $CHROME_PATH (as Lighthouse reads it), else
// Debian's chromium, else Ubuntu's chromium-browser; empty when there is none.
func chromiumPath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// missing skips tb, or fails it in CI, naming what is missing and the command that
// installs it.
func missing(tb testing.TB, what, install string) {
	tb.Helper()
	msg := fmt.Sprintf("browsertest: %s is missing; install it with: %s (./test.sh does)", what, install)
	if inCI() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// inCI tells whether the tests run in CI, where a missing browser is a failure.
func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// Context is the tab's context, for chromedp actions the helpers do not cover; bound
// each with context.WithTimeout, never the context itself (it owns the browser).
func (b *Browser) Context() context.Context { return b.ctx }

// Do runs chromedp actions in the tab within b.Timeout, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.tb.Fatalf("browsertest: %s: %v", what, timeoutSays(err, b.Timeout))
	}
}

// Visit loads url and waits for its load event.
func (b *Browser) Visit(url string) {
	b.tb.Helper()
	b.Do("visit "+url, chromedp.Navigate(url))
}

// Click clicks the first element that matches the CSS selector sel, once it is visible.
func (b *Browser) Click(sel string) {
	b.tb.Helper()
	b.Do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// Type types text, key by key, into the first element that matches the CSS selector sel,
// after what it already holds. "\n" is the Enter key.
func (b *Browser) Type(sel, text string) {
	b.tb.Helper()
	b.Do(fmt.Sprintf("type %q into %s", text, sel), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Text is the text of the first element that matches the CSS selector sel, once it is
// visible.
func (b *Browser) Text(sel string) string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.tb.Fatalf("browsertest: text of %s: %v", sel, timeoutSays(err, b.Timeout))
	}
	return s
}

// Attr returns the attribute name of the first element that matches the CSS selector sel,
// "" when the element has no such attribute.
func (b *Browser) Attr(sel, name string) string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.tb.Fatalf("browsertest: attribute %s of %s: %v", name, sel, timeoutSays(err, b.Timeout))
	}
	return a.Value
}

// WaitText waits until the text of the first element that matches the CSS selector sel
// contains text (its textContent: hidden text counts): an asynchronous effect such as a
// countdown, a live update over SSE, or the next page after a click that submits a form.
// It fails the test, saying what the element says instead, when b.Timeout passes first. It
// waits for an effect; it asserts nothing about how soon the effect comes.
func (b *Browser) WaitText(sel, text string) {
	b.tb.Helper()
	deadline := time.Now().Add(b.Timeout)
	ctx, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	var err error
	for {
		left := time.Until(deadline)
		if left <= 0 {
			err = context.DeadlineExceeded
			break
		}
		_, err = chromedp.Run(ctx, chromedp.PollFunction[chromedp.Void](
			`(sel, text) => { const el = document.querySelector(sel); return !!el && el.textContent.includes(text); }`,
			chromedp.WithPollingArgs(sel, text),
			chromedp.WithPollingMutation(),
			chromedp.WithPollingTimeout(left),
		))
		if err == nil {
			return
		}
		if ctx.Err() != nil || errors.Is(err, chromedp.ErrPollingTimeout) {
			break
		}
		// A navigation ended the document the poll ran in: poll the next one.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	now := "no such element"
	sctx, scancel := context.WithTimeout(b.ctx, time.Second)
	defer scancel()
	if got, serr := chromedp.Run(sctx, chromedp.Evaluate[*string](
		fmt.Sprintf(`document.querySelector(%q)?.textContent ?? null`, sel))); serr == nil && got != nil {
		now = fmt.Sprintf("%q", strings.TrimSpace(*got))
	}
	b.tb.Fatalf("browsertest: wait for %q in %s: %v; it says %s", text, sel, timeoutSays(err, b.Timeout), now)
}

// Screenshot sets the viewport to width×height CSS pixels (a phone's, with touch, when
// narrower than 600) and saves what it shows as ScreenshotDir/NAME-WIDTHxHEIGHT.png,
// creating the directory when it is absent. With no ScreenshotDir it only takes the
// picture. The viewport stays at that size for the actions after it. It returns the PNG.
func (b *Browser) Screenshot(name string, width, height int) []byte {
	b.tb.Helper()
	viewport := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if width < 600 {
		viewport = append(viewport, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.Do(fmt.Sprintf("set the viewport to %dx%d", width, height),
		chromedp.EmulateViewport(int64(width), int64(height), viewport...))
	ctx, cancel := context.WithTimeout(b.ctx, b.Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.tb.Fatalf("browsertest: screenshot %s: %v", name, timeoutSays(err, b.Timeout))
	}
	if b.ScreenshotDir == "" {
		return png
	}
	if err := os.MkdirAll(b.ScreenshotDir, 0o755); err != nil {
		b.tb.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.ScreenshotDir, fmt.Sprintf("%s-%dx%d.png", name, width, height))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.tb.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	b.tb.Logf("browsertest: screenshot %s", path)
	return png
}

// ConsoleErrors are the console errors and uncaught exceptions of the tab's pages so far,
// each with its place. They are logged when the test fails.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// timeoutSays makes a deadline error say how long the helper waited.
func timeoutSays(err error, d time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, chromedp.ErrPollingTimeout) {
		return fmt.Errorf("not done within %s: %w", d, err)
	}
	return err
}

// InstallableApp checks that the page open in the tab is an app a phone can install: a
// secure context (HTTPS with a trusted certificate, or loopback), a service worker active
// for the whole site, and no error in Chromium's own installability check (manifest,
// icons, start URL). It fails tb with what is missing.
func (b *Browser) InstallableApp(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*b.Timeout)
	defer cancel()
	type worker struct {
		Secure bool   `json:"secure"`
		Origin string `json:"origin"`
		Scope  string `json:"scope"`
		Active bool   `json:"active"`
	}
	w, err := chromedp.Run(ctx, chromedp.Evaluate[worker](`(async () => {
		const r = await navigator.serviceWorker.ready;
		return {secure: window.isSecureContext, origin: location.origin, scope: r.scope, active: !!r.active};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("browsertest: service worker: %v", timeoutSays(err, 3*b.Timeout))
	}
	if !w.Secure || w.Scope != w.Origin+"/" || !w.Active {
		tb.Fatalf("browsertest: not installable: secure context %v, service worker scope %q active %v", w.Secure, w.Scope, w.Active)
	}
	errs, err := chromedp.Run(ctx, chromedp.Action[[]*cdpage.InstallabilityError](func(ctx context.Context, t *chromedp.Target) ([]*cdpage.InstallabilityError, error) {
		res, err := cdp.Call(ctx, t, cdpage.GetInstallabilityErrors, cdp.Empty{})
		return res.InstallabilityErrors, err
	}))
	if err != nil {
		tb.Fatalf("browsertest: installability: %v", err)
	}
	for _, e := range errs {
		tb.Errorf("browsertest: not installable: %s %v", e.ErrorID, e.ErrorArguments)
	}
}
