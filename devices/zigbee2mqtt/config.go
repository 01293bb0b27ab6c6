package zigbee2mqtt

import (
	"fmt"
	"strings"
)

// DefaultBaseTopic is Zigbee2MQTT's own default for mqtt.base_topic.
const DefaultBaseTopic = "zigbee2mqtt"

// Config is the driver's part of config.yaml.
type Config struct {
	// BaseTopic is Zigbee2MQTT's mqtt.base_topic; "zigbee2mqtt" when empty.
	BaseTopic string `yaml:"base_topic"`
}

// Validate checks the config; errors name the field under prefix (e.g. "zigbee2mqtt").
func (c Config) Validate(prefix string) error {
	b := c.BaseTopic
	if b == "" {
		return nil
	}
	switch {
	case strings.ContainsAny(b, "+#"):
		return fmt.Errorf("%s.base_topic: %q holds an MQTT wildcard", prefix, b)
	case strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/"):
		return fmt.Errorf("%s.base_topic: %q starts or ends with /", prefix, b)
	case strings.ContainsRune(b, 0):
		return fmt.Errorf("%s.base_topic: holds a NUL byte", prefix)
	}
	return nil
}

func (c Config) baseTopic() string {
	if c.BaseTopic == "" {
		return DefaultBaseTopic
	}
	return c.BaseTopic
}
