// Command vakt is a self-hosted home alarm hub: one binary that decides when the house is in
// alarm, keeps its state and history in bbolt and reports to a monitoring station.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/gpio"
	"vakt/devices/mqttclient"
	"vakt/devices/rtl433"
	"vakt/devices/sim"
	"vakt/devices/zigbee2mqtt"
	"vakt/hub"
	"vakt/ui/console"
	"vakt/ui/web"
	"vakt/uplink"
	uplinkmqtt "vakt/uplink/mqtt"
	"vakt/uplink/outbox"
	"vakt/uplink/station"
)

// version is set with -ldflags "-X main.version=…".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vakt:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	started := time.Now()
	if len(args) > 0 && args[0] == "gen-history" {
		return genHistory(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "installation" {
		return installationCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "store" {
		return storeCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("vakt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("VAKT_CONFIG"), "machine settings `file` (see config.example.yaml); none means defaults")
	dataDir := fs.String("data", "", "data `directory`, overriding data_dir")
	demo := fs.Bool("demo", false, "run the demo: a demo family, simulated devices and a console on the terminal")
	mqttURL := fs.String("mqtt", "", "external MQTT broker `URL`, overriding mqtt.url (the embedded broker is then off)")
	exitReady := fs.Bool("exit-when-ready", false, "start, restore state, print the time to ready and exit (for benchmarks)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, "vakt", buildVersion())
		return nil
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *mqttURL != "" {
		cfg.MQTT.URL = *mqttURL
		if err := cfg.validate(); err != nil {
			return fmt.Errorf("--mqtt: %w", err)
		}
	}
	level, _ := parseLevel(cfg.LogLevel)
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if cfg.LogFormat == "json" {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	logger := slog.New(handler)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	name := "vakt.db"
	if *demo {
		name = "demo.db"
	}
	store, err := hub.OpenStore(filepath.Join(cfg.DataDir, name), cfg.EventLogCap)
	if err != nil {
		return err
	}
	defer store.Close() // closed last, after everything that writes to it
	for _, p := range hub.LoosePermissions(store.Path()) {
		logger.Warn("other users may read the store and the secrets in it: chmod "+fmt.Sprintf("%o", p.Want().Perm()), "path", p.Path, "mode", p.Mode.String())
	}
	key, err := store.Secret("code_key", 32)
	if err != nil {
		return err
	}
	inst := emptyInstallation(key)
	if *demo {
		inst = hub.DemoInstallation(key)
	}
	h, err := hub.New(store, inst, hub.Options{Logger: logger})
	if err != nil {
		return err
	}
	snap := h.Snapshot()
	last, _ := store.LastSeq()
	logger.Info("ready", "store", store.Path(), "installation", snap.Installation.Name,
		"areas", len(snap.Installation.Areas), "devices", len(snap.Installation.Devices),
		"users", len(snap.Installation.Users), "events", last, "took", time.Since(started).Round(time.Microsecond), "version", buildVersion())
	if *exitReady {
		fmt.Fprintf(stdout, "ready_ms=%.2f events=%d\n", float64(time.Since(started).Microseconds())/1000, last)
		return nil
	}
	if len(snap.Installation.Users) == 0 {
		logger.Warn("the installation has no users yet: nobody can arm or disarm; try the demo with --demo")
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("hub", h.Run)
	mqttCfg, err := sensorBus(cfg, store, *demo, logger, start)
	if err != nil {
		return err
	}
	mgr := devices.NewManager(h, devices.Options{Logger: logger, CheckIn: cfg.Devices.CheckIn.D()})
	if err := radioDrivers(cfg, mqttCfg, mgr, store, logger, start); err != nil {
		return err
	}
	box, wired, err := wiredIO(ctx, cfg, *demo, h, mgr, logger)
	if err != nil {
		return err
	}
	if wired != nil {
		defer wired.Close()
	}
	start("gpio", box.Run)
	start("panel", func(ctx context.Context) error {
		sub := h.SubscribeOutputs() // the relay follows the decision, not the disk
		defer sub.Close()
		box.Follow(ctx, sub)
		return nil
	})
	var st *station.Station
	if *demo {
		// The demo reports to a station of its own on loopback, encrypted, over two paths.
		key, err := store.Secret("demo_station_key", 16)
		if err != nil {
			return err
		}
		st = station.New(stdout, key)
		rc, err := st.Start(ctx)
		if err != nil {
			return err
		}
		cfg.Uplink.Receivers = append(cfg.Uplink.Receivers, rc)
	}
	if _, err := outbox.DeleteStale(store, append(cfg.Uplink.CursorNames(), cfg.UplinkMQTT.CursorNames()...), logger); err != nil {
		return err
	}
	var up *uplink.Uplink
	if len(cfg.Uplink.Receivers) > 0 {
		if up, err = uplink.New(cfg.Uplink, h, logger); err != nil {
			return err
		}
		start("uplink", up.Run)
	}
	if cfg.UplinkMQTT != nil {
		um, err := uplinkmqtt.New(*cfg.UplinkMQTT, h, logger)
		if err != nil {
			return err
		}
		start("uplink_mqtt", um.Run)
	}
	if *demo {
		s := sim.New(mgr, stdout)
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
		start("sim", s.Run)
		parts := console.Parts{Hub: h, Manager: mgr, Sim: s, Wired: wired, Uplink: up, Station: st}
		start("console", console.New(parts, stdin, stdout).Run)
	}
	start("devices", mgr.Run)
	webDeps := web.Deps{Hub: h, Devices: mgr, Logger: logger}
	if up != nil {
		webDeps.Uplink = up
	}
	srv, err := web.New(cfg.Web, webDeps)
	if err != nil {
		return err
	}
	start("web", srv.Run)
	if !*demo {
		start("log", func(ctx context.Context) error { return logEvents(ctx, h, logger) })
	}
	<-ctx.Done()
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if console.IsQuit(errors.Unwrap(err)) {
			continue
		}
		return err // the first error
	}
	return nil
}

// sensorBus starts the embedded MQTT broker unless an external one is configured, and returns
// how drivers reach the broker. The broker always requires credentials: vakt's own are
// generated on first start, kept in the store and shown to the installer here.
func sensorBus(cfg Config, store *hub.Store, demo bool, logger *slog.Logger, start func(string, func(context.Context) error)) (mqttclient.Config, error) {
	if cfg.MQTT.URL != "" || cfg.MQTT.Broker.Disabled {
		if cfg.MQTT.URL == "" {
			return mqttclient.Config{}, errors.New("mqtt.broker.disabled: set mqtt.url to an external broker")
		}
		return cfg.MQTT.Config, nil
	}
	secret, err := store.Secret("mqtt_password", 12)
	if err != nil {
		return mqttclient.Config{}, err
	}
	pass := hex.EncodeToString(secret)
	accounts := append([]broker.Account{{Username: "vakt", Password: pass, Role: broker.RoleVakt}}, cfg.MQTT.Broker.Accounts...)
	bc := cfg.MQTT.Broker
	bc.Topics = broker.Topics{Zigbee2MQTTBase: cfg.Zigbee2MQTT.BaseTopic, RTL433: cfg.RTL433.Topic}
	b, err := broker.New(bc, accounts, logger)
	if err != nil && demo {
		// The demo must start anywhere: another broker may hold 1883.
		bc.Listen = "127.0.0.1:0"
		logger.Warn("MQTT port taken; the demo's broker uses another", "error", err)
		b, err = broker.New(bc, accounts, logger)
	}
	if err != nil {
		return mqttclient.Config{}, err
	}
	logger.Info("embedded MQTT broker: point Zigbee2MQTT and rtl_433 here", "url", "mqtt://"+b.Addr(), "username", "vakt", "password", pass)
	start("broker", b.Run)
	return mqttclient.Config{URL: "tcp://" + b.Addr(), Username: "vakt", Password: pass}, nil
}

// radioDrivers connects the drivers that read radios through MQTT (Zigbee2MQTT, and rtl_433
// for 433/868 MHz sensors), each with its own client, and registers them with the device
// manager.
func radioDrivers(cfg Config, bus mqttclient.Config, mgr *devices.Manager, store *hub.Store, logger *slog.Logger, start func(string, func(context.Context) error)) error {
	connect := func(name string) (*mqttclient.Client, error) { return mqttclient.New(bus, "vakt-"+name, logger) }
	runOn := func(name string, c *mqttclient.Client, drv devices.Driver) {
		mgr.AddDriver(drv)
		start(name, func(ctx context.Context) error {
			if err := c.ConnectWait(5 * time.Second); err != nil {
				logger.Warn(name+" driver: MQTT broker not reachable yet", "error", err)
			}
			defer c.Disconnect(250)
			return drv.Run(ctx)
		})
	}
	zc, err := connect("zigbee2mqtt")
	if err != nil {
		return err
	}
	runOn("zigbee2mqtt", zc, zigbee2mqtt.New(cfg.Zigbee2MQTT, zc, mgr, store, logger))
	rc, err := connect("rtl433")
	if err != nil {
		return err
	}
	rtl, err := rtl433.New(cfg.RTL433, rc, mgr, logger)
	if err != nil {
		return err
	}
	runOn("rtl433", rc, rtl)
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

// emptyInstallation is what a new store starts with outside the demo: one area, nothing else.
func emptyInstallation(key []byte) *hub.Installation {
	return &hub.Installation{Name: "Home", CodeKey: key, Areas: []hub.Area{{Number: 1, Name: "Home"}}}
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
		evs := u.Events
		if u.Lagged {
			var err error
			if evs, err = h.Store().Events(u.FromSeq-1, 0); err != nil {
				return err
			}
		}
		for _, ev := range evs {
			logger.Info(ev.String(), "seq", ev.Seq, "kind", ev.Kind.String(), "area", ev.Area)
		}
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return s.Value[:12]
			}
		}
		return bi.Main.Version
	}
	return "dev"
}
