// Package broker is vakt's embedded MQTT broker (mochi-mqtt): on by default on loopback, so a
// Zigbee2MQTT or rtl_433 on the same gateway needs nothing else. It always requires a
// username and password: the sensor bus is an attack surface.
package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultListen is where the broker listens with no configuration.
const DefaultListen = "127.0.0.1:1883"

// Account is a username and password the broker accepts.
type Account struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordEnv names an environment variable holding the password instead.
	PasswordEnv string `yaml:"password_env"`
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
	}
	return nil
}

// Broker is the embedded MQTT broker.
type Broker struct {
	srv      *mqtt.Server
	log      *slog.Logger
	mu       sync.Mutex
	addrs    []string
	accounts []Account
}

// New returns a broker accepting the accounts; nothing listens until Run.
func New(cfg Config, accounts []Account, logger *slog.Logger) (*Broker, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(accounts) == 0 {
		return nil, errors.New("broker: no accounts: the broker never runs open")
	}
	// mochi narrates every start step at info; vakt says what matters itself.
	quiet := slog.New(minLevel{logger.Handler(), slog.LevelWarn}).With("part", "broker")
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: quiet})
	b := &Broker{srv: srv, log: logger, accounts: accounts}
	if err := srv.AddHook(&authHook{accounts: accounts, log: logger}, nil); err != nil {
		return nil, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	for i, addr := range []string{listen, cfg.LAN} {
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("broker: listen %s: %w", addr, err)
		}
		b.addrs = append(b.addrs, ln.Addr().String())
		if err := srv.AddListener(&preListened{TCP: listeners.NewTCP(listeners.Config{ID: fmt.Sprintf("tcp%d", i), Address: addr}), ln: ln}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Addr returns the loopback listener's address (useful when configured with port 0).
func (b *Broker) Addr() string { return b.addrs[0] }

// Run serves until ctx ends.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	<-ctx.Done()
	return b.srv.Close()
}

// preListened is a mochi TCP listener over a socket we opened ourselves, so that New can
// report a busy port and tests can use port 0.
type preListened struct {
	*listeners.TCP
	ln net.Listener
}

func (l *preListened) Address() string         { return l.ln.Addr().String() }
func (l *preListened) Protocol() string        { return "tcp" }
func (l *preListened) Init(*slog.Logger) error { return nil }
func (l *preListened) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go establish(l.ID(), conn)
	}
}
func (l *preListened) Close(closeClients listeners.CloseFn) {
	l.ln.Close()
	closeClients(l.ID())
}

// authHook accepts only the configured accounts, comparing in constant time.
type authHook struct {
	mqtt.HookBase
	accounts []Account
	log      *slog.Logger
}

func (h *authHook) ID() string { return "vakt-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := pk.Connect.Username, pk.Connect.Password
	for _, a := range h.accounts {
		if subtle.ConstantTimeCompare(user, []byte(a.Username)) == 1 &&
			subtle.ConstantTimeCompare(pass, []byte(a.Password)) == 1 {
			return true
		}
	}
	h.log.Warn("MQTT connection refused: bad username or password", "remote", cl.Net.Remote, "username", string(bytes.Clone(user)))
	return false
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool { return true }

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
