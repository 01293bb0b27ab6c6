package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"vakt/hub"
)

// genHistory fills a demo store with a long ordinary history, for start-up and memory
// benchmarks: vakt gen-history -events 100000 -data DIR.
func genHistory(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("events", 100_000, "how many events to add")
	dir := fs.String("data", "./data", "data `directory`; the store is its demo.db")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	s, err := hub.OpenStore(filepath.Join(*dir, "demo.db"), *n+1000)
	if err != nil {
		return err
	}
	defer s.Close()
	key, err := s.Secret("code_key", 32)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := hub.GenerateHistory(s, hub.DemoInstallation(key), *n, time.Now().Add(-time.Duration(*n/9+1)*(19*time.Hour+5*time.Minute))); err != nil {
		return err
	}
	last, _ := s.LastSeq()
	fmt.Fprintf(stdout, "%s: %d events (took %s)\n", s.Path(), last, time.Since(t0).Round(time.Millisecond))
	return nil
}
