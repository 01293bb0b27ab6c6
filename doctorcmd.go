package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"vakt/devices/broker"
	"vakt/devices/mqttclient"
	"vakt/ops/doctor"
)

// doctorCmd checks the box vakt runs on against its config and prints what to fix, one
// line a check:
//
//	vakt doctor [-config FILE] [-data DIR] [-demo] [-mqtt URL] [-timeout 5s]
//
// It takes vakt's own flags, so it checks what `vakt` with the same flags would run, and
// exits non-zero when a check fails. It runs beside a running vakt, and with vakt stopped.
func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("VAKT_CONFIG"), "machine settings `file`, as for vakt")
	dataDir := fs.String("data", "", "data `directory`, overriding data_dir")
	demo := fs.Bool("demo", false, "check the demo's store (demo.db)")
	mqttURL := fs.String("mqtt", "", "external MQTT broker `URL`, overriding mqtt.url")
	timeout := fs.Duration("timeout", doctor.DefaultTimeout, "bound on each network check (NULL poll, broker login)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: vakt doctor [-config FILE] [-data DIR] [-demo] [-mqtt URL] [-timeout 5s]")
	}
	cfg, err := loadConfigWith(*configPath, *dataDir, *mqttURL)
	if err != nil {
		return err
	}
	dc, err := doctorConfig(cfg, *demo)
	if err != nil {
		return err
	}
	dc.Timeout = *timeout
	r, err := doctor.Run(ctx, dc)
	if err != nil {
		return err
	}
	if _, err := r.WriteTo(stdout); err != nil {
		return err
	}
	if r.Failed() {
		n := 0
		for _, c := range r.Checks {
			if c.Status == doctor.Fail {
				n++
			}
		}
		return fmt.Errorf("doctor: %d %s to fix (the FAIL lines)", n, plural(n, "problem", "problems"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// doctorConfig is what the doctor checks for cfg: the settings, vakt's own account on the
// embedded broker from the credentials file, and the configured accounts' passwords.
func doctorConfig(cfg Config, demo bool) (doctor.Config, error) {
	dc := doctor.Config{DataDir: cfg.DataDir, StoreFile: "vakt.db", MinFreeMB: cfg.GPIO.Disk.MinFreeMB,
		GPIO: cfg.GPIO, Uplink: cfg.Uplink, WebCert: cfg.Web.Cert, WebHTTPS: cfg.Web.HTTPSListen}
	if demo {
		dc.StoreFile = "demo.db"
	}
	if cfg.HomeKit != nil {
		dc.HomeKit = &doctor.HomeKit{Listen: cfg.HomeKit.Listen}
	}
	if cfg.MQTT.URL != "" {
		ext := cfg.MQTT.Config
		dc.MQTT.External = &ext
		return dc, nil
	}
	dc.MQTT.Listen = cfg.MQTT.Broker.Listen
	if dc.MQTT.Listen == "" {
		dc.MQTT.Listen = broker.DefaultListen
	}
	creds, ok, err := readCredentials(cfg.DataDir)
	if err != nil {
		return dc, err
	}
	if ok {
		url := strings.Replace(creds.URL, "mqtt://", "tcp://", 1)
		dc.MQTT.Embedded = &mqttclient.Config{URL: url, Username: creds.Username, Password: creds.Password}
	}
	for _, a := range cfg.MQTT.Broker.Accounts {
		if a.PasswordEnv != "" {
			a.Password = os.Getenv(a.PasswordEnv)
		}
		dc.MQTT.Accounts = append(dc.MQTT.Accounts, a)
	}
	return dc, nil
}
