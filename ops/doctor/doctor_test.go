package doctor_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"vakt/devices/broker"
	"vakt/devices/gpio"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ops/doctor"
	"vakt/uplink"
	"vakt/uplink/dc09"
	"vakt/uplink/station"
)

const account = "1234"

var now = time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)

// synced is a kernel clock that NTP disciplines well.
func synced() (doctor.ClockState, error) {
	return doctor.ClockState{Synced: true, MaxError: 12 * time.Millisecond, EstError: 400 * time.Microsecond, Offset: 80 * time.Microsecond, Source: "adjtimex"}, nil
}

// cert makes a certificate valid from notBefore to notAfter; ca makes it a CA.
func cert(t *testing.T, cn string, notBefore, notAfter time.Time, ca bool) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: ca, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// newStore makes a store in dir as a first start leaves it: the demo installation, and
// no events. Close it.
func newStore(t *testing.T, dir string) *hub.Store {
	t.Helper()
	s, err := hub.OpenStore(filepath.Join(dir, "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.New(s, hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef")), hub.Options{}); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

// receiver starts a DC-09 receiver on loopback that knows account with key, and records
// the sequence numbers of the NULL polls it acknowledges.
func receiver(t *testing.T, key []byte) (addr string, polls func() []int) {
	t.Helper()
	var mu sync.Mutex
	var seqs []int
	r := &dc09.Receiver{Keys: map[string][]byte{account: key}, Handle: func(m dc09.Message, _ net.Addr) {
		if m.ID == dc09.IDNull {
			mu.Lock()
			seqs = append(seqs, m.Seq)
			mu.Unlock()
		}
	}}
	hubtest.Run(t, "dc09 receiver", func(ctx context.Context) error { return r.ListenAndServe(ctx, "127.0.0.1:0") })
	hubtest.Eventually(t, "the receiver listening", func() bool { return r.Addr() != nil })
	return r.Addr().String(), func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), seqs...)
	}
}

// line returns the report's line about what, failing the test if there is none.
func line(t *testing.T, r doctor.Report, what string) doctor.Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.What, what) {
			return c
		}
	}
	t.Fatalf("no line about %q in:\n%s", what, report(r))
	return doctor.Check{}
}

func report(r doctor.Report) string {
	var b strings.Builder
	r.WriteTo(&b)
	return b.String()
}

func expect(t *testing.T, r doctor.Report, what string, st doctor.Status, detail string) {
	t.Helper()
	c := line(t, r, what)
	if c.Status != st || !strings.Contains(c.String(), detail) {
		t.Errorf("%s: got %q, want %s containing %q", what, c.String(), st, detail)
	}
	if c.Status != doctor.OK && c.Fix == "" {
		t.Errorf("%s: %s says nothing about what to do", what, c.Status)
	}
}

