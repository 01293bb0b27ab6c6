package homeassistant

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

const mosquittoPath = "/usr/sbin/mosquitto" // test.sh installs Debian's mosquitto

// startMosquitto runs mosquitto on a free loopback port until the test ends and returns
// its address.
func startMosquitto(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nlog_dest file %s/mosquitto.log\n", port, dir)
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n"
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquittoPath, "-c", path)
	if err := cmd.Start(); err != nil {
		t.Fatalf("mosquitto (Debian package mosquitto): %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "mosquitto.log")); err == nil {
				t.Logf("mosquitto log:\n%s", log)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v", addr, err)
		}
	}
}

// TestBridge_Mosquitto: against an external mosquitto, as with mqtt.url, the configs
// validate, a command with a code arms, and a clean stop says offline.
func TestBridge_Mosquitto(t *testing.T) {
	r := newRigAt(t, DefaultConfig(), startMosquitto(t))
	hubtest.Eventually(t, "the lock is announced", func() bool {
		_, ok := r.ha.retained("homeassistant/lock/vakt/front_lock_lock/config")
		return ok
	})
	r.waitRetained("vakt/device/front_lock", `{"lock":null}`)
	for topic, c := range r.ha.configs("homeassistant") {
		for _, p := range checkConfig("homeassistant", topic, c) {
			t.Error(p)
		}
	}
	r.ha.publish("vakt/area/2/set", false, `{"action":"ARM_NIGHT","code":"1234"}`)
	r.waitRetained("vakt/area/2", "arming")
	if ev, ok := lastKind(r.events(), hub.KindExitDelay); !ok || ev.How != hub.HowHomeAssistant || ev.Mode != hub.ModeArmedNight {
		t.Fatalf("exit delay %+v", ev)
	}
	r.stopBridge()
	r.waitRetained("vakt/status", offline)
}
