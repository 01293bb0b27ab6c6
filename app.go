package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/gpio"
	"vakt/devices/mqttclient"
	"vakt/devices/rtl433"
	"vakt/devices/sim"
	"vakt/devices/zigbee2mqtt"
	"vakt/hub"
	"vakt/ops/metrics"
	"vakt/ops/sdnotify"
	"vakt/ui/console"
	"vakt/ui/homeassistant"
	"vakt/ui/homekit"
	"vakt/ui/notify"
	"vakt/ui/web"
	"vakt/uplink"
	"vakt/uplink/outbox"
	"vakt/uplink/station"
)

// Options are what the command line adds to the machine settings.
type Options struct {
	// Demo runs the demo family with simulated devices, a station and a console.
	Demo bool
	// ExitWhenReady makes Run return once the state is restored (for benchmarks).
	ExitWhenReady bool
	// Stdin feeds the demo's console; Stdout gets the console and the ready line, Stderr
	// the log.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Started is when the process started, for the time to ready; zero means New's time.
	Started time.Time
}

// App is one vakt: the store, the hub, the sensor bus and its drivers, the wired I/O, the
// uplinks and, in the demo, the simulator, station and console. New only checks; Run starts
// everything and returns once every part it started has stopped; Close closes the store.
type App struct {
	cfg    Config
	opts   Options
	logger *slog.Logger

	mu      sync.Mutex
	store   *hub.Store
	cancel  context.CancelFunc // ends a Run in progress
	running chan struct{}      // closed when Run returns
	closed  bool
}

// New checks the settings and returns an App; it opens, listens on and starts nothing.
func New(cfg Config, opts Options) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	level, _ := parseLevel(cfg.LogLevel)
	var handler slog.Handler = slog.NewTextHandler(opts.Stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "json" {
		handler = slog.NewJSONHandler(opts.Stderr, &slog.HandlerOptions{Level: level})
	}
	return &App{cfg: cfg, opts: opts, logger: slog.New(handler)}, nil
}

// parts runs the App's long-lived parts, each in a goroutine of its own. The first error,
// from a part or from starting one, cancels the others and wins; wait waits for every part
// on every path, and an error channel of fixed size can never block a part's end.
type parts struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error
}

func newParts(ctx context.Context) *parts {
	p := &parts{}
	p.ctx, p.cancel = context.WithCancel(ctx)
	return p
}

// fail records err if it is the first and stops every part.
func (p *parts) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cancel()
}

