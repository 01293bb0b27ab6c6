// Package mqttclient connects vakt's drivers to an MQTT broker (the embedded one or an
// external mosquitto) with paho: credentials, optional TLS with a client certificate,
// automatic reconnect, and resubscription after every connect so that retained state is
// read again.
package mqttclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Config says how to reach the broker.
type Config struct {
	// URL is tcp://host:port, ssl://host:port or tls://host:port.
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CA, Cert and Key are PEM files for TLS: the broker's CA, and a client certificate.
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Validate checks the config; errors name the field under prefix (e.g. "mqtt").
func (c Config) Validate(prefix string) error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s.url: %q is not a broker URL such as tcp://127.0.0.1:1883", prefix, c.URL)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return fmt.Errorf("%s.url: scheme %q, want tcp, ssl or tls", prefix, u.Scheme)
	}
	if (c.Cert == "") != (c.Key == "") {
		return fmt.Errorf("%s.cert and %s.key: give both or neither", prefix, prefix)
	}
	return nil
}

// Subscription is a topic filter and its handler. Handlers must not block: they translate
// and forward.
type Subscription struct {
	Topic   string
	QoS     byte
	Handler paho.MessageHandler
}

// Client is a connected paho client that resubscribes on every (re)connect.
type Client struct {
	paho.Client
	log *slog.Logger

	mu        sync.Mutex
	subs      []Subscription
	onConnect []func()
	onLost    []func(error)
	connects  int
}

// Will is a last will: what the broker publishes for the client when its connection ends
// without a clean disconnect (a crash, a cut cable).
type Will struct {
	Topic    string
	Payload  []byte
	QoS      byte
	Retained bool
}

// Option changes how New sets up a client.
type Option func(*paho.ClientOptions)

// WithWill gives the client a last will.
func WithWill(w Will) Option {
	return func(o *paho.ClientOptions) { o.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retained) }
}

// New returns a client; call Connect. clientID must be unique on the broker.
func New(cfg Config, clientID string, logger *slog.Logger, opts ...Option) (*Client, error) {
	if err := cfg.Validate("mqtt"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{log: logger.With("mqtt", clientID)}
	u, _ := url.Parse(cfg.URL)
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts", "tls":
		u.Scheme = "ssl"
	}
	o := paho.NewClientOptions().AddBroker(u.String()).SetClientID(clientID).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).
		// Order matters: an open and its close must reach the driver in the order sent.
		// Handlers therefore must not block (they translate and forward).
		SetCleanSession(true).SetOrderMatters(true).SetStore(newCopyStore()).
		SetKeepAlive(30 * time.Second).SetPingTimeout(10 * time.Second)
	if u.Scheme == "ssl" {
		tc, err := TLSConfig(cfg, "mqtt")
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	for _, opt := range opts {
		opt(o)
	}
	o.SetOnConnectHandler(func(pc paho.Client) { c.connected(pc) })
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		c.log.Warn("MQTT connection lost; reconnecting", "error", err)
		c.mu.Lock()
		hooks := append([]func(error){}, c.onLost...)
		c.mu.Unlock()
		for _, f := range hooks {
			go f(err)
		}
	})
	c.Client = paho.NewClient(o)
	return c, nil
}

// TLSConfig builds the TLS settings of cfg: the broker's CA and a client certificate, from
// PEM files. Errors name the field under prefix (e.g. "mqtt.ca").
func TLSConfig(cfg Config, prefix string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pem, err := os.ReadFile(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("%s.ca: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca: %s holds no PEM certificate", prefix, cfg.CA)
		}
		tc.RootCAs = pool
	}
	if cfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("%s.cert: %w", prefix, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Subscribe adds a subscription, kept across reconnects. A connection lost meanwhile is no
// error: the subscription is renewed when the client reconnects.
func (c *Client) Subscribe(s Subscription) error {
	c.mu.Lock()
	c.subs = append(c.subs, s)
	c.mu.Unlock()
	if c.IsConnectionOpen() {
		if err := wait(c.Client.Subscribe(s.Topic, s.QoS, s.Handler)); err != nil && c.IsConnectionOpen() {
			return err
		}
	}
	return nil
}

// OnConnect registers f to run after every connect, once subscriptions are renewed: a driver
// asks for state it may have missed while disconnected.
func (c *Client) OnConnect(f func()) {
	c.mu.Lock()
	c.onConnect = append(c.onConnect, f)
	c.mu.Unlock()
}

// OnConnectionLost registers f to run after every loss of the connection, with why; the
// client reconnects by itself meanwhile.
func (c *Client) OnConnectionLost(f func(error)) {
	c.mu.Lock()
	c.onLost = append(c.onLost, f)
	c.mu.Unlock()
}

func (c *Client) connected(pc paho.Client) {
	c.mu.Lock()
	subs := append([]Subscription(nil), c.subs...)
	hooks := append([]func(){}, c.onConnect...)
	c.connects++
	n := c.connects
	c.mu.Unlock()
	if n > 1 {
		c.log.Info("MQTT reconnected; resubscribing")
	}
	for _, s := range subs {
		// Closed meanwhile: paho's Subscribe on a disconnected client waits for its write
		// time-out (30 s) for a send nobody takes, and would outlive Close. (While it is
		// disconnecting, Subscribe only stores the request and returns.)
		if !pc.IsConnectionOpen() {
			return
		}
		// paho's callback must not block on its own tokens: wait in a goroutine.
		tok := pc.Subscribe(s.Topic, s.QoS, s.Handler)
		go func() {
			if err := wait(tok); err != nil {
				c.log.Error("MQTT subscribe", "topic", s.Topic, "error", err)
			}
		}()
	}
	for _, f := range hooks {
		go f()
	}
}

// Connects returns how many times the client has connected.
func (c *Client) Connects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connects
}

// ConnectWait connects, waiting up to d for the first connection; with connect retry on, a
// broker that is not up yet is retried in the background and the error says so.
func (c *Client) ConnectWait(d time.Duration) error {
	tok := c.Connect()
	if !tok.WaitTimeout(d) {
		return fmt.Errorf("mqtt: not connected after %s (retrying in the background)", d)
	}
	return tok.Error()
}

// Publish sends a payload and waits for the broker to take it (QoS 1) or the send (QoS 0).
func (c *Client) Publish(topic string, qos byte, retained bool, payload []byte) error {
	return wait(c.Client.Publish(topic, qos, retained, payload))
}

func wait(tok paho.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return errors.New("mqtt: no answer from the broker in 10s")
	}
	return tok.Error()
}
