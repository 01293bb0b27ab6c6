package zigbee2mqtt

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfig(t *testing.T) {
	var c Config
	if err := yaml.Unmarshal([]byte("base_topic: z2m/house\n"), &c); err != nil || c.BaseTopic != "z2m/house" {
		t.Fatalf("yaml: %+v %v", c, err)
	}
	if (Config{}).baseTopic() != "zigbee2mqtt" {
		t.Error("no default base topic")
	}
	for topic, bad := range map[string]string{
		"":             "",
		"zigbee2mqtt":  "",
		"z2m/house":    "",
		"zigbee2mqtt/": "starts or ends",
		"/zigbee2mqtt": "starts or ends",
		"z2m/#":        "wildcard",
		"z2m/+/x":      "wildcard",
	} {
		err := Config{BaseTopic: topic}.Validate("zigbee2mqtt")
		if (err != nil) != (bad != "") || err != nil && (!strings.Contains(err.Error(), bad) || !strings.HasPrefix(err.Error(), "zigbee2mqtt.base_topic")) {
			t.Errorf("%q: %v", topic, err)
		}
	}
}
