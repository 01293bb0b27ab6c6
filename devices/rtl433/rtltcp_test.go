package rtl433

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// rtl_tcp's protocol, as rtl_433 speaks it to a dongle served over the network: on
// connect the server sends "RTL0", the tuner type and its number of gain steps (both
// uint32 big-endian); the client sends 5-byte commands (one byte command, uint32
// big-endian parameter); the server streams cu8 samples without end.
const (
	tunerR820T      = 5
	r820tGainSteps  = 29
	cmdSetFreq      = 0x01
	cmdSetRate      = 0x02
	streamChunk     = 16384 // bytes, 32.768 ms at 250 kS/s
	streamPerSecond = sampleRate * 2
)

// rtlTCP is an rtl_tcp server with a synthetic antenna: it streams an empty channel in
// real time and, when asked, a transmission.
type rtlTCP struct {
	ln  net.Listener
	air chan []byte

	mu       sync.Mutex
	settings map[byte]uint32 // the last parameter of each command received
	clients  int
}

// startRTLTCP listens on loopback and serves until the test ends.
func startRTLTCP(t *testing.T) *rtlTCP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rtlTCP{ln: ln, air: make(chan []byte, 16), settings: map[byte]uint32{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(ctx, conn) })
		}
	})
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	return s
}

// Addr is the server's host:port.
func (s *rtlTCP) Addr() string { return s.ln.Addr().String() }

// transmit puts samples on the air, after whatever is already queued.
func (s *rtlTCP) transmit(samples []byte) { s.air <- samples }

// setting returns the last parameter rtl_433 sent with cmd.
func (s *rtlTCP) setting(cmd byte) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.settings[cmd]
	return v, ok
}

func (s *rtlTCP) serve(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	s.mu.Lock()
	s.clients++
	s.mu.Unlock()
	go func() { // the client's commands
		var cmd [5]byte
		for {
			if _, err := io.ReadFull(conn, cmd[:]); err != nil {
				return
			}
			s.mu.Lock()
			s.settings[cmd[0]] = binary.BigEndian.Uint32(cmd[1:])
			s.mu.Unlock()
		}
	}()
	hello := make([]byte, 12)
	copy(hello, "RTL0")
	binary.BigEndian.PutUint32(hello[4:], tunerR820T)
	binary.BigEndian.PutUint32(hello[8:], r820tGainSteps)
	if _, err := conn.Write(hello); err != nil {
		return
	}
	quiet := silence(time.Second, 7) // the empty channel, cycled
	var playing []byte
	q := 0
	tick := time.NewTicker(time.Duration(float64(streamChunk) / streamPerSecond * float64(time.Second)))
	defer tick.Stop()
	chunk := make([]byte, streamChunk)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for n := 0; n < len(chunk); {
			if len(playing) == 0 {
				select {
				case playing = <-s.air:
				default:
				}
			}
			var k int
			if len(playing) > 0 {
				k = copy(chunk[n:], playing)
				playing = playing[k:]
			} else {
				k = copy(chunk[n:], quiet[q:])
				q = (q + k) % len(quiet)
			}
			n += k
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(chunk); err != nil {
			return // rtl_433 went away
		}
	}
}