// TestDoctor_StoppedVakt checks a box whose vakt is stopped: the store is read for its
// cursors and certificates, each station path gets one NULL poll, the embedded broker is
// said to be down because vakt is, a port another program holds fails, and an expired
// certificate fails.
func TestDoctor_StoppedVakt(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	if err := s.SetCursor(uplink.CursorName("arc"), 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDriverData("web", "ca_cert", cert(t, "vakt local CA Home", now.Add(-time.Hour), now.Add(3650*24*time.Hour), true)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDriverData("web", "server_cert", cert(t, "vakt.local", now.Add(-800*24*time.Hour), now.Add(-3*24*time.Hour), false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "mqtt-credentials"), []byte("url: mqtt://127.0.0.1:1\nusername: vakt\npassword: x\n"), 0o600)

	key := make([]byte, 16)
	rand.Read(key)
	primary, polls := receiver(t, key)
	// The backup path's receiver is gone: its port is closed.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backup := gone.Addr().String()
	gone.Close()
	// A station that does not know our key answers DUH.
	other, _ := receiver(t, []byte("0123456789abcdef"))
	ucfg := uplink.Config{Receivers: []uplink.ReceiverConfig{
		{Name: "arc", Account: account, Primary: uplink.PathConfig{Addr: primary, Key: hex.EncodeToString(key)}, Backup: &uplink.PathConfig{Addr: backup, Key: hex.EncodeToString(key)}},
		{Name: "other", Account: account, Primary: uplink.PathConfig{Addr: other, Key: hex.EncodeToString(key)}},
	}}
	if err := ucfg.Validate(os.Getenv); err != nil {
		t.Fatal(err)
	}
	// Another program holds HomeKit's port.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// An eMMC near the end of its life.
	sys := t.TempDir()
	mmc := filepath.Join(sys, "block", "mmcblk0", "device")
	os.MkdirAll(mmc, 0o755)
	os.WriteFile(filepath.Join(mmc, "life_time"), []byte("0x0a 0x03\n"), 0o644)
	os.WriteFile(filepath.Join(mmc, "pre_eol_info"), []byte("0x02\n"), 0o644)
	os.MkdirAll(filepath.Join(sys, "block", "mmcblk0boot0", "device"), 0o755)
	// An installer's certificate that has ended.
	webCert := filepath.Join(dir, "web.pem")
	os.WriteFile(webCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert(t, "alarm.home", now.Add(-400*24*time.Hour), now.Add(-10*24*time.Hour), false)}), 0o644)

	cfg := doctor.Config{DataDir: dir, MinFreeMB: 1, Uplink: ucfg, HomeKit: &doctor.HomeKit{Listen: held.Addr().String()},
		MQTT:    doctor.MQTT{Listen: "127.0.0.1:1", Embedded: &mqttclient.Config{URL: "tcp://127.0.0.1:1", Username: "vakt", Password: "x"}},
		SysRoot: sys, WebCert: webCert, Clock: synced, Timeout: 2 * time.Second, Now: func() time.Time { return now },
		GPIO: gpio.Config{Zones: []gpio.ZoneConfig{{Device: "back_door", Pin: "GPIO17"}}, Siren: gpio.OutputConfig{Pin: "GPIO27"}}}
	r, err := doctor.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report(r))
	expect(t, r, "clock", doctor.OK, "synchronised (off by 80µs, estimated error 400µs, at most 12ms)")
	expect(t, r, "disk "+dir, doctor.OK, "free of")
	expect(t, r, "SD card wear mmcblk0", doctor.Warn, "life used: 90–100%, reserved blocks: 80% used")
	expect(t, r, "embedded MQTT broker", doctor.Warn, "not running, because vakt is stopped")
	expect(t, r, "station arc/primary", doctor.OK, "NULL poll acknowledged in")
	expect(t, r, "station arc/backup", doctor.Fail, "no acknowledgement")
	expect(t, r, "station other/primary", doctor.Fail, "refused the NULL poll (DUH)")
	expect(t, r, "web certificate "+webCert, doctor.Fail, "alarm.home: expired on")
	expect(t, r, "HomeKit port", doctor.Fail, "taken while vakt is stopped")
	expect(t, r, "store", doctor.OK, "sound, 0 events")
	if got := polls(); len(got) != 1 || got[0] != uplink.PollSeq(42) {
		t.Errorf("NULL polls with sequence numbers %v, want one with %d (the cursor's)", got, uplink.PollSeq(42))
	}
	for _, c := range r.Checks {
		if strings.Contains(c.What, "boot0") {
			t.Errorf("an eMMC boot partition has a line of its own: %s", c)
		}
	}
	if ok, _ := gpio.HostInit(); !ok {
		expect(t, r, "GPIO", doctor.Fail, "no GPIO chip on this host, but the config names 2 pins")
	}
	if !r.Failed() {
		t.Error("report with FAIL lines says it did not fail")
	}
	for _, l := range strings.Split(strings.TrimSpace(report(r)), "\n") {
		if !strings.HasPrefix(l, "ok    ") && !strings.HasPrefix(l, "WARN  ") && !strings.HasPrefix(l, "FAIL  ") {
			t.Errorf("line %q does not start with its status", l)
		}
	}

	// The local certificates, read from the store, without an installer's.
	cfg.WebCert = ""
	r, err = doctor.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "web local CA", doctor.OK, "vakt local CA Home: 3650 days left")
	expect(t, r, "web server certificate", doctor.Warn, "vakt.local: expired on")
}

