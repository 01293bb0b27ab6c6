package dc09

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Receiver is a small DC-09 receiver: what a monitoring station runs, reduced to checking,
// answering and handing over each message. vakt uses it for the demo's "station" and for
// installers who want to see what the panel sends before the real station is connected.
// Tests of the sender use receivers of their own, written from the rules.
type Receiver struct {
	// Keys maps an account to its AES key; an account without a key gets clear frames only.
	Keys map[string][]byte
	// Handle is called with every message that was answered with ACK (NULL polls included).
	Handle func(msg Message, from net.Addr)
	// Now is the receiver's clock; nil means time.Now.
	Now func() time.Time
	// Window is how far a timestamp may lie in the past and the future: 40 s and 20 s when zero.
	Past, Future time.Duration

	mu sync.Mutex
	ln net.Listener
	pc net.PacketConn
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Answer checks one frame and returns the reply frame: ACK, NAK for a timestamp outside the
// window, or DUH for what it cannot understand. ok reports an ACK.
func (r *Receiver) Answer(frame []byte) (reply []byte, msg Message, ok bool) {
	msg, err := Decode(frame, nil)
	var key []byte
	if errors.Is(err, ErrNoKey) {
		key = r.Keys[msg.Account]
		if key == nil {
			return r.duh(msg), msg, false
		}
		msg, err = Decode(frame, key)
	}
	if err != nil {
		return r.duh(msg), msg, false
	}
	now := r.now().UTC()
	past, future := r.Past, r.Future
	if past == 0 {
		past = 40 * time.Second
	}
	if future == 0 {
		future = 20 * time.Second
	}
	if msg.Encrypted && msg.HasTimestamp && (msg.Timestamp.Before(now.Add(-past)) || msg.Timestamp.After(now.Add(future))) {
		nak, _ := Encode(Message{ID: IDNAK, Seq: 0, Receiver: "0", Line: "0", Account: "0", Timestamp: now, HasTimestamp: true}, nil, nil)
		return nak, msg, false
	}
	ack := Message{ID: IDACK, Encrypted: msg.Encrypted, Seq: msg.Seq, Receiver: msg.Receiver, Line: msg.Line, Account: msg.Account, Timestamp: now, HasTimestamp: msg.Encrypted}
	out, err := Encode(ack, key, nil)
	if err != nil {
		return r.duh(msg), msg, false
	}
	return out, msg, true
}

func (r *Receiver) duh(msg Message) []byte {
	line := msg.Line
	if line == "" {
		line = "0"
	}
	out, err := Encode(Message{ID: IDDUH, Seq: msg.Seq, Receiver: msg.Receiver, Line: line, Account: msg.Account}, nil, nil)
	if err != nil {
		out, _ = Encode(Message{ID: IDDUH, Seq: 0, Line: "0"}, nil, nil)
	}
	return out
}

// ListenAndServe serves TCP and UDP on addr (host:port; port 0 picks one, see Addr) until
// ctx ends.
func (r *Receiver) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	r.mu.Lock()
	r.ln, r.pc = ln, pc
	r.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		ln.Close()
		pc.Close()
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, MaxFrame)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			reply, msg, ok := r.Answer(bytes.Clone(buf[:n]))
			if ok && r.Handle != nil {
				r.Handle(msg, from)
			}
			pc.WriteTo(reply, from)
		}
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveConn(ctx, c)
		}()
	}
}

// Addr returns the address the receiver listens on, once ListenAndServe has started.
func (r *Receiver) Addr() net.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return nil
	}
	return r.ln.Addr()
}

// serveConn answers the frames of one TCP connection; frames end with CR.
func (r *Receiver) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	br := bufio.NewReaderSize(c, MaxFrame)
	for {
		frame, err := br.ReadBytes('\r')
		if err != nil {
			return
		}
		reply, msg, ok := r.Answer(frame)
		if ok && r.Handle != nil {
			r.Handle(msg, c.RemoteAddr())
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}
