package hubtest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

var codeKey = []byte("0123456789abcdef0123456789abcdef")

// TestStartHub_RestartKeepsState: stop closes the store, so a second hub on the same path
// resumes where the first left off, on the test's clock.
func TestStartHub_RestartKeepsState(t *testing.T) {
	path := hubtest.StorePath(t)
	clock := hubtest.NewClock(hubtest.T0)
	inst := hub.DemoInstallation(codeKey)
	inst.Settings.NoExitDelay = true
	h, stop := hubtest.StartHub(t, path, inst, hub.Options{Now: clock.Now})
	if r := h.Do(context.Background(), hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	stop()
	stop() // a second stop does nothing

	clock.Add(time.Hour)
	h, _ = hubtest.StartHub(t, path, nil, hub.Options{Now: clock.Now})
	if m := h.Snapshot().State.Areas[0].Mode; m != hub.ModeArmedAway {
		t.Fatalf("area 1 %s after the restart, want armed away", m)
	}
}

// TestOpenStore: the store is open for the test; its cleanup closes it.
func TestOpenStore(t *testing.T) {
	s := hubtest.OpenStore(t)
	if _, err := s.LastSeq(); err != nil {
		t.Fatal(err)
	}
}

func TestClock(t *testing.T) {
	c := hubtest.NewClock(hubtest.T0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Add(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(hubtest.T0); got != 400*time.Second {
		t.Fatalf("moved %v, want 400s", got)
	}
	c.Set(hubtest.T0.Add(-time.Hour))
	if got := c.Now(); !got.Equal(hubtest.T0.Add(-time.Hour)) {
		t.Fatalf("set back: %v", got)
	}
}

func TestBuffer(t *testing.T) {
	var b hubtest.Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "writer %d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 || b.Len() != 400*len("writer 0\n") {
		t.Fatalf("%d lines, %d bytes", n, b.Len())
	}
	b.Reset()
	if b.Len() != 0 {
		t.Fatal("reset left bytes")
	}
}

func TestEventually(t *testing.T) {
	var mu sync.Mutex
	done := false
	go func() {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		done = true
		mu.Unlock()
	}()
	hubtest.Eventually(t, "the goroutine's effect", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return done
	})
}

// errorsTB is a test that records its errors instead of failing.
type errorsTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (e *errorsTB) Helper() {}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// TestRun_ReportsError: a loop that ends with an error fails the test that ran it, naming
// the loop.
func TestRun_ReportsError(t *testing.T) {
	tb := &errorsTB{TB: t}
	stop := hubtest.Run(tb, "loop", func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("broke")
	})
	stop()
	stop()
	if len(tb.errs) != 1 || tb.errs[0] != "loop: broke" {
		t.Fatalf("errors %q, want one naming the loop", tb.errs)
	}
}

func TestProxy_ForwardsUntilCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	p := hubtest.NewProxy(t, ln.Addr().String())
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	p.Cut()
	if _, err := io.ReadFull(c, buf); err == nil {
		t.Fatal("the connection survived the cut")
	}
	c2, err := net.Dial("tcp", p.Addr()) // forwarded again after a cut
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("again"))
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "again" {
		t.Fatalf("after the cut: %q, %v", buf, err)
	}
}

// TestGate: an open gate reads the time; a shut one holds its reader, says so, and lets it
// go when opened; opening twice is harmless, and the gate can be shut again.
func TestGate(t *testing.T) {
	var g hubtest.Gate
	if g.Now().IsZero() {
		t.Fatal("open gate: zero time")
	}
	g.Open()
	for range 2 {
		stuck := g.Shut()
		read := make(chan time.Time)
		go func() { read <- g.Now() }()
		<-stuck
		select {
		case <-read:
			t.Fatal("a shut gate let its reader through")
		default:
		}
		g.Open()
		if (<-read).IsZero() {
			t.Fatal("released reader got a zero time")
		}
	}
}
