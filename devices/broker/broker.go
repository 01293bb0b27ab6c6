// Package broker is vakt's embedded MQTT broker (mochi-mqtt): on by default on loopback, so a
// Zigbee2MQTT or rtl_433 on the same gateway needs nothing else. It always requires a
// username and password: the sensor bus is an attack surface.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"

	"vakt/hub"
)

// DefaultListen is where the broker listens with no configuration.
const DefaultListen = "127.0.0.1:1883"

// Account is a username and password the broker accepts, and what it may do.
type Account struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding the password instead.
	PasswordEnv string `yaml:"password_env"`
	// Role is what the account may read and write: zigbee2mqtt, rtl_433 or home_assistant.
	Role Role `yaml:"role"`
}

// Limits hold back what a client can cost before it has even logged in.
type Limits struct {
	// MaxPacketSize is the largest MQTT packet accepted, CONNECT included, in bytes.
	// Zigbee2MQTT's retained bridge/devices grows with the network (a few KB a device).
	MaxPacketSize int `yaml:"max_packet_size"`
	// MaxConnections is how many connections may be open at once, logged in or not.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress is how many of them may come from one address.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// ConnectTimeout is how long a new connection has to log in.
	ConnectTimeout hub.Duration `yaml:"connect_timeout"`
	// LoginFailuresPerMinute is how many failed logins an address may have in a minute;
	// after that its connections are closed unread until the minute is over.
	LoginFailuresPerMinute int `yaml:"login_failures_per_minute"`
}

// Default limits.
const (
	DefaultMaxPacketSize            = 1 << 20
	DefaultMaxConnections           = 64
	DefaultMaxConnectionsPerAddress = 16
	DefaultConnectTimeout           = 5 * time.Second
	DefaultLoginFailuresPerMinute   = 10
)

// DefaultLimits returns the limits the broker uses when none are configured.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxPacketSize, DefaultMaxPacketSize)
	def(&l.MaxConnections, DefaultMaxConnections)
	def(&l.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress)
	def(&l.LoginFailuresPerMinute, DefaultLoginFailuresPerMinute)
	if l.ConnectTimeout == 0 {
		l.ConnectTimeout = hub.Duration(DefaultConnectTimeout)
	}
	return l
}

// Config is the embedded broker's part of config.yaml.
type Config struct {
	// Disabled turns the embedded broker off (use mqtt.url for an external one).
	Disabled bool `yaml:"disabled"`
	// Listen is the loopback listener, 127.0.0.1:1883 by default.
	Listen string `yaml:"listen"`
	// LAN is an optional second listener for devices elsewhere on the network.
	LAN string `yaml:"lan"`
	// Accounts are extra named accounts, e.g. one for zigbee2mqtt and one for rtl_433.
	Accounts []Account `yaml:"accounts"`
	// Limits hold back clients before they log in; zero fields take the defaults.
	Limits Limits `yaml:"limits"`
	// Topics are the bridges' topics, from the zigbee2mqtt and rtl433 sections.
	Topics Topics `yaml:"-"`
}

// Validate checks the config with getenv for password_env; errors name the field.
func (c *Config) Validate(getenv func(string) string) error {
	for _, a := range []struct{ name, addr string }{{"listen", c.Listen}, {"lan", c.LAN}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("mqtt.broker.%s: %q is not host:port", a.name, a.addr)
		}
	}
	seen := map[string]bool{}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.Username == "" {
			return fmt.Errorf("mqtt.broker.accounts[%d].username: empty", i)
		}
		if seen[a.Username] {
			return fmt.Errorf("mqtt.broker.accounts[%d].username: %q twice", i, a.Username)
		}
		seen[a.Username] = true
		if a.PasswordEnv != "" {
			a.Password = getenv(a.PasswordEnv)
			if a.Password == "" {
				return fmt.Errorf("mqtt.broker.accounts[%d].password_env: %s is not set", i, a.PasswordEnv)
			}
		}
		if len(a.Password) < 8 {
			return fmt.Errorf("mqtt.broker.accounts[%d].password: at least 8 characters", i)
		}
		if !a.Role.configurable() {
			return fmt.Errorf("mqtt.broker.accounts[%d].role: %q, want %s", i, a.Role, roleList())
		}
	}
	l := c.Limits
	for _, f := range []struct {
		name string
		v    int
	}{{"max_packet_size", l.MaxPacketSize}, {"max_connections", l.MaxConnections},
		{"max_connections_per_address", l.MaxConnectionsPerAddress}, {"login_failures_per_minute", l.LoginFailuresPerMinute}} {
		if f.v < 0 {
			return fmt.Errorf("mqtt.broker.limits.%s: %d, want 0 (the default) or more", f.name, f.v)
		}
	}
	if l.MaxPacketSize != 0 && l.MaxPacketSize < 4096 {
		return fmt.Errorf("mqtt.broker.limits.max_packet_size: %d, want at least 4096", l.MaxPacketSize)
	}
	if d := l.ConnectTimeout.D(); d < 0 || (d != 0 && d < time.Second) {
		return fmt.Errorf("mqtt.broker.limits.connect_timeout: %s, want at least 1s", d)
	}
	return nil
}

