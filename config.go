package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"vakt/devices"
	"vakt/devices/broker"
	"vakt/devices/gpio"
	"vakt/devices/mqttclient"
	"vakt/devices/rtl433"
	"vakt/devices/zigbee2mqtt"
	"vakt/hub"
	"vakt/ui/homeassistant"
	"vakt/ui/homekit"
	"vakt/ui/notify"
	"vakt/ui/web"
	"vakt/uplink"
	uplinkmqtt "vakt/uplink/mqtt"
	"vakt/uplink/photos"
)

// Config is the machine's settings from config.yaml. The installation (areas, zones,
// devices, users) lives in the store, not here.
type Config struct {
	// DataDir holds the bbolt store.
	DataDir string `yaml:"data_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// EventLogCap is how many events the history keeps at least.
	EventLogCap int `yaml:"event_log_cap"`
	// MQTT is the sensor bus: the embedded broker, or an external one when url is set.
	MQTT MQTTConfig `yaml:"mqtt"`
	// Devices are the device manager's settings.
	Devices DevicesConfig `yaml:"devices"`
	// GPIO is the gateway's own wired I/O: zones, siren relay, lid, mains, battery, disk.
	GPIO gpio.Config `yaml:"gpio"`
	// Zigbee2MQTT reads Zigbee devices through Zigbee2MQTT.
	Zigbee2MQTT zigbee2mqtt.Config `yaml:"zigbee2mqtt"`
	// RTL433 reads 433/868 MHz sensors from rtl_433's MQTT events.
	RTL433 rtl433.Config `yaml:"rtl433"`
	// Uplink is the monitoring station: SIA DC-09 receivers with primary and backup paths.
	Uplink uplink.Config `yaml:"uplink"`
	// UplinkMQTT sends events and status to a station or the owner's server over MQTT and
	// takes signed commands from it; nil means none.
	UplinkMQTT *uplinkmqtt.Config `yaml:"uplink_mqtt"`
	// Photos photographs alarms for the station only (README "Alarm photos"); nil means none.
	Photos *photos.Config `yaml:"photos"`
	// Web is the web UI: where it listens.
	Web web.Config `yaml:"web"`
	// Notify tells the family by ntfy, Pushover and SMS; nothing is sent without recipients.
	Notify notify.Config `yaml:"notify"`
	// HomeKit, when present, runs the HomeKit bridge for Apple's Home app.
	HomeKit *homekit.Config `yaml:"homekit"`
	// HomeAssistant, when present, announces vakt to Home Assistant by MQTT discovery on
	// the sensor bus's broker.
	HomeAssistant *homeassistant.Config `yaml:"homeassistant"`
	// Backup makes encrypted backups of the store into a directory on a schedule.
	Backup hub.BackupConfig `yaml:"backup"`
}

// MQTTConfig says which broker the drivers use.
type MQTTConfig struct {
	mqttclient.Config `yaml:",inline"`
	// Broker is the embedded broker, used when url is empty.
	Broker broker.Config `yaml:"broker"`
}

// DevicesConfig holds the device manager's settings.
type DevicesConfig struct {
	// CheckIn is the default supervision window for devices without one of their own.
	CheckIn hub.Duration `yaml:"check_in"`
	// BusFaultAfter is how long a driver may be off the MQTT broker before it is a
	// device-bus fault.
	BusFaultAfter hub.Duration `yaml:"bus_fault_after"`
}

// Bounds of event_log_cap: EN 50131-1 asks a few hundred events; ten million is some GB.
const (
	minEventLogCap = 1000
	maxEventLogCap = 10_000_000
)

func defaultConfig() Config {
	return Config{DataDir: "./data", LogLevel: "info", LogFormat: "text", EventLogCap: hub.DefaultLogCap,
		MQTT:    MQTTConfig{Broker: broker.Config{Listen: broker.DefaultListen, Accounts: []broker.Account{}, Limits: broker.DefaultLimits()}},
		Devices: DevicesConfig{CheckIn: hub.Duration(2 * time.Hour), BusFaultAfter: hub.Duration(devices.DefaultBusGrace)},
		GPIO: gpio.Config{
			Zones: []gpio.ZoneConfig{},
			Lid:   gpio.InputConfig{Pull: gpio.PullUp, Debounce: hub.Duration(gpio.DefaultDebounce)},
			Mains: gpio.InputConfig{Pull: gpio.PullUp, Debounce: hub.Duration(gpio.DefaultDebounce)},
			Gauge: gpio.GaugeConfig{Addr: gpio.DefaultGaugeAddr, LowPercent: gpio.DefaultLowPercent, Interval: hub.Duration(gpio.DefaultGaugeInterval)},
			Disk:  gpio.DiskConfig{MinFreeMB: gpio.DefaultMinFreeMB, Interval: hub.Duration(gpio.DefaultDiskInterval)},
		},
		RTL433:      rtl433.Config{Topic: rtl433.DefaultTopic, UnsupervisedCheckIn: hub.Duration(rtl433.DefaultUnsupervisedCheckIn), Models: map[string]rtl433.Override{}},
		Uplink:      uplink.Config{Receivers: []uplink.ReceiverConfig{}},
		Zigbee2MQTT: zigbee2mqtt.Config{BaseTopic: zigbee2mqtt.DefaultBaseTopic},
		Web:         web.Config{Listen: web.DefaultListen},
		Notify:      notify.DefaultConfig(),
		Backup:      hub.DefaultBackupConfig(),
	}
}

// loadConfig reads path over the defaults. Unknown keys and bad values are errors that
// name the field and line.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			msg = withFields(&root, msg)
		}
		return cfg, fmt.Errorf("config %s: %s", path, msg)
	}
	if err := cfg.validate(); err != nil {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			err = withLines(&root, err)
		}
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// withLines puts the line of the field each problem names in front of it: validation
// errors name the field ("uplink.receivers[0].primary.poll_interval: …"), the YAML tree
// knows where it is written.
func withLines(root *yaml.Node, err error) error {
	lines := strings.Split(err.Error(), "\n")
	changed := false
	for i, l := range lines {
		field, _, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		field, _, _ = strings.Cut(field, " ")
		if n := fieldLine(root, field); n > 0 {
			lines[i] = fmt.Sprintf("line %d: %s", n, l)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &lineError{msg: strings.Join(lines, "\n"), err: err}
}

// withFields names the field of each "line N: …" problem of a decoding error that does not
// name one: yaml.v3 says where a value of the wrong type is, and a value's own unmarshaler
// (a duration, a role) says where it refused one, but neither says what the field is.
func withFields(root *yaml.Node, msg string) string {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "line ")
		if !ok {
			continue
		}
		num, rest, ok := strings.Cut(rest, ": ")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || strings.HasPrefix(rest, "field ") {
			continue // unknown keys are named by yaml.v3 already
		}
		if name, _, ok := strings.Cut(rest, ": "); ok && !strings.ContainsAny(name, " \"") {
			continue // names its field already
		}
		if field := fieldAt(root, n); field != "" {
			lines[i] = fmt.Sprintf("line %d: %s: %s", n, field, rest)
		}
	}
	return strings.Join(lines, "\n")
}

// fieldAt returns the field ("devices.check_in", "gpio.zones[1].debounce") whose value is
// written on line n, the innermost when several are; "" when none is.
func fieldAt(root *yaml.Node, n int) string {
	var walk func(node *yaml.Node, path string) string
	walk = func(node *yaml.Node, path string) string {
		switch node.Kind {
		case yaml.DocumentNode:
			for _, c := range node.Content {
				if f := walk(c, path); f != "" {
					return f
				}
			}
		case yaml.SequenceNode:
			for i, c := range node.Content {
				if f := walk(c, fmt.Sprintf("%s[%d]", path, i)); f != "" {
					return f
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(node.Content); i += 2 {
				k, v := node.Content[i], node.Content[i+1]
				p := path + "." + k.Value
				if strings.ContainsAny(k.Value, " .-[]\"") {
					p = fmt.Sprintf("%s[%q]", path, k.Value)
				}
				if f := walk(v, p); f != "" {
					return f
				}
				if v.Line == n {
					return strings.TrimPrefix(p, ".")
				}
			}
		}
		return ""
	}
	return walk(root, "")
}

// lineError is a validation error with its lines; it unwraps to the error it annotates.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// fieldLine returns the line where field ("gpio.zones[1].debounce",
// `rtl433.models["Kerui"].check_in`) is written, or of the nearest enclosing field the
// file sets; 0 when the file sets none of it.
func fieldLine(root *yaml.Node, field string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for field != "" {
		var key string
		index := -1
		switch {
		case strings.HasPrefix(field, "[\""):
			end := strings.Index(field, "\"]")
			if end < 0 {
				return line
			}
			key, field = field[2:end], field[end+2:]
		case strings.HasPrefix(field, "["):
			end := strings.Index(field, "]")
			if end < 0 {
				return line
			}
			i, err := strconv.Atoi(field[1:end])
			if err != nil {
				return line
			}
			index, field = i, field[end+1:]
		default:
			field = strings.TrimPrefix(field, ".")
			end := strings.IndexAny(field, ".[")
			if end < 0 {
				end = len(field)
			}
			key, field = field[:end], field[end:]
		}
		var next *yaml.Node
		switch {
		case index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content):
			next = n.Content[index]
			line = next.Line
		case index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
					line = n.Content[i].Line
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format: %q, want text or json", c.LogFormat)
	}
	if c.EventLogCap < minEventLogCap || c.EventLogCap > maxEventLogCap {
		return fmt.Errorf("event_log_cap: %d, want %d to %d", c.EventLogCap, minEventLogCap, maxEventLogCap)
	}
	if c.MQTT.URL != "" {
		if err := c.MQTT.Config.Validate("mqtt"); err != nil {
			return err
		}
	}
	if err := c.MQTT.Broker.Validate(os.Getenv); err != nil {
		return err
	}
	if err := c.Uplink.Validate(os.Getenv); err != nil {
		return err
	}
	if err := c.Uplink.CheckBounds(); err != nil {
		return err
	}
	if c.UplinkMQTT != nil {
		if err := c.UplinkMQTT.Validate(os.Getenv); err != nil {
			return err
		}
	}
	if c.Photos != nil {
		if err := c.Photos.Validate(os.Getenv); err != nil {
			return err
		}
		if len(c.Photos.Cameras) > 0 && (c.UplinkMQTT == nil || c.UplinkMQTT.StationPublicKey == "") {
			return errors.New("photos.cameras: photos go only to the station, encrypted to its key: set uplink_mqtt with station_public_key")
		}
	}
	if err := c.Zigbee2MQTT.Validate("zigbee2mqtt"); err != nil {
		return err
	}
	if err := c.RTL433.Validate("rtl433"); err != nil {
		return err
	}
	if d := c.Devices.CheckIn.D(); d < 0 || (d != 0 && (d < rtl433.MinCheckIn || d > rtl433.MaxCheckIn)) {
		return fmt.Errorf("devices.check_in: %s, want 1m to 8760h", d)
	}
	if d := c.Devices.BusFaultAfter.D(); d < time.Second || d > time.Hour {
		return fmt.Errorf("devices.bus_fault_after: %s, want 1s to 1h", d)
	}
	if err := c.Notify.Validate("notify"); err != nil {
		return err
	}
	if err := c.validateHomeAssistant(); err != nil {
		return err
	}
	if err := c.Backup.Validate("backup"); err != nil {
		return err
	}
	// The pins wait for HostInit at start; every number and duration is checked now.
	if err := c.GPIO.CheckBounds(); err != nil {
		return err
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("%q, want debug, info, warn or error", s)
	}
	return l, nil
}

// validateHomeAssistant checks the homeassistant section, and that its topics stay clear
// of the sensor bridges': vakt's account may publish on both.
func (c *Config) validateHomeAssistant() error {
	ha := c.HomeAssistant
	if ha == nil {
		return nil
	}
	if err := ha.Validate("homeassistant"); err != nil {
		return err
	}
	z2m := c.Zigbee2MQTT.BaseTopic
	if z2m == "" {
		z2m = zigbee2mqtt.DefaultBaseTopic
	}
	for _, t := range []struct{ field, v string }{{"base_topic", ha.BaseTopic}, {"discovery_prefix", ha.DiscoveryPrefix}} {
		if t.v == z2m || strings.HasPrefix(t.v+"/", z2m+"/") || strings.HasPrefix(z2m+"/", t.v+"/") {
			return fmt.Errorf("homeassistant.%s: %q overlaps zigbee2mqtt.base_topic %q", t.field, t.v, z2m)
		}
	}
	return nil
}
