package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vakt/hub/hubtest"
	"vakt/ops/sdnotify/sdnotifytest"
)

// wants is the link that enables the unit.
const wants = "etc/systemd/system/multi-user.target.wants/vakt.service"

// dpkgRoot is a throwaway root that dpkg installs into, with maintainer scripts run
// outside a chroot under DPKG_ROOT: the host's users and services are never touched.
type dpkgRoot struct {
	t    *testing.T
	path string
}

func newDpkgRoot(t *testing.T) *dpkgRoot {
	t.Helper()
	// Under /tmp, not t.TempDir (0700): the vakt user must reach its data directory.
	dir, err := os.MkdirTemp("", "vakt-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"var/lib/dpkg/status": "",
		"etc/passwd":          "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":           "root:x:0:\ndialout:x:20:\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &dpkgRoot{t: t, path: dir}
}

// dpkg runs dpkg on the root.
func (r *dpkgRoot) dpkg(args ...string) string {
	r.t.Helper()
	return cmd(r.t, "dpkg", append([]string{"--root=" + r.path, "--force-not-root", "--force-script-chrootless"}, args...)...)
}

// at is path inside the root.
func (r *dpkgRoot) at(path string) string { return filepath.Join(r.path, path) }

func (r *dpkgRoot) exists(path string) bool {
	_, err := os.Lstat(r.at(path))
	return err == nil
}

// entry returns the fields of name's line in the root's etc/passwd or etc/group; nil if none.
func (r *dpkgRoot) entry(file, name string) []string {
	r.t.Helper()
	data, err := os.ReadFile(r.at("etc/" + file))
	if err != nil {
		r.t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); f[0] == name {
			return f
		}
	}
	return nil
}

func (r *dpkgRoot) id(file, name string, field int) uint32 {
	r.t.Helper()
	e := r.entry(file, name)
	if e == nil {
		r.t.Fatalf("no %s in the root's %s", name, file)
	}
	n, err := strconv.ParseUint(e[field], 10, 32)
	if err != nil {
		r.t.Fatal(err)
	}
	return uint32(n)
}

