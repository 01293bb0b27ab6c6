package dc09

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

var (
	// ErrNAK reports that the receiver rejected the message, normally because
	// its timestamp was outside the receiver's window (40 s past to 20 s
	// future). The Client has already corrected its clock offset from the
	// receiver's time in the NAK; send again (same sequence number, fresh
	// timestamp), or use SendRetryNAK.
	ErrNAK = errors.New("dc09: receiver sent NAK")
	// ErrDUH reports that the receiver did not understand the message. Sending
	// the same message again will not help: report it and move on.
	ErrDUH = errors.New("dc09: receiver did not understand the message (DUH)")
	// ErrMismatch reports a reply that does not answer the message sent: an
	// ACK with another sequence, receiver, line or account, a clear ACK to an
	// encrypted message, or an unknown reply token.
	ErrMismatch = errors.New("dc09: reply does not answer the message")
	// ErrTimeout reports that connecting, sending or reading the reply took
	// longer than Config.Timeout.
	ErrTimeout = errors.New("dc09: receiver did not answer in time")
	// ErrClosed reports a Send on a closed Client.
	ErrClosed = errors.New("dc09: client closed")
)

// DefaultTimeout is the time one exchange (connect, send, reply) may take
// when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config describes one receiver path: where the receiver is, and who we are
// to it.
type Config struct {
	// Network is "tcp" or "udp" ("tcp4", "tcp6", "udp4", "udp6" also work).
	Network string
	// Addr is the receiver's host:port.
	Addr string
	// LocalAddr optionally binds the source address, as "192.0.2.10:0",
	// "192.0.2.10", "[2001:db8::1]:0" or "2001:db8::1" (IP literals only),
	// to pick the uplink interface.
	LocalAddr string
	// Key is the AES key (16, 24 or 32 bytes); nil or empty sends clear
	// messages.
	Key []byte
	// Account is the account number, 3–16 hex digits.
	Account string
	// Receiver is the optional receiver number, 1–6 hex digits.
	Receiver string
	// Line is the account prefix, 1–6 hex digits; empty means "0".
	Line string
	// Timeout bounds one exchange: connect, write, and read the reply.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock that stamps messages; nil means time.Now. The offset
	// learned from NAKs is added to it. Round-trip times always use the real
	// monotonic clock.
	Now func() time.Time
	// StartSeq is the sequence number of the first message the Client
	// numbers itself, 1–9999; zero means 1. An uplink that persists its last
	// sequence passes the next one here.
	StartSeq int
	// Logger gets, once, a debug line about a receiver whose ACKs echo the
	// receiver or line fields loosely; nil logs nothing.
	Logger *slog.Logger
}

// Response is what the receiver answered to one Send.
type Response struct {
	// Reply is the receiver's decoded reply (ACK, NAK or DUH); zero when no
	// valid frame came back.
	Reply Message
	// Seq is the sequence number the message was sent with. Pass it in
	// Message.Seq to send the same message again.
	Seq int
	// Sent is the timestamp written into the message (receiver clock, as far
	// as the Client knows it).
	Sent time.Time
	// RTT is the time from writing the frame to reading the reply, including
	// a connect when one was needed.
	RTT time.Duration
}

// Client sends messages to one DC-09 receiver and reads its replies, one
// exchange at a time. Over TCP it keeps one connection open and reconnects
// after any error; over UDP every message goes in a datagram of its own from
// a fresh socket, so a late reply to an earlier message is never mistaken for
// the current one. Retrying and backing off are the caller's job; see Backoff.
//
// A Client is safe for concurrent use; exchanges are serialized.
type Client struct {
	cfg   Config
	local net.Addr
	block cipher.Block

	// offset is the receiver's clock minus ours, learned from NAKs.
	offset atomic.Int64
	// loose is set once a loose echo of the receiver or line fields was logged.
	loose atomic.Bool

	// sem is held for a whole exchange; it guards the fields below.
	sem    chan struct{}
	seq    int // last sequence number the Client assigned
	closed bool
	conn   net.Conn
	rd     *bufio.Reader
	buf    []byte
	line   []byte // the TCP reply being read
}