// TestDoctor_RunningVakt checks a box whose vakt runs: it holds the store, its embedded
// broker takes vakt's account and the configured ones (one with a wrong password), and
// the HomeKit port in use is its own.
func TestDoctor_RunningVakt(t *testing.T) {
	dir := t.TempDir()
	hubtest.StartHub(t, filepath.Join(dir, "vakt.db"), hub.DemoInstallation([]byte("0123456789abcdef0123456789abcdef")), hub.Options{})
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"}, []broker.Account{
		{Username: "vakt", Password: "vakt-pass-12", Role: broker.RoleVakt},
		{Username: "z2m", Password: "zigbee-pass-1", Role: broker.RoleZigbee2MQTT}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)
	held, err := net.Listen("tcp", "127.0.0.1:0") // the running vakt's bridge
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	url := "tcp://" + b.Addr()
	cfg := doctor.Config{DataDir: dir, MinFreeMB: 1, Clock: synced, SysRoot: t.TempDir(), HomeKit: &doctor.HomeKit{Listen: held.Addr().String()},
		Uplink: uplink.Config{Receivers: []uplink.ReceiverConfig{{Name: "arc", Account: account, Primary: uplink.PathConfig{Addr: "127.0.0.1:1"}}}},
		MQTT: doctor.MQTT{Listen: b.Addr(), Embedded: &mqttclient.Config{URL: url, Username: "vakt", Password: "vakt-pass-12"},
			Accounts: []broker.Account{{Username: "z2m", Password: "zigbee-pass-1"}, {Username: "rtl", Password: "wrong-password"}}}}
	r, err := doctor.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report(r))
	var logins []string
	for _, c := range r.Checks {
		if strings.HasPrefix(c.What, "embedded MQTT broker") {
			logins = append(logins, c.String())
		}
	}
	want := []string{"ok    embedded MQTT broker " + b.Addr() + ": account vakt logs in",
		"ok    embedded MQTT broker " + b.Addr() + ": account z2m logs in",
		"FAIL  embedded MQTT broker " + b.Addr() + ": account rtl refused"}
	if len(logins) != len(want) {
		t.Fatalf("broker lines %q, want %d", logins, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(logins[i], want[i]) {
			t.Errorf("broker line %q, want %q…", logins[i], want[i])
		}
	}
	expect(t, r, "HomeKit port", doctor.OK, "in use, by the running vakt's bridge")
	expect(t, r, "store", doctor.OK, "in use by the running vakt")
	expect(t, r, "station arc", doctor.OK, "not polled from here while vakt runs")
	expect(t, r, "web certificates", doctor.OK, "the store the running vakt holds")
	expect(t, r, "SD card wear", doctor.OK, "not shown by this kernel")
	expect(t, r, "GPIO and I²C", doctor.OK, "none named in the config")
}

// TestDoctor_AllWell is a box with nothing to fix: the report has no FAIL.
func TestDoctor_AllWell(t *testing.T) {
	dir := t.TempDir()
	if err := newStore(t, dir).Close(); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 16)
	rand.Read(key)
	st := station.New(io.Discard, key)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := st.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Unplug("primary"); st.Unplug("backup") }()
	r, err := doctor.Run(ctx, doctor.Config{DataDir: dir, MinFreeMB: 1, Clock: synced, SysRoot: t.TempDir(), Timeout: 2 * time.Second,
		Uplink: uplink.Config{Receivers: []uplink.ReceiverConfig{rc}}, MQTT: doctor.MQTT{Listen: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report(r))
	if r.Failed() {
		t.Errorf("a sound box fails:\n%s", report(r))
	}
	expect(t, r, "station demo-station/primary", doctor.OK, "NULL poll acknowledged")
	expect(t, r, "station demo-station/backup (udp", doctor.OK, "NULL poll acknowledged")
}

func TestDoctor_Clock(t *testing.T) {
	for _, tc := range []struct {
		name   string
		state  doctor.ClockState
		err    error
		status doctor.Status
		detail string
	}{
		{"synchronised", doctor.ClockState{Synced: true, MaxError: 5 * time.Millisecond, Source: "adjtimex"}, nil, doctor.OK, "synchronised (off by 0s"},
		{"loose", doctor.ClockState{Synced: true, MaxError: 3 * time.Second, Source: "adjtimex"}, nil, doctor.Warn, "at most 3s"},
		{"unsynchronised", doctor.ClockState{MaxError: 16 * time.Second, Source: "adjtimex"}, nil, doctor.Fail, "not synchronised (the kernel flags it unsynchronised; maximum error 16s)"},
		{"timedatectl says no", doctor.ClockState{Source: "timedatectl"}, nil, doctor.Fail, "not synchronised"},
		{"unknown", doctor.ClockState{}, errors.New("adjtimex: operation not permitted"), doctor.Warn, "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := doctor.Run(context.Background(), doctor.Config{DataDir: t.TempDir(), SysRoot: t.TempDir(),
				Clock: func() (doctor.ClockState, error) { return tc.state, tc.err }})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, r, "clock", tc.status, tc.detail)
		})
	}
}

