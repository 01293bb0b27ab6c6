// Command vakt is a self-hosted home alarm hub: one binary that decides when the house is in
// alarm, keeps its state and history in bbolt and reports to a monitoring station.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
	// The time zone database in the binary: schedules run in the installation's zone
	// (Europe/Stockholm by default) even on a Pi without tzdata installed.
	_ "time/tzdata"

	"vakt/hub"
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

// subcommands are vakt's verbs besides running, each with its one line of help.
var subcommands = []struct{ name, help string }{
	{"installation export|import", "write the installation (areas, zones, devices, users) as YAML, or set it from a file"},
	{"doctor", "check the box (clock, disk, SD wear, GPIO, broker, station paths, certificates, ports, store) and say what to fix"},
	{"store check|salvage", "check the store for damage, or salvage a damaged one into a new file"},
	{"backup -o FILE", "write an encrypted backup of a stopped vakt's store (a running one: its web UI)"},
	{"restore FILE", "put the store from a backup in place (vakt stopped; the old store is kept)"},
	{"user reset-password NAME", "set a user's web password at the box (vakt stopped), read from the terminal"},
	{"gen-history", "fill a demo store with a long ordinary history, for benchmarks"},
	{"help", "print this help"},
}

// run is vakt with its arguments: a subcommand, or flags that run the hub until ctx ends.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	started := time.Now()
	err := dispatch(ctx, started, args, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // asked for, and printed
	}
	return err
}

func dispatch(ctx context.Context, started time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "backup":
			return backupCmd(args[1:], stdin, stdout, stderr)
		case "restore":
			return restoreCmd(args[1:], stdin, stdout, stderr)
		case "doctor":
			return doctorCmd(ctx, args[1:], stdout, stderr)
		case "gen-history":
			return genHistory(args[1:], stdout, stderr)
		case "installation":
			return installationCmd(ctx, args[1:], stdout, stderr)
		case "store":
			return storeCmd(args[1:], stdout, stderr)
		case "user":
			return userCmd(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("vakt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to stdout when asked for
	configPath := fs.String("config", os.Getenv("VAKT_CONFIG"), "machine settings `file` (see config.example.yaml); none means defaults")
	dataDir := fs.String("data", "", "data `directory`, overriding data_dir")
	demo := fs.Bool("demo", false, "run the demo: a demo family, simulated devices and a console on the terminal")
	mqttURL := fs.String("mqtt", "", "external MQTT broker `URL`, overriding mqtt.url (the embedded broker is then off)")
	exitReady := fs.Bool("exit-when-ready", false, "start, restore state, print the time to ready and exit (for benchmarks)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if len(args) > 0 && args[0] == "help" {
		usage(stdout, fs)
		return nil
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return nil
		}
		usage(stderr, fs)
		return err
	}
	if fs.NArg() > 0 {
		usage(stderr, fs)
		return fmt.Errorf("unknown subcommand %q", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintf(stdout, "vakt %s (store schema %d)\n", buildVersion(), hub.SchemaVersion)
		return nil
	}
	cfg, err := loadConfigWith(*configPath, *dataDir, *mqttURL)
	if err != nil {
		return err
	}
	app, err := New(cfg, Options{Demo: *demo, ExitWhenReady: *exitReady, Stdin: stdin, Stdout: stdout, Stderr: stderr, Started: started})
	if err != nil {
		return err
	}
	err = app.Run(ctx)
	if cerr := app.Close(); err == nil {
		err = cerr
	}
	return err
}

// loadConfigWith loads the config file and applies the -data and -mqtt flags over it, as
// vakt and vakt doctor take them.
func loadConfigWith(path, dataDir, mqttURL string) (Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return cfg, err
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	if mqttURL != "" {
		cfg.MQTT.URL = mqttURL
		if err := cfg.validate(); err != nil {
			return cfg, fmt.Errorf("--mqtt: %w", err)
		}
	}
	return cfg, nil
}

// usage prints how to run vakt: the subcommands, one line each, then the flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "vakt %s: a self-hosted home alarm hub\n\n", buildVersion())
	fmt.Fprintf(w, "Usage:\n  vakt %-27s %s\n", "[flags]", "run the hub (--demo for a demo family on the terminal)")
	for _, c := range subcommands {
		fmt.Fprintf(w, "  vakt %-27s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nEach subcommand takes -h for its own flags.\n\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// emptyInstallation is what a new store starts with outside the demo: one area, nothing else.
func emptyInstallation(key []byte) *hub.Installation {
	return &hub.Installation{Name: "Home", CodeKey: key, Areas: []hub.Area{{Number: 1, Name: "Home"}}}
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