// New checks cfg and returns a Client for it. It does not connect: the first
// Send does.
func New(cfg Config) (*Client, error) {
	switch cfg.Network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, fmt.Errorf("new dc09 client: network %q is not tcp or udp", cfg.Network)
	}
	if cfg.Addr == "" {
		return nil, errors.New("new dc09 client: no receiver address")
	}
	if cfg.Line == "" {
		cfg.Line = "0"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case !isHex(cfg.Account, 3, 16):
		return nil, fmt.Errorf("new dc09 client: %w: account %q is not 3–16 hex digits", ErrInvalid, cfg.Account)
	case cfg.Receiver != "" && !isHex(cfg.Receiver, 1, 6):
		return nil, fmt.Errorf("new dc09 client: %w: receiver %q is not 1–6 hex digits", ErrInvalid, cfg.Receiver)
	case !isHex(cfg.Line, 1, 6):
		return nil, fmt.Errorf("new dc09 client: %w: line prefix %q is not 1–6 hex digits", ErrInvalid, cfg.Line)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("new dc09 client: negative timeout %v", cfg.Timeout)
	case cfg.StartSeq < 0 || cfg.StartSeq > 9999:
		return nil, fmt.Errorf("new dc09 client: start sequence %d is outside 1–9999", cfg.StartSeq)
	}
	c := &Client{sem: make(chan struct{}, 1)}
	if len(cfg.Key) > 0 {
		cfg.Key = append([]byte(nil), cfg.Key...)
		block, err := newCipher(cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("new dc09 client: %w", err)
		}
		c.block = block
	} else {
		cfg.Key = nil
	}
	local, err := parseLocalAddr(cfg.Network, cfg.LocalAddr)
	if err != nil {
		return nil, fmt.Errorf("new dc09 client: %w", err)
	}
	c.local = local
	c.cfg = cfg
	if cfg.StartSeq > 0 {
		c.seq = cfg.StartSeq - 1
	}
	return c, nil
}

// Send sends msg and waits for the receiver's reply.
//
// Send fills in what the path owns: Account, Receiver and Line when empty,
// Encrypted (from Config.Key), and the timestamp (Config.Now plus the clock
// offset learned from NAKs, in UTC). When msg.Seq is 0 it takes the next
// sequence number, 0001–9999 then 0001 again; a caller resending a message
// passes the Seq from the earlier Response instead.
//
// The error is nil only for an ACK whose CRC and length hold (when it has
// them), that echoes the sequence and account, and that is encrypted under
// the key when the message was. The receiver and line fields are not held
// against it: receivers in the field echo them loosely ("None", left out,
// another line), which is logged once at debug. A reply that is recognisably
// a NAK is one, framed or not (a bare "NAK" for an unknown account included).
// Otherwise the error wraps
// ErrNAK (clock offset already corrected: send again), ErrDUH (do not resend
// as is), ErrMismatch, ErrTimeout, a frame error from Decode, a network
// error, or ctx's error. The Response is filled in as far as the exchange
// got, so Seq is always set.
func (c *Client) Send(ctx context.Context, msg Message) (Response, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Response{}, fmt.Errorf("send %s: %w", msg.ID, ctx.Err())
	}
	defer func() { <-c.sem }()
	if c.closed {
		return Response{}, fmt.Errorf("send %s: %w", msg.ID, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("send %s: %w", msg.ID, err)
	}

	if msg.Seq == 0 {
		c.seq = c.seq%9999 + 1
		msg.Seq = c.seq
	}
	if msg.Account == "" {
		msg.Account = c.cfg.Account
	}
	if msg.Receiver == "" {
		msg.Receiver = c.cfg.Receiver
	}
	if msg.Line == "" {
		msg.Line = c.cfg.Line
	}
	msg.Encrypted = c.block != nil
	msg.Timestamp = c.cfg.Now().Add(c.ClockOffset()).UTC().Truncate(time.Second)
	msg.HasTimestamp = true

	resp := Response{Seq: msg.Seq, Sent: msg.Timestamp}
	frame, err := encode(msg, c.block, nil)
	if err != nil {
		return resp, fmt.Errorf("send %s %04d: %w", msg.ID, msg.Seq, err)
	}

	start := time.Now()
	raw, err := c.exchange(ctx, frame)
	resp.RTT = time.Since(start)
	if err != nil {
		return resp, fmt.Errorf("send %s %04d: %w", msg.ID, msg.Seq, err)
	}
	reply, err := decodeReply(raw, c.cfg.Key, c.block)
	if err != nil {
		c.dropConn()
		return resp, fmt.Errorf("send %s %04d: read reply: %w", msg.ID, msg.Seq, err)
	}
	if reply.unframed {
		// Where an unframed reply ends is a guess: what may follow must not be
		// read as the answer to the next message.
		c.dropConn()
	}
	resp.Reply = reply.Message
	if err := c.check(msg, reply); err != nil {
		return resp, fmt.Errorf("send %s %04d: %w", msg.ID, msg.Seq, err)
	}
	return resp, nil
}

