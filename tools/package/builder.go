package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// ErrBadVersion is in the error for a version Debian would not take.
var ErrBadVersion = errors.New("not a Debian version (a digit first, then letters, digits and . + ~ -)")

// target is one architecture: Go's name for it and Debian's.
type target struct {
	goarch, goarm, deb string
}

// targets are the gateways vakt runs on: 64-bit Raspberry Pi OS, 32-bit (ARMv7: Pi 2 and
// later) and PCs.
var targets = []target{
	{goarch: "arm64", deb: "arm64"},
	{goarch: "arm", goarm: "7", deb: "armhf"},
	{goarch: "amd64", deb: "amd64"},
}

// Arches returns the Debian architectures a package can be built for.
func Arches() []string {
	var a []string
	for _, t := range targets {
		a = append(a, t.deb)
	}
	return a
}

// Where the package puts things; the unit and the scripts name the same paths.
const (
	BinPath    = "/usr/bin/vakt"
	UnitPath   = "/usr/lib/systemd/system/vakt.service"
	ConfigPath = "/etc/vakt/config.yaml"
	DataDir    = "/var/lib/vakt"
	DocDir     = "/usr/share/doc/vakt"
)

// Builder builds packages of the vakt source tree at Source into Out.
type Builder struct {
	Source  string    // the module's directory
	Out     string    // where the .deb files go
	Version string    // Debian version
	Log     io.Writer // a line per package; nil for none
}

var debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)

// Deb builds vakt for arch (a Debian architecture) and packs it; it returns the package's
// path, Out/vakt_VERSION_ARCH.deb.
func (b Builder) Deb(ctx context.Context, arch string) (string, error) {
	i := slices.IndexFunc(targets, func(t target) bool { return t.deb == arch })
	if i < 0 {
		return "", fmt.Errorf("architecture %q: want one of %s", arch, strings.Join(Arches(), ", "))
	}
	if !debVersion.MatchString(b.Version) {
		return "", fmt.Errorf("version %q: %w", b.Version, ErrBadVersion)
	}
	t := targets[i]
	work, err := os.MkdirTemp("", "vakt-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "vakt")
	if err := b.build(ctx, t, bin); err != nil {
		return "", err
	}
	conf := filepath.Join(work, "config.yaml")
	if err := b.writeConfig(conf); err != nil {
		return "", err
	}
	if err := os.MkdirAll(b.Out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(b.Out, fmt.Sprintf("vakt_%s_%s.deb", b.Version, arch))
	if err := b.pack(b.info(arch, bin, conf), path); err != nil {
		return "", err
	}
	if b.Log != nil {
		fmt.Fprintln(b.Log, path)
	}
	return path, nil
}

// build compiles vakt static for t, with the version in the binary.
func (b Builder) build(ctx context.Context, t target, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+b.Version, "-o", bin, ".")
	cmd.Dir = b.Source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.goarch, "GOARM="+t.goarm)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s: %w\n%s", t.deb, err, out)
	}
	return nil
}

// Config returns the packaged /etc/vakt/config.yaml: config.example.yaml (every option with
// its default) with the data directory the unit lets vakt write.
func Config(example []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(example), "\n")
	at := -1
	for i, l := range lines {
		if !strings.HasPrefix(l, "data_dir:") {
			continue
		}
		if at >= 0 || l != "data_dir: ./data\n" {
			return nil, fmt.Errorf("config.example.yaml:%d: %q: want one line data_dir: ./data", i+1, strings.TrimSpace(l))
		}
		at = i
	}
	if at < 0 {
		return nil, errors.New("config.example.yaml: no line data_dir: ./data")
	}
	lines[at] = "data_dir: " + DataDir + "\n"
	head := "# " + ConfigPath + ": vakt's machine settings, read at start (systemctl restart vakt).\n" +
		"# The service may write only in " + DataDir + " (data_dir).\n"
	return []byte(head + strings.Join(lines, "")), nil
}

func (b Builder) writeConfig(path string) error {
	example, err := os.ReadFile(filepath.Join(b.Source, "config.example.yaml"))
	if err != nil {
		return err
	}
	conf, err := Config(example)
	if err != nil {
		return err
	}
	return os.WriteFile(path, conf, 0o644)
}

// info describes the package for nfpm.
func (b Builder) info(arch, bin, conf string) *nfpm.Info {
	pkg := filepath.Join(b.Source, "packaging")
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode}}
	}
	conffile := file(conf, ConfigPath, 0o644)
	conffile.Type = files.TypeConfig
	info := &nfpm.Info{
		Name:          "vakt",
		Arch:          arch,
		Platform:      "linux",
		Version:       b.Version,
		VersionSchema: "none",
		Section:       "misc",
		Priority:      "optional",
		Maintainer:    "vakt developers <vakt@localhost>",
		Description: "self-hosted home alarm hub\n" +
			"One binary that decides when the house is in alarm, keeps its state and history,\n" +
			"serves a local web UI and a HomeKit bridge, and reports to a monitoring station\n" +
			"over SIA DC-09. Runs as the systemd service vakt.",
		MTime: b.mtime(),
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				file(bin, BinPath, 0o755),
				file(filepath.Join(pkg, "vakt.service"), UnitPath, 0o644),
				conffile,
				file(filepath.Join(b.Source, "README.md"), DocDir+"/README.md", 0o644),
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(pkg, "postinst"),
				PreRemove:   filepath.Join(pkg, "prerm"),
				PostRemove:  filepath.Join(pkg, "postrm"),
			},
		},
	}
	return nfpm.WithDefaults(info)
}

// mtime is the last commit's time, so the same commit packs the same bytes; now outside git.
func (b Builder) mtime() time.Time {
	out, err := exec.Command("git", "-C", b.Source, "log", "-1", "--format=%ct").Output()
	if err != nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return time.Unix(sec, 0).UTC()
}

// pack writes the package to path, whole or not at all.
func (b Builder) pack(info *nfpm.Info, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vakt-*.deb")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("pack %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ModuleDir returns the directory of the vakt module (go.mod), wherever the tool runs.
func ModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not in the vakt module: run from its directory")
	}
	return filepath.Dir(mod), nil
}

// GitVersion makes a Debian version of `git describe`: tag v1.2.3 is 1.2.3; three commits
// after it, 1.2.3+3.gHASH (later than 1.2.3); with no tag, 0.0.0+gHASH; uncommitted
// changes add .dirty.
func GitVersion(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "describe", "--tags", "--always", "--dirty", "--match", "v[0-9]*").Output()
	if err != nil {
		return "", fmt.Errorf("git describe in %s: %w", dir, err)
	}
	return DebianVersion(strings.TrimSpace(string(out)))
}

var described = regexp.MustCompile(`^(?:v([0-9][0-9A-Za-z.~+]*)(?:-([0-9]+)-(g[0-9a-f]+))?|([0-9a-f]{4,}))(-dirty)?$`)

// DebianVersion turns git describe's output into a Debian version.
func DebianVersion(describe string) (string, error) {
	m := described.FindStringSubmatch(describe)
	if m == nil {
		return "", fmt.Errorf("git describe %q: not vX.Y.Z[-N-gHASH] or a hash", describe)
	}
	tag, ahead, hash, bare, dirty := m[1], m[2], m[3], m[4], m[5] != ""
	var v string
	switch {
	case bare != "":
		v = "0.0.0+g" + bare
	case ahead != "":
		v = tag + "+" + ahead + "." + hash
	default:
		v = tag
	}
	if dirty {
		if strings.Contains(v, "+") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	return v, nil
}
