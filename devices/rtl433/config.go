package rtl433

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"vakt/hub"
)

// Duration is a time span written as "30s" or "720h" in config.yaml.
type Duration = hub.Duration

// Defaults for fields left at zero.
const (
	// DefaultTopic is where rtl_433 publishes with -F mqtt://HOST:PORT,events=rtl_433/events.
	DefaultTopic = "rtl_433/events"
	// DefaultUnsupervisedCheckIn is the check-in window of known models that never check in
	// (fixed-code EV1527-style sensors): they transmit only when something happens, so a
	// door nobody uses is silent for days. Two hours would make every such door "missing"
	// (a fault that blocks arming and is reported to the station) on the first quiet
	// afternoon; thirty days still tells the family, after a holiday at the latest, that a
	// sensor has gone quiet for good.
	DefaultUnsupervisedCheckIn = 30 * 24 * time.Hour
	// MinCheckIn and MaxCheckIn bound the check-in windows set here.
	MinCheckIn = time.Minute
	MaxCheckIn = 365 * 24 * time.Hour
	// MaxAutoRestore bounds how long a signal stays active without its end.
	MaxAutoRestore = 24 * time.Hour
)

// Config is the rtl_433 driver's part of config.yaml (`rtl433:`).
type Config struct {
	// Topic is the MQTT topic filter rtl_433's events arrive on; default rtl_433/events.
	Topic string `yaml:"topic,omitempty"`
	// UnsupervisedCheckIn is the check-in window for known models that send no check-ins;
	// default 720h (30 days). Models vakt does not know get the manager's default.
	UnsupervisedCheckIn Duration `yaml:"unsupervised_check_in,omitempty"`
	// Models overrides the model table, keyed by rtl_433 model name ("Kerui-Security") or,
	// for auto_restore only, by one device's address ("Kerui-Security/369601"), which then
	// wins over its model's entry.
	Models map[string]Override `yaml:"models,omitempty"`
}

// Override changes what the model table says of a model or a device.
type Override struct {
	// AutoRestore maps a signal (contact, motion, smoke, water, panic, tamper, battery_low)
	// to how long it stays active when the device never reports its end; 0s turns the
	// driver's restore off for a device that does report it.
	AutoRestore map[string]Duration `yaml:"auto_restore,omitempty"`
	// CheckIn is the model's supervision window; one device's window belongs in the
	// installation (device check_in).
	CheckIn Duration `yaml:"check_in,omitempty"`
}

// signalByName lists the signals an rtl_433 device can report, by their config names.
var signalByName = map[string]hub.Signal{
	hub.SignalContact.String():    hub.SignalContact,
	hub.SignalMotion.String():     hub.SignalMotion,
	hub.SignalSmoke.String():      hub.SignalSmoke,
	hub.SignalWater.String():      hub.SignalWater,
	hub.SignalPanic.String():      hub.SignalPanic,
	hub.SignalTamper.String():     hub.SignalTamper,
	hub.SignalBatteryLow.String(): hub.SignalBatteryLow,
}

// Validate checks the config; errors name the field under prefix (e.g. "rtl433").
func (c Config) Validate(prefix string) error {
	if strings.ContainsAny(c.Topic, "\x00") {
		return fmt.Errorf("%s.topic: %q is not an MQTT topic filter", prefix, c.Topic)
	}
	if d := c.UnsupervisedCheckIn.D(); d < 0 || (d != 0 && (d < MinCheckIn || d > MaxCheckIn)) {
		return fmt.Errorf("%s.unsupervised_check_in: %s, want 1m to 8760h (0 means 720h)", prefix, d)
	}
	keys := make([]string, 0, len(c.Models))
	for k := range c.Models {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := c.Models[k]
		field := fmt.Sprintf("%s.models[%q]", prefix, k)
		if k == "" {
			return fmt.Errorf("%s: empty model name", field)
		}
		if d := o.CheckIn.D(); d < 0 || (d != 0 && (d < MinCheckIn || d > MaxCheckIn)) {
			return fmt.Errorf("%s.check_in: %s, want 1m to 8760h", field, d)
		}
		if o.CheckIn != 0 && strings.Contains(k, "/") {
			return fmt.Errorf("%s.check_in: set one device's check-in window in the installation, not here", field)
		}
		names := make([]string, 0, len(o.AutoRestore))
		for n := range o.AutoRestore {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if _, ok := signalByName[n]; !ok {
				known := make([]string, 0, len(signalByName))
				for s := range signalByName {
					known = append(known, s)
				}
				slices.Sort(known)
				return fmt.Errorf("%s.auto_restore.%s: unknown signal, want one of %s", field, n, strings.Join(known, ", "))
			}
			if d := o.AutoRestore[n].D(); d < 0 || d > MaxAutoRestore {
				return fmt.Errorf("%s.auto_restore.%s: %s, want 0s to 24h", field, n, d)
			}
		}
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.UnsupervisedCheckIn == 0 {
		c.UnsupervisedCheckIn = Duration(DefaultUnsupervisedCheckIn)
	}
	return c
}
