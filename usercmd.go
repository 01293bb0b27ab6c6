package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"vakt/hub"
)

// userCmd sets a user's web password at the box, for an admin who forgot theirs:
//
//	vakt user reset-password [-data DIR] [-demo] [-password-stdin] NAME
//
// It needs physical access and vakt stopped (the store says so when it runs). The password
// is read from the terminal twice, without echo, or once from standard input; the change
// goes through the hub, so the history says the console set it.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const usage = "usage: vakt user reset-password [-data DIR] [-demo] [-password-stdin] NAME"
	if len(args) == 0 || args[0] != "reset-password" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("user reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("data", "./data", "data `directory`")
	demo := fs.Bool("demo", false, "the demo's store (demo.db)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (one line) instead of the terminal")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(usage)
	}
	who := fs.Arg(0)
	name := "vakt.db"
	if *demo {
		name = "demo.db"
	}
	path := filepath.Join(*dir, name)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store at %s: %w", path, err)
	}
	store, err := hub.OpenStore(path, 0)
	if err != nil {
		return err
	}
	defer store.Close()
	inst, err := store.Installation()
	if err != nil {
		return err
	}
	if inst == nil || findUser(inst, who) == nil {
		return fmt.Errorf("no user %q in %s", who, path)
	}
	id := findUser(inst, who).ID
	password, err := readNewPassword(stdin, stderr, *fromStdin)
	if err != nil {
		return err
	}
	key, err := store.Secret("code_key", 32)
	if err != nil {
		return err
	}
	h, err := hub.New(store, emptyInstallation(key), hub.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	res := h.Configure(ctx, hub.Input{User: "console", How: hub.HowSystem}, "reset the web password of "+id, func(cur *hub.Installation) error {
		u := findUser(cur, id)
		if u == nil {
			return fmt.Errorf("no user %q", id)
		}
		return u.SetPassword(password)
	})
	cancel()
	if err := <-done; err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	fmt.Fprintf(stdout, "the web password of %s is set; sessions stay as they were\n", id)
	return nil
}

// findUser is the user with the id or name (any case), nil when there is none.
func findUser(inst *hub.Installation, who string) *hub.User {
	for i := range inst.Users {
		if inst.Users[i].ID == who {
			return &inst.Users[i]
		}
	}
	for i := range inst.Users {
		if strings.EqualFold(inst.Users[i].Name, who) {
			return &inst.Users[i]
		}
	}
	return nil
}

// readNewPassword reads the new password: twice from a terminal, without echo, and the two
// must match; or one line from stdin with -password-stdin.
func readNewPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		return checkPassword(strings.TrimRight(line, "\r\n"))
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("not a terminal: type the password at the box, or give it with -password-stdin")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	p1, err := read("New password: ")
	if err != nil {
		return "", err
	}
	if _, err := checkPassword(p1); err != nil {
		return "", err
	}
	p2, err := read("Again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passwords differ; nothing changed")
	}
	return p1, nil
}

// checkPassword refuses a password too short before anything is opened for writing.
func checkPassword(p string) (string, error) {
	if len([]rune(p)) < hub.MinPasswordLength {
		return "", hub.ErrWeakPassword
	}
	return p, nil
}
