package uplink

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"vakt/hub"
	"vakt/uplink/dc09"
)

// Formats a receiver can take events in.
const (
	// FormatCID sends Ademco Contact ID ("ADM-CID"): "#acct|QXYZ GG CCC".
	FormatCID = "cid"
	// FormatSIA sends SIA DC-03 ("SIA-DCS"): "#acct|Nri<area>/<code><zone>".
	FormatSIA = "sia"
)

// Defaults for what a Config leaves out (zero values).
const (
	// DefaultPrimaryPoll is how often the primary path is supervised by a NULL poll when
	// nothing else went over it, so the station notices a dead link within minutes.
	DefaultPrimaryPoll = 90 * time.Second
	// DefaultBackupPoll is how often the backup path is polled; a cellular path costs
	// money per message, so it is polled rarely.
	DefaultBackupPoll = time.Hour
	// DefaultTimeout bounds one exchange (connect, send, reply). It is shorter than
	// dc09.DefaultTimeout so that an alarm behind a dead primary still reaches the station
	// over the backup within about ten seconds.
	DefaultTimeout = 5 * time.Second
	// DefaultRetries is how many exchanges in a row may fail before the path is a fault.
	DefaultRetries = 3
	// DefaultRetryBackoff is the first wait after a failed exchange; it doubles up to
	// MaxRetryBackoff (and never beyond the poll interval).
	DefaultRetryBackoff = time.Second
	// MaxRetryBackoff bounds the wait between retries.
	MaxRetryBackoff = time.Minute
	// DefaultTestInterval is how often the periodic test report (Contact ID 602) is sent.
	DefaultTestInterval = 24 * time.Hour
	// MinPollInterval and MaxPollInterval bound poll_interval in config.yaml: a NULL poll
	// every few milliseconds floods the receiver; one a day leaves a dead path unnoticed.
	MinPollInterval = 10 * time.Second
	MaxPollInterval = 25 * time.Hour
	// MinTimeout and MaxTimeout bound timeout in config.yaml.
	MinTimeout = 100 * time.Millisecond
	MaxTimeout = time.Minute
	// MinRetryBackoff bounds retry_backoff in config.yaml from below, MaxRetryBackoff from
	// above.
	MinRetryBackoff = 100 * time.Millisecond
	// MinTestInterval and MaxTestInterval bound TestInterval (DESIGN §2 item 19).
	MinTestInterval = time.Minute
	MaxTestInterval = 25 * time.Hour
)

// Config is the uplink: section of config.yaml: the monitoring station receivers that get
// the event log. No receivers means no station is connected.
type Config struct {
	Receivers []ReceiverConfig `yaml:"receivers"`

	// valid is set by Validate, so New does not check again.
	valid bool
}

// ReceiverConfig is one monitoring station receiver: who we are to it, what it gets, and
// the paths to it.
type ReceiverConfig struct {
	// Name identifies the receiver in logs, status, the event cursor ("dc09/<name>") and
	// uplink fault paths ("<name>/primary"). Letters, digits, '-' and '_'. Renaming a
	// receiver makes it a new one: it starts at the end of the log.
	Name string `yaml:"name"`
	// Format is cid (Contact ID, the default) or sia (SIA DC-03).
	Format string `yaml:"format"`
	// Account is the account number the station gave this installation, 3–16 hex digits.
	Account string `yaml:"account"`
	// Kinds lists the event kinds sent (hub event kind names, restores included); empty
	// means every reportable kind.
	Kinds []string `yaml:"kinds"`
	// TestInterval is the periodic test report interval, 1m–25h; zero means 24h.
	TestInterval hub.Duration `yaml:"test_interval"`
	// Primary is the normal path; Backup, if any, takes over when the primary fails.
	Primary PathConfig  `yaml:"primary"`
	Backup  *PathConfig `yaml:"backup,omitempty"`
}

