package dc09

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"vakt/hub/hubtest"
)

// startDemoReceiver runs r on a free loopback port until the test ends, and returns its
// address.
func startDemoReceiver(t *testing.T, r *Receiver) string {
	t.Helper()
	hubtest.Run(t, "receiver", func(ctx context.Context) error { return r.ListenAndServe(ctx, "127.0.0.1:0") })
	hubtest.Eventually(t, "the receiver listening", func() bool { return r.Addr() != nil })
	return r.Addr().String()
}

func TestReceiver_AnswersClientOverTCPAndUDP(t *testing.T) {
	key := []byte("0123456789abcdef")
	var mu sync.Mutex
	var got []Message
	r := &Receiver{Keys: map[string][]byte{"1234": key}, Handle: func(m Message, _ net.Addr) {
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}}
	addr := startDemoReceiver(t, r)
	for _, network := range []string{"tcp", "udp"} {
		for _, k := range [][]byte{nil, key} {
			c, err := New(Config{Network: network, Addr: addr, Key: k, Account: "1234", Line: "1", Receiver: "1", Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := ContactID("1234", 1, 130, 1, 3)
			if _, err := c.Send(context.Background(), Message{ID: IDContactID, Encrypted: k != nil, Data: data}); err != nil {
				t.Fatalf("%s encrypted=%v: %v", network, k != nil, err)
			}
			c.Close()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 || got[3].Data != "#1234|1130 01 003" {
		t.Fatalf("receiver handled %+v", got)
	}
}

func TestReceiver_NAKsSkewedClockAndDUHsUnknownKey(t *testing.T) {
	key := []byte("0123456789abcdef")
	r := &Receiver{Keys: map[string][]byte{"1234": key}}
	addr := startDemoReceiver(t, r)
	skewed := func() time.Time { return time.Now().Add(-5 * time.Minute) }
	c, err := New(Config{Network: "tcp", Addr: addr, Key: key, Account: "1234", Line: "1", Timeout: time.Second, Now: skewed})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Send(context.Background(), Message{ID: IDNull, Encrypted: true}); !errors.Is(err, ErrNAK) {
		t.Fatalf("skewed clock: %v, want NAK", err)
	}
	if _, err := c.Send(context.Background(), Message{ID: IDNull, Encrypted: true}); err != nil {
		t.Fatalf("after the clock correction: %v", err)
	}
	other, _ := New(Config{Network: "udp", Addr: addr, Key: key, Account: "9999", Line: "1", Timeout: time.Second})
	defer other.Close()
	if _, err := other.Send(context.Background(), Message{ID: IDNull, Encrypted: true}); !errors.Is(err, ErrDUH) {
		t.Fatalf("unknown account key: %v, want DUH", err)
	}
}
