package dc09

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The test receiver below is written from the DC-09 rules, not from this
// package: its own bit-by-bit CRC, its own regular-expression frame parser,
// its own AES. It never calls Encode, Decode or CRC.

// rxCRC is CRC-16/ARC computed bit by bit.
func rxCRC(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i])
		for bit := 0; bit < 8; bit++ {
			if crc&0x0001 == 1 {
				crc = (crc >> 1) ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// rxWrap frames a body: LF, CRC, "0" and the 3-digit length, body, CR.
func rxWrap(body string) string {
	return fmt.Sprintf("\n%04X0%03X%s\r", rxCRC(body), len(body), body)
}

var (
	rxFrameRE = regexp.MustCompile(`^\n([0-9A-F]{4})0([0-9A-F]{3})("(\*?)([A-Z0-9-]+)"([0-9]{4})(R[0-9A-F]{1,6})?(L[0-9A-F]{1,6})(#[0-9A-F]{3,16})\[(.*))\r$`)
	rxClearRE = regexp.MustCompile(`^([^\[\]]*)\](_[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{2}-[0-9]{2}-[0-9]{4})?$`)
	rxPlainRE = regexp.MustCompile(`^[^\[\]|]{1,16}\|?([^\[\]]*)\](_[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{2}-[0-9]{2}-[0-9]{4})$`)
	rxTimeRE  = regexp.MustCompile(`^_([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4})$`)
)

// rxFrame is a message as the test receiver understood it. The header
// fields keep their markers ("R", "L", "#") so replies can echo them.
type rxFrame struct {
	encrypted bool
	id        string
	seq       string
	rcvr      string
	line      string
	acct      string
	data      string
	ts        time.Time
	hasTS     bool
	from      net.Addr
}

func rxParse(frame string, key []byte) (rxFrame, error) {
	m := rxFrameRE.FindStringSubmatch(frame)
	if m == nil {
		return rxFrame{}, fmt.Errorf("not a DC-09 frame: %q", frame)
	}
	body := m[3]
	if want := fmt.Sprintf("%04X", rxCRC(body)); m[1] != want {
		return rxFrame{}, fmt.Errorf("crc %s, want %s", m[1], want)
	}
	if want := fmt.Sprintf("%03X", len(body)); m[2] != want {
		return rxFrame{}, fmt.Errorf("length %s, want %s", m[2], want)
	}
	f := rxFrame{encrypted: m[4] == "*", id: m[5], seq: m[6], rcvr: m[7], line: m[8], acct: m[9]}
	content := m[10]
	var parts []string
	if f.encrypted {
		ct, err := hex.DecodeString(content)
		if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
			return rxFrame{}, fmt.Errorf("bad ciphertext %q", content)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return rxFrame{}, err
		}
		cipher.NewCBCDecrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(ct, ct)
		if parts = rxPlainRE.FindStringSubmatch(string(ct)); parts == nil {
			return rxFrame{}, fmt.Errorf("bad plaintext %q", ct)
		}
	} else if parts = rxClearRE.FindStringSubmatch(content); parts == nil {
		return rxFrame{}, fmt.Errorf("bad data %q", content)
	}
	f.data = parts[1]
	if parts[2] != "" {
		var n [6]int
		for i, d := range rxTimeRE.FindStringSubmatch(parts[2])[1:] {
			n[i], _ = strconv.Atoi(d)
		}
		f.ts = time.Date(n[5], time.Month(n[3]), n[4], n[0], n[1], n[2], 0, time.UTC)
		f.hasTS = true
	}
	return f, nil
}

type rxHandler func(r *testReceiver, f rxFrame) (reply string, hangUp bool)

// testReceiver is a DC-09 receiver on 127.0.0.1, over TCP or UDP.
type testReceiver struct {
	key     []byte
	now     func() time.Time
	handler atomic.Pointer[rxHandler]
	addr    string

	mu     sync.Mutex
	frames []rxFrame
	conns  int
	open   map[net.Conn]bool
	got    chan struct{} // signalled, without blocking, on every frame
	wg     sync.WaitGroup
}

// startReceiver starts a receiver that answers with handle (nil: rxStandard)
// and stops it when the test ends, failing the test if any frame it got did
// not parse.
func startReceiver(t testing.TB, network string, key []byte, now func() time.Time, handle rxHandler) *testReceiver {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	r := &testReceiver{key: key, now: now, open: map[net.Conn]bool{}, got: make(chan struct{}, 1)}
	r.setHandler(handle)
	switch network {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.addr = ln.Addr().String()
		r.wg.Add(1)
		go r.acceptTCP(t, ln)
		t.Cleanup(func() {
			ln.Close()
			r.mu.Lock()
			for c := range r.open {
				c.Close()
			}
			r.mu.Unlock()
			r.wg.Wait()
		})
	case "udp":
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.addr = pc.LocalAddr().String()
		r.wg.Add(1)
		go r.serveUDP(t, pc)
		t.Cleanup(func() {
			pc.Close()
			r.wg.Wait()
		})
	default:
		t.Fatalf("network %q", network)
	}
	return r
}

func (r *testReceiver) setHandler(h rxHandler) {
	if h == nil {
		h = rxStandard
	}
	r.handler.Store(&h)
}

func (r *testReceiver) acceptTCP(t testing.TB, ln net.Listener) {
	defer r.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns++
		r.open[c] = true
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.open, c)
				r.mu.Unlock()
				c.Close()
			}()
			br := bufio.NewReader(c)
			for {
				s, err := br.ReadString('\r')
				if err != nil {
					return
				}
				reply, hangUp := r.handle(t, s, c.RemoteAddr())
				if reply != "" {
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
				if hangUp {
					return
				}
			}
		}()
	}
}

