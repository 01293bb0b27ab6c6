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

// mosquitto is Debian's mosquitto on a loopback port, without persistence: a restart
// loses every retained message, as a broker's crash or upgrade may.
type mosquitto struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
}

// startMosquitto runs mosquitto on a free loopback port until the test ends.
func startMosquitto(t *testing.T) *mosquitto {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mosquitto{t: t, addr: ln.Addr().String(), dir: t.TempDir()}
	ln.Close()
	_, port, _ := net.SplitHostPort(m.addr)
	conf := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nlog_dest file %s/mosquitto.log\n", port, m.dir)
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n"
	}
	if err := os.WriteFile(filepath.Join(m.dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(m.dir, "mosquitto.log")); err == nil {
				t.Logf("mosquitto log:\n%s", log)
			}
		}
	})
	return m
}

func (m *mosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(mosquittoPath, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("mosquitto (Debian package mosquitto): %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", m.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not listening on %s: %v", m.addr, err)
		}
	}
}

func (m *mosquitto) stop() {
	if m.cmd != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}

// TestBridge_Mosquitto: against an external mosquitto, as with mqtt.url, the configs
// validate, a command with a code arms, and a clean stop says offline.
func TestBridge_Mosquitto(t *testing.T) {
	r := newRigAt(t, DefaultConfig(), startMosquitto(t).addr)
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

// TestBridge_BrokerRestart: the external broker restarts and loses every retained
// message; vakt reconnects by itself and announces everything again.
func TestBridge_BrokerRestart(t *testing.T) {
	m := startMosquitto(t)
	r := newRigAt(t, DefaultConfig(), m.addr)
	topic := "homeassistant/alarm_control_panel/vakt/area_1/config"
	hubtest.Eventually(t, "area 1 announced", func() bool { _, ok := r.ha.retained(topic); return ok })
	m.stop()
	r.ha.forget()
	m.start()
	hubtest.Eventually(t, "area 1 announced again", func() bool { _, ok := r.ha.retained(topic); return ok })
	r.waitRetained("vakt/status", online)
	r.waitRetained("vakt/area/1", "disarmed")
}
