package browsertest

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// page is a tiny panel: a form, a button whose script changes the state line, and a line
// fed by server-sent events. {{input}} is the name field, labelled or not.
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>House</title>
<script src="/app.js" defer></script>
</head>
<body>
<main>
<h1>House</h1>
<p id="state">Disarmed</p>
<form id="arm-form">
{{input}}
<button id="arm" type="submit">Arm away</button>
</form>
<p id="live" aria-live="polite">Connecting…</p>
</main>
</body>
</html>
`

const labelledInput = `<label for="name">Your name</label> <input id="name" name="name" autocomplete="name">`

const unlabelledInput = `<input id="name" name="name">`

// script arms on submit and shows the server's events; it is a file of its own so that the
// page's Content-Security-Policy allows no inline script, as the web UI's will.
const script = `
document.getElementById("arm-form").addEventListener("submit", (e) => {
  e.preventDefault();
  document.getElementById("state").textContent = "Armed away by " + document.getElementById("name").value;
});
const live = document.getElementById("live");
const events = new EventSource("/events");
events.onopen = () => { live.textContent = "Connected"; };
events.onmessage = (e) => { live.textContent = e.data; };
`

// panel serves the tiny panel; each string sent on push goes to the open event streams.
func panel(t *testing.T, input string) (srv *httptest.Server, push chan<- string) {
	t.Helper()
	ch := make(chan string)
	quit := make(chan struct{})
	srv = httptest.NewServer(panelHandler(input, ch, quit))
	t.Cleanup(srv.Close)
	// Runs before srv.Close, so that no event stream holds it open.
	t.Cleanup(func() { close(quit) })
	return srv, ch
}

// panelHandler is the tiny panel's server: the page with input in its form, its script,
// and an event stream that sends each line from push until quit is closed.
func panelHandler(input string, push <-chan string, quit <-chan struct{}) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		fmt.Fprint(w, strings.Replace(page, "{{input}}", input, 1))
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, script)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, ": hello\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case line := <-push:
				fmt.Fprintf(w, "data: %s\n\n", line)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			case <-quit:
				return
			}
		}
	})
	return mux
}

// TestTinyPanel_Serve serves the tiny panel at $VAKT_TINYPANEL until interrupted, for
// trying bench/lighthouse.sh on it; it is skipped unless the variable is set. Its event
// stream sends the time every 2 s.
func TestTinyPanel_Serve(t *testing.T) {
	addr := os.Getenv("VAKT_TINYPANEL")
	if addr == "" {
		t.Skip("set VAKT_TINYPANEL=127.0.0.1:8099 (and -timeout 0) to serve the tiny panel for bench/lighthouse.sh")
	}
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	push := make(chan string)
	srv := &http.Server{Addr: addr, Handler: panelHandler(labelledInput, push, ctx.Done())}
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case now := <-tick.C:
				select {
				case push <- "House: disarmed at " + now.Format(time.TimeOnly):
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	t.Logf("serving the tiny panel at http://%s/", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

func TestBrowser_FormScriptAndLiveUpdate(t *testing.T) {
	srv, push := panel(t, labelledInput)
	b := Start(t)
	b.Visit(srv.URL)
	if got := b.Text("#state"); got != "Disarmed" {
		t.Fatalf("state before arming = %q, want Disarmed", got)
	}
	b.Type("#name", "Anna")
	b.Click("#arm")
	b.WaitText("#state", "Armed away by Anna")

	// The stream is open before the server pushes, so the line that appears came live.
	b.WaitText("#live", "Connected")
	push <- "Garage: armed home"
	b.WaitText("#live", "Garage: armed home")

	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// A form that posts and redirects, as a login does: WaitText waits across the navigation
// that the click starts, into the next page.
func TestBrowser_WaitTextAcrossNavigation(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Sign in</title><main>`+
			`<form method="post" action="/login"><label for="user">User</label> <input id="user" name="user">`+
			`<button id="go">Sign in</button></form><p id="msg">Signed out</p></main>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // the old page stays while the server thinks
		http.Redirect(w, r, "/panel?user="+r.FormValue("user"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /panel", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Panel</title><main><p id="msg">Welcome %s</p></main>`,
			html.EscapeString(r.FormValue("user")))
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := Start(t)
	for range 3 {
		b.Visit(srv.URL)
		b.Type("#user", "anna")
		b.Click("#go")
		b.WaitText("#msg", "Welcome anna")
		b.Axe(t)
	}
}

