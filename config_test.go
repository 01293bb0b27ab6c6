package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vakt/devices/broker"
	"vakt/ui/web"
)

// TestLoadConfig_Bounds: every number and duration in config.yaml has bounds, checked at
// load; the error names the field and its line.
func TestLoadConfig_Bounds(t *testing.T) {
	const receiver = "uplink:\n  receivers:\n    - name: arc\n      account: \"1234\"\n      primary:\n        addr: \"127.0.0.1:1\"\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"poll every millisecond", receiver + "        poll_interval: 1ms\n",
			"line 7: uplink.receivers[0].primary.poll_interval: 1ms, want 10s to 25h"},
		{"poll every two days", receiver + "        poll_interval: 48h\n",
			"line 7: uplink.receivers[0].primary.poll_interval: 48h0m0s"},
		{"backup timeout", receiver + "      backup:\n        addr: \"127.0.0.1:2\"\n        timeout: 5m\n",
			"line 9: uplink.receivers[0].backup.timeout: 5m0s, want 100ms to 1m0s"},
		{"retry backoff", receiver + "        retry_backoff: 1ms\n",
			"line 7: uplink.receivers[0].primary.retry_backoff: 1ms"},
		{"retries", receiver + "        retries: 1000\n",
			"line 7: uplink.receivers[0].primary.retries: 1000"},
		{"test interval", receiver + "      test_interval: 30s\n",
			"line 7: uplink.receivers[0].test_interval: 30s"},
		{"negative min free", "data_dir: ./data\ngpio:\n  disk:\n    min_free_mb: -1\n",
			"line 4: gpio.disk.min_free_mb: negative (-1)"},
		{"huge min free", "gpio:\n  disk:\n    min_free_mb: 9000000000\n",
			"line 3: gpio.disk.min_free_mb: 9000000000 out of range"},
		{"disk interval", "gpio:\n  disk:\n    interval: 10ms\n",
			"line 3: gpio.disk.interval: 10ms outside 1s–1h0m0s"},
		{"gauge interval", "gpio:\n  gauge:\n    interval: 2h\n",
			"line 3: gpio.gauge.interval: 2h0m0s outside"},
		{"gauge low percent", "gpio:\n  gauge:\n    low_percent: 99\n",
			"line 3: gpio.gauge.low_percent: 99 out of range 0–95"},
		{"gauge capacity", "gpio:\n  gauge:\n    capacity_mah: -5\n",
			"line 3: gpio.gauge.capacity_mah: negative (-5)"},
		{"zone debounce", "gpio:\n  zones:\n    - {device: a, pin: GPIO17}\n    - device: b\n      pin: GPIO27\n      debounce: 1m\n",
			"line 6: gpio.zones[1].debounce: 1m0s outside 0s–10s"},
		{"lid debounce", "gpio:\n  lid:\n    debounce: -5ms\n",
			"line 3: gpio.lid.debounce: negative (-5ms)"},
		{"two gpio problems", "gpio:\n  lid:\n    debounce: -5ms\n  mains:\n    debounce: 11s\n",
			"line 3: gpio.lid.debounce: negative (-5ms)\nline 5: gpio.mains.debounce: 11s outside"},
		{"backup every", "backup:\n  every: 5m\n", "line 2: backup.every: 5m0s, want 1h to 744h"},
		{"backup keep", "backup:\n  keep: 0\n", "line 2: backup.keep: 0, want 1 to 1000"},
		{"backup relative dir", "backup:\n  dir: usb\n  passphrase_file: /etc/p\n", `line 2: backup.dir: "usb" is not an absolute path`},
		{"backup without passphrase", "backup:\n  dir: /media/usb/vakt\n", "line 1: backup.passphrase_file: required with backup.dir"},
		{"devices check in short", "devices:\n  check_in: 10s\n",
			"line 2: devices.check_in: 10s, want 1m to 8760h"},
		{"devices check in long", "devices:\n  check_in: 9000h\n",
			"line 2: devices.check_in: 9000h0m0s, want 1m to 8760h"},
		{"rtl433 unsupervised", "rtl433:\n  unsupervised_check_in: 10000h\n",
			"line 2: rtl433.unsupervised_check_in: 10000h0m0s"},
		{"rtl433 auto restore", "rtl433:\n  models:\n    Kerui-Security:\n      auto_restore:\n        motion: 48h\n",
			`line 5: rtl433.models["Kerui-Security"].auto_restore.motion: 48h0m0s, want 0s to 24h`},
		{"bus fault after", "devices:\n  check_in: 1h\n  bus_fault_after: 10ms\n",
			"line 3: devices.bus_fault_after: 10ms, want 1s to 1h"},
		{"event log cap", "\nevent_log_cap: 100000000\n",
			"line 2: event_log_cap: 100000000, want 1000 to 10000000"},
		{"notify escalate after", "notify:\n  escalate_after: 5s\n",
			"line 2: notify.escalate_after: 5s, want 30s to 1h"},
		{"notify pushover expire", "notify:\n  pushover:\n    token: abc\n    expire: 5h\n",
			"line 4: notify.pushover.expire: 5h0m0s, want 1m to 3h"},
		{"notify recipient lang", "notify:\n  ntfy:\n    server: https://ntfy.sh\n  recipients:\n    - user: anna\n      lang: de\n      ntfy_topic: anna\n",
			`line 6: notify.recipients[0].lang: "de", want sv or en`},
		{"notify recipient event", "notify:\n  ntfy:\n    server: https://ntfy.sh\n  recipients:\n    - user: anna\n      lang: sv\n      ntfy_topic: anna\n      events: [arming, duress]\n",
			`line 8: notify.recipients[0].events[1]: "duress", want one of arming`},
		{"notify sms without modem", "notify:\n  recipients:\n    - user: anna\n      lang: sv\n      sms: \"+46701234567\"\n",
			"line 5: notify.recipients[0].sms: set notify.sms.device too"},
		{"photos without a station", "photos:\n  cameras:\n    - {name: hall, url: \"http://cam/x.jpg\", areas: [1]}\n",
			"photos.cameras: photos go only to the station, encrypted to its key: set uplink_mqtt with station_public_key"},
		{"photos bad camera url", "photos:\n  cameras:\n    - name: hall\n      url: rtsp://cam/stream\n      areas: [1]\n",
			`photos.cameras[0].url: "rtsp://cam/stream", want an http:// or https:// snapshot URL`},
		{"photos burst", "photos:\n  burglar:\n    count: 50\n", "photos.burglar.count: 50, want 1 to 20"},
		{"station key", "uplink_mqtt:\n  url: ssl://127.0.0.1:8883\n  hub_id: home\n  station_public_key: age1nope\n",
			"uplink_mqtt.station_public_key: want an age X25519 recipient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o600)
			_, err := loadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// TestLoadConfig_BoundsAccepted: values at the bounds and the example config load.
func TestLoadConfig_BoundsAccepted(t *testing.T) {
	for _, y := range []string{
		"gpio:\n  disk:\n    min_free_mb: 0\n    interval: 1s\n  gauge:\n    interval: 1h\n    low_percent: 95\n",
		"devices:\n  check_in: 1m\nrtl433:\n  unsupervised_check_in: 8760h\n",
		"uplink:\n  receivers:\n    - name: arc\n      account: \"1234\"\n      primary:\n        addr: \"127.0.0.1:1\"\n        poll_interval: 10s\n        timeout: 1m\n        retry_backoff: 100ms\n",
		"uplink_mqtt:\n  url: ssl://127.0.0.1:8883\n  hub_id: home\n  station_public_key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n" +
			"photos:\n  cameras:\n    - {name: hall, url: \"http://192.168.1.50/snap.jpg\", username: admin, password: x, auth: digest, areas: [1]}\n",
	} {
		path := filepath.Join(t.TempDir(), "config.yaml")
		os.WriteFile(path, []byte(y), 0o600)
		if _, err := loadConfig(path); err != nil {
			t.Errorf("%s: %v", y, err)
		}
	}
	if _, err := loadConfig("config.example.yaml"); err != nil {
		t.Errorf("config.example.yaml: %v", err)
	}
}

// TestWebBroker: the installer's tools get vakt's own account and the named accounts,
// never a named account's password; an external broker only its address.
func TestWebBroker(t *testing.T) {
	cfg := Config{DataDir: "/data"}
	cfg.MQTT.Broker.Accounts = []broker.Account{{Username: "z2m", Password: "secret z2m", Role: broker.Role("zigbee2mqtt")}, {Username: "rtl", PasswordEnv: "RTL_PW", Role: broker.Role("rtl_433")}}
	b := webBroker(cfg, &BrokerCredentials{URL: "mqtt://127.0.0.1:1883", Username: "vakt", Password: "p"})
	if b.URL != "mqtt://127.0.0.1:1883" || b.Password != "p" || b.File != filepath.Join("/data", credentialsFile) || len(b.Accounts) != 2 ||
		b.Accounts[0] != (web.BrokerAccount{Username: "z2m", Role: "zigbee2mqtt"}) || b.Accounts[1].PasswordEnv != "RTL_PW" {
		t.Fatalf("embedded: %+v", b)
	}
	cfg.MQTT.URL = "tcp://broker.lan:1883"
	if b := webBroker(cfg, nil); !b.External || b.URL != "tcp://broker.lan:1883" || b.Password != "" || len(b.Accounts) != 0 {
		t.Fatalf("external: %+v", b)
	}
}

// TestLoadConfig_HomeAssistant: the section is off when absent, on with defaults when
// present (allow_disarm and code_required on), and every bad value or unknown key is an
// error naming the field and its line.
func TestLoadConfig_HomeAssistant(t *testing.T) {
	load := func(t *testing.T, y string) (Config, error) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		os.WriteFile(path, []byte(y), 0o600)
		return loadConfig(path)
	}
	cfg, err := load(t, "log_level: info\n")
	if err != nil || cfg.HomeAssistant != nil {
		t.Fatalf("absent: %+v, %v; want off", cfg.HomeAssistant, err)
	}
	cfg, err = load(t, "homeassistant: {}\n")
	if err != nil || cfg.HomeAssistant == nil {
		t.Fatalf("empty section: %v", err)
	}
	if ha := *cfg.HomeAssistant; ha.DiscoveryPrefix != "homeassistant" || ha.BaseTopic != "vakt" || ha.NodeID != "vakt" || !ha.AllowDisarm || !ha.CodeRequired {
		t.Fatalf("defaults: %+v", ha)
	}
	cfg, err = load(t, "homeassistant:\n  node_id: house_1\n  code_required: false\n  allow_disarm: false\n  user: erik\n")
	if err != nil || cfg.HomeAssistant.NodeID != "house_1" || cfg.HomeAssistant.CodeRequired || cfg.HomeAssistant.AllowDisarm || cfg.HomeAssistant.User != "erik" {
		t.Fatalf("set: %+v, %v", cfg.HomeAssistant, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "homeassistant:\n  node_id: a\n  disarm: true\n", "line 3: field disarm not found"},
		{"node id", "homeassistant:\n  node_id: \"my hub\"\n", `line 2: homeassistant.node_id: "my hub"`},
		{"wildcard prefix", "homeassistant:\n  discovery_prefix: \"home/#\"\n", `line 2: homeassistant.discovery_prefix: "home/#"`},
		{"base under prefix", "homeassistant:\n  base_topic: homeassistant/vakt\n", `line 2: homeassistant.base_topic: "homeassistant/vakt" overlaps discovery_prefix`},
		{"base is zigbee2mqtt's", "zigbee2mqtt:\n  base_topic: z2m\nhomeassistant:\n  base_topic: z2m\n", `line 4: homeassistant.base_topic: "z2m" overlaps zigbee2mqtt.base_topic`},
		{"not a bool", "homeassistant:\n  code_required: maybe\n", "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
