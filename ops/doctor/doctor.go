// Package doctor checks the box vakt runs on and says what to fix, one line a check:
//
//	ok    clock: synchronised (estimated error 0.4 ms, at most 12 ms)
//	WARN  SD card wear: 80–90% of its life used (mmcblk0, type B) — plan a new card; back up first
//	FAIL  station arc/backup: no answer to a NULL poll: … — check the modem's interface and the receiver address
//
// It reads, never writes: the store is opened read-only (or not at all while vakt runs
// and holds it), the station gets one NULL poll per path, the broker one connection per
// account. A check that cannot run here says why instead of failing silently.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"vakt/devices/broker"
	"vakt/devices/gpio"
	"vakt/devices/mqttclient"
	"vakt/hub"
	"vakt/uplink"
)

// Status is how a check came out.
type Status uint8

// Statuses: ok needs nothing; WARN should be looked at; FAIL is a problem, and makes
// vakt doctor exit non-zero.
const (
	OK Status = iota
	Warn
	Fail
)

// String is the status as the report's lines begin: ok, WARN or FAIL.
func (s Status) String() string {
	switch s {
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	}
	return "ok"
}

// Check is one line of the report: what was checked, what was found and what to do.
type Check struct {
	Status Status
	What   string
	Detail string
	// Fix says what to do; empty when there is nothing to do.
	Fix string
}

// String is the check's line: "ok|WARN|FAIL  <what>: <detail> — <what to do>".
func (c Check) String() string {
	s := fmt.Sprintf("%-4s  %s: %s", c.Status, c.What, c.Detail)
	if c.Fix != "" {
		s += " — " + c.Fix
	}
	return s
}

// Config is what the doctor checks against: the machine settings vakt runs with.
type Config struct {
	// DataDir is vakt's data directory and StoreFile the store's name in it (vakt.db).
	DataDir   string
	StoreFile string
	// MinFreeMB is the free space below which the disk is a fault (gpio.disk.min_free_mb).
	MinFreeMB int
	// GPIO is the wired I/O the config names: its pins and the battery gauge's I²C bus.
	GPIO gpio.Config
	// MQTT is the sensor bus: an external broker (URL set) or the embedded one.
	MQTT MQTT
	// Uplink is the monitoring station's receivers and paths.
	Uplink uplink.Config
	// WebCert is an installer's own certificate file for the web UI (web.cert); empty
	// means vakt's local CA, whose certificates live in the store.
	WebCert string
	// WebHTTPS is the web UI's HTTPS listener (web.https_listen); while vakt runs, the
	// certificates it serves there are checked.
	WebHTTPS string
	// HomeKit is the HomeKit bridge's listen address; nil means no bridge is configured.
	HomeKit *HomeKit

	// SysRoot is where sysfs is mounted ("/sys"); tests pass a directory of their own.
	SysRoot string
	// Clock reads the kernel's clock discipline; nil means adjtimex(2).
	Clock func() (ClockState, error)
	// Timeout bounds each network check (a NULL poll, a broker login); 0 means 5s.
	Timeout time.Duration
	// Now is the clock certificates are measured against; nil means time.Now.
	Now func() time.Time
}

// MQTT is the sensor bus as the doctor sees it.
type MQTT struct {
	// External is the external broker (mqtt.url), with vakt's account on it; nil means the
	// embedded broker.
	External *mqttclient.Config
	// Embedded is vakt's own account on the embedded broker, from the data directory's
	// credentials file; nil when the file is not there (vakt never ran).
	Embedded *mqttclient.Config
	// Listen is where the embedded broker listens (mqtt.broker.listen).
	Listen string
	// Accounts are the embedded broker's configured accounts, passwords resolved.
	Accounts []broker.Account
}

// HomeKit is the HomeKit bridge's settings the doctor checks.
type HomeKit struct {
	// Listen is the bridge's address; empty means any free port.
	Listen string
}

// Report is every check, in order.
type Report struct {
	Checks []Check
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// WriteTo prints one line a check.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, c := range r.Checks {
		m, err := fmt.Fprintln(w, c.String())
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// DefaultTimeout bounds each network check when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Run checks the box against cfg. It returns the report even when checks fail; the error
// is only for a config it cannot work with.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.DataDir == "" {
		return Report{}, errors.New("doctor: no data directory")
	}
	if cfg.StoreFile == "" {
		cfg.StoreFile = "vakt.db"
	}
	if cfg.SysRoot == "" {
		cfg.SysRoot = "/sys"
	}
	if cfg.Clock == nil {
		cfg.Clock = kernelClock
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &doctor{cfg: cfg, storePath: filepath.Join(cfg.DataDir, cfg.StoreFile)}
	d.readStore()
	var r Report
	add := func(cs ...Check) { r.Checks = append(r.Checks, cs...) }
	add(d.clock())
	add(d.disk()...)
	add(d.hardware()...)
	add(d.broker(ctx)...)
	add(d.station(ctx)...)
	if d.stationClock != 0 {
		// The station says how far off the clock is: that belongs on the clock's line.
		r.Checks[0] = d.offByStation(r.Checks[0])
	}
	add(d.certificates()...)
	add(d.homekit()...)
	add(d.storeCheck())
	return r, nil
}

// doctor is one run: the settings and what it learnt of the store.
type doctor struct {
	cfg       Config
	storePath string
	// running says a running vakt holds the store; read says the store was read (vakt
	// stopped), and storeErr why it could not be otherwise.
	running  bool
	read     bool
	storeErr error
	// What was read of the store: the receivers' cursors, and the web UI's local CA and
	// server certificate (DER, or errors reading them).
	cursors        map[string]uint64
	caCert, server []byte
	certErr        error
	// stationClock is how far a station receiver's clock is from ours, when one refused
	// a poll's time (NAK) and said its own; stationName says which.
	stationClock time.Duration
	stationName  string
}

// readStore reads what the checks need of the store, read-only, and closes it at once, so
// that a vakt starting meanwhile never waits for the doctor's network checks; or it learns
// that a running vakt holds the store.
func (d *doctor) readStore() {
	s, err := hub.OpenStoreReadOnly(d.storePath)
	switch {
	case errors.Is(err, hub.ErrStoreLocked):
		d.running = true
		return
	case err != nil:
		d.storeErr = err
		return
	}
	defer s.Close()
	d.read = true
	d.cursors, _ = s.Cursors()
	var err1, err2 error
	d.caCert, err1 = s.DriverData("web", "ca_cert")
	d.server, err2 = s.DriverData("web", "server_cert")
	d.certErr = errors.Join(err1, err2)
}
