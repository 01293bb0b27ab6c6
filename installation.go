package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"vakt/hub"
)

// installationCmd exports the installation as YAML or imports one, so an installer can set
// up areas, zones, devices and users (with their codes) in a file and back them up:
//
//	vakt installation export [-data DIR] [-demo] > backup.yaml
//	vakt installation import [-data DIR] [-demo] FILE
//
// vakt must not be running on the same store (the store says so).
func installationCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		return errors.New("usage: vakt installation export|import [-data DIR] [-demo] [FILE]")
	}
	verb := args[0]
	fs := flag.NewFlagSet("installation "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "./data", "data `directory`")
	demo := fs.Bool("demo", false, "the demo's store (demo.db)")
	by := fs.String("by", "installer", "who makes the change, for the history")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	name := "vakt.db"
	if *demo {
		name = "demo.db"
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	store, err := hub.OpenStore(filepath.Join(*dir, name), 0)
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := store.Secret("code_key", 32)
	if err != nil {
		return err
	}
	if verb == "export" {
		inst, err := store.Installation()
		if err != nil {
			return err
		}
		if inst == nil {
			inst = emptyInstallation(key)
		}
		out, err := hub.MarshalInstallation(inst)
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: vakt installation import [-data DIR] FILE")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	inst, err := hub.ParseInstallation(data, key)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	// The change goes through the hub, so it is logged (config_change) with the state.
	h, err := hub.New(store, emptyInstallation(key), hub.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	res := h.Configure(ctx, hub.Input{User: *by, How: hub.HowSystem}, "import "+filepath.Base(fs.Arg(0)), func(cur *hub.Installation) error {
		hub.KeepPasswords(cur, inst)
		*cur = *inst
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	fmt.Fprintf(stdout, "imported %s: %d areas, %d zones, %d devices, %d users, %d schedules, %d plug schedules\n", fs.Arg(0),
		len(inst.Areas), len(inst.Zones), len(inst.Devices), len(inst.Users), len(inst.Schedules), len(inst.PlugSchedules))
	return nil
}
