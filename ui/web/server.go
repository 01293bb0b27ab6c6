// Package web is vakt's web UI and JSON API: a fiber app with html/template pages embedded
// in the binary, sessions and API tokens kept in the hub's store, and live state over
// server-sent events. Handlers only translate and forward to the hub and the device
// manager; what a user may do is still decided by the engine.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/devices"
	"vakt/hub"
	"vakt/uplink"
)

// DefaultListen is where the web UI listens unless configured: loopback, plain HTTP.
const DefaultListen = "127.0.0.1:8080"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is the web UI's part of config.yaml.
type Config struct {
	// Listen is the address to serve plain HTTP on (loopback only); empty means
	// DefaultListen.
	Listen string `yaml:"listen"`
	// HTTPSListen is the address to serve HTTPS on (":8443" for the LAN); empty means no
	// HTTPS listener.
	HTTPSListen string `yaml:"https_listen"`
	// Cert and Key are an installer's own certificate and key files (PEM) for HTTPS;
	// empty means a certificate from vakt's local CA.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// AnyPortIfTaken serves on another port of the same host when Listen's is taken,
	// saying so: the demo must start anywhere.
	AnyPortIfTaken bool `yaml:"-"`
}

// Uplink is what the panel shows of the monitoring station's paths, and the installer's
// transmission test.
type Uplink interface {
	Status() []uplink.ReceiverStatus
	AwaitTest(ctx context.Context, seq uint64) (uplink.TestResult, error)
}

// Deps are the parts the web UI works with. Devices and Uplink may be nil.
type Deps struct {
	Hub     *hub.Hub
	Devices *devices.Manager
	Uplink  Uplink
	Logger  *slog.Logger
	// Broker is the MQTT broker for the installer's tools; nil shows none.
	Broker *Broker
	// HomeKit is the HomeKit bridge for the installer's tools; nil shows none.
	HomeKit HomeKit
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Notifier is the running notifier, for the notifications page; nil shows none.
	Notifier Notifier
	// Backups is the scheduled backups' status for the Backup page; nil shows them off.
	Backups Backups
	// Version is vakt's version, shown to admins.
	Version string
	// Metrics serves Prometheus's text format at /metrics, to admins (an API token for
	// the scraper); nil serves no /metrics.
	Metrics http.Handler
}

// Server is the web UI. New builds it; Run serves it.
type Server struct {
	cfg   Config
	hub   *hub.Hub
	store *hub.Store
	dev   *devices.Manager
	up    Uplink
	mqtt  *Broker
	// notifier is the running notifier; nil when none runs.
	notifier Notifier
	// homekit is the HomeKit bridge, nil without one.
	homekit HomeKit
	log     *slog.Logger
	now     func() time.Time
	// backups and version are for the Backup page.
	backups Backups
	version string
	metrics http.Handler

	app   *fiber.App
	pages map[string]*template.Template
	// httpsBases are the HTTPS addresses phones on the LAN open (lanBases); set by Run.
	httpsBases []string
	routes     []route

	// ca is vakt's local certificate authority (nil with an installer's certificate);
	// certs hands out the HTTPS certificate.
	ca    *localCA
	certs *serverCerts

	// Login back-off, per account and per address.
	byAccount *backoff
	byAddress *backoff
	// pins counts wrong PINs per address, across sessions.
	pins *pinGate

	mu      sync.Mutex
	oneTime map[string]oneTime
	// imports are uploaded installations awaiting confirmation, by session and token.
	imports map[string]pendingImport

	// quit ends the event streams when Run ends.
	quit     chan struct{}
	quitOnce sync.Once
}