// PathConfig is one transmission path to a receiver.
type PathConfig struct {
	// Network is tcp (the default) or udp; tcp4, tcp6, udp4 and udp6 also work.
	Network string `yaml:"network"`
	// Addr is the receiver's host:port.
	Addr string `yaml:"addr"`
	// LocalAddr binds the source address (an IP, optionally with :port) to pick the
	// interface, such as a cellular modem's.
	LocalAddr string `yaml:"local_addr"`
	// Key is the AES key in hex: 32, 48 or 64 digits (AES-128, -192, -256). Empty sends
	// clear messages, unless KeyEnv is set.
	Key string `yaml:"key"`
	// KeyEnv names an environment variable that holds the key in hex, so the key need
	// not be in the file.
	KeyEnv string `yaml:"key_env"`
	// Receiver is the optional receiver number (DC-09 "R" field), 1–6 hex digits.
	Receiver string `yaml:"receiver"`
	// Line is the account prefix (DC-09 "L" field), 1–6 hex digits; empty means 0.
	Line string `yaml:"line"`
	// PollInterval is how long the path may stay quiet before a NULL poll checks it;
	// zero means 90s for a primary and 1h for a backup.
	PollInterval hub.Duration `yaml:"poll_interval"`
	// Timeout bounds one exchange; zero means 5s.
	Timeout hub.Duration `yaml:"timeout"`
	// Retries is how many exchanges in a row may fail before the path is reported as an
	// uplink fault; zero means 3.
	Retries int `yaml:"retries"`
	// RetryBackoff is the first wait after a failure, doubling up to 1m; zero means 1s.
	RetryBackoff hub.Duration `yaml:"retry_backoff"`

	// key is the resolved AES key, set by Validate.
	key []byte
}

// Validate checks c and returns an error naming the first bad field, as
// "uplink.receivers[0].primary.key: 20 bytes, want 16, 24 or 32". It also resolves each
// path's key (from key, or through getenv from key_env) for New, so call it on the Config
// that is then passed to New.
func (c *Config) Validate(getenv func(string) string) error {
	c.valid = false
	names := map[string]int{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		at := fmt.Sprintf("uplink.receivers[%d]", i)
		if err := r.validate(at, getenv); err != nil {
			return err
		}
		if j, dup := names[r.Name]; dup {
			return fmt.Errorf("%s.name: %q is also the name of receivers[%d]", at, r.Name, j)
		}
		names[r.Name] = i
	}
	c.valid = true
	return nil
}

// CheckBounds checks the durations an installer sets in config.yaml against their bounds
// (zero means the default), naming the field as Validate does. Validate alone accepts any
// non-negative duration, so tests can drive a path with millisecond polls.
func (c *Config) CheckBounds() error {
	for i, r := range c.Receivers {
		paths := []struct {
			name string
			p    *PathConfig
		}{{"primary", &r.Primary}, {"backup", r.Backup}}
		for _, path := range paths {
			if path.p == nil {
				continue
			}
			at := fmt.Sprintf("uplink.receivers[%d].%s", i, path.name)
			for _, d := range []struct {
				name   string
				v      hub.Duration
				lo, hi time.Duration
			}{
				{"poll_interval", path.p.PollInterval, MinPollInterval, MaxPollInterval},
				{"timeout", path.p.Timeout, MinTimeout, MaxTimeout},
				{"retry_backoff", path.p.RetryBackoff, MinRetryBackoff, MaxRetryBackoff},
			} {
				if v := d.v.D(); v < 0 || v != 0 && (v < d.lo || v > d.hi) {
					return fmt.Errorf("%s.%s: %s, want %s to %s (0 means the default)", at, d.name, v, d.lo, d.hi)
				}
			}
		}
	}
	return nil
}

func (r *ReceiverConfig) validate(at string, getenv func(string) string) error {
	switch {
	case r.Name == "":
		return fmt.Errorf("%s.name: must not be empty", at)
	case len(r.Name) > 32 || strings.IndexFunc(r.Name, func(c rune) bool { return !isNameChar(c) }) >= 0:
		return fmt.Errorf("%s.name: %q, want up to 32 letters, digits, '-' or '_'", at, r.Name)
	}
	switch r.Format {
	case "", FormatCID, FormatSIA:
	default:
		return fmt.Errorf("%s.format: %q, want cid or sia", at, r.Format)
	}
	if !isHex(r.Account, 3, 16) {
		return fmt.Errorf("%s.account: %q, want 3–16 hex digits", at, r.Account)
	}
	for j, name := range r.Kinds {
		k, err := hub.ParseEventKind(name)
		if err != nil {
			return fmt.Errorf("%s.kinds[%d]: %w", at, j, err)
		}
		if k.Code().ContactID == 0 {
			return fmt.Errorf("%s.kinds[%d]: %q is history only, never reported to a station", at, j, name)
		}
	}
	if d := r.TestInterval.D(); d != 0 && (d < MinTestInterval || d > MaxTestInterval) {
		return fmt.Errorf("%s.test_interval: %s, want 1m to 25h", at, d)
	}
	if err := r.Primary.validate(at+".primary", getenv); err != nil {
		return err
	}
	if r.Backup != nil {
		if err := r.Backup.validate(at+".backup", getenv); err != nil {
			return err
		}
	}
	return nil
}

