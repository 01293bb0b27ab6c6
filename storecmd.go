package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"vakt/hub"
)

// storeCmd checks a store or salvages a damaged one into a new file:
//
//	vakt store check [-data DIR] [-demo]
//	vakt store salvage [-data DIR] [-demo] -o NEWFILE
//
// check exits non-zero when it finds damage; salvage says how many events it saved and
// which it lost. Stop vakt first: both refuse a store in use.
func storeCmd(args []string, stdout, stderr io.Writer) error {
	const usage = "usage: vakt store check|salvage [-data DIR] [-demo] [-o NEWFILE]"
	if len(args) == 0 || (args[0] != "check" && args[0] != "salvage") {
		return errors.New(usage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("store "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "./data", "data `directory`")
	demo := fs.Bool("demo", false, "the demo's store (demo.db)")
	out := ""
	if verb == "salvage" {
		fs.StringVar(&out, "o", "", "the new store `file` to write; it must not exist")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New(usage)
	}
	name := "vakt.db"
	if *demo {
		name = "demo.db"
	}
	path := filepath.Join(*dir, name)
	if verb == "check" {
		r, err := hub.CheckStore(path)
		if err != nil {
			return err
		}
		if _, err := r.WriteTo(stdout); err != nil {
			return err
		}
		if r.Damaged() {
			return fmt.Errorf("store %s: %w", path, hub.ErrStoreDamaged)
		}
		return nil
	}
	if out == "" {
		return errors.New("store salvage: -o NEWFILE is required")
	}
	r, err := hub.SalvageStore(path, out, time.Now())
	if err != nil {
		return err
	}
	if _, err := r.WriteTo(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "check it with `vakt store check`, then move %s to %s\n", out, path)
	return nil
}