// SendRetryNAK is Send that, when the receiver answers NAK, sends the message
// once more with the same sequence number and a timestamp from the corrected
// clock. It retries only once, so a receiver that keeps sending NAK cannot
// keep it looping; that ErrNAK, and every other error, goes to the caller.
// The Response is the one of the last exchange.
func (c *Client) SendRetryNAK(ctx context.Context, msg Message) (Response, error) {
	resp, err := c.Send(ctx, msg)
	if !errors.Is(err, ErrNAK) {
		return resp, err
	}
	msg.Seq = resp.Seq
	return c.Send(ctx, msg)
}

// NullPoll sends a NULL message, the DC-09 link test a receiver uses to
// supervise the path, and waits for its ACK.
func (c *Client) NullPoll(ctx context.Context) (Response, error) {
	return c.Send(ctx, Message{ID: IDNull})
}

// ClockOffset returns the receiver's clock minus Config.Now, as learned from
// the last NAK; zero until a NAK arrives.
func (c *Client) ClockOffset() time.Duration {
	return time.Duration(c.offset.Load())
}

// Close closes the TCP connection, after waiting for an exchange in flight
// (at most Config.Timeout). Later Sends fail with ErrClosed.
func (c *Client) Close() error {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	c.closed = true
	return c.dropConn()
}

// Backoff returns how long to wait before retry number attempt, counted
// from 0: 1s, 2s, 4s, … doubling up to 60s. It holds no state and adds no
// jitter: the caller owns the retry policy.
func Backoff(attempt int) time.Duration {
	const limit = 60 * time.Second
	if attempt < 0 {
		attempt = 0
	}
	if attempt >= 6 {
		return limit
	}
	return min(time.Second<<attempt, limit)
}

// check classifies the receiver's reply to sent.
func (c *Client) check(sent Message, reply reply) error {
	switch reply.ID {
	case IDACK:
		if reply.Seq != sent.Seq || !strings.EqualFold(reply.Account, sent.Account) {
			c.dropConn()
			return fmt.Errorf("%w: ACK for seq %04d #%q", ErrMismatch, reply.Seq, reply.Account)
		}
		if sent.Encrypted && !reply.Encrypted {
			c.dropConn()
			return fmt.Errorf("%w: clear ACK to an encrypted message", ErrMismatch)
		}
		loose := reply.header != "" || reply.unframed ||
			!strings.EqualFold(reply.Receiver, sent.Receiver) || !strings.EqualFold(reply.Line, sent.Line)
		if loose && c.loose.CompareAndSwap(false, true) {
			c.cfg.Logger.Debug("receiver echoes the receiver and line fields loosely; accepted",
				"sent_receiver", sent.Receiver, "sent_line", sent.Line,
				"ack_receiver", reply.Receiver, "ack_line", reply.Line, "ack_header", reply.header, "unframed", reply.unframed)
		}
		return nil
	case IDNAK:
		if !reply.HasTimestamp {
			return fmt.Errorf("%w without a timestamp", ErrNAK)
		}
		offset := reply.Timestamp.Sub(c.cfg.Now())
		c.offset.Store(int64(offset))
		return fmt.Errorf("%w: receiver time %s, clock offset now %v", ErrNAK, reply.Timestamp.Format(time.RFC3339), offset)
	case IDDUH:
		return ErrDUH
	default:
		c.dropConn()
		return fmt.Errorf("%w: unexpected reply %q", ErrMismatch, reply.ID)
	}
}