func (r *testReceiver) serveUDP(t testing.TB, pc net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, 8192)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply, _ := r.handle(t, string(buf[:n]), from); reply != "" {
			_, _ = pc.WriteTo([]byte(reply), from)
		}
	}
}

func (r *testReceiver) handle(t testing.TB, s string, from net.Addr) (string, bool) {
	f, err := rxParse(s, r.key)
	if err != nil {
		t.Errorf("test receiver: %v", err)
		return "", true
	}
	f.from = from
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return (*r.handler.Load())(r, f)
}

func (r *testReceiver) received() []rxFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rxFrame(nil), r.frames...)
}

func (r *testReceiver) stamp() string {
	return r.now().UTC().Format("_15:04:05,01-02-2006")
}

// ack echoes sequence, receiver, line and account; an encrypted message gets
// an encrypted ACK that carries the receiver's time.
func (r *testReceiver) ack(f rxFrame) string { return rxACK(r.key, r.stamp(), f) }

func rxACK(key []byte, stamp string, f rxFrame) string {
	hdr := f.seq + f.rcvr + f.line + f.acct
	if !f.encrypted {
		return rxWrap(`"ACK"` + hdr + "[]")
	}
	content := "|]" + stamp
	pt := []byte(strings.Repeat("z", 16-len(content)%16) + content)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(pt, pt)
	return rxWrap(`"*ACK"` + hdr + "[" + strings.ToUpper(hex.EncodeToString(pt)))
}

func (r *testReceiver) nak() string { return rxWrap(`"NAK"0000R0L0A0[]` + r.stamp()) }

func (r *testReceiver) duh(f rxFrame) string {
	return rxWrap(`"DUH"` + f.seq + f.rcvr + f.line + f.acct + "[]")
}

// rxStandard ACKs a message whose timestamp lies from 40 s in the past to
// 20 s in the future of the receiver's clock, and NAKs any other.
func rxStandard(r *testReceiver, f rxFrame) (string, bool) {
	now := r.now()
	if f.encrypted && !f.hasTS || f.hasTS && (f.ts.Before(now.Add(-40*time.Second)) || f.ts.After(now.Add(20*time.Second))) {
		return r.nak(), false
	}
	return r.ack(f), false
}