// TestDoctor_KernelClock reads this machine's real clock discipline: whatever it says, it
// is one line that names the clock.
func TestDoctor_KernelClock(t *testing.T) {
	r, err := doctor.Run(context.Background(), doctor.Config{DataDir: t.TempDir(), SysRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := line(t, r, "clock")
	if !strings.Contains(c.Detail, "synchronised") && !strings.Contains(c.Detail, "cannot tell") {
		t.Errorf("clock line %q", c)
	}
}

// TestDoctor_DamagedStore reports a damaged store as a failure, with the salvage to run.
func TestDoctor_DamagedStore(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vakt.db"), []byte("this is not a bbolt file, only a few bytes"), 0o600)
	r, err := doctor.Run(context.Background(), doctor.Config{DataDir: dir, Clock: synced, SysRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "store", doctor.Fail, "damaged")
	expect(t, r, "web certificates", doctor.Warn, "the store cannot be opened")
	if c := line(t, r, "store"); !strings.Contains(c.Fix, "vakt store salvage") {
		t.Errorf("store line %q does not name the salvage", c)
	}
	expect(t, r, "disk", doctor.OK, "free of")
}

func TestDoctor_NoDataDir(t *testing.T) {
	if _, err := doctor.Run(context.Background(), doctor.Config{}); err == nil {
		t.Fatal("no error without a data directory")
	}
	r, err := doctor.Run(context.Background(), doctor.Config{DataDir: filepath.Join(t.TempDir(), "nowhere"), Clock: synced, SysRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "disk", doctor.Fail, "no such file or directory")
	expect(t, r, "store", doctor.Warn, "none yet")
	expect(t, r, "embedded MQTT broker", doctor.Warn, "vakt has not run here yet")
}

// TestDoctor_StationSaysTheClockIsOff: a receiver whose clock is two minutes ahead refuses
// the poll's time (NAK); the poll is sent again with its time and acknowledged, and the
// clock's line says how far off vakt's clock is, whatever the kernel believes.
func TestDoctor_StationSaysTheClockIsOff(t *testing.T) {
	key := make([]byte, 16)
	rand.Read(key)
	r := &dc09.Receiver{Keys: map[string][]byte{account: key}, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }}
	hubtest.Run(t, "dc09 receiver", func(ctx context.Context) error { return r.ListenAndServe(ctx, "127.0.0.1:0") })
	hubtest.Eventually(t, "the receiver listening", func() bool { return r.Addr() != nil })
	dir := t.TempDir()
	if err := newStore(t, dir).Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := doctor.Run(context.Background(), doctor.Config{DataDir: dir, Clock: synced, SysRoot: t.TempDir(), Timeout: 2 * time.Second,
		Uplink: uplink.Config{Receivers: []uplink.ReceiverConfig{{Name: "arc", Account: account, Primary: uplink.PathConfig{Addr: r.Addr().String(), Key: hex.EncodeToString(key)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report(rep))
	// Receivers stamp whole seconds: the offset is two minutes, give or take one.
	expect(t, rep, "clock", doctor.Fail, "station receiver arc/primary says it is ")
	if c := line(t, rep, "clock"); !strings.HasSuffix(c.Detail, "s behind") || !strings.Contains(c.Detail, " 1m59s ") && !strings.Contains(c.Detail, " 2m0s ") && !strings.Contains(c.Detail, " 2m1s ") {
		t.Errorf("clock line %q, want about 2m0s behind", c)
	}
	expect(t, rep, "station arc/primary", doctor.Warn, "s ahead")
}

// TestDoctor_PinsAndBus finds the pins and the I²C bus the config names in periph's
// registry (here, fakes registered as a board's drivers register theirs), and names the
// ones that are not there with the field that names them.
func TestDoctor_PinsAndBus(t *testing.T) {
	for _, n := range []string{"FAKE_GPIO17", "FAKE_GPIO27"} {
		if err := gpioreg.Register(&gpiotest.Pin{N: n, Num: -1}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gpioreg.Unregister(n) })
	}
	if err := i2creg.Register("FAKE_I2C", nil, -1, func() (i2c.BusCloser, error) { return &i2ctest.Playback{DontPanic: true}, nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { i2creg.Unregister("FAKE_I2C") })
	run := func(g gpio.Config) doctor.Report {
		r, err := doctor.Run(context.Background(), doctor.Config{DataDir: t.TempDir(), Clock: synced, SysRoot: t.TempDir(), GPIO: g})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run(gpio.Config{Zones: []gpio.ZoneConfig{{Device: "back_door", Pin: "FAKE_GPIO17"}}, Siren: gpio.OutputConfig{Pin: "FAKE_GPIO27"},
		Gauge: gpio.GaugeConfig{Bus: "FAKE_I2C", Addr: 0x36}})
	expect(t, r, "GPIO", doctor.OK, "present: FAKE_GPIO17, FAKE_GPIO27")
	expect(t, r, "I²C bus FAKE_I2C", doctor.OK, "present (battery gauge at 0x36)")
	r = run(gpio.Config{Zones: []gpio.ZoneConfig{{Device: "back_door", Pin: "FAKE_GPIO17", TamperPin: "FAKE_GPIO5"}}, Siren: gpio.OutputConfig{Pin: "FAKE_GPIO99"},
		Gauge: gpio.GaugeConfig{Bus: "FAKE_I2C_9"}})
	expect(t, r, "GPIO", doctor.Fail, "not on this host: FAKE_GPIO5 (gpio.zones[0].tamper_pin), FAKE_GPIO99 (gpio.siren.pin)")
	expect(t, r, "I²C bus FAKE_I2C_9", doctor.Fail, "not found")
}

// TestDoctor_DiskAndWear: free space against gpio.disk.min_free_mb, and the wear counters
// of every kind a kernel shows.
func TestDoctor_DiskAndWear(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	freeMB := int(st.Bavail * uint64(st.Bsize) >> 20)
	sys := t.TempDir()
	card := func(name, life, eol string) {
		d := filepath.Join(sys, "block", name, "device")
		os.MkdirAll(d, 0o755)
		if life != "" {
			os.WriteFile(filepath.Join(d, "life_time"), []byte(life), 0o644)
		}
		if eol != "" {
			os.WriteFile(filepath.Join(d, "pre_eol_info"), []byte(eol), 0o644)
		}
	}
	card("mmcblk0", "0x01 0x02\n", "0x01\n")
	card("mmcblk1", "0x0b 0x01\n", "")
	card("mmcblk2", "", "0x03\n")
	card("mmcblk3", "", "")
	card("mmcblk4", "0x00 0x00\n", "0x00\n")
	for _, tc := range []struct {
		name   string
		minMB  int
		status doctor.Status
	}{{"plenty", 1, doctor.OK}, {"near the minimum", freeMB * 3 / 4, doctor.Warn}, {"below the minimum", freeMB * 2, doctor.Fail}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := doctor.Run(context.Background(), doctor.Config{DataDir: dir, MinFreeMB: tc.minMB, Clock: synced, SysRoot: sys})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, r, "disk "+dir, tc.status, "free of")
			expect(t, r, "SD card wear mmcblk0", doctor.OK, "life used: 10–20%, reserved blocks: normal")
			expect(t, r, "SD card wear mmcblk1", doctor.Fail, "beyond its estimated life")
			expect(t, r, "SD card wear mmcblk2", doctor.Fail, "reserved blocks: urgent")
			expect(t, r, "SD card wear mmcblk3", doctor.OK, "not shown by this card")
			expect(t, r, "SD card wear mmcblk4", doctor.OK, "life used: not estimated, reserved blocks: not estimated")
		})
	}
}

// TestDoctor_ExternalBroker logs in to an external broker (mqtt.url) with vakt's account,
// whether vakt runs or not, and names the settings to check when it is refused.
func TestDoctor_ExternalBroker(t *testing.T) {
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"}, []broker.Account{{Username: "vakt", Password: "vakt-pass-12", Role: broker.RoleVakt}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hubtest.Run(t, "broker", b.Run)
	for _, tc := range []struct {
		name, url, password string
		status              doctor.Status
		detail, fix         string
	}{
		{"logs in", "mqtt://" + b.Addr(), "vakt-pass-12", doctor.OK, "account vakt logs in", ""},
		{"wrong password", "tcp://" + b.Addr(), "nope-nope-nope", doctor.Fail, "account vakt refused", "check mqtt.username and mqtt.password"},
		{"nobody there", "tcp://127.0.0.1:1", "vakt-pass-12", doctor.Fail, "account vakt refused", "check that the broker runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := doctor.Run(context.Background(), doctor.Config{DataDir: t.TempDir(), Clock: synced, SysRoot: t.TempDir(), Timeout: 2 * time.Second,
				MQTT: doctor.MQTT{External: &mqttclient.Config{URL: tc.url, Username: "vakt", Password: tc.password}}})
			if err != nil {
				t.Fatal(err)
			}
			expect(t, r, "MQTT broker "+tc.url, tc.status, tc.detail)
			if c := line(t, r, "MQTT broker "); !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("fix %q, want %q", c.Fix, tc.fix)
			}
		})
	}
}
