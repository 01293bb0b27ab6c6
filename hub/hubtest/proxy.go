package hubtest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to an address until Cut closes them all, as a pulled
// cable does: neither end says goodbye (an MQTT broker then publishes the client's will).
// New connections are forwarded again after a cut.
type Proxy struct {
	ln net.Listener
	to string

	mu    sync.Mutex
	conns []net.Conn
}

// NewProxy listens on a free loopback port and forwards to addr until the test ends.
func NewProxy(tb testing.TB, addr string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, to: addr}
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// Addr is where to connect instead of the address proxied.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go pipe(up, c)
		go pipe(c, up)
	}
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every connection forwarded so far.
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}