// New builds the server: it parses the templates and sets up the routes, and starts nothing.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Hub == nil {
		return nil, errors.New("web: no hub")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("web.listen %q: %w", cfg.Listen, err)
	}
	// Plain HTTP carries passwords and session cookies: loopback only.
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("web.listen %q: plain HTTP is served on loopback only", cfg.Listen)
	}
	s := &Server{
		cfg: cfg, hub: deps.Hub, store: deps.Hub.Store(), dev: deps.Devices, up: deps.Uplink, mqtt: deps.Broker, notifier: deps.Notifier, homekit: deps.HomeKit,
		log: deps.Logger, now: deps.Now, backups: deps.Backups, metrics: deps.Metrics, version: deps.Version,
		byAccount: newBackoff(), byAddress: newBackoff(), pins: newPINGate(),
		oneTime: map[string]oneTime{},
		quit:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("part", "web")
	if s.now == nil {
		s.now = time.Now
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.pages, err = parsePages(templateFS); err != nil {
		return nil, err
	}
	if err := s.setUpTLS(); err != nil {
		return nil, err
	}
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           10 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             64 << 10,
		AppName:               "vakt",
	})
	s.app.Use(s.securityHeaders)
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s.app.Get("/static/:name", staticHandler(static))
	s.routes = s.routeTable()
	for _, r := range s.routes {
		s.app.Add(r.method, r.path, s.authorize(r), r.handle)
	}
	return s, nil
}

// App returns the fiber app, for tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Run serves until ctx ends, then stops the event streams and shuts the server down.
// On a first run (no users) it logs a one-time setup link; when users have no web password
// yet (the demo), a one-time login link for the first admin.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil && s.cfg.AnyPortIfTaken {
		host, _, _ := net.SplitHostPort(s.cfg.Listen)
		s.log.Warn("web UI port taken; using another", "error", err)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	base := "http://" + ln.Addr().String()
	s.log.Info("web UI", "url", base+"/")
	if s.ca != nil {
		s.log.Info("web UI's local certificate authority: trust it on your phones (see /ca)",
			"name", s.ca.cert.Subject.CommonName, "sha256", s.ca.Fingerprint())
	}
	if s.cfg.HTTPSListen != "" {
		tln, err := s.listenTLS()
		if err != nil {
			ln.Close()
			return err
		}
		ln = joinListeners(ln, tln)
	}
	if link, err := s.firstLink(base); err != nil {
		ln.Close()
		return err
	} else if link != "" {
		s.log.Warn("open this link to sign in to the web UI (it works once)", "url", link)
		// On a phone: the same link over HTTPS, once the phone trusts vakt's CA (/ca).
		for _, b := range s.httpsBases {
			s.log.Warn("or on a phone on the LAN, after trusting vakt's CA at "+b+"/ca", "url", b+strings.TrimPrefix(link, base))
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	go s.pruneSessions(ctx)
	select {
	case err := <-errc:
		s.stopStreams()
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
	}
	s.stopStreams()
	err = s.app.ShutdownWithTimeout(5 * time.Second)
	// A shutdown that came before the server took the listener closes nothing: close it
	// here, so the serving goroutine always ends, and its "closed" error is no error.
	ln.Close()
	<-errc
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("web shutdown: %w", err)
	}
	return nil
}

func (s *Server) stopStreams() { s.quitOnce.Do(func() { close(s.quit) }) }

// pruneSessions deletes ended sessions and those of removed users, hourly.
func (s *Server) pruneSessions(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		users := s.hub.Snapshot().Installation.Users
		known := func(id string) bool {
			for _, u := range users {
				if u.ID == id {
					return true
				}
			}
			return false
		}
		if n, err := s.store.PruneSessions(s.now(), known); err != nil {
			s.log.Warn("prune sessions", "error", err)
		} else if n > 0 {
			s.log.Debug("pruned sessions", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// securityHeaders sets the headers every answer carries: no inline script, no framing.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	return c.Next()
}

// staticHandler serves the embedded stylesheet and script.
func staticHandler(static fs.FS) fiber.Handler {
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/manifest+json"}
	return func(c *fiber.Ctx) error {
		name := c.Params("name")
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return fiber.ErrNotFound
		}
		ct := "application/octet-stream"
		for ext, t := range types {
			if len(name) > len(ext) && name[len(name)-len(ext):] == ext {
				ct = t
			}
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(b)
	}
}