func TestReceiver_ParsesVectors(t *testing.T) {
	tests := []struct {
		frame string
		key   []byte
		data  string
	}{
		{vectorSIADCS, nil, "#1234|Nri1/BA01"},
		{vectorCIDReceiver, nil, "#1234|3401 01 003"},
		{vectorNull, nil, ""},
		{vectorSIADCSEncrypted, key000102, "#1234|Nri1/BA01"},
		{vectorNullAAAA, keyAAAA, ""},
	}
	for _, tc := range tests {
		t.Run(tc.frame[:8], func(t *testing.T) {
			f, err := rxParse("\n"+tc.frame+"\r", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if f.data != tc.data || !f.hasTS {
				t.Errorf("receiver read data %q (timestamp %v), want %q", f.data, f.hasTS, tc.data)
			}
		})
	}
	if got := rxWrap(`"ACK"0001L0#1234[]`); got != "\n"+vectorACK+"\r" {
		t.Errorf("receiver ACK = %q, want %q", got, vectorACK)
	}
	r := &testReceiver{key: key000102, now: func() time.Time { return vectorAt }}
	if got := r.nak(); got != "\n"+vectorNAK+"\r" {
		t.Errorf("receiver NAK = %q, want %q", got, vectorNAK)
	}
}

var (
	networks = []string{"tcp", "udp"}
	testKeys = []struct {
		name string
		key  []byte
	}{
		{"clear", nil},
		{"AES-128", key000102},
		{"AES-192", []byte("0123456789abcdef01234567")},
		{"AES-256", []byte("0123456789abcdef0123456789abcdef")},
	}
)

func newTestClient(t testing.TB, network string, r *testReceiver, f func(*Config)) *Client {
	t.Helper()
	cfg := Config{Network: network, Addr: r.addr, Key: r.key, Account: "1234", Line: "0", Timeout: 200 * time.Millisecond}
	if f != nil {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClient_ACK(t *testing.T) {
	for _, network := range networks {
		for _, k := range testKeys {
			t.Run(network+"/"+k.name, func(t *testing.T) {
				r := startReceiver(t, network, k.key, nil, nil)
				c := newTestClient(t, network, r, func(cfg *Config) { cfg.Receiver = "12" })
				data, err := SIADCS("1234", "BA", 3, 1)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.Send(t.Context(), Message{ID: IDSIADCS, Data: data})
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if resp.Reply.ID != IDACK || resp.Seq != 1 || resp.Reply.Seq != 1 || resp.Reply.Encrypted != (k.key != nil) || resp.RTT <= 0 {
					t.Errorf("Send response = %+v", resp)
				}
				if resp, err = c.NullPoll(t.Context()); err != nil || resp.Seq != 2 {
					t.Fatalf("NullPoll = %+v, %v", resp, err)
				}
				got := r.received()
				if len(got) != 2 {
					t.Fatalf("receiver got %d frames, want 2", len(got))
				}
				want := []rxFrame{
					{encrypted: k.key != nil, id: "SIA-DCS", seq: "0001", rcvr: "R12", line: "L0", acct: "#1234", data: "#1234|Nri1/BA03", hasTS: true},
					{encrypted: k.key != nil, id: "NULL", seq: "0002", rcvr: "R12", line: "L0", acct: "#1234", data: "", hasTS: true},
				}
				for i := range want {
					g := got[i]
					g.ts, g.from = time.Time{}, nil
					if g != want[i] {
						t.Errorf("receiver frame %d = %+v, want %+v", i, g, want[i])
					}
				}
			})
		}
	}
}

func TestClient_NAKCorrectsClock(t *testing.T) {
	base := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	skew := 10 * time.Minute
	panelClock := func() time.Time { return base }
	receiverClock := func() time.Time { return base.Add(skew) }
	for _, network := range networks {
		t.Run(network+"/Send twice", func(t *testing.T) {
			r := startReceiver(t, network, key000102, receiverClock, nil)
			c := newTestClient(t, network, r, func(cfg *Config) { cfg.Now = panelClock })
			msg := Message{ID: IDContactID, Data: "#1234|1130 01 001"}
			resp, err := c.Send(t.Context(), msg)
			if !errors.Is(err, ErrNAK) {
				t.Fatalf("Send error = %v, want ErrNAK", err)
			}
			if resp.Reply.ID != IDNAK || !resp.Reply.Timestamp.Equal(base.Add(skew)) {
				t.Errorf("NAK reply = %+v", resp.Reply)
			}
			if got := c.ClockOffset(); got != skew {
				t.Errorf("ClockOffset = %v, want %v", got, skew)
			}
			msg.Seq = resp.Seq
			if resp, err = c.Send(t.Context(), msg); err != nil {
				t.Fatalf("resend: %v", err)
			}
			if !resp.Sent.Equal(base.Add(skew)) {
				t.Errorf("resent with timestamp %v, want %v", resp.Sent, base.Add(skew))
			}
			got := r.received()
			if len(got) != 2 || got[0].seq != "0001" || got[1].seq != "0001" || !got[1].ts.Equal(base.Add(skew)) {
				t.Errorf("receiver got %+v", got)
			}
		})
		t.Run(network+"/SendRetryNAK", func(t *testing.T) {
			r := startReceiver(t, network, key000102, receiverClock, nil)
			c := newTestClient(t, network, r, func(cfg *Config) { cfg.Now = panelClock })
			resp, err := c.SendRetryNAK(t.Context(), Message{ID: IDContactID, Data: "#1234|1130 01 001"})
			if err != nil || resp.Reply.ID != IDACK {
				t.Fatalf("SendRetryNAK = %+v, %v", resp, err)
			}
			got := r.received()
			if len(got) != 2 || got[0].seq != got[1].seq || !got[1].ts.Equal(base.Add(skew)) {
				t.Errorf("receiver got %+v", got)
			}
			// The learned offset holds for the next message.
			if _, err := c.Send(t.Context(), Message{ID: IDNull}); err != nil {
				t.Errorf("next Send: %v", err)
			}
		})
		t.Run(network+"/SendRetryNAK gives up", func(t *testing.T) {
			r := startReceiver(t, network, nil, nil, func(r *testReceiver, f rxFrame) (string, bool) { return r.nak(), false })
			c := newTestClient(t, network, r, nil)
			if _, err := c.SendRetryNAK(t.Context(), Message{ID: IDNull}); !errors.Is(err, ErrNAK) {
				t.Fatalf("SendRetryNAK error = %v, want ErrNAK", err)
			}
			if n := len(r.received()); n != 2 {
				t.Errorf("receiver got %d frames, want 2 (one retry)", n)
			}
		})
	}
}

func TestClient_BadReplies(t *testing.T) {
	tests := []struct {
		name   string
		key    []byte
		handle rxHandler
		want   error
	}{
		{"DUH", nil, func(r *testReceiver, f rxFrame) (string, bool) { return r.duh(f), false }, ErrDUH},
		{"garbage", nil, func(r *testReceiver, f rxFrame) (string, bool) { return "garbage\r", false }, ErrFormat},
		{"bad crc", nil, func(r *testReceiver, f rxFrame) (string, bool) {
			a := r.ack(f)
			return a[:1] + "FFFF" + a[5:], false
		}, ErrCRC},
		{"truncated", nil, func(r *testReceiver, f rxFrame) (string, bool) {
			a := r.ack(f)
			return a[:len(a)-4] + "\r", false
		}, ErrLength},
		{"wrong sequence", nil, func(r *testReceiver, f rxFrame) (string, bool) {
			f.seq = "0777"
			return r.ack(f), false
		}, ErrMismatch},
		{"wrong account", nil, func(r *testReceiver, f rxFrame) (string, bool) {
			f.acct = "#9999"
			return r.ack(f), false
		}, ErrMismatch},
		{"unknown token", nil, func(r *testReceiver, f rxFrame) (string, bool) {
			return rxWrap(`"OK"` + f.seq + f.line + f.acct + "[]"), false
		}, ErrMismatch},
		{"clear ACK to encrypted", key000102, func(r *testReceiver, f rxFrame) (string, bool) {
			f.encrypted = false
			return r.ack(f), false
		}, ErrMismatch},
		{"ACK under another key", key000102, func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACK(keyAAAA, r.stamp(), f), false
		}, ErrDecrypt},
		{"silent", nil, func(r *testReceiver, f rxFrame) (string, bool) { return "", false }, ErrTimeout},
	}
	for _, network := range networks {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := startReceiver(t, network, tc.key, nil, tc.handle)
				c := newTestClient(t, network, r, nil)
				resp, err := c.Send(t.Context(), Message{ID: IDSIADCS, Data: "#1234|Nri1/BA01"})
				if !errors.Is(err, tc.want) {
					t.Fatalf("Send error = %v, want %v", err, tc.want)
				}
				if resp.Seq != 1 {
					t.Errorf("Response.Seq = %d, want 1", resp.Seq)
				}
				// The path recovers once the receiver behaves.
				r.setHandler(nil)
				if _, err := c.Send(t.Context(), Message{ID: IDSIADCS, Data: "#1234|Nri1/BA01"}); err != nil {
					t.Errorf("Send after recovery: %v", err)
				}
			})
		}
	}
}

