package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emfileEnv makes the test binary run emfileBroker instead of the tests.
const emfileEnv = "VAKT_BROKER_EMFILE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(emfileEnv) != "" {
		os.Exit(emfileBroker())
	}
	os.Exit(m.Run())
}

// emfileBroker runs a broker in a process whose descriptors run out: it prints the
// broker's address, then uses up every descriptor, says "full", and gives them back when
// a line comes on stdin; it stops at EOF. The log goes to stderr.
func emfileBroker() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fail(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	b, err := New(Config{Listen: "127.0.0.1:0"}, []Account{vaktAccount}, logger)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	fmt.Println(b.Addr())
	var hog []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		hog = append(hog, f)
	}
	fmt.Println("full")
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	for _, f := range hog {
		f.Close()
	}
	io.Copy(io.Discard, in)
	cancel()
	if err := <-done; err != nil {
		return fail(err)
	}
	return 0
}

// The listener never dies: with every descriptor in use, accepting fails (EMFILE); that
// is logged once, and the broker accepts again when descriptors are free.
func TestBroker_AcceptsAfterDescriptorsRunOut(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), emfileEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	out := bufio.NewReader(stdout)
	line := func() string {
		s, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("child: %v\n%s", err, stderr.String())
		}
		return strings.TrimSpace(s)
	}
	addr := line()
	if s := line(); s != "full" {
		t.Fatalf("child said %q", s)
	}
	connected := make(chan error, 1)
	go func() {
		c, err := connect(addr, vaktAccount.Username, vaktAccount.Password)
		if err == nil {
			c.Disconnect(10)
		}
		connected <- err
	}()
	time.Sleep(1500 * time.Millisecond) // accepting fails all this while
	fmt.Fprintln(stdin, "free")
	select {
	case err := <-connected:
		if err != nil {
			t.Fatalf("connect once descriptors are free: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the broker does not accept again:\n%s", stderr.String())
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if n := stderr.count("cannot accept"); n != 1 {
		t.Fatalf("%d lines about failing accepts, want 1:\n%s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "too many open files") || stderr.count("accepting connections again") != 1 {
		t.Fatalf("log does not say why, or that it recovered:\n%s", stderr.String())
	}
}