// exchange writes frame and returns the reply frame. The returned slice is
// only valid until the next exchange.
func (c *Client) exchange(ctx context.Context, frame []byte) ([]byte, error) {
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if strings.HasPrefix(c.cfg.Network, "udp") {
		return c.exchangeUDP(ctx, frame, deadline)
	}
	for attempt := 0; ; attempt++ {
		reused := c.conn != nil
		if !reused {
			conn, err := c.dial(ctx, deadline)
			if err != nil {
				return nil, err
			}
			c.conn = conn
			if c.rd == nil {
				c.rd = bufio.NewReaderSize(conn, MaxFrame+1)
			} else {
				c.rd.Reset(conn)
			}
		}
		reply, err := roundTrip(ctx, c.conn, frame, deadline, c.readTCP)
		if err == nil {
			if ctx.Err() != nil {
				// ctx ended just as the reply came: its deadline change
				// may still land on the connection.
				c.dropConn()
			}
			return reply, nil
		}
		c.dropConn()
		// A receiver may close an idle connection; the next write still
		// succeeds and only the read sees the close. Redial once at once
		// rather than failing the message into the caller's backoff.
		if reused && attempt == 0 && len(reply) == 0 && ctx.Err() == nil && !errors.Is(err, ErrTimeout) {
			continue
		}
		return nil, err
	}
}

// readTCP reads one reply: up to CR, or a bare "NAK" that ends without one
// (then the rest of what arrived with it, if anything), or what came before
// the receiver hung up.
func (c *Client) readTCP(net.Conn) ([]byte, error) {
	c.line = c.line[:0]
	for {
		b, err := c.rd.ReadByte()
		if err != nil {
			// A receiver that ends its frames with CR LF leaves the LF in front
			// of the next one; some pad with NULs. Neither is part of the frame.
			got := bytes.TrimLeft(c.line, "\n\x00")
			if errors.Is(err, io.EOF) && len(got) > 0 {
				return got, nil
			}
			return c.line, err
		}
		c.line = append(c.line, b)
		if b == '\r' {
			return bytes.TrimLeft(c.line, "\n\x00"), nil
		}
		if len(c.line) > MaxFrame {
			return c.line, fmt.Errorf("%w: reply longer than %d bytes without CR", ErrFormat, MaxFrame)
		}
		if b == '"' && c.rd.Buffered() == 0 && bytes.Equal(bytes.TrimLeft(c.line, "\n\x00"), []byte(nakToken)) {
			// A bare NAK: nothing more is coming, and waiting for a CR would
			// turn a refusal into a time-out.
			return bytes.TrimLeft(c.line, "\n\x00"), nil
		}
	}
}

func (c *Client) exchangeUDP(ctx context.Context, frame []byte, deadline time.Time) ([]byte, error) {
	conn, err := c.dial(ctx, deadline)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if c.buf == nil {
		c.buf = make([]byte, MaxFrame+1)
	}
	return roundTrip(ctx, conn, frame, deadline, func(conn net.Conn) ([]byte, error) {
		n, err := conn.Read(c.buf)
		return c.buf[:n], err
	})
}

// roundTrip writes frame to conn and reads one reply with read, within
// deadline and until ctx is done.
func roundTrip(ctx context.Context, conn net.Conn, frame []byte, deadline time.Time, read func(net.Conn) ([]byte, error)) ([]byte, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	// Cancelling ctx moves the deadline into the past, which unblocks I/O.
	// Once that has happened the connection must not be reused; the caller
	// sees it from ctx.Err.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(frame); err != nil {
		return nil, netError(ctx, "write frame", err)
	}
	reply, err := read(conn)
	if err != nil {
		return reply, netError(ctx, "read reply", err)
	}
	return reply, nil
}

// netError names what failed, and says whether ctx or the timeout ended it.
func netError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: %w: %w", what, ErrTimeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (c *Client) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	d := net.Dialer{Deadline: deadline}
	if c.local != nil {
		d.LocalAddr = c.local
	}
	conn, err := d.DialContext(ctx, c.cfg.Network, c.cfg.Addr)
	if err != nil {
		return nil, netError(ctx, "connect to "+c.cfg.Addr, err)
	}
	return conn, nil
}

func (c *Client) dropConn() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// parseLocalAddr turns Config.LocalAddr into the dialer's source address.
func parseLocalAddr(network, s string) (net.Addr, error) {
	if s == "" {
		return nil, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		ip, ierr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
		if ierr != nil {
			return nil, fmt.Errorf("local address %q is not an IP or IP:port", s)
		}
		ap = netip.AddrPortFrom(ip, 0)
	}
	if strings.HasPrefix(network, "udp") {
		return net.UDPAddrFromAddrPort(ap), nil
	}
	return net.TCPAddrFromAddrPort(ap), nil
}
