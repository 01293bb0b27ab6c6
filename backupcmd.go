package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/term"

	"vakt/hub"
)

// passphraseEnv names the environment variable a backup passphrase may come from.
const passphraseEnv = "VAKT_BACKUP_PASSPHRASE"

// backupCmd writes an encrypted backup of a stopped vakt's store:
//
//	vakt backup [-data DIR] [-demo] [-passphrase-file FILE] -o FILE|-
//
// The store is opened read-only and not changed. A running vakt holds its store, so the
// command refuses it and points to the running vakt's own backup (the web UI's Backup page,
// POST /api/backup, or scheduled backups), which is consistent while it runs.
func backupCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("backup", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("data", "./data", "data `directory`")
	demo := flags.Bool("demo", false, "the demo's store (demo.db)")
	out := flags.String("o", "", "the backup `file` to write (it must not exist), or - for standard output")
	passFile := flags.String("passphrase-file", "", "read the passphrase from the first line of `file` (else $"+passphraseEnv+", else the terminal)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 0 || *out == "" {
		return errors.New("usage: vakt backup [-data DIR] [-demo] [-passphrase-file FILE] -o FILE|-")
	}
	path := storePath(*dir, *demo)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store at %s: %w", path, err)
	}
	if *out != "-" {
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("backup: %s already exists; give a new file", *out)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("backup: %w", err)
		}
	}
	pass, err := readPassphrase(stdin, stderr, *passFile, true)
	if err != nil {
		return err
	}
	write := func(w io.Writer) error { return hub.BackupStore(path, w, pass) }
	if *out == "-" {
		err = write(stdout)
	} else {
		var size int64
		if size, err = hub.WriteFileAtomic(*out, write); err == nil {
			demoFlag := ""
			if *demo {
				demoFlag = " -demo"
			}
			fmt.Fprintf(stderr, "backed up %s to %s (%d bytes); restore it with `vakt restore%s -data %s %s`\n", path, *out, size, demoFlag, *dir, *out)
		}
	}
	if errors.Is(err, hub.ErrStoreLocked) {
		return fmt.Errorf("vakt is running and holds %s: download a backup from the web UI's Backup page (or POST /api/backup), let the scheduled backups (backup: in the config) make one, or stop vakt first", path)
	}
	return err
}

// restoreCmd puts the store from a backup in place of a stopped vakt's store:
//
//	vakt restore [-data DIR] [-demo] [-passphrase-file FILE] FILE
//
// Everything is checked before the store is replaced; the replaced store is kept beside
// it. vakt must be stopped: the command refuses a store in use.
func restoreCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("restore", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("data", "./data", "data `directory` to restore into (made if missing)")
	demo := flags.Bool("demo", false, "the demo's store (demo.db)")
	passFile := flags.String("passphrase-file", "", "read the passphrase from the first line of `file` (else $"+passphraseEnv+", else the terminal)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return errors.New("usage: vakt restore [-data DIR] [-demo] [-passphrase-file FILE] BACKUPFILE")
	}
	f, err := os.Open(flags.Arg(0))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	pass, err := readPassphrase(stdin, stderr, *passFile, false)
	if err != nil {
		return err
	}
	r, err := hub.Restore(storePath(*dir, *demo), f, pass, time.Now())
	if err != nil {
		if hub.IsBackupError(err) {
			return fmt.Errorf("%s: %w; nothing changed", flags.Arg(0), err)
		}
		return err
	}
	if _, err := r.WriteTo(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "start vakt to run on it")
	return nil
}

// storePath is the store's file in the data directory.
func storePath(dir string, demo bool) string {
	if demo {
		return filepath.Join(dir, "demo.db")
	}
	return filepath.Join(dir, "vakt.db")
}

// readPassphrase reads a backup passphrase: the first line of file, else the environment,
// else the terminal without echo (twice for a new backup). Never a flag's value, which would
// stay in the shell's history.
func readPassphrase(stdin io.Reader, stderr io.Writer, file string, confirm bool) (string, error) {
	if file != "" {
		pass, err := hub.ReadPassphraseFile(file)
		if err != nil {
			return "", err
		}
		return checkBackupPassphrase(pass, confirm)
	}
	if pass := os.Getenv(passphraseEnv); pass != "" {
		return checkBackupPassphrase(pass, confirm)
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no passphrase: give -passphrase-file FILE, set $%s, or run at a terminal", passphraseEnv)
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	p1, err := read("Backup passphrase: ")
	if err != nil {
		return "", err
	}
	if !confirm {
		return p1, nil
	}
	if _, err := checkBackupPassphrase(p1, confirm); err != nil {
		return "", err
	}
	p2, err := read("Again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passphrases differ; nothing written")
	}
	return p1, nil
}

// checkBackupPassphrase refuses a short passphrase for a new backup; a restore tries
// whatever it is given.
func checkBackupPassphrase(p string, newBackup bool) (string, error) {
	if newBackup {
		if err := hub.CheckBackupPassphrase(p); err != nil {
			return "", err
		}
	}
	return p, nil
}
