// Package sdnotifytest is the service manager's side of the notify protocol, for tests: a
// unix datagram socket the test owns, to point NOTIFY_SOCKET at.
package sdnotifytest

import (
	"net"
	"testing"
	"time"

	"vakt/hub/hubtest"
)

// Socket is a notify socket as systemd's, closed when the test ends.
type Socket struct {
	tb   testing.TB
	conn *net.UnixConn
	// Name is the socket's name, for NOTIFY_SOCKET.
	Name string
}

// Listen opens a notify socket at name: a path, or @abstract.
func Listen(tb testing.TB, name string) *Socket {
	tb.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &Socket{tb: tb, conn: conn, Name: name}
}

// Next returns the next message. It waits at most hubtest.Patience, a bound on a hang and
// not an assertion, and fails the test then.
func (s *Socket) Next() string {
	s.tb.Helper()
	s.conn.SetReadDeadline(time.Now().Add(hubtest.Patience))
	buf := make([]byte, 4096)
	n, _, err := s.conn.ReadFrom(buf)
	if err != nil {
		s.tb.Fatalf("notify socket %s: %v", s.Name, err)
	}
	return string(buf[:n])
}

// Until returns the messages up to and including the first one for which ok holds.
func (s *Socket) Until(ok func(string) bool) []string {
	s.tb.Helper()
	var got []string
	for {
		m := s.Next()
		got = append(got, m)
		if ok(m) {
			return got
		}
	}
}
