package web

// Benchmarks for BENCHMARKS.md "## Web UI" (DESIGN §6): the panel page and its assets,
// event → SSE client, and the history over 100 000 events. They measure; they assert no
// time. Run with
//
//	go test ./ui/web -run '^$' -bench . -benchtime 2s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/devices"
	"vakt/hub"
	"vakt/hub/hubtest"
)

// benchServer is a web server over a real hub on a store at path (which may already hold a
// history), with the demo family, serving on a loopback port; the client is anna's signed-in
// browser, without compression.
type benchServer struct {
	h      *hub.Hub
	s      *Server
	base   string
	cookie *http.Cookie
	client *http.Client
}

// benchInstallation is the demo family's with web passwords.
func benchInstallation(b *testing.B) *hub.Installation {
	inst := hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef"))
	for i := range inst.Users {
		if err := inst.Users[i].SetPassword(pw); err != nil {
			b.Fatal(err)
		}
	}
	return inst
}

func newBenchServer(b *testing.B, path string) *benchServer {
	b.Helper()
	inst := benchInstallation(b)
	h, _ := hubtest.StartHub(b, path, inst, hub.Options{})
	if u := h.Snapshot().Installation.Users; len(u) == 0 || u[0].Password == "" {
		b.Fatal("the stored installation has no web passwords: make it with benchInstallation")
	}
	s, err := New(Config{Listen: "127.0.0.1:0"}, Deps{Hub: h, Devices: devices.NewManager(h, devices.Options{})})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.App().Listener(ln)
	b.Cleanup(func() { s.stopStreams(); s.App().Shutdown() })
	bs := &benchServer{h: h, s: s, base: "http://" + ln.Addr().String(),
		client: &http.Client{
			Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	res, err := bs.client.PostForm(bs.base+"/login", url.Values{"name": {"anna"}, "password": {pw}})
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			bs.cookie = c
		}
	}
	if bs.cookie == nil {
		b.Fatalf("login: %s, no session cookie", res.Status)
	}
	return bs
}

// get fetches path as anna and returns the body's length (uncompressed) and the time to the
// response's first byte.
func (bs *benchServer) get(b *testing.B, path string) (body []byte, ttfb time.Duration) {
	var start, first time.Time
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", bs.base+path, nil)
	req.AddCookie(bs.cookie)
	start = time.Now()
	res, err := bs.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %s %v", path, res.Status, err)
	}
	return body, first.Sub(start)
}

// quantiles reports the p50 and p99 of samples as metrics named unit-p50 and unit-p99, in
// the given unit.
func quantiles(b *testing.B, samples []time.Duration, unit string, per time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	q := func(p float64) float64 { return float64(samples[int(p*float64(len(samples)-1))]) / float64(per) }
	b.ReportMetric(q(0.50), unit+"-p50")
	b.ReportMetric(q(0.99), unit+"-p99")
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)

// BenchmarkPanelPage: GET / signed in, over loopback; the time to first byte of the page,
// and what the page and every asset it names weigh uncompressed (the service worker that
// pwa.js registers included).
func BenchmarkPanelPage(b *testing.B) {
	bs := newBenchServer(b, hubtest.StorePath(b))
	page, _ := bs.get(b, "/")
	assets := map[string]bool{"/sw.js": true}
	for _, m := range assetRef.FindAllStringSubmatch(string(page), -1) {
		if p := m[1]; !strings.HasPrefix(p, "/static/") && p != "/manifest.webmanifest" {
			continue // links to other pages
		}
		assets[m[1]] = true
	}
	total := len(page)
	for p := range assets {
		body, _ := bs.get(b, p)
		total += len(body)
		b.Logf("%s %d B", p, len(body))
	}
	b.Logf("panel page %d B; with %d assets %d B", len(page), len(assets), total)

	ttfb := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		_, d := bs.get(b, "/")
		ttfb = append(ttfb, d)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(page)), "page-B")
	b.ReportMetric(float64(total), "page+assets-B")
	quantiles(b, ttfb, "ttfb-µs", time.Microsecond)
}