// Broker is the embedded MQTT broker.
type Broker struct {
	srv     *mqtt.Server
	log     *slog.Logger
	addrs   []string
	gate    *gate
	auth    *authHook
	tallies []*tally
}

// New returns a broker accepting the accounts, each limited to its role; vakt's own
// account has RoleVakt. Nothing listens until Run.
func New(cfg Config, accounts []Account, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(accounts) == 0 {
		return nil, errors.New("broker: no accounts: the broker never runs open")
	}
	limits := cfg.Limits.withDefaults()
	// mochi narrates every start step at info; vakt says what matters itself.
	quiet := slog.New(minLevel{logger.Handler(), slog.LevelWarn}).With("part", "broker")
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(limits.MaxPacketSize)
	caps.MaximumClients = int64(limits.MaxConnections)
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: quiet, Capabilities: caps})
	b := &Broker{srv: srv, log: logger, gate: newGate(limits)}
	auth, err := newAuthHook(accounts, cfg.Topics, b.gate, logger)
	if err != nil {
		return nil, err
	}
	b.auth = auth
	b.tallies = []*tally{auth.logins, auth.topics, auth.ids}
	if err := srv.AddHook(auth, nil); err != nil {
		return nil, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	refused := newTally(logger, "MQTT connection refused before login", tallyPeriod)
	b.tallies = append(b.tallies, refused)
	for i, addr := range []string{listen, cfg.LAN} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("broker: listen %s: %w", addr, err)
		}
		b.addrs = append(b.addrs, ln.Addr().String())
		l := &preListened{TCP: listeners.NewTCP(listeners.Config{ID: fmt.Sprintf("tcp%d", i), Address: addr}),
			ln: ln, gate: b.gate, timeout: limits.ConnectTimeout.D(), refused: refused, log: logger, done: make(chan struct{}),
			clients: &srv.Listeners.ClientsWg}
		if err := srv.AddListener(l); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// tallyPeriod is how often refusals of one kind are logged at most (plus their first).
const tallyPeriod = time.Minute

// Addr returns the loopback listener's address (useful when configured with port 0).
func (b *Broker) Addr() string { return b.addrs[0] }

// Clients returns how many clients are connected and logged in now.
func (b *Broker) Clients() int64 { return atomic.LoadInt64(&b.srv.Info.ClientsConnected) }

// Run serves until ctx ends.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			err := b.srv.Close()
			b.housekeep(time.Now().Add(tallyPeriod))
			return err
		case now := <-t.C:
			b.housekeep(now)
		}
	}
}

// housekeep logs the sums of refusals whose period is over and forgets old failed logins.
func (b *Broker) housekeep(now time.Time) {
	for _, t := range b.tallies {
		t.flush(now)
	}
	b.gate.prune(now)
}

// preListened is a mochi TCP listener over a socket we opened ourselves, so that New can
// report a busy port and tests can use port 0. It admits connections through the gate
// and keeps accepting when accepting fails (descriptors exhausted).
type preListened struct {
	*listeners.TCP
	ln      net.Listener
	gate    *gate
	timeout time.Duration
	refused *tally
	log     *slog.Logger
	done    chan struct{}
	once    sync.Once
	// clients is mochi's count of clients, which its Close waits for. A connection is
	// counted before its goroutine starts, and none after Close, so that the count never
	// grows while Close waits (which the race detector rightly calls a race).
	clients *sync.WaitGroup
	mu      sync.Mutex
	closed  bool
}

// Accept back-off after a failure, doubling up to a second as net/http does.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

func (l *preListened) Address() string         { return l.ln.Addr().String() }
func (l *preListened) Protocol() string        { return "tcp" }
func (l *preListened) Init(*slog.Logger) error { return nil }
func (l *preListened) Serve(establish listeners.EstablishFn) {
	var delay time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if delay == 0 {
				l.log.Error("MQTT listener cannot accept connections; retrying", "listen", l.Address(), "error", err)
				delay = acceptRetryMin
			} else {
				delay = min(2*delay, acceptRetryMax)
			}
			select {
			case <-l.done:
				return
			case <-time.After(delay):
			}
			continue
		}
		if delay != 0 {
			l.log.Info("MQTT listener accepting connections again", "listen", l.Address())
			delay = 0
		}
		now := time.Now()
		addr := host(conn.RemoteAddr().String())
		if why := l.gate.admit(addr, now); why != "" {
			conn.Close()
			l.refused.add(now, addr+" "+why, "remote", conn.RemoteAddr().String(), "reason", why)
			continue
		}
		// The login must come in time; mochi sets the keep-alive deadline after it.
		conn.SetDeadline(now.Add(l.timeout))
		c := &admitted{Conn: conn, release: func() { l.gate.release(addr) }}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.clients.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.clients.Done()
			establish(l.ID(), c)
		}()
	}
}
func (l *preListened) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
	l.ln.Close()
	closeClients(l.ID())
}

// admitted is a connection holding a place in the gate until it is closed.
type admitted struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *admitted) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
