package uplink

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func validConfig() Config {
	return Config{Receivers: []ReceiverConfig{{
		Name:    "arc",
		Account: "1234",
		Primary: PathConfig{Addr: "192.0.2.1:12300", Key: "000102030405060708090a0b0c0d0e0f"},
		Backup:  &PathConfig{Network: "udp", Addr: "arc.example.net:12300", LocalAddr: "10.64.0.2", KeyEnv: "ARC_KEY"},
	}}}
}

func TestConfig_Validate(t *testing.T) {
	env := mapEnv{"ARC_KEY": "000102030405060708090a0b0c0d0e0f1011121314151617", "SHORT_KEY": "0001020304"}.get
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   string // the error, or "" for none
	}{
		{"valid", func(c *Config) {}, ""},
		{"no receivers", func(c *Config) { c.Receivers = nil }, ""},
		{"sia, kinds, test interval", func(c *Config) {
			c.Receivers[0].Format = "sia"
			c.Receivers[0].Kinds = []string{"burglary", "fire", "uplink_fault"}
			c.Receivers[0].TestInterval = hub.Duration(time.Hour)
		}, ""},
		{"key length", func(c *Config) { c.Receivers[0].Primary.Key = strings.Repeat("ab", 20) },
			"uplink.receivers[0].primary.key: 20 bytes, want 16, 24 or 32"},
		{"key not hex", func(c *Config) { c.Receivers[0].Primary.Key = "not a key" },
			"uplink.receivers[0].primary.key: not a hex string"},
		{"key env unset", func(c *Config) { c.Receivers[0].Backup.KeyEnv = "NO_SUCH_KEY" },
			"uplink.receivers[0].backup.key_env: environment variable NO_SUCH_KEY is not set"},
		{"key env length", func(c *Config) { c.Receivers[0].Backup.KeyEnv = "SHORT_KEY" },
			"uplink.receivers[0].backup.key_env: SHORT_KEY: 5 bytes, want 16, 24 or 32"},
		{"key and key env", func(c *Config) { c.Receivers[0].Primary.KeyEnv = "ARC_KEY" },
			"uplink.receivers[0].primary.key_env: set key or key_env, not both"},
		{"address without port", func(c *Config) { c.Receivers[0].Primary.Addr = "192.0.2.1" },
			`uplink.receivers[0].primary.addr: "192.0.2.1", want host:port`},
		{"address bad port", func(c *Config) { c.Receivers[0].Backup.Addr = "arc.example.net:99999" },
			`uplink.receivers[0].backup.addr: "arc.example.net:99999", want host:port with a port from 1 to 65535`},
		{"no address", func(c *Config) { c.Receivers[0].Primary.Addr = "" },
			"uplink.receivers[0].primary.addr: must not be empty"},
		{"network", func(c *Config) { c.Receivers[0].Primary.Network = "sctp" },
			`uplink.receivers[0].primary.network: "sctp", want tcp or udp`},
		{"local address", func(c *Config) { c.Receivers[0].Backup.LocalAddr = "wwan0" },
			`uplink.receivers[0].backup.local_addr: "wwan0", want an IP address, optionally with :port`},
		{"receiver number", func(c *Config) { c.Receivers[0].Primary.Receiver = "XYZ" },
			`uplink.receivers[0].primary.receiver: "XYZ", want 1–6 hex digits`},
		{"line", func(c *Config) { c.Receivers[0].Primary.Line = "1234567" },
			`uplink.receivers[0].primary.line: "1234567", want 1–6 hex digits`},
		{"negative poll", func(c *Config) { c.Receivers[0].Primary.PollInterval = hub.Duration(-time.Second) },
			"uplink.receivers[0].primary.poll_interval: -1s, must not be negative"},
		{"retries", func(c *Config) { c.Receivers[0].Primary.Retries = -1 },
			"uplink.receivers[0].primary.retries: -1, want 1 to 100 (0 means 3)"},
		{"no name", func(c *Config) { c.Receivers[0].Name = "" },
			"uplink.receivers[0].name: must not be empty"},
		{"bad name", func(c *Config) { c.Receivers[0].Name = "arc/1" },
			`uplink.receivers[0].name: "arc/1", want up to 32 letters, digits, '-' or '_'`},
		{"duplicate name", func(c *Config) { c.Receivers = append(c.Receivers, c.Receivers[0]) },
			`uplink.receivers[1].name: "arc" is also the name of receivers[0]`},
		{"format", func(c *Config) { c.Receivers[0].Format = "xml" },
			`uplink.receivers[0].format: "xml", want cid or sia`},
		{"account", func(c *Config) { c.Receivers[0].Account = "12" },
			`uplink.receivers[0].account: "12", want 3–16 hex digits`},
		{"unknown kind", func(c *Config) { c.Receivers[0].Kinds = []string{"fire", "burglar"} },
			`uplink.receivers[0].kinds[1]: unknown event kind "burglar"`},
		{"history-only kind", func(c *Config) { c.Receivers[0].Kinds = []string{"exit_delay"} },
			`uplink.receivers[0].kinds[0]: "exit_delay" is history only, never reported to a station`},
		{"test interval short", func(c *Config) { c.Receivers[0].TestInterval = hub.Duration(30 * time.Second) },
			"uplink.receivers[0].test_interval: 30s, want 1m to 25h"},
		{"test interval long", func(c *Config) { c.Receivers[0].TestInterval = hub.Duration(26 * time.Hour) },
			"uplink.receivers[0].test_interval: 26h0m0s, want 1m to 25h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(&c)
			err := c.Validate(env)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Validate: %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestConfig_ValidateResolvesKeys(t *testing.T) {
	c := validConfig()
	if err := c.Validate(mapEnv{"ARC_KEY": "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"}.get); err != nil {
		t.Fatal(err)
	}
	if len(c.Receivers[0].Primary.key) != 16 || len(c.Receivers[0].Backup.key) != 32 {
		t.Errorf("resolved keys of %d and %d bytes, want 16 and 32", len(c.Receivers[0].Primary.key), len(c.Receivers[0].Backup.key))
	}
	set := c.Receivers[0].Backup.settings("1234", true)
	if set.poll != DefaultBackupPoll || set.client.Timeout != DefaultTimeout || set.retries != DefaultRetries || set.backoff != DefaultRetryBackoff {
		t.Errorf("backup defaults = %+v", set)
	}
	if set := c.Receivers[0].Primary.settings("1234", false); set.poll != DefaultPrimaryPoll || set.client.Network != "tcp" {
		t.Errorf("primary defaults = %+v", set)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	h, _ := startHub(t, hubtest.StorePath(t))
	c := validConfig()
	c.Receivers[0].Primary.Key = "00"
	if _, err := New(c, h, nil); err == nil || !strings.Contains(err.Error(), "uplink.receivers[0].primary.key") {
		t.Fatalf("New with a bad key: %v", err)
	}
}

// TestConfig_Example decodes config.example.yaml as config.yaml is decoded (strictly), and
// validates it.
func TestConfig_Example(t *testing.T) {
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Uplink Config `yaml:"uplink"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	c := file.Uplink
	if err := c.Validate(mapEnv{"VAKT_ARC_BACKUP_KEY": "000102030405060708090a0b0c0d0e0f"}.get); err != nil {
		t.Fatal(err)
	}
	if len(c.Receivers) != 1 || c.Receivers[0].Backup == nil || c.Receivers[0].Primary.PollInterval.D() != 90*time.Second ||
		c.Receivers[0].TestInterval.D() != 24*time.Hour || len(c.Receivers[0].Kinds) == 0 {
		t.Errorf("example decoded as %+v", c)
	}
	// Every reportable kind is in the example's list, so it reads as the default.
	listed := map[string]bool{}
	for _, k := range c.Receivers[0].Kinds {
		listed[k] = true
	}
	for k := hub.KindNone + 1; !strings.HasPrefix(k.String(), "kind("); k++ {
		if k.Code().ContactID != 0 && !listed[k.String()] {
			t.Errorf("reportable kind %s missing from the example's kinds", k)
		}
	}
}

func TestConfig_UnknownFieldNamed(t *testing.T) {
	var file struct {
		Uplink Config `yaml:"uplink"`
	}
	dec := yaml.NewDecoder(strings.NewReader("uplink:\n  receivers:\n    - name: arc\n      primary:\n        adress: x:1\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("decode with a misspelt field: %v", err)
	}
	dec = yaml.NewDecoder(strings.NewReader("uplink:\n  receivers:\n    - name: arc\n      primary:\n        poll_interval: soon\n"))
	if err := dec.Decode(&file); err == nil || !strings.Contains(err.Error(), "soon") {
		t.Fatalf("decode with a bad duration: %v", err)
	}
}
