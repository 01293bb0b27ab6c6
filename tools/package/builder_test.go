package main

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testVersion is the version of the packages the tests build.
const testVersion = "0.9.1+test"

var built struct {
	once  sync.Once
	debs  map[string]string // Debian arch → package
	err   error
	inDir string
}

// debs builds the three packages once for every test of the run (a cross-compile takes
// long on a small machine), into a directory removed when the run ends (TestMain).
func debs(t *testing.T) map[string]string {
	t.Helper()
	built.once.Do(func() {
		src, err := ModuleDir(context.Background())
		if err != nil {
			built.err = err
			return
		}
		built.inDir, built.err = os.MkdirTemp("", "vakt-dist-")
		if built.err != nil {
			return
		}
		b := Builder{Source: src, Out: built.inDir, Version: testVersion}
		built.debs = map[string]string{}
		for _, arch := range Arches() {
			path, err := b.Deb(context.Background(), arch)
			if err != nil {
				built.err = err
				return
			}
			built.debs[arch] = path
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.debs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.inDir != "" {
		os.RemoveAll(built.inDir)
	}
	os.Exit(code)
}

// cmd runs a command and returns its standard output; a failure fails the test with its
// standard error.
func cmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestPackages_InfoAndContents reads each package with dpkg-deb as apt would: its name,
// version and architecture; the binary, unit, conffile and README with their modes; the
// maintainer scripts; and a static binary for the package's machine.
func TestPackages_InfoAndContents(t *testing.T) {
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "armhf": elf.EM_ARM}
	for arch, deb := range debs(t) {
		t.Run(arch, func(t *testing.T) {
			if want := "vakt_" + testVersion + "_" + arch + ".deb"; filepath.Base(deb) != want {
				t.Errorf("file %s, want %s", filepath.Base(deb), want)
			}
			fields := cmd(t, "dpkg-deb", "--field", deb, "Package", "Version", "Architecture")
			if want := "Package: vakt\nVersion: " + testVersion + "\nArchitecture: " + arch + "\n"; fields != want {
				t.Errorf("control fields:\n%s\nwant:\n%s", fields, want)
			}
			info := cmd(t, "dpkg-deb", "--info", deb)
			for _, want := range []string{"conffiles", "postinst", "prerm", "postrm", "Description: self-hosted home alarm hub"} {
				if !strings.Contains(info, want) {
					t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
				}
			}
			ctl := t.TempDir()
			cmd(t, "dpkg-deb", "--control", deb, ctl)
			if conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); string(conffiles) != ConfigPath+"\n" {
				t.Errorf("conffiles %q, want %s", conffiles, ConfigPath)
			}
			for _, script := range []string{"postinst", "prerm", "postrm"} {
				fi, err := os.Stat(filepath.Join(ctl, script))
				if err != nil || fi.Mode().Perm()&0o111 == 0 {
					t.Errorf("%s: %v, mode %v: want an executable script", script, err, fi.Mode())
				}
			}
			contents := cmd(t, "dpkg-deb", "--contents", deb)
			for _, want := range []struct{ mode, path string }{
				{"-rwxr-xr-x root/root", "." + BinPath},
				{"-rw-r--r-- root/root", "." + UnitPath},
				{"-rw-r--r-- root/root", "." + ConfigPath},
				{"-rw-r--r-- root/root", "." + DocDir + "/README.md"},
			} {
				if !slices.ContainsFunc(strings.Split(contents, "\n"), func(l string) bool {
					return strings.HasPrefix(l, want.mode) && strings.HasSuffix(l, " "+want.path)
				}) {
					t.Errorf("no %s %s in:\n%s", want.mode, want.path, contents)
				}
			}
			if strings.Contains(contents, DataDir) {
				t.Errorf("the package carries %s (postinst makes it, purge removes it):\n%s", DataDir, contents)
			}

			root := t.TempDir()
			cmd(t, "dpkg-deb", "-x", deb, root)
			f, err := elf.Open(filepath.Join(root, BinPath))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != machine[arch] {
				t.Errorf("binary for %v, want %v", f.Machine, machine[arch])
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("binary is dynamically linked, want static (CGO_ENABLED=0)")
				}
			}
			if conf, _ := os.ReadFile(filepath.Join(root, ConfigPath)); !bytes.Contains(conf, []byte("\ndata_dir: "+DataDir+"\n")) {
				t.Errorf("packaged config does not keep the data in %s", DataDir)
			}
		})
	}
}