// rxACKHeader is an ACK whose header after the sequence is hdr as given, the way a
// receiver in the field writes it: "None" for a missing receiver number, a line it made
// up, or nothing at all.
func rxACKHeader(key []byte, stamp string, f rxFrame, hdr string) string {
	if !f.encrypted {
		return rxWrap(`"ACK"` + f.seq + hdr + "[]")
	}
	content := "|]" + stamp
	pt := []byte(strings.Repeat("z", 16-len(content)%16) + content)
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	cipher.NewCBCEncrypter(block, make([]byte, aes.BlockSize)).CryptBlocks(pt, pt)
	return rxWrap(`"*ACK"` + f.seq + hdr + "[" + strings.ToUpper(hex.EncodeToString(pt)))
}

// TestClient_FieldReceiverReplies answers the way receivers deployed in the field do: an
// ACK echoes the receiver and line fields loosely (the text "None" for a missing receiver
// number, another line, none), and an unknown account gets a bare "NAK" with no LF, CRC,
// length or CR. The ACKs are ACKs; the bare NAK is a NAK at once, not a time-out.
func TestClient_FieldReceiverReplies(t *testing.T) {
	tests := []struct {
		name   string
		rcvr   string // the client's receiver number
		handle rxHandler
		want   error
	}{
		{"ACK with None for the receiver", "", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, "NoneL0"+f.acct), false
		}, nil},
		{"ACK with None for a receiver sent", "12", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, "NoneL0"+f.acct), false
		}, nil},
		{"ACK without the receiver sent", "12", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, f.line+f.acct), false
		}, nil},
		{"ACK with another receiver and line", "12", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, "R99L7"+f.acct), false
		}, nil},
		{"ACK without receiver or line", "", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, f.acct), false
		}, nil},
		{"ACK with None for the receiver and another account", "", func(r *testReceiver, f rxFrame) (string, bool) {
			return rxACKHeader(r.key, r.stamp(), f, "NoneL0#9999"), false
		}, ErrMismatch},
		{"ACK with None for the receiver and another sequence", "", func(r *testReceiver, f rxFrame) (string, bool) {
			f.seq = "0777"
			return rxACKHeader(r.key, r.stamp(), f, "NoneL0"+f.acct), false
		}, ErrMismatch},
		{"ACK with None and a bad CRC", "", func(r *testReceiver, f rxFrame) (string, bool) {
			a := rxACKHeader(r.key, r.stamp(), f, "NoneL0"+f.acct)
			return a[:1] + "FFFF" + a[5:], false
		}, ErrCRC},
		{"bare NAK", "", func(r *testReceiver, f rxFrame) (string, bool) { return `"NAK"`, false }, ErrNAK},
		{"unframed NAK", "", func(r *testReceiver, f rxFrame) (string, bool) { return `"NAK"0000R0L0A0[]` + "\r", false }, ErrNAK},
		{"NAK with a bad CRC", "", func(r *testReceiver, f rxFrame) (string, bool) {
			a := r.nak()
			return a[:1] + "FFFF" + a[5:], false
		}, ErrNAK},
	}
	for _, network := range networks {
		for _, k := range testKeys {
			for _, tc := range tests {
				t.Run(network+"/"+k.name+"/"+tc.name, func(t *testing.T) {
					r := startReceiver(t, network, k.key, nil, tc.handle)
					// A long time-out: a reply the client does not recognise as the end
					// of the exchange would show up as ErrTimeout, after a minute.
					c := newTestClient(t, network, r, func(cfg *Config) { cfg.Receiver, cfg.Timeout = tc.rcvr, time.Minute })
					resp, err := c.Send(t.Context(), Message{ID: IDSIADCS, Data: "#1234|Nri1/BA01"})
					if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
						t.Fatalf("Send error = %v, want %v", err, tc.want)
					}
					if tc.want == nil && (resp.Reply.ID != IDACK || resp.Reply.Seq != 1) {
						t.Errorf("Send response = %+v", resp)
					}
					// The next exchange is not confused by what is left of the reply.
					r.setHandler(nil)
					if _, err := c.Send(t.Context(), Message{ID: IDSIADCS, Data: "#1234|Nri1/BA01"}); err != nil {
						t.Errorf("Send after: %v", err)
					}
				})
			}
		}
	}
}