// BenchmarkEventToSSE: an event committed (hub.Do returns) → its "event:" message read by an
// HTTP client of /events on loopback. Each op arms or disarms the garage as anna; the time
// is from Do's return (commit-to-client), and from the call (the command included).
func BenchmarkEventToSSE(b *testing.B) {
	bs := newBenchServer(b, hubtest.StorePath(b))
	req, _ := http.NewRequest("GET", bs.base+"/events", nil)
	req.AddCookie(bs.cookie)
	res, err := bs.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	type arrival struct {
		seq uint64
		at  time.Time
	}
	got := make(chan arrival, 64)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		isEvent := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: event":
				isEvent = true
			case strings.HasPrefix(line, "data: ") && isEvent:
				at := time.Now()
				var ev struct {
					Seq uint64 `json:"seq"`
				}
				if json.Unmarshal([]byte(line[6:]), &ev) == nil {
					got <- arrival{ev.Seq, at}
				}
				isEvent = false
			case strings.HasPrefix(line, "event: "):
				isEvent = false
			}
		}
		close(got)
	}()
	fromReturn := make([]time.Duration, 0, b.N)
	fromCall := make([]time.Duration, 0, b.N)
	arm := true
	b.ResetTimer()
	for b.Loop() {
		in := hub.Input{Kind: hub.InDisarm, Area: 2, User: "anna", How: hub.HowWeb}
		if arm {
			in = hub.Input{Kind: hub.InArm, Area: 2, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb}
		}
		arm = !arm
		t0 := time.Now()
		r := bs.h.Do(context.Background(), in)
		t1 := time.Now()
		if r.Err != nil || len(r.Events) == 0 {
			b.Fatalf("%v: %v, %d events", in.Kind, r.Err, len(r.Events))
		}
		want := r.Events[len(r.Events)-1].Seq
		for a := range got {
			if a.seq < want {
				continue
			}
			fromReturn = append(fromReturn, max(a.at.Sub(t1), 0))
			fromCall = append(fromCall, a.at.Sub(t0))
			break
		}
	}
	b.StopTimer()
	quantiles(b, fromReturn, "commit→sse-µs", time.Microsecond)
	quantiles(b, fromCall, "do→sse-µs", time.Microsecond)
}

// BenchmarkHistory100k: a store with 100 000 events of ordinary days (hub.GenerateHistory,
// as vakt gen-history). The history page filtered (server time: request to the last byte on
// loopback) and the CSV of every event streamed, with the heap it grows.
func BenchmarkHistory100k(b *testing.B) {
	path := hubtest.StorePath(b)
	st, err := hub.OpenStore(path, 0)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := hub.GenerateHistory(st, benchInstallation(b), 100_000, time.Now().Add(-time.Duration(100_000/9+1)*(19*time.Hour+5*time.Minute))); err != nil {
		b.Fatal(err)
	}
	last, _ := st.LastSeq()
	st.Close()
	b.Logf("generated %d events in %s", last, time.Since(t0).Round(time.Millisecond))
	bs := newBenchServer(b, path)

	for _, q := range []struct{ name, query string }{
		{"page-unfiltered", ""},
		{"page-kind=disarm", "?kind=disarm"},
		{"page-user=erik", "?user=erik"},
		{"page-kind=fire(rare)", "?kind=fire"},
	} {
		b.Run(q.name, func(b *testing.B) {
			var n int
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				body, _ := bs.get(b, "/history"+q.query)
				took = append(took, time.Since(t0))
				n = len(body)
			}
			b.ReportMetric(float64(n), "B")
			quantiles(b, took, "ms", time.Millisecond)
		})
	}
	b.Run("csv-all", func(b *testing.B) {
		// The client counts the bytes and lines and keeps none of them; meanwhile the heap
		// in use is sampled, so a handler that held the whole set would show.
		var n, lines int64
		var peak uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.HeapInuse
		var took []time.Duration
		for b.Loop() {
			t0 := time.Now()
			req, _ := http.NewRequest("GET", bs.base+"/history.csv", nil)
			req.AddCookie(bs.cookie)
			res, err := bs.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			c := &lineCounter{}
			if _, err := io.Copy(c, res.Body); err != nil {
				b.Fatal(err)
			}
			res.Body.Close()
			took = append(took, time.Since(t0))
			n, lines = c.n, c.lines
		}
		b.StopTimer()
		close(stop)
		<-done
		b.ReportMetric(float64(n), "B")
		b.ReportMetric(float64(lines-1), "rows")
		quantiles(b, took, "ms", time.Millisecond)
		b.ReportMetric(float64(peak-min(peak, before))/(1<<20), "heap-growth-MiB")
	})
}

// lineCounter counts bytes and newlines, keeping nothing.
type lineCounter struct{ n, lines int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