func (p *PathConfig) validate(at string, getenv func(string) string) error {
	network := p.Network
	switch network {
	case "":
		network = "tcp"
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("%s.network: %q, want tcp or udp", at, p.Network)
	}
	if p.Addr == "" {
		return fmt.Errorf("%s.addr: must not be empty", at)
	}
	host, port, err := net.SplitHostPort(p.Addr)
	if err != nil {
		return fmt.Errorf("%s.addr: %q, want host:port", at, p.Addr)
	}
	if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s.addr: %q, want host:port with a port from 1 to 65535", at, p.Addr)
	}
	if p.LocalAddr != "" && !isLocalAddr(p.LocalAddr) {
		return fmt.Errorf("%s.local_addr: %q, want an IP address, optionally with :port", at, p.LocalAddr)
	}
	if p.Receiver != "" && !isHex(p.Receiver, 1, 6) {
		return fmt.Errorf("%s.receiver: %q, want 1–6 hex digits", at, p.Receiver)
	}
	if p.Line != "" && !isHex(p.Line, 1, 6) {
		return fmt.Errorf("%s.line: %q, want 1–6 hex digits", at, p.Line)
	}
	for _, d := range []struct {
		name string
		v    hub.Duration
	}{{"poll_interval", p.PollInterval}, {"timeout", p.Timeout}, {"retry_backoff", p.RetryBackoff}} {
		if d.v < 0 {
			return fmt.Errorf("%s.%s: %s, must not be negative", at, d.name, d.v.D())
		}
	}
	if p.Retries < 0 || p.Retries > 100 {
		return fmt.Errorf("%s.retries: %d, want 1 to 100 (0 means %d)", at, p.Retries, DefaultRetries)
	}
	p.key = nil
	switch {
	case p.Key != "" && p.KeyEnv != "":
		return fmt.Errorf("%s.key_env: set key or key_env, not both", at)
	case p.Key != "":
		key, err := parseKey(p.Key)
		if err != nil {
			return fmt.Errorf("%s.key: %w", at, err)
		}
		p.key = key
	case p.KeyEnv != "":
		v := ""
		if getenv != nil {
			v = getenv(p.KeyEnv)
		}
		if v == "" {
			return fmt.Errorf("%s.key_env: environment variable %s is not set", at, p.KeyEnv)
		}
		key, err := parseKey(v)
		if err != nil {
			return fmt.Errorf("%s.key_env: %s: %w", at, p.KeyEnv, err)
		}
		p.key = key
	}
	return nil
}

// parseKey reads a hex AES key; the error never repeats the key.
func parseKey(s string) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not a hex string")
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("%d bytes, want 16, 24 or 32", len(key))
}

func isNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func isHex(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isLocalAddr(s string) bool {
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return err == nil
}

// pathSettings is a validated PathConfig with its defaults filled in.
type pathSettings struct {
	client     dc09.Config
	poll       time.Duration
	retries    int
	backoff    time.Duration
	maxBackoff time.Duration // MaxRetryBackoff; tests lengthen it
}

func (p *PathConfig) settings(account string, backup bool) pathSettings {
	s := pathSettings{
		client: dc09.Config{
			Network:   p.Network,
			Addr:      p.Addr,
			LocalAddr: p.LocalAddr,
			Key:       p.key,
			Account:   account,
			Receiver:  p.Receiver,
			Line:      p.Line,
			Timeout:   p.Timeout.D(),
		},
		poll:       p.PollInterval.D(),
		retries:    p.Retries,
		backoff:    p.RetryBackoff.D(),
		maxBackoff: MaxRetryBackoff,
	}
	if s.client.Network == "" {
		s.client.Network = "tcp"
	}
	if s.client.Timeout == 0 {
		s.client.Timeout = DefaultTimeout
	}
	if s.poll == 0 {
		s.poll = DefaultPrimaryPoll
		if backup {
			s.poll = DefaultBackupPoll
		}
	}
	if s.retries == 0 {
		s.retries = DefaultRetries
	}
	if s.backoff == 0 {
		s.backoff = DefaultRetryBackoff
	}
	return s
}

// retryDelay is the wait before retry number attempt (from 0): backoff doubling, at most
// limit.
func retryDelay(backoff time.Duration, attempt int, limit time.Duration) time.Duration {
	d := backoff
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