func TestClient_SequenceWrap(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := startReceiver(t, network, key000102, nil, nil)
			c := newTestClient(t, network, r, func(cfg *Config) { cfg.StartSeq = 9998 })
			var seqs []int
			for range 3 {
				resp, err := c.NullPoll(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, resp.Reply.Seq)
			}
			if fmt.Sprint(seqs) != "[9998 9999 1]" {
				t.Errorf("ACKed sequences %v, want [9998 9999 1]", seqs)
			}
			var got []string
			for _, f := range r.received() {
				got = append(got, f.seq)
			}
			if strings.Join(got, " ") != "9998 9999 0001" {
				t.Errorf("receiver saw sequences %v", got)
			}
		})
	}
}

func TestClient_CallerSequence(t *testing.T) {
	r := startReceiver(t, "tcp", nil, nil, nil)
	c := newTestClient(t, "tcp", r, nil)
	if resp, err := c.Send(t.Context(), Message{ID: IDNull, Seq: 4321}); err != nil || resp.Reply.Seq != 4321 {
		t.Fatalf("Send with own sequence = %+v, %v", resp, err)
	}
	// The Client's own numbering is not disturbed.
	if resp, err := c.NullPoll(t.Context()); err != nil || resp.Seq != 1 {
		t.Fatalf("NullPoll = %+v, %v", resp, err)
	}
	if _, err := c.Send(t.Context(), Message{ID: IDNull, Seq: 10000}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Send with sequence 10000: %v, want ErrInvalid", err)
	}
}