// TestUnit_Verify: systemd-analyze verify finds nothing to say about the unit, and it does
// find a misspelt key, a bad value and a missing program in a copy (so silence means
// something).
func TestUnit_Verify(t *testing.T) {
	unit, err := os.ReadFile("../../packaging/vakt.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify checks only that ExecStart's program is there and executable: this test's
	// binary is. TestPackage_InstallRunRemovePurge verifies the unit with the installed vakt.
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{name: "as packaged"},
		{name: "misspelt key", from: "WatchdogSec=30", to: "WatchdgSec=30", want: "Unknown key 'WatchdgSec'"},
		{name: "bad value", from: "WatchdogSec=30", to: "WatchdogSec=thirty", want: "thirty"},
		{name: "missing binary", from: "ExecStart=" + BinPath, to: "ExecStart=/nonexistent/vakt", want: "/nonexistent/vakt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(unit), "ExecStart="+BinPath, "ExecStart="+bin, 1)
			if tc.from != "" {
				text = strings.Replace(string(unit), tc.from, tc.to, 1)
				if !strings.Contains(text, "ExecStart=/nonexistent") {
					text = strings.Replace(text, "ExecStart="+BinPath, "ExecStart="+bin, 1)
				}
			}
			verifyUnit(t, text, tc.want)
		})
	}
}

// verifyUnit runs systemd-analyze verify on the unit text: want "" means it must say
// nothing and succeed; otherwise what it says must contain want.
func verifyUnit(t *testing.T, text, want string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vakt.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if want == "" && (err != nil || len(out) > 0) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if want != "" && !strings.Contains(string(out), want) {
		t.Fatalf("systemd-analyze verify says nothing of %q: %v\n%s", want, err, out)
	}
}

func TestDebianVersion(t *testing.T) {
	for _, tc := range []struct{ describe, want string }{
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"v1.2.3~rc1", "1.2.3~rc1"},
		{"abc1234", "0.0.0+gabc1234"},
		{"abc1234-dirty", "0.0.0+gabc1234.dirty"},
	} {
		got, err := DebianVersion(tc.describe)
		if err != nil || got != tc.want {
			t.Errorf("DebianVersion(%q) = %q, %v; want %q", tc.describe, got, err, tc.want)
		}
		if !debVersion.MatchString(got) {
			t.Errorf("%q is no Debian version", got)
		}
	}
	for _, bad := range []string{"", "1.2.3", "vX", "release-1", "v1.2.3 extra", "v1.2.3-4-gXYZ"} {
		if got, err := DebianVersion(bad); err == nil {
			t.Errorf("DebianVersion(%q) = %q, want an error", bad, got)
		}
	}
	// This checkout's own version is one Debian takes.
	src, _ := ModuleDir(context.Background())
	v, err := GitVersion(context.Background(), src)
	if err != nil || !debVersion.MatchString(v) {
		t.Errorf("GitVersion = %q, %v", v, err)
	}
}

// TestBuilder_BadInput: an unknown architecture or a version Debian would not take is an
// error naming it, before anything is built or written.
func TestBuilder_BadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dist")
	for _, tc := range []struct{ arch, version, want string }{
		{"i386", "1.0.0", `architecture "i386"`},
		{"armel", "1.0.0", `architecture "armel"`},
		{"amd64", "v1.0.0", `version "v1.0.0"`},
		{"amd64", "1.0 beta", `version "1.0 beta"`},
		{"amd64", "", `version ""`},
	} {
		_, err := Builder{Source: "/nonexistent", Out: out, Version: tc.version}.Deb(context.Background(), tc.arch)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want an error naming %s", tc.arch, tc.version, err, tc.want)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad input wrote %s: %v", out, err)
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"extra"}, &stderr, &stderr); err == nil {
		t.Error("an argument is taken")
	}
}

// TestConfig: the packaged config is the example with the data directory the unit allows;
// an example without exactly one data_dir line is an error, not a config that writes
// where the unit forbids.
func TestConfig(t *testing.T) {
	conf, err := Config([]byte("# x\ndata_dir: ./data\nlog_level: info\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(conf), "# x\ndata_dir: /var/lib/vakt\nlog_level: info\n") || !strings.HasPrefix(string(conf), "# /etc/vakt/config.yaml") {
		t.Errorf("config:\n%s", conf)
	}
	for _, bad := range []string{"log_level: info\n", "# x\ndata_dir: ./data\ndata_dir: ./data\n", "# x\ndata_dir: /srv\n"} {
		if _, err := Config([]byte(bad)); err == nil {
			t.Errorf("example %q taken", bad)
		}
	}
}

// TestScripts_Shellcheck: the maintainer scripts are POSIX sh (dash runs them) with nothing
// shellcheck warns of.
func TestScripts_Shellcheck(t *testing.T) {
	args := []string{"--shell=sh"}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		args = append(args, filepath.Join("../../packaging", s))
	}
	if out, err := exec.Command("shellcheck", args...).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