func TestBrowser_Screenshot(t *testing.T) {
	srv, _ := panel(t, labelledInput)
	b := Start(t)
	// A directory that is not there yet, unless the developer asked for the pictures.
	if b.ScreenshotDir == "" {
		b.ScreenshotDir = filepath.Join(t.TempDir(), "not", "yet")
	}
	b.Visit(srv.URL)
	for _, size := range []struct {
		name          string
		width, height int
	}{
		{"browsertest-phone", 390, 844},
		{"browsertest-desktop", 1280, 800},
	} {
		shot := b.Screenshot(size.name, size.width, size.height)
		saved, err := os.ReadFile(filepath.Join(b.ScreenshotDir, fmt.Sprintf("%s-%dx%d.png", size.name, size.width, size.height)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(saved, shot) {
			t.Errorf("%s: the saved file is not the screenshot returned", size.name)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(saved))
		if err != nil {
			t.Fatalf("%s: %v", size.name, err)
		}
		if cfg.Width != size.width || cfg.Height != size.height {
			t.Errorf("%s: %dx%d pixels, want %dx%d", size.name, cfg.Width, cfg.Height, size.width, size.height)
		}
	}
}

func TestBrowser_AxeFindsUnlabelledInput(t *testing.T) {
	srv, _ := panel(t, unlabelledInput)
	b := Start(t)
	b.Visit(srv.URL)
	vs := b.AxeViolations()
	i := slices.IndexFunc(vs, func(v Violation) bool { return v.ID == "label" })
	if i < 0 {
		t.Fatalf("axe did not report the unlabelled input; violations: %v", vs)
	}
	if v := vs[i]; v.Impact != "critical" || !slices.Contains(v.Targets(), "#name") {
		t.Errorf("violation = %v, want critical at #name", v)
	}

	// Axe fails the test and names the rule, its impact and the element.
	rec := &recorder{TB: t}
	b.Axe(rec)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "label (critical)") || !strings.Contains(rec.errors[0], "#name") {
		t.Errorf("Axe reported %q, want the label violation at #name", rec.errors)
	}
}

func TestBrowser_AxePassesLabelledInput(t *testing.T) {
	srv, _ := panel(t, labelledInput)
	b := Start(t)
	b.Visit(srv.URL)
	b.Axe(t)
	// At phone size too: the viewport changes what axe sees (e.g. target sizes).
	b.Screenshot("browsertest-axe-phone", 390, 844)
	b.Axe(t)
}

func TestStart_WithoutChromium(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CHROME_PATH", "")
	for _, tc := range []struct {
		name, ci string
		want     string
	}{
		{"developer", "", "skip"},
		{"CI", "true", "fatal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(rec)
			}()
			<-done
			if rec.ended != tc.want || !strings.Contains(rec.said, "apt-get install chromium") {
				t.Errorf("Start ended with %s %q, want %s naming apt-get install chromium", rec.ended, rec.said, tc.want)
			}
		})
	}
}

// recorder is a testing.TB that records what Axe and Start report instead of reporting it;
// its Skip and Fatal end the goroutine, as the real ones do, without ending the test.
type recorder struct {
	testing.TB
	errors []string
	ended  string
	said   string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Skip(args ...any) {
	r.ended, r.said = "skip", fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.ended, r.said = "fatal", fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Fatal(fmt.Sprintf(format, args...))
}