// TestClient_Reconnect has a receiver that hangs up after every reply: each
// Send still succeeds, on a new connection.
func TestClient_Reconnect(t *testing.T) {
	r := startReceiver(t, "tcp", key000102, nil, func(r *testReceiver, f rxFrame) (string, bool) { return r.ack(f), true })
	c := newTestClient(t, "tcp", r, nil)
	for i := range 3 {
		if _, err := c.NullPoll(t.Context()); err != nil {
			t.Fatalf("NullPoll %d: %v", i, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns != 3 {
		t.Errorf("receiver accepted %d connections, want 3", r.conns)
	}
}

// TestClient_CRLFReplies has a receiver that ends its frames with CR LF: the
// LF left in front of the next reply must not break it.
func TestClient_CRLFReplies(t *testing.T) {
	r := startReceiver(t, "tcp", key000102, nil, func(r *testReceiver, f rxFrame) (string, bool) { return r.ack(f) + "\n", false })
	c := newTestClient(t, "tcp", r, nil)
	for i := range 3 {
		if _, err := c.NullPoll(t.Context()); err != nil {
			t.Fatalf("NullPoll %d: %v", i, err)
		}
	}
}

// TestClient_KeepsConnection checks that TCP messages share one connection.
func TestClient_KeepsConnection(t *testing.T) {
	r := startReceiver(t, "tcp", nil, nil, nil)
	c := newTestClient(t, "tcp", r, nil)
	for i := range 3 {
		if _, err := c.NullPoll(t.Context()); err != nil {
			t.Fatalf("NullPoll %d: %v", i, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns != 1 {
		t.Errorf("receiver accepted %d connections, want 1", r.conns)
	}
}

func TestClient_ContextCancel(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			r := startReceiver(t, network, nil, nil, func(r *testReceiver, f rxFrame) (string, bool) { return "", false })
			c := newTestClient(t, network, r, func(cfg *Config) { cfg.Timeout = 10 * time.Second })
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-r.got // the message is at the receiver, and the Client is waiting
				cancel()
			}()
			if _, err := c.NullPoll(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("NullPoll error = %v, want context.Canceled", err)
			}
			if _, err := c.NullPoll(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("NullPoll on a done context = %v, want context.Canceled", err)
			}
		})
	}
}

func TestClient_LocalAddr(t *testing.T) {
	for _, network := range networks {
		for _, local := range []string{"127.0.0.1", "127.0.0.1:0", "[::ffff:127.0.0.1]:0"} {
			t.Run(network+"/"+local, func(t *testing.T) {
				r := startReceiver(t, network, nil, nil, nil)
				c := newTestClient(t, network, r, func(cfg *Config) { cfg.LocalAddr = local })
				if _, err := c.NullPoll(t.Context()); err != nil {
					t.Fatal(err)
				}
				host, _, _ := net.SplitHostPort(r.received()[0].from.String())
				if host != "127.0.0.1" {
					t.Errorf("receiver saw source %s, want 127.0.0.1", host)
				}
			})
		}
	}
}

func TestClient_Closed(t *testing.T) {
	r := startReceiver(t, "tcp", nil, nil, nil)
	c := newTestClient(t, "tcp", r, nil)
	if _, err := c.NullPoll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.NullPoll(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("NullPoll after Close = %v, want ErrClosed", err)
	}
}

func TestClient_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(Config{Network: "tcp", Addr: addr, Account: "1234", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NullPoll(t.Context()); err == nil || !strings.Contains(err.Error(), "connect to "+addr) {
		t.Errorf("NullPoll to a closed port = %v, want a connect error", err)
	}
}

func TestNew_Config(t *testing.T) {
	ok := Config{Network: "tcp", Addr: "127.0.0.1:9000", Account: "1234"}
	with := func(f func(*Config)) Config {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", ok, true},
		{"udp6 with everything", with(func(c *Config) {
			c.Network, c.Key, c.Receiver, c.Line, c.LocalAddr, c.StartSeq = "udp6", key000102, "ABCDEF", "123456", "::1", 9999
		}), true},
		{"no network", with(func(c *Config) { c.Network = "" }), false},
		{"unix", with(func(c *Config) { c.Network = "unix" }), false},
		{"no address", with(func(c *Config) { c.Addr = "" }), false},
		{"key 10 bytes", with(func(c *Config) { c.Key = make([]byte, 10) }), false},
		{"no account", with(func(c *Config) { c.Account = "" }), false},
		{"receiver not hex", with(func(c *Config) { c.Receiver = "R1" }), false},
		{"line too long", with(func(c *Config) { c.Line = "1234567" }), false},
		{"negative timeout", with(func(c *Config) { c.Timeout = -time.Second }), false},
		{"start sequence 10000", with(func(c *Config) { c.StartSeq = 10000 }), false},
		{"local hostname", with(func(c *Config) { c.LocalAddr = "localhost" }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New error = %v, want ok=%v", err, tc.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{-1, time.Second},
		{0, time.Second},
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{5, 32 * time.Second},
		{6, 60 * time.Second},
		{1000, 60 * time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.attempt), func(t *testing.T) {
			if got := Backoff(tc.attempt); got != tc.want {
				t.Errorf("Backoff(%d) = %v, want %v", tc.attempt, got, tc.want)
			}
		})
	}
}

// BenchmarkSendACK is one event to a loopback TCP receiver and its ACK.
func BenchmarkSendACK(b *testing.B) {
	for _, k := range testKeys[:2] {
		b.Run(k.name, func(b *testing.B) {
			r := startReceiver(b, "tcp", k.key, nil, nil)
			c := newTestClient(b, "tcp", r, func(cfg *Config) { cfg.Timeout = 5 * time.Second })
			msg := Message{ID: IDContactID, Data: "#1234|1130 01 001"}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawRoundTrip is the floor for BenchmarkSendACK: a prebuilt frame
// written to the same receiver over a plain socket, reading the reply to CR.
func BenchmarkRawRoundTrip(b *testing.B) {
	for _, k := range testKeys[:2] {
		b.Run(k.name, func(b *testing.B) {
			r := startReceiver(b, "tcp", k.key, nil, nil)
			conn, err := net.Dial("tcp", r.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			frame, err := Encode(Message{ID: IDContactID, Encrypted: k.key != nil, Seq: 1, Line: "0", Account: "1234", Data: "#1234|1130 01 001", Timestamp: time.Now(), HasTimestamp: true}, k.key, nil)
			if err != nil {
				b.Fatal(err)
			}
			br := bufio.NewReader(conn)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.Write(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := br.ReadSlice('\r'); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
