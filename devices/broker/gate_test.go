package broker

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"vakt/hub"
)

// Another account cannot take vakt's client ids, so it cannot kick vakt's drivers off the
// bus (MQTT hands a client id's session to its newest connection).
func TestBroker_ReservedClientIDs(t *testing.T) {
	log, logs := newLog()
	b := startBrokerWith(t, Config{}, log, vaktAccount, z2mAccount, rtlAccount)
	drv, err := connectAs(b.Addr(), "vakt-zigbee2mqtt", vaktAccount.Username, vaktAccount.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Disconnect(10)
	for _, a := range []Account{z2mAccount, rtlAccount} {
		for _, id := range []string{"vakt-zigbee2mqtt", "vakt-rtl433", "vakt-uplink-home"} {
			c, err := connectAs(b.Addr(), id, a.Username, a.Password)
			if err == nil {
				c.Disconnect(10)
				t.Errorf("%s connected as %s", a.Username, id)
			}
		}
	}
	time.Sleep(100 * time.Millisecond)
	if !drv.IsConnectionOpen() {
		t.Fatal("vakt's driver was kicked off the bus")
	}
	if n := logs.count("client id reserved for vakt"); n != 1 {
		t.Fatalf("%d log lines for 6 refusals, want 1:\n%s", n, logs)
	}
	// Bridges with their own ids are welcome.
	c, err := connectAs(b.Addr(), "zigbee2mqtt_1a2b", z2mAccount.Username, z2mAccount.Password)
	if err != nil {
		t.Fatal(err)
	}
	c.Disconnect(10)
}

// dialRaw opens a TCP connection and writes head (possibly nothing).
func dialRaw(t *testing.T, addr string, head []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(head) > 0 {
		if _, err := c.Write(head); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// closedWithin reports whether the broker closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, os.ErrDeadlineExceeded)
}

// connectHeader is the fixed header of a CONNECT announcing n bytes to come.
func connectHeader(n int) []byte {
	h := []byte{0x10}
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		h = append(h, b)
		if n == 0 {
			return h
		}
	}
}

func TestBroker_LimitsBeforeLogin(t *testing.T) {
	t.Run("packet size from the CONNECT on", func(t *testing.T) {
		b := startBrokerWith(t, Config{Limits: Limits{MaxPacketSize: 256 << 10}}, nil, vaktAccount)
		c := dialRaw(t, b.Addr(), connectHeader(100<<20))
		if !closedWithin(c, 2*time.Second) {
			t.Fatal("a 100 MB CONNECT is still being read")
		}
	})
	t.Run("login in time", func(t *testing.T) {
		b := startBrokerWith(t, Config{Limits: Limits{ConnectTimeout: hub.Duration(time.Second)}}, nil, vaktAccount)
		silent := dialRaw(t, b.Addr(), nil)
		slow := dialRaw(t, b.Addr(), connectHeader(40)) // and never the rest
		start := time.Now()
		if !closedWithin(silent, 3*time.Second) || !closedWithin(slow, 3*time.Second) {
			t.Fatal("a connection that never logs in is kept open")
		}
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Fatalf("closed after %s, before the timeout", d)
		}
		// One that logs in stays.
		c, err := connect(b.Addr(), vaktAccount.Username, vaktAccount.Password)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(10)
		time.Sleep(1500 * time.Millisecond)
		if !c.IsConnectionOpen() {
			t.Fatal("a logged-in client was closed at the login timeout")
		}
	})
	t.Run("connections per address", func(t *testing.T) {
		b := startBrokerWith(t, Config{Limits: Limits{MaxConnectionsPerAddress: 3}}, nil, vaktAccount)
		var open []net.Conn
		for range 3 {
			open = append(open, dialRaw(t, b.Addr(), nil))
		}
		if !closedWithin(dialRaw(t, b.Addr(), nil), time.Second) {
			t.Fatal("a 4th connection from the address is kept")
		}
		open[0].Close()
		time.Sleep(100 * time.Millisecond)
		if closedWithin(dialRaw(t, b.Addr(), nil), 300*time.Millisecond) {
			t.Fatal("a closed connection's place is not given back")
		}
	})
	t.Run("connections in total", func(t *testing.T) {
		b := startBrokerWith(t, Config{Limits: Limits{MaxConnections: 2}}, nil, vaktAccount)
		dialRaw(t, b.Addr(), nil)
		dialRaw(t, b.Addr(), nil)
		if !closedWithin(dialRaw(t, b.Addr(), nil), time.Second) {
			t.Fatal("a 3rd connection is kept")
		}
	})
}

// Failed logins back off per address and are logged in aggregate: guessing a password
// costs a minute every ten tries, and the log a line a minute.
func TestBroker_LoginBackoff(t *testing.T) {
	log, logs := newLog()
	b := startBrokerWith(t, Config{}, log, vaktAccount)
	for i := range 30 {
		if c, err := connect(b.Addr(), "vakt", "guess-"+string(rune('a'+i))); err == nil {
			c.Disconnect(10)
			t.Fatal("a wrong password was taken")
		}
	}
	if c, err := connect(b.Addr(), vaktAccount.Username, vaktAccount.Password); err == nil {
		c.Disconnect(10)
		t.Fatal("the right password is taken from an address that just guessed 30 times")
	}
	if n := logs.count("MQTT login refused") + logs.count("MQTT connection refused before login"); n > 2 {
		t.Fatalf("%d log lines for 31 refusals, want at most 2:\n%s", n, logs)
	}
	// The minute over, the address may log in again.
	b.gate.mu.Lock()
	for _, f := range b.gate.fails {
		f.since = f.since.Add(-failWindow)
	}
	b.gate.mu.Unlock()
	c, err := connect(b.Addr(), vaktAccount.Username, vaktAccount.Password)
	if err != nil {
		t.Fatalf("after the minute: %v", err)
	}
	c.Disconnect(10)
	b.housekeep(time.Now().Add(2 * tallyPeriod))
	if !bytes.Contains([]byte(logs.String()), []byte("more of the same")) {
		t.Fatalf("no sum of the refusals:\n%s", logs)
	}
}

func TestGate_BoundedFailTable(t *testing.T) {
	g := newGate(DefaultLimits())
	now := time.Now()
	for i := range 3 * maxFailAddrs {
		g.failed(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String(), now)
	}
	if n := len(g.fails); n > maxFailAddrs+1 {
		t.Fatalf("%d addresses remembered, want at most %d", n, maxFailAddrs+1)
	}
}
