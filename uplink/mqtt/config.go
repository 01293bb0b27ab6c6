package mqtt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"filippo.io/age"

	"vakt/devices/mqttclient"
	"vakt/hub"
)

// DefaultPrefix is the first topic level when Config.Prefix is empty.
const DefaultPrefix = "vakt"

// minCommandKey is the shortest command key accepted, in bytes.
const minCommandKey = 16

var hubIDPattern = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Config is the uplink_mqtt: section of config.yaml: an MQTT broker (a station's, or the
// owner's own server) that gets the event log and a retained status, and may send signed
// remote commands.
type Config struct {
	// URL, Username, Password, CA, Cert and Key say how to reach the broker, as for
	// devices/mqttclient: tcp://, ssl:// or tls://host:port, and PEM files for TLS with a
	// client certificate.
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	CA       string `yaml:"ca"`
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	// Prefix is the first topic level; empty means "vakt".
	Prefix string `yaml:"prefix"`
	// HubID names this hub under the prefix ([a-z0-9_-]+) and its event cursor
	// ("mqtt/<hub_id>"). Changing it makes a new uplink that starts at the end of the log.
	HubID string `yaml:"hub_id"`
	// CommandKey is the HMAC-SHA256 key for remote commands, in hex, at least 16 bytes.
	// With neither it nor CommandKeyEnv, remote commands are off.
	CommandKey string `yaml:"command_key"`
	// CommandKeyEnv names an environment variable that holds the command key in hex.
	CommandKeyEnv string `yaml:"command_key_env"`
	// User is the vakt user id remote commands act as; required with a command key.
	User string `yaml:"user"`
	// Kinds lists the event kinds published (hub event kind names, history-only kinds
	// allowed); empty means every reportable event (those with Report set).
	Kinds []string `yaml:"kinds"`
	// StationPublicKey is the monitoring station's age X25519 recipient ("age1…"): the
	// action plan and alarm photos are encrypted to it, so that only the station reads
	// them. Without it, neither is sent.
	StationPublicKey string `yaml:"station_public_key"`
	// StationSigningKey is the station's ed25519 public key (32 bytes, base64 or hex): it
	// signs the requests the station sends (verbal password checks, photo holds). Without
	// it, station requests are off.
	StationSigningKey string `yaml:"station_signing_key"`

	recipient  *age.X25519Recipient
	stationKey ed25519.PublicKey
	key        []byte
	kinds      map[hub.EventKind]bool
	valid      bool
}

// Validate checks c, fills in defaults, resolves the command key (from command_key, or
// through getenv from command_key_env) and returns an error naming the first bad field,
// as "uplink_mqtt.hub_id: …". Call it on the Config that is then passed to New.
func (c *Config) Validate(getenv func(string) string) error {
	c.valid = false
	const at = "uplink_mqtt"
	if err := c.broker().Validate(at); err != nil {
		return err
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.Prefix, "+#") || strings.HasPrefix(c.Prefix, "/") ||
		strings.HasSuffix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
		return fmt.Errorf("%s.prefix: %q, want topic levels without wildcards or empty levels", at, c.Prefix)
	}
	if c.HubID == "" {
		return fmt.Errorf("%s.hub_id: must not be empty", at)
	}
	if len(c.HubID) > 64 || !hubIDPattern.MatchString(c.HubID) {
		return fmt.Errorf("%s.hub_id: %q, want up to 64 of a-z, 0-9, '_' and '-'", at, c.HubID)
	}
	c.key = nil
	keyHex, field := c.CommandKey, "command_key"
	if c.CommandKeyEnv != "" {
		if c.CommandKey != "" {
			return fmt.Errorf("%s.command_key_env: give command_key or command_key_env, not both", at)
		}
		field = "command_key_env"
		if getenv == nil {
			return fmt.Errorf("%s.command_key_env: no environment to read %s from", at, c.CommandKeyEnv)
		}
		if keyHex = getenv(c.CommandKeyEnv); keyHex == "" {
			return fmt.Errorf("%s.command_key_env: $%s is empty or unset", at, c.CommandKeyEnv)
		}
	}
	if keyHex != "" {
		key, err := hex.DecodeString(strings.TrimSpace(keyHex))
		if err != nil {
			return fmt.Errorf("%s.%s: not hex", at, field)
		}
		if len(key) < minCommandKey {
			return fmt.Errorf("%s.%s: %d bytes, want at least %d", at, field, len(key), minCommandKey)
		}
		if c.User == "" {
			return fmt.Errorf("%s.user: required with a command key (the user remote commands act as)", at)
		}
		c.key = key
	}
	c.kinds = nil
	for i, name := range c.Kinds {
		k, err := hub.ParseEventKind(name)
		if err != nil {
			return fmt.Errorf("%s.kinds[%d]: %w", at, i, err)
		}
		if c.kinds == nil {
			c.kinds = map[hub.EventKind]bool{}
		}
		c.kinds[k] = true
	}
	c.recipient, c.stationKey = nil, nil
	if c.StationPublicKey != "" {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(c.StationPublicKey))
		if err != nil {
			return fmt.Errorf("%s.station_public_key: want an age X25519 recipient (age1…): %w", at, err)
		}
		c.recipient = r
	}
	if c.StationSigningKey != "" {
		k, err := parseSigningKey(c.StationSigningKey)
		if err != nil {
			return fmt.Errorf("%s.station_signing_key: %w", at, err)
		}
		c.stationKey = k
	}
	c.valid = true
	return nil
}

// parseSigningKey reads an ed25519 public key given in hex or base64.
func parseSigningKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, errors.New("want an ed25519 public key in hex or base64")
		}
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%d bytes, want an ed25519 public key of %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Recipient returns the station's age recipient, nil when none is configured. Call it
// after Validate.
func (c *Config) Recipient() *age.X25519Recipient { return c.recipient }

// SigningKey returns the station's ed25519 public key, nil when none is configured. Call
// it after Validate.
func (c *Config) SigningKey() ed25519.PublicKey { return c.stationKey }

func (c *Config) broker() mqttclient.Config {
	return mqttclient.Config{URL: c.URL, Username: c.Username, Password: c.Password, CA: c.CA, Cert: c.Cert, Key: c.Key}
}

// wants reports whether ev is published.
func (c *Config) wants(ev hub.Event) bool {
	if c.kinds == nil {
		return ev.Report
	}
	return c.kinds[ev.Kind]
}
