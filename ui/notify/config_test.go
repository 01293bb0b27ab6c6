package notify

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"vakt/hub"
)

// TestConfig_Example decodes config.example.yaml strictly, as config.yaml is decoded: it
// sets every option, each valid.
func TestConfig_Example(t *testing.T) {
	data, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Notify Config `yaml:"notify"`
	}
	file.Notify = DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatal(err)
	}
	cfg := file.Notify
	if err := cfg.Validate("notify"); err != nil {
		t.Fatal(err)
	}
	checkAllSet(t, reflect.ValueOf(cfg), "notify", data)
	if got := cfg.CursorNames(); strings.Join(got, " ") != "notify/anna/ntfy notify/anna/pushover notify/anna/sms notify/erik/ntfy" {
		t.Errorf("cursor names %v", got)
	}
}

// checkAllSet fails for a yaml key of v's type that the example does not mention.
func checkAllSet(t *testing.T, v reflect.Value, path string, data []byte) {
	t.Helper()
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" {
			continue
		}
		if !bytes.Contains(data, []byte(key+":")) {
			t.Errorf("config.example.yaml does not show %s.%s", path, key)
		}
		checkAllSet(t, v.Field(i), path+"."+key, data)
	}
}

func TestConfig_Bounds(t *testing.T) {
	ok := func() Config {
		c := DefaultConfig()
		c.Ntfy.Server = "https://ntfy.sh"
		c.Recipients = []Recipient{{User: "anna", Lang: "sv", Ntfy: "anna"}}
		return c
	}
	if err := ok().Validate("notify"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"escalate short", func(c *Config) { c.EscalateAfter = hub.Duration(10 * time.Second) }, "notify.escalate_after: 10s, want 30s to 1h"},
		{"reminder short", func(c *Config) { c.MainsReminder = hub.Duration(time.Minute) }, "notify.mains_reminder: 1m0s"},
		{"fault after", func(c *Config) { c.FaultAfter = 0 }, "notify.fault_after: 0, want 1 to 100"},
		{"ntfy url", func(c *Config) { c.Ntfy.Server = "ntfy.sh" }, `notify.ntfy.server: "ntfy.sh", want an http or https URL`},
		{"topic", func(c *Config) { c.Recipients[0].Ntfy = "a/b" }, `notify.recipients[0].ntfy_topic: "a/b"`},
		{"no channel", func(c *Config) { c.Recipients[0].Ntfy = "" }, "notify.recipients[0]: no channel"},
		{"twice", func(c *Config) { c.Recipients = append(c.Recipients, c.Recipients[0]) }, `notify.recipients[1].user: "anna" is listed twice`},
		{"baud", func(c *Config) { c.SMS.Device = "/dev/ttyUSB2"; c.SMS.Baud = 1234 }, "notify.sms.baud: 1234"},
		{"pushover retry", func(c *Config) { c.Pushover.Token = "x"; c.Pushover.Retry = hub.Duration(time.Second) }, "notify.pushover.retry: 1s, want 30s to 1h"},
		{"phone", func(c *Config) { c.SMS.Device = "/dev/ttyUSB2"; c.Recipients[0].SMS = "anna" }, `notify.recipients[0].sms: "anna"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			if err := c.Validate("notify"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
