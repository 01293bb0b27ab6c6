package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// ErrModem is a modem that did not send an SMS: it answered ERROR or +CMS ERROR, or not at
// all, on every attempt.
var ErrModem = errors.New("modem fault")

// bauds are the serial speeds a modem may be set to.
var bauds = map[int]struct{}{9600: {}, 19200: {}, 38400: {}, 57600: {}, 115200: {}, 230400: {}, 460800: {}, 921600: {}}

// Modem sends SMS through a cellular modem's AT commands in text mode: AT+CMGF=1, then
// AT+CMGS="<number>", the text after the modem's "> " prompt, Ctrl-Z, and the modem's
// +CMGS: reference and OK. The port is opened for each message and closed after, so a
// modem that re-enumerates on USB is found again. One message at a time.
type Modem struct {
	cfg ModemConfig
	log *slog.Logger
	mu  sync.Mutex
	// pause is the wait between attempts.
	pause time.Duration
	// incoming is signalled when the modem announced a received SMS (+CMTI).
	incoming chan struct{}
}

var _ Channel = (*Modem)(nil)

// NewModem returns the channel.
func NewModem(cfg ModemConfig, logger *slog.Logger) *Modem {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Modem{cfg: cfg, log: logger.With("channel", ChannelSMS, "device", cfg.Device), pause: 2 * time.Second, incoming: make(chan struct{}, 1)}
}

// Send sends the title and body of m as one SMS to number, trying up to cfg.Attempts
// times; after that the error wraps ErrModem.
func (md *Modem) Send(ctx context.Context, number string, m Message) error {
	md.mu.Lock()
	defer md.mu.Unlock()
	text := smsText(m)
	var err error
	for attempt := range max(md.cfg.Attempts, 1) {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(md.pause):
			}
		}
		if err = md.sendOnce(ctx, number, text); err == nil {
			return nil
		}
		md.log.Warn("SMS not sent", "attempt", attempt+1, "error", err)
	}
	return fmt.Errorf("sms: %w after %d attempts: %w", ErrModem, max(md.cfg.Attempts, 1), err)
}

// smsText is the message as one SMS (fitSMS), without the characters that end (Ctrl-Z)
// or abort (ESC) a message in text mode.
func smsText(m Message) string {
	head := m.Title
	if m.Body != "" {
		head += ": " + m.Body
	}
	tail := ""
	if m.Alarm && m.AckHint != "" {
		tail = ". " + m.AckHint
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == 0x1a || r == 0x1b || r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return fitSMS(clean(head), clean(tail))
}

func (md *Modem) sendOnce(ctx context.Context, number, text string) error {
	f, err := openSerial(md.cfg.Device, md.cfg.Baud)
	if err != nil {
		return err
	}
	defer f.Close()
	c := &atConn{f: f, timeout: md.cfg.Timeout.D(), ctx: ctx}
	enc := encodeSMS(text)
	if err := c.command("AT+CMGF=1\r", isOK); err != nil {
		return fmt.Errorf("AT+CMGF=1: %w", err)
	}
	// The character set of the text, and of the number: in UCS2 every string parameter
	// is hex too. The data coding scheme tells the network which it is.
	if err := c.command(fmt.Sprintf("AT+CSCS=%q\r", enc.Charset), isOK); err != nil {
		return fmt.Errorf("AT+CSCS: %w", err)
	}
	if err := c.command(fmt.Sprintf("AT+CSMP=17,167,0,%d\r", enc.DCS), isOK); err != nil {
		return fmt.Errorf("AT+CSMP: %w", err)
	}
	to := number
	if enc.Charset == "UCS2" {
		to = ucs2Hex(number)
	}
	if err := c.command(fmt.Sprintf("AT+CMGS=%q\r", to), isPrompt); err != nil {
		return fmt.Errorf("AT+CMGS: %w", err)
	}
	a, err := c.exchange(enc.Text+"\x1a", isSent)
	if err != nil {
		return fmt.Errorf("AT+CMGS text: %w", err)
	}
	if strings.Contains(a, "+CMTI:") {
		// A message arrived meanwhile (the modem's unsolicited notice): read it now.
		select {
		case md.incoming <- struct{}{}:
		default:
		}
	}
	return nil
}

// atConn is one conversation with a modem.
type atConn struct {
	f       *os.File
	timeout time.Duration
	ctx     context.Context
}

// command writes cmd and reads the answer until done says it is complete. ERROR, +CMS
// ERROR and +CME ERROR end it with an error; so does silence past the timeout.
func (c *atConn) command(cmd string, done func(answer string) bool) error {
	_, err := c.exchange(cmd, done)
	return err
}

// exchange is command, returning the answer.
func (c *atConn) exchange(cmd string, done func(answer string) bool) (string, error) {
	if _, err := c.f.WriteString(cmd); err != nil {
		return "", err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var answer strings.Builder
	buf := make([]byte, 256)
	for {
		if err := c.ctx.Err(); err != nil {
			return "", err
		}
		// Short reads so that a cancelled context is seen within 100 ms.
		rd := time.Now().Add(100 * time.Millisecond)
		if deadline.Before(rd) {
			rd = deadline
		}
		c.f.SetReadDeadline(rd)
		n, err := c.f.Read(buf)
		answer.Write(buf[:n])
		a := answer.String()
		for _, line := range strings.Split(a, "\n") {
			line = strings.TrimSpace(line)
			if line == "ERROR" || strings.HasPrefix(line, "+CMS ERROR") || strings.HasPrefix(line, "+CME ERROR") {
				return a, fmt.Errorf("modem answered %s", line)
			}
		}
		if done(a) {
			return a, nil
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return a, fmt.Errorf("read modem: %w", err)
		}
		if !time.Now().Before(deadline) {
			return a, fmt.Errorf("no answer within %s (got %q)", c.timeout, strings.TrimSpace(a))
		}
	}
}

func lines(a string) []string {
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func isOK(a string) bool {
	for _, l := range lines(a) {
		if l == "OK" {
			return true
		}
	}
	return false
}

func isPrompt(a string) bool {
	ls := lines(a)
	return len(ls) > 0 && strings.HasPrefix(ls[len(ls)-1], ">")
}

// isSent: the modem gave the message a reference (+CMGS: n) and then OK.
func isSent(a string) bool {
	ref := false
	for _, l := range lines(a) {
		switch {
		case strings.HasPrefix(l, "+CMGS:"):
			ref = true
		case l == "OK" && ref:
			return true
		}
	}
	return false
}
