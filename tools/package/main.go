// Command package builds vakt's Debian packages: vakt built static (CGO_ENABLED=0) for each
// architecture, with its systemd unit, its config as a conffile and its maintainer scripts
// (packaging/), packed by nfpm into dist/vakt_VERSION_ARCH.deb. A tool of its own, so the
// vakt binary does not carry nfpm.
//
//	go run ./tools/package [-version 1.2.3] [-arch amd64,arm64,armhf] [-out dist]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "package `version` (Debian syntax, e.g. 1.2.3); default from git describe")
	arches := fs.String("arch", strings.Join(Arches(), ","), "Debian `architectures` to build, comma-separated")
	out := fs.String("out", "", "output `directory`; default dist/ in the module")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	src, err := ModuleDir(ctx)
	if err != nil {
		return err
	}
	if *version == "" {
		if *version, err = GitVersion(ctx, src); err != nil {
			return fmt.Errorf("%w (or give -version)", err)
		}
	}
	if *out == "" {
		*out = src + "/dist"
	}
	b := Builder{Source: src, Out: *out, Version: *version, Log: stdout}
	for _, arch := range strings.Split(*arches, ",") {
		if _, err := b.Deb(ctx, strings.TrimSpace(arch)); err != nil {
			return err
		}
	}
	return nil
}
