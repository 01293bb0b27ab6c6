package homekit

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brutella/dnssd"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestCheckInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ifaces []string
		addr   string
		err    string
	}{
		{"every interface", nil, "10.1.2.3:0", ""},
		{"loopback, its address", []string{"lo"}, "127.0.0.1:51826", ""},
		{"loopback, any address", []string{"lo"}, ":51826", ""},
		{"loopback, unspecified", []string{"lo"}, "0.0.0.0:0", ""},
		{"no such interface", []string{"lo", "nope0"}, ":0", "homekit.interfaces: nope0"},
		{"listen elsewhere", []string{"lo"}, "192.0.2.7:0", "homekit.listen: 192.0.2.7 is on none of homekit.interfaces [lo]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkInterfaces(tc.ifaces, tc.addr)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("checkInterfaces(%v, %s) = %v, want %q", tc.ifaces, tc.addr, err, tc.err)
			}
		})
	}
}

// TestBridge_BadInterfaceStopsIt: a bridge told to announce on an interface the machine
// does not have says so and does not start, rather than announcing nowhere.
func TestBridge_BadInterfaceStopsIt(t *testing.T) {
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), hub.DemoInstallation(make([]byte, 32)), hub.Options{})
	b := New(Config{Listen: "127.0.0.1:0", Interfaces: []string{"nope0"}}, h, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := b.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "homekit.interfaces: nope0") {
		t.Fatalf("Run: %v, want an error naming homekit.interfaces and nope0", err)
	}
}

// inNetns runs the calling test again inside a private network namespace made by netnsSetup
// (unshare -n, as root) and returns false; there, it returns true and the test goes on.
// Without root, unshare or ip the test skips, naming what is missing (in CI it fails).
func inNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv("VAKT_TEST_NETNS") != "" {
		return true
	}
	missing := ""
	if _, err := exec.LookPath("unshare"); err != nil {
		missing = "unshare (util-linux) is not installed"
	} else if _, err := exec.LookPath("ip"); err != nil {
		missing = "ip (iproute2) is not installed"
	} else if os.Geteuid() != 0 {
		missing = "a private network namespace needs root"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(missing)
		}
		t.Skip(missing)
	}
	cmd := exec.CommandContext(t.Context(), "unshare", "-n", "sh", "-c", netnsSetup+`exec "$0" -test.run "^$1$" -test.count=1 -test.v`, os.Args[0], t.Name())
	cmd.Env = append(os.Environ(), "VAKT_TEST_NETNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a network namespace: %v\n%s", err, out)
	}
	t.Logf("in a network namespace:\n%s", out)
	return false
}

// netnsSetup makes, in a private network namespace, two links of veth pairs: v0 (10.9.1.1)
// to v1 (10.9.1.2), the home network, and w0 (10.9.2.1) to w1 (10.9.2.2), another network.
const netnsSetup = `set -e
ip link set lo up
ip link add v0 type veth peer name v1
ip link add w0 type veth peer name w1
for l in v0 v1 w0 w1; do ip link set $l multicast on up; done
ip addr add 10.9.1.1/24 dev v0; ip addr add 10.9.1.2/24 dev v1
ip addr add 10.9.2.1/24 dev w0; ip addr add 10.9.2.2/24 dev w1
ip route add 224.0.0.0/4 dev v0 || true
`

// TestBridge_MDNSOnlyOnInterfaces: with homekit.interfaces [v0] the bridge is announced on
// the home network and never on the other one. It runs itself again inside a private
// network namespace (unshare -n, as root), so no mDNS reaches the real network. A second
// service, announced on every interface by the test, shows that the other network carries
// mDNS: once it has been heard there, the bridge would have been too.
func TestBridge_MDNSOnlyOnInterfaces(t *testing.T) {
	if !inNetns(t) {
		return
	}
	r := newRig(t, Config{Listen: "10.9.1.1:0", Interfaces: []string{"v0"}})
	_, port, _ := net.SplitHostPort(r.b.Addr())
	bridgePort, _ := strconv.Atoi(port)

	resp, err := dnssd.NewResponder()
	if err != nil {
		t.Fatal(err)
	}
	control, err := dnssd.NewService(dnssd.Config{Name: "control", Type: "_hap._tcp", Domain: "local", Host: "control", Port: 9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Add(control); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go resp.Respond(ctx)

	seen := make(chan dnssd.BrowseEntry, 256)
	go dnssd.LookupType(ctx, "_hap._tcp.local.", func(e dnssd.BrowseEntry) { seen <- e }, func(dnssd.BrowseEntry) {})
	var onHome, controlElsewhere bool
	timeout := time.After(30 * time.Second)
	for !onHome || !controlElsewhere {
		select {
		case e := <-seen:
			t.Logf("%s port %d on %s %v", e.Name, e.Port, e.IfaceName, e.IPs)
			switch {
			case e.Port == bridgePort && (e.IfaceName == "w0" || e.IfaceName == "w1"):
				t.Fatalf("the bridge is announced on %s %v", e.IfaceName, e.IPs)
			case e.Port == bridgePort:
				for _, ip := range e.IPs {
					if !ip.Equal(net.ParseIP("10.9.1.1")) && !ip.IsLinkLocalUnicast() {
						t.Fatalf("the bridge is announced with address %s", ip)
					}
				}
				// Heard on either end of the home network's link (v0 is the bridge's own
				// side, v1 the other): which socket of the browser gets the multicast first
				// varies, and on a loaded machine v1 may not be heard within the wait.
				onHome = onHome || e.IfaceName == "v0" || e.IfaceName == "v1"
			case e.Port == 9 && e.IfaceName == "w1":
				controlElsewhere = true
			}
		case <-timeout:
			t.Fatalf("mDNS: bridge on the home network %v, control service on the other %v", onHome, controlElsewhere)
		}
	}
}