// start runs f until p's context ends; its error stops the others.
func (p *parts) start(name string, f func(context.Context) error) {
	p.wg.Go(func() {
		if err := f(p.ctx); err != nil {
			p.fail(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// wait waits until a part fails or the parent context ends, then stops every part, waits
// for them and returns the first error.
func (p *parts) wait() error {
	<-p.ctx.Done()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Run opens the store and runs vakt until ctx ends or a part fails. Every goroutine it
// starts has ended when it returns, on every path; the first error is returned (the demo
// console's quit is none). Run once; Close afterwards.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.closed || a.running != nil {
		a.mu.Unlock()
		return errors.New("app: run once, before Close")
	}
	p := newParts(ctx)
	a.cancel, a.running = p.cancel, make(chan struct{})
	a.mu.Unlock()
	defer close(a.running)

	var cleanups []func()
	if err := a.start(p, &cleanups); err != nil {
		p.fail(err)
	}
	err := p.wait()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]() // after the parts that use them
	}
	if console.IsQuit(errors.Unwrap(err)) || errors.Is(err, errReady) {
		return nil
	}
	return err
}

// errReady ends a run started with ExitWhenReady.
var errReady = errors.New("ready")

// Close ends a Run in progress, waits for it and closes the store, last. It returns the
// store's error; closing twice is no error.
func (a *App) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cancel, running, store := a.cancel, a.running, a.store
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-running
	}
	if store == nil {
		return nil
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// openStore opens the store once, for Run; Close closes it.
func (a *App) openStore() (*hub.Store, error) {
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	name := "vakt.db"
	if a.opts.Demo {
		name = "demo.db"
	}
	store, err := hub.OpenStore(filepath.Join(a.cfg.DataDir, name), a.cfg.EventLogCap)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.store = store
	a.mu.Unlock()
	return store, nil
}

// start wires every part explicitly, in one place, and starts each in p. Things that must
// outlive the parts (the simulated box's pins, the station's receivers) are undone by the
// cleanups, after every part has stopped.
func (a *App) start(p *parts, cleanups *[]func()) error {
	cfg, logger, demo, stdout := a.cfg, a.logger, a.opts.Demo, a.opts.Stdout
	store, err := a.openStore()
	if err != nil {
		return err
	}
	if from := store.OpenedSchema(); from != 0 && from < hub.SchemaVersion {
		logger.Info("store migrated", "from_schema", from, "schema", hub.SchemaVersion, "store", store.Path())
	}
	for _, lp := range hub.LoosePermissions(store.Path()) {
		logger.Warn("other users may read the store and the secrets in it: chmod "+fmt.Sprintf("%o", lp.Want().Perm()), "path", lp.Path, "mode", lp.Mode.String())
	}
	key, err := store.Secret("code_key", 32)
	if err != nil {
		return err
	}
	inst := emptyInstallation(key)
	if demo {
		inst = hub.DemoInstallation(key)
	}
	// Metrics (ops/metrics) observe the hub's commits and sirens, and count its events.
	met := metrics.New(metrics.Options{Version: buildVersion()})
	h, err := hub.New(store, inst, hub.Options{Logger: logger, OnCommit: met.ObserveCommit, OnSiren: met.ObserveSiren})
	if err != nil {
		return err
	}
	met.Watch(h)
	snap := h.Snapshot()
	last, _ := store.LastSeq()
	logger.Info("ready", "store", store.Path(), "installation", snap.Installation.Name,
		"areas", len(snap.Installation.Areas), "devices", len(snap.Installation.Devices),
		"users", len(snap.Installation.Users), "events", last, "took", time.Since(a.opts.Started).Round(time.Microsecond), "version", buildVersion(), "schema", hub.SchemaVersion)
	if a.opts.ExitWhenReady {
		fmt.Fprintf(stdout, "ready_ms=%.2f events=%d\n", float64(time.Since(a.opts.Started).Microseconds())/1000, last)
		return errReady
	}
	if len(snap.Installation.Users) == 0 {
		logger.Warn("the installation has no users yet: nobody can arm or disarm; try the demo with --demo")
	}

	ctx := p.ctx
	var st *station.Station
	if demo {
		// The demo reports to a station of its own on loopback, encrypted, over two paths.
		key, err := store.Secret("demo_station_key", 16)
		if err != nil {
			return err
		}
		st = station.New(stdout, key)
		*cleanups = append(*cleanups, func() {
			st.Unplug("primary")
			st.Unplug("backup")
		})
		rc, err := st.Start(ctx)
		if err != nil {
			return err
		}
		cfg.Uplink.Receivers = append(cfg.Uplink.Receivers, rc)
	}
	// Every destination's cursor exists before the hub runs: whatever it logs from now on
	// reaches every station, uplink and recipient, however late each one opens.
	// Notification destinations are config.yaml's recipients and those saved in the web UI.
	notifyCursors, err := notify.CursorNames(cfg.Notify, store, h.Snapshot().Installation)
	if err != nil {
		return err
	}
	if err := outbox.Prepare(store, slices.Concat(cfg.Uplink.CursorNames(), cfg.UplinkMQTT.CursorNames(), notifyCursors), logger); err != nil {
		return err
	}
	p.start("hub", h.Run)
	bus, creds, bk, err := sensorBus(cfg, store, demo, logger, p.start)
	if err != nil {
		return err
	}
	mgr := devices.NewManager(h, devices.Options{Logger: logger, CheckIn: cfg.Devices.CheckIn.D()})
	var s *sim.Sim
	if demo {
		// Every driver is added before any runs: a driver's report may reach the others.
		s = sim.New(mgr, stdout)
		// The demo's short check-in window is for simulated devices only.
		s.CheckInWindow = sim.DemoCheckIn
		s.Addresses = func() []string { // every simulated device checks in, touched or not
			var out []string
			for _, d := range h.Snapshot().Installation.Devices {
				if d.Driver == sim.Name {
					out = append(out, d.AddressOrID())
				}
			}
			return out
		}
		mgr.AddDriver(s)
	}
	if err := radioDrivers(cfg, bus, h, mgr, store, logger, p.start); err != nil {
		return err
	}
	box, wired, err := wiredIO(ctx, cfg, demo, h, mgr, logger)
	if err != nil {
		return err
	}
	if wired != nil {
		*cleanups = append(*cleanups, wired.Close)
	}
	p.start("gpio", box.Run)
	p.start("panel", func(ctx context.Context) error {
		sub := h.SubscribeOutputs() // the relay follows the decision, not the disk
		defer sub.Close()
		box.Follow(ctx, sub)
		return nil
	})
	// The MQTT uplink and alarm photos are built before any uplink runs (photos.go).
	um, ph, err := stationMQTT(cfg, h, logger)
	if err != nil {
		return err
	}
	var up *uplink.Uplink
	if len(cfg.Uplink.Receivers) > 0 {
		if up, err = uplink.New(cfg.Uplink, h, logger); err != nil {
			return err
		}
		if ph != nil {
			up.SetVerification(ph.Verification) // an alarm's report names its photos: [V…]
		}
		p.start("uplink", up.Run)
	}
	if um != nil {
		p.start("uplink_mqtt", um.Run)
	}
	if ph != nil {
		p.start("photos", ph.Run) // alarm photos (photos.go)
	}
	// The notifier always runs: recipients may be added in the web UI, which it serves.
	nt, err := notify.New(cfg.Notify, h, notify.Options{Logger: logger})
	if err != nil {
		return err
	}
	p.start("notify", nt.Run)
	var bridge *homekit.Bridge // shown in the console and the installer tools
	if cfg.HomeKit != nil {
		bridge = homekit.New(*cfg.HomeKit, h, mgr, logger)
	}
	if demo {
		p.start("sim", s.Run)
		parts := console.Parts{Hub: h, Manager: mgr, Sim: s, Wired: wired, Uplink: up, Station: st, Broker: consoleBroker(cfg, creds)}
		if bridge != nil {
			parts.HomeKit = bridge
		}
		p.start("console", console.New(parts, a.opts.Stdin, stdout).Run)
	}
	if bridge != nil {
		p.start("homekit", bridge.Run)
	}
	// Home Assistant MQTT discovery, on the sensor bus's broker (off unless configured).
	if cfg.HomeAssistant != nil {
		p.start("homeassistant", homeassistant.New(*cfg.HomeAssistant, bus, h, mgr, homeassistant.Options{Logger: logger, Version: buildVersion()}).Run)
	}
	p.start("devices", mgr.Run)
	backups := hub.NewBackupSchedule(store, cfg.Backup, logger, nil)
	p.start("backup", backups.Run)
	webCfg := cfg.Web
	webCfg.AnyPortIfTaken = demo
	met.Attach(metricsParts(mgr, up, nt, bk))
	p.start("metrics", met.Run)
	webDeps := web.Deps{Hub: h, Devices: mgr, Logger: logger, Broker: webBroker(cfg, creds), Notifier: nt,
		Backups: backups, Version: buildVersion(), Metrics: met.Handler()}
	if up != nil {
		webDeps.Uplink = up
	}
	if bridge != nil {
		webDeps.HomeKit = bridge
	}
	srv, err := web.New(webCfg, webDeps)
	if err != nil {
		return err
	}
	p.start("web", srv.Run)
	if !demo {
		p.start("log", func(ctx context.Context) error { return logEvents(ctx, h, logger) })
	}

	// systemd (Type=notify): ready now that the state is restored and every part started;
	// the watchdog is fed only while the hub's loop answers, STOPPING=1 at shutdown.
	status := fmt.Sprintf("running: %s, %d areas, %d devices, %d users, %d events restored", snap.Installation.Name,
		len(snap.Installation.Areas), len(snap.Installation.Devices), len(snap.Installation.Users), last)
	p.start("sdnotify", func(ctx context.Context) error { return sdnotify.Serve(ctx, h.Alive, status, logger) })
	return nil
}

// sensorBus starts the embedded MQTT broker unless an external one is configured, and returns
// how drivers reach the broker and, for the embedded one, vakt's own account on it and the
// broker itself (for metrics). The broker always requires credentials: vakt's own are
// generated on first start, kept in the store and written to the data directory's
// credentials file, whose path (not the password) goes to the log.
func sensorBus(cfg Config, store *hub.Store, demo bool, logger *slog.Logger, start func(string, func(context.Context) error)) (mqttclient.Config, *BrokerCredentials, *broker.Broker, error) {
	if cfg.MQTT.URL != "" || cfg.MQTT.Broker.Disabled {
		if cfg.MQTT.URL == "" {
			return mqttclient.Config{}, nil, nil, errors.New("mqtt.broker.disabled: set mqtt.url to an external broker")
		}
		return cfg.MQTT.Config, nil, nil, nil
	}
	secret, err := store.Secret("mqtt_password", 12)
	if err != nil {
		return mqttclient.Config{}, nil, nil, err
	}
	pass := hex.EncodeToString(secret)
	accounts := append([]broker.Account{{Username: "vakt", Password: pass, Role: broker.RoleVakt}}, cfg.MQTT.Broker.Accounts...)
	bc := cfg.MQTT.Broker
	bc.Topics = broker.Topics{Zigbee2MQTTBase: cfg.Zigbee2MQTT.BaseTopic, RTL433: cfg.RTL433.Topic}
	if ha := cfg.HomeAssistant; ha != nil { // Home Assistant's topics, for vakt's and its accounts
		bc.Topics.HomeAssistantPrefix, bc.Topics.HomeAssistantBase = ha.DiscoveryPrefix, ha.BaseTopic
	}
	b, err := broker.New(bc, accounts, logger)
	if err != nil && demo {
		// The demo must start anywhere: another broker may hold 1883.
		bc.Listen = "127.0.0.1:0"
		logger.Warn("MQTT port taken; the demo's broker uses another", "error", err)
		b, err = broker.New(bc, accounts, logger)
	}
	if err != nil {
		return mqttclient.Config{}, nil, nil, err
	}
	start("broker", b.Run)
	creds := &BrokerCredentials{URL: "mqtt://" + b.Addr(), Username: "vakt", Password: pass}
	path, err := writeCredentials(cfg.DataDir, *creds)
	if err != nil {
		return mqttclient.Config{}, nil, nil, err
	}
	logger.Info("embedded MQTT broker: point Zigbee2MQTT and rtl_433 here", "url", creds.URL, "username", creds.Username, "credentials", path)
	return mqttclient.Config{URL: "tcp://" + b.Addr(), Username: "vakt", Password: pass}, creds, b, nil
}

// radioDrivers connects the drivers that read radios through MQTT (Zigbee2MQTT, and rtl_433
// for 433/868 MHz sensors), each with its own client, and registers them with the device
// manager. Each client's connection is watched: off the broker past
// devices.bus_fault_after is the hub's device-bus fault for that driver.
func radioDrivers(cfg Config, bus mqttclient.Config, h *hub.Hub, mgr *devices.Manager, store *hub.Store, logger *slog.Logger, start func(string, func(context.Context) error)) error {
	zc, err := mqttclient.New(bus, "vakt-zigbee2mqtt", logger)
	if err != nil {
		return err
	}
	rc, err := mqttclient.New(bus, "vakt-rtl433", logger)
	if err != nil {
		return err
	}
	rtl, err := rtl433.New(cfg.RTL433, rc, mgr, logger)
	if err != nil {
		return err
	}
	drivers := []struct {
		name string
		c    *mqttclient.Client
		drv  devices.Driver
	}{{"zigbee2mqtt", zc, zigbee2mqtt.New(cfg.Zigbee2MQTT, zc, mgr, store, logger)}, {"rtl433", rc, rtl}}
	// Every driver is added before any runs: a report of one may need another's Send.
	for _, d := range drivers {
		mgr.AddDriver(d.drv)
	}
	for _, d := range drivers {
		// A driver kicked off the bus, or never on it, is a fault once the grace is over.
		w := devices.NewBusWatch(d.name, d.c.IsConnectionOpen, cfg.Devices.BusFaultAfter.D(), h, logger)
		d.c.OnConnect(w.Connected)
		d.c.OnConnectionLost(w.Lost)
		start(d.name+"_bus", w.Run)
		start(d.name, func(ctx context.Context) error {
			if err := d.c.ConnectWait(5 * time.Second); err != nil {
				logger.Warn(d.name+" driver: MQTT broker not reachable yet", "error", err)
			}
			defer d.c.Disconnect(250)
			return d.drv.Run(ctx)
		})
	}
	return nil
}

// wiredIO builds the driver of the gateway's own wired I/O. The demo gets a simulated box
// (fake pins and gauge) so the real driver runs; a host with no GPIO at all runs without
// wired I/O, saying so once, and still watches the data directory's free space.
func wiredIO(ctx context.Context, cfg Config, demo bool, h *hub.Hub, mgr *devices.Manager, logger *slog.Logger) (*gpio.Driver, *sim.Wired, error) {
	gcfg, opts := cfg.GPIO, []gpio.Option(nil)
	if gcfg.Disk.Path == "" {
		gcfg.Disk.Path = cfg.DataDir
	}
	var wired *sim.Wired
	if demo {
		var err error
		if wired, gcfg, opts, err = sim.NewWired(cfg.DataDir); err != nil {
			return nil, nil, err
		}
	} else if ok, err := gpio.HostInit(); err != nil || !ok {
		msg := "no GPIO on this host: running without wired I/O"
		if gcfg.Wired() {
			msg += " (the gpio pins in the config are not used)"
		}
		logger.Warn(msg, "error", err)
		gcfg = gpio.Config{Disk: gcfg.Disk}
	}
	// Wired zones report through the device manager like any device, so that an unadopted
	// one is offered for adoption; the box's own inputs go to the hub.
	sink := func(in hub.Input) {
		if in.Kind == hub.InReport && in.Device != hub.HubDevice {
			mgr.Report(devices.Report{Driver: "gpio", Address: in.Device, Model: "wired zone",
				Caps:    []devices.Capability{devices.CapContact, devices.CapTamper},
				Signals: []devices.SignalValue{{Signal: in.Signal, Active: in.Active}}})
			return
		}
		if err := h.Submit(ctx, in); err != nil && ctx.Err() == nil {
			logger.Error("wired input to hub", "error", err)
		}
	}
	box, err := gpio.New(gcfg, sink, logger, opts...)
	if err != nil {
		if wired != nil {
			wired.Close()
		}
		return nil, nil, err
	}
	return box, wired, nil
}

// logEvents writes every committed event to the log.
func logEvents(ctx context.Context, h *hub.Hub, logger *slog.Logger) error {
	sub := h.Subscribe()
	defer sub.Close()
	sub.Next()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C():
		}
		u := sub.Next()
		if u.Closed {
			return nil
		}
		evs, err := u.CommittedEvents(h.Store())
		if err != nil {
			return err
		}
		for _, ev := range evs {
			logger.Info(ev.String(), "seq", ev.Seq, "kind", ev.Kind.String(), "area", ev.Area)
		}
	}
}

// webBroker is what the web UI's installer tools show of the broker: what the console
// shows, and the configured accounts without their passwords.
func webBroker(cfg Config, creds *BrokerCredentials) *web.Broker {
	cb := consoleBroker(cfg, creds)
	b := &web.Broker{URL: cb.URL, Username: cb.Username, Password: cb.Password, File: cb.File, External: cb.External, Accounts: []web.BrokerAccount{}}
	if !b.External {
		for _, a := range cfg.MQTT.Broker.Accounts {
			b.Accounts = append(b.Accounts, web.BrokerAccount{Username: a.Username, Role: string(a.Role), PasswordEnv: a.PasswordEnv})
		}
	}
	return b
}

// consoleBroker is what the console's broker command shows: vakt's account on the embedded
// broker, or the external broker's URL.
func consoleBroker(cfg Config, creds *BrokerCredentials) console.Broker {
	if creds == nil {
		return console.Broker{URL: cfg.MQTT.URL, External: true}
	}
	return console.Broker{URL: creds.URL, Username: creds.Username, Password: creds.Password, File: filepath.Join(cfg.DataDir, credentialsFile)}
}
