package uplink

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestProbe polls every path of a receiver once, against the independent test station:
// each poll is a NULL message with the sequence number given for the receiver; a station
// that is down gives the path an error, one that answers DUH ErrRefusedPoll, one whose
// clock is ahead a NAK, the poll sent again and the offset reported.
func TestProbe(t *testing.T) {
	key := []byte("0123456789abcdef")
	primary := startStation(t, "primary", "tcp", key, nil)
	backup := startStation(t, "backup", "udp", key, nil)
	cfg := oneReceiver(primary, backup)
	ctx := context.Background()
	probes, err := Probe(ctx, cfg, func(receiver string) int {
		if receiver != "arc" {
			t.Errorf("sequence asked for receiver %q", receiver)
		}
		return PollSeq(10_000) // the 10 000th event went with sequence number 1
	}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(probes) != 2 || probes[0].Path != "primary" || probes[1].Path != "backup" {
		t.Fatalf("probes %+v, want primary and backup", probes)
	}
	for i, s := range []*testStation{primary, backup} {
		p := probes[i]
		if !p.Acked || p.Err != nil || p.RTT <= 0 || p.Addr != s.addr || p.ClockOffset != 0 {
			t.Errorf("%s: %+v", p.Path, p)
		}
		s.mu.Lock()
		frames := append([]stMessage(nil), s.frames...)
		s.mu.Unlock()
		if len(frames) != 1 || frames[0].id != "NULL" || frames[0].seq != 1 || frames[0].acct != "1234" {
			t.Errorf("%s got %+v, want one NULL with sequence 1", p.Path, frames)
		}
	}

	backup.close()
	primary.setAnswer(func(stMessage) stReply { return replyDUH })
	probes, err = Probe(ctx, cfg, func(string) int { return 1 }, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if p := probes[0]; p.Acked || !errors.Is(p.Err, ErrRefusedPoll) {
		t.Errorf("DUH: %+v", p)
	}
	if p := probes[1]; p.Acked || p.Err == nil {
		t.Errorf("station down: %+v", p)
	}

	primary.setAnswer(nil)
	primary.setSkew(5 * time.Minute)
	probes, err = Probe(ctx, Config{Receivers: cfg.Receivers[:1:1]}, func(string) int { return 1 }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := probes[0]
	if !p.Acked || p.ClockOffset < 4*time.Minute || p.ClockOffset > 6*time.Minute {
		t.Errorf("station 5 min ahead: %+v", p)
	}
}

func TestProbe_BadConfig(t *testing.T) {
	cfg := Config{Receivers: []ReceiverConfig{{Name: "arc", Account: "1234", Primary: PathConfig{Addr: "127.0.0.1:1", Key: "00ff"}}}}
	if _, err := Probe(context.Background(), cfg, func(string) int { return 1 }, time.Second); err == nil {
		t.Fatal("a key of 2 bytes probed")
	}
}
