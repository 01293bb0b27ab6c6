package homeassistant

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults of the homeassistant section.
const (
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultBaseTopic       = "vakt"
	DefaultNodeID          = "vakt"
)

// nodeIDPattern is what Home Assistant accepts as a discovery node id (and object id).
var nodeIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Config is the homeassistant section of config.yaml. Its presence turns discovery on;
// fields left out take their defaults, and allow_disarm and code_required are on unless
// set to false.
type Config struct {
	// DiscoveryPrefix is Home Assistant's discovery prefix (its MQTT integration's
	// setting); default homeassistant.
	DiscoveryPrefix string `yaml:"discovery_prefix"`
	// BaseTopic is where vakt publishes the entities' states and reads their commands;
	// default vakt. Two hubs on one broker need two base topics.
	BaseTopic string `yaml:"base_topic"`
	// NodeID names this hub in discovery topics and unique ids ([a-zA-Z0-9_-]); default
	// vakt. Changing it makes every entity new in Home Assistant.
	NodeID string `yaml:"node_id"`
	// User is the id of the vakt user Home Assistant acts as when a command carries no
	// code (plugs, locks, and arming when code_required is off); empty: the first admin.
	User string `yaml:"user"`
	// AllowDisarm lets Home Assistant disarm, and unlock a lock of an armed area.
	AllowDisarm bool `yaml:"allow_disarm"`
	// CodeRequired makes Home Assistant ask for a vakt code to arm and disarm; vakt checks
	// it as a keypad's, and wrong codes count towards the lockout of the interface
	// "home_assistant".
	CodeRequired bool `yaml:"code_required"`
}

// DefaultConfig is the section as an empty `homeassistant: {}` gives it.
func DefaultConfig() Config {
	return Config{DiscoveryPrefix: DefaultDiscoveryPrefix, BaseTopic: DefaultBaseTopic, NodeID: DefaultNodeID, AllowDisarm: true, CodeRequired: true}
}

// UnmarshalYAML reads the section over the defaults. A custom unmarshaler loses the
// decoder's strictness, so unknown keys are refused here, with their line, in yaml.v3's
// own words.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		known := []string{"discovery_prefix", "base_topic", "node_id", "user", "allow_disarm", "code_required"}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !slices.Contains(known, k.Value) {
				return fmt.Errorf("line %d: field %s not found in type homeassistant.Config", k.Line, k.Value)
			}
		}
	}
	type plain Config
	p := plain(DefaultConfig())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Config(p)
	return nil
}

// Validate fills in empty fields with defaults and checks the topics and the node id;
// errors name the field under prefix ("homeassistant").
func (c *Config) Validate(prefix string) error {
	if c.DiscoveryPrefix == "" {
		c.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	if c.BaseTopic == "" {
		c.BaseTopic = DefaultBaseTopic
	}
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID
	}
	for _, f := range []struct{ name, v string }{{"discovery_prefix", c.DiscoveryPrefix}, {"base_topic", c.BaseTopic}} {
		if strings.ContainsAny(f.v, "+#\x00") || strings.HasPrefix(f.v, "/") || strings.HasSuffix(f.v, "/") ||
			strings.Contains(f.v, "//") || strings.HasPrefix(f.v, "$") || len(f.v) > 128 {
			return fmt.Errorf("%s.%s: %q, want topic levels without wildcards, empty levels or a leading $", prefix, f.name, f.v)
		}
	}
	if c.BaseTopic == c.DiscoveryPrefix || strings.HasPrefix(c.BaseTopic+"/", c.DiscoveryPrefix+"/") || strings.HasPrefix(c.DiscoveryPrefix+"/", c.BaseTopic+"/") {
		return fmt.Errorf("%s.base_topic: %q overlaps discovery_prefix %q", prefix, c.BaseTopic, c.DiscoveryPrefix)
	}
	if !nodeIDPattern.MatchString(c.NodeID) {
		return fmt.Errorf("%s.node_id: %q, want 1 to 64 of a-z, A-Z, 0-9, '_' and '-'", prefix, c.NodeID)
	}
	return nil
}
