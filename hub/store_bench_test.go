package hub

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStoreCommit measures durable appends: one event per transaction (each fsynced),
// and group commits of 64 events, with the demo installation's state.
func BenchmarkStoreCommit(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "single", 64: "batch64"}[batch], func(b *testing.B) {
			s := mustOpenStore(b, filepath.Join(b.TempDir(), "vakt.db"), 0)
			defer s.Close()
			eng := NewEngine(DemoInstallation(testKey), State{})
			st := eng.State()
			events := make([]Event, batch)
			seq := uint64(1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range events {
					events[j] = Event{Seq: seq, Time: scenarioStart, Area: 1, Kind: KindBurglary, Zone: 3, Device: "living_window", Report: true, ContactID: 130, SIA: "BA"}
					seq++
				}
				if err := s.Commit(st, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkHub_ReportToCommit is a sensor report through the run loop and its durable
// commit, answered after the commit: the hub's part of sensor → siren.
func BenchmarkHub_ReportToCommit(b *testing.B) {
	s := mustOpenStore(b, filepath.Join(b.TempDir(), "vakt.db"), 0)
	defer s.Close()
	h, err := New(s, DemoInstallation(testKey), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < b.N; i++ {
		r := h.Do(ctx, Input{Kind: InReport, Device: "front_door", Signal: SignalContact, Active: i%2 == 0})
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkRestore opens a store holding 100 000 events and builds the hub from it: the
// start-up cost of a gateway with a full history.
func BenchmarkRestore(b *testing.B) {
	path := filepath.Join(b.TempDir(), "vakt.db")
	s := mustOpenStore(b, path, 200_000)
	if err := GenerateHistory(s, DemoInstallation(testKey), 100_000, scenarioStart.Add(-5*365*24*time.Hour)); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := mustOpenStore(b, path, 0)
		if _, err := New(s, nil, Options{}); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkBackup backs up, and restores, a store holding 100 000 events: what a scheduled
// backup or a download costs a full gateway, and how long a restore takes. It reports the
// store's and the backup's size.
func BenchmarkBackup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "vakt.db")
	s := mustOpenStore(b, path, 200_000)
	if err := GenerateHistory(s, DemoInstallation(testKey), 100_000, scenarioStart.Add(-5*365*24*time.Hour)); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	info, _ := os.Stat(path)
	backup := filepath.Join(b.TempDir(), "backup.age")
	var size int64
	b.Run("backup", func(b *testing.B) {
		for b.Loop() {
			var err error
			if size, err = s.BackupFile(backup, testPassphrase); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(info.Size())/1e6, "store_MB")
		b.ReportMetric(float64(size)/1e6, "backup_MB")
	})
	b.Run("restore", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			f, err := os.Open(backup)
			if err != nil {
				b.Fatal(err)
			}
			to := filepath.Join(dir, "vakt.db")
			os.Remove(to)
			if _, err := Restore(to, f, testPassphrase, scenarioStart); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
}

// BenchmarkHub_ReportToCommitObserved is BenchmarkHub_ReportToCommit with the metrics
// hooks set (OnCommit, OnSiren): what the commit and siren histograms cost the loop.
func BenchmarkHub_ReportToCommitObserved(b *testing.B) {
	s := mustOpenStore(b, filepath.Join(b.TempDir(), "vakt.db"), 0)
	defer s.Close()
	var commits, sirens int
	h, err := New(s, DemoInstallation(testKey), Options{
		OnCommit: func(time.Duration, int, error) { commits++ },
		OnSiren:  func(time.Duration) { sirens++ },
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < b.N; i++ {
		r := h.Do(ctx, Input{Kind: InReport, Device: "front_door", Signal: SignalContact, Active: i%2 == 0})
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
