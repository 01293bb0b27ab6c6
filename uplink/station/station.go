// Package station is a monitoring station on loopback for the demo: two DC-09 receivers (a
// primary over TCP and a backup over UDP, as over broadband and a cellular modem) that
// decrypt, acknowledge and print what the hub reports. Unplug and Plug take a path down and
// bring it back, so a person sees failover and the path fault reported.
package station

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"vakt/hub"
	"vakt/uplink"
	"vakt/uplink/dc09"
)

// Account is the demo station's account for the hub.
const Account = "1234"

// Station is the demo's monitoring station.
type Station struct {
	out   io.Writer
	key   []byte
	mu    sync.Mutex
	paths map[string]*path
	ctx   context.Context
	wg    sync.WaitGroup
}

type path struct {
	network, addr string
	cancel        context.CancelFunc
	done          chan struct{}
}

// New returns a station that prints what it receives to out; key is its AES key.
func New(out io.Writer, key []byte) *Station {
	return &Station{out: out, key: key, paths: map[string]*path{}}
}

// Start opens the primary (TCP) and backup (UDP) receivers on loopback until ctx ends, and
// returns the receiver config that points the hub's uplink at them.
func (s *Station) Start(ctx context.Context) (uplink.ReceiverConfig, error) {
	s.ctx = ctx
	for _, p := range []struct{ name, network string }{{"primary", "tcp"}, {"backup", "udp"}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return uplink.ReceiverConfig{}, err
		}
		addr := ln.Addr().String()
		ln.Close()
		s.paths[p.name] = &path{network: p.network, addr: addr}
		if err := s.Plug(p.name); err != nil {
			return uplink.ReceiverConfig{}, err
		}
	}
	key := hex.EncodeToString(s.key)
	return uplink.ReceiverConfig{
		Name: "demo-station", Format: "cid", Account: Account,
		Primary: uplink.PathConfig{Network: "tcp", Addr: s.paths["primary"].addr, Key: key, PollInterval: hub.Duration(15 * time.Second), Timeout: hub.Duration(time.Second), Retries: 2},
		Backup:  &uplink.PathConfig{Network: "udp", Addr: s.paths["backup"].addr, Key: key, Line: "1", PollInterval: hub.Duration(time.Minute), Timeout: hub.Duration(time.Second), Retries: 2},
	}, nil
}

// Plug brings a path's receiver (back) up on its address.
func (s *Station) Plug(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.paths[name]
	if p == nil {
		return fmt.Errorf("station: no path %q (primary or backup)", name)
	}
	if p.cancel != nil {
		return nil
	}
	r := &dc09.Receiver{Keys: map[string][]byte{Account: s.key}, Handle: func(m dc09.Message, _ net.Addr) {
		if m.ID == dc09.IDNull {
			return // supervision polls are not news
		}
		fmt.Fprintf(s.out, "  📟 station (%s): #%04d %s %s\n", name, m.Seq, m.ID, m.Data)
	}}
	ctx, cancel := context.WithCancel(s.ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(p.done)
		errc <- r.ListenAndServe(ctx, p.addr)
	}()
	for deadline := time.Now().Add(2 * time.Second); r.Addr() == nil; time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-errc:
			p.cancel = nil
			return fmt.Errorf("station %s: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			break
		}
	}
	return nil
}

// Unplug takes a path's receiver down, as a broadband outage would.
func (s *Station) Unplug(name string) error {
	s.mu.Lock()
	p := s.paths[name]
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("station: no path %q (primary or backup)", name)
	}
	cancel, done := p.cancel, p.done
	p.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