// TestPackage_InstallRunRemovePurge installs the amd64 package with dpkg into a throwaway
// root, as apt would on a gateway: the postinst makes the vakt user, the device groups and
// the private data directory, and enables the unit, which verifies. vakt is then started
// as the unit would (its ExecStart, as vakt with its groups, the admin's edited config)
// with a notify socket and a watchdog, and says READY=1 and feeds the watchdog, then
// STOPPING=1 on SIGTERM. An upgrade keeps the edited conffile and the data; removal keeps
// the data, the user, the config and the enablement, and a reinstall carries on with them;
// purge removes them. The host's own users are the same
// before and after.
func TestPackage_InstallRunRemovePurge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs a package into a throwaway root and runs vakt as the vakt user: run it as root (CI does)")
	}
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	hostGroup, _ := os.ReadFile("/etc/group")
	deb := debs(t)["amd64"]
	r := newDpkgRoot(t)

	r.dpkg("-i", deb)
	if status := cmd(t, "dpkg", "--root="+r.path, "-s", "vakt"); !strings.Contains(status, "Status: install ok installed") || !strings.Contains(status, "Version: "+testVersion) {
		t.Fatalf("dpkg -s vakt:\n%s", status)
	}
	user := r.entry("passwd", "vakt")
	if user == nil || user[5] != DataDir || user[6] != "/usr/sbin/nologin" {
		t.Fatalf("vakt user: %v", user)
	}
	uid, gid := r.id("passwd", "vakt", 2), r.id("passwd", "vakt", 3)
	if uid == 0 || gid == 0 || r.entry("group", "vakt") == nil {
		t.Fatalf("vakt user %d:%d, group %v", uid, gid, r.entry("group", "vakt"))
	}
	for _, g := range []string{"gpio", "i2c", "dialout"} {
		if r.entry("group", g) == nil {
			t.Errorf("no group %s for the unit's SupplementaryGroups", g)
		}
	}
	if r.id("group", "dialout", 2) != 20 {
		t.Error("an existing group was made again")
	}
	checkOwner(t, r.at(DataDir), uid, gid, os.ModeDir|0o700)
	checkOwner(t, r.at(ConfigPath), 0, gid, 0o640)
	if target, err := os.Readlink(r.at(wants)); err != nil || target != UnitPath {
		t.Errorf("unit not enabled: %q, %v", target, err)
	}

	// The installed unit verifies, ExecStart pointed at the installed binary.
	unit, err := os.ReadFile(r.at(UnitPath))
	if err != nil {
		t.Fatal(err)
	}
	verifyUnit(t, strings.Replace(string(unit), "ExecStart="+BinPath, "ExecStart="+r.at(BinPath), 1), "")
	if v := cmd(t, r.at(BinPath), "--version"); !strings.HasPrefix(v, "vakt "+testVersion+" (store schema ") {
		t.Errorf("installed binary says %q", v)
	}

	// The admin edits the config: the data inside the root, loopback on any free ports.
	conf, err := os.ReadFile(r.at(ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	edited := string(conf)
	for from, to := range map[string]string{
		"\ndata_dir: " + DataDir + "\n":  "\ndata_dir: " + r.at(DataDir) + "\n",
		"\n    listen: 127.0.0.1:1883\n": "\n    listen: 127.0.0.1:0\n",
		"\n  listen: 127.0.0.1:8080\n":   "\n  listen: 127.0.0.1:0\n",
	} {
		if !strings.Contains(edited, from) {
			t.Fatalf("packaged config has no %q", from)
		}
		edited = strings.Replace(edited, from, to, 1)
	}
	if err := os.WriteFile(r.at(ConfigPath), []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}

	runAsUnit(t, r, string(unit), uid, gid)
	checkOwner(t, r.at(DataDir+"/vakt.db"), uid, gid, 0o600)

	// An upgrade (the same package again) keeps the admin's config and the data.
	r.dpkg("-i", deb)
	if got, _ := os.ReadFile(r.at(ConfigPath)); string(got) != edited {
		t.Error("an upgrade replaced the edited conffile")
	}
	checkOwner(t, r.at(ConfigPath), 0, gid, 0o640)
	if !r.exists(DataDir + "/vakt.db") {
		t.Fatal("an upgrade lost the store")
	}

	// Removal keeps the data, the user, the config and the enablement; the service is gone.
	r.dpkg("--remove", "vakt")
	for _, gone := range []string{BinPath, UnitPath} {
		if r.exists(gone) {
			t.Errorf("removal left %s", gone)
		}
	}
	for _, kept := range []string{DataDir + "/vakt.db", ConfigPath, wants} {
		if !r.exists(kept) {
			t.Errorf("removal took %s", kept)
		}
	}
	if r.entry("passwd", "vakt") == nil {
		t.Error("removal took the vakt user (its files stay)")
	}
	// A reinstall carries on: the same user, the edited config, the store, enabled.
	r.dpkg("-i", deb)
	if r.id("passwd", "vakt", 2) != uid {
		t.Error("a reinstall made another vakt user")
	}
	if got, _ := os.ReadFile(r.at(ConfigPath)); string(got) != edited {
		t.Error("a reinstall replaced the edited conffile")
	}
	// The link is absolute, as in the root: read, not followed on the host.
	if target, err := os.Readlink(r.at(wants)); err != nil || target != UnitPath || !r.exists(UnitPath) || !r.exists(DataDir+"/vakt.db") {
		t.Errorf("after a reinstall: unit not enabled (%q, %v) or store lost", target, err)
	}
	r.dpkg("--remove", "vakt")

	// Purge removes them.
	r.dpkg("--purge", "vakt")
	for _, gone := range []string{DataDir, ConfigPath, wants} {
		if r.exists(gone) {
			t.Errorf("purge left %s", gone)
		}
	}
	if r.entry("passwd", "vakt") != nil || r.entry("group", "vakt") != nil {
		t.Error("purge left the vakt user or group")
	}
	if r.entry("group", "gpio") == nil || r.entry("group", "dialout") == nil {
		t.Error("purge took the device groups others use")
	}

	if p, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(p, hostPasswd) {
		t.Error("the host's /etc/passwd changed")
	}
	if g, _ := os.ReadFile("/etc/group"); !bytes.Equal(g, hostGroup) {
		t.Error("the host's /etc/group changed")
	}
}

// runAsUnit starts the installed vakt as the unit would: its ExecStart with the paths in
// the root, as vakt with the unit's supplementary groups, NOTIFY_SOCKET and WATCHDOG_USEC
// set. It checks READY=1, two watchdog pings, and STOPPING=1 and a clean exit on SIGTERM.
func runAsUnit(t *testing.T, r *dpkgRoot, unit string, uid, gid uint32) {
	t.Helper()
	var argv []string
	for _, l := range strings.Split(unit, "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
			argv = strings.Fields(rest)
		}
	}
	if len(argv) == 0 {
		t.Fatal("the unit has no ExecStart")
	}
	for i, a := range argv {
		if strings.HasPrefix(a, "/") {
			argv[i] = r.at(a)
		}
	}
	groups := []uint32{}
	for _, g := range []string{"gpio", "i2c", "dialout"} {
		groups = append(groups, r.id("group", g, 2))
	}
	sock := sdnotifytest.Listen(t, fmt.Sprintf("@vakt-package-test-%d", os.Getpid()))
	var log hubtest.Buffer
	vakt := exec.Command(argv[0], argv[1:]...)
	vakt.Env = []string{"PATH=/usr/bin:/bin", "NOTIFY_SOCKET=" + sock.Name, "WATCHDOG_USEC=200000"}
	vakt.Stdout, vakt.Stderr = &log, &log
	vakt.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	if err := vakt.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- vakt.Wait() }()
	t.Cleanup(func() {
		vakt.Process.Kill()
		<-exited
	})

	if got, want := sock.Next(), "READY=1\nSTATUS=running: Home, 1 areas, 0 devices, 0 users, 0 events restored"; got != want {
		t.Fatalf("first message %q, want %q\n%s", got, want, log.String())
	}
	sock.Until(func(m string) bool { return m == "WATCHDOG=1" })
	sock.Until(func(m string) bool { return m == "WATCHDOG=1" })
	if err := vakt.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	got := sock.Until(func(m string) bool { return m != "WATCHDOG=1" })
	if m := got[len(got)-1]; !strings.HasPrefix(m, "STOPPING=1\n") {
		t.Fatalf("on SIGTERM %q, want STOPPING=1", m)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("vakt exited: %v\n%s", err, log.String())
		}
	case <-time.After(hubtest.Patience):
		t.Fatalf("vakt did not stop on SIGTERM\n%s", log.String())
	}
	if !strings.Contains(log.String(), "systemd watchdog: fed while the hub loop answers") {
		t.Errorf("log:\n%s", log.String())
	}
}

// checkOwner checks a file's owner, group and mode.
func checkOwner(t *testing.T, path string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode() != mode {
		t.Errorf("%s: %d:%d %v, want %d:%d %v", path, st.Uid, st.Gid, fi.Mode(), uid, gid, mode)
	}
}
