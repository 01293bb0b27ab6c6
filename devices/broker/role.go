package broker

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Role says what an account may read and write on the sensor bus. The bus carries keypad
// codes and siren commands: a bridge may use its own topics and nothing else.
type Role string

// Roles of accounts. RoleVakt is vakt's own account and is never configured.
const (
	// RoleVakt is vakt's drivers: they read the bridges' topics and command Zigbee devices;
	// and vakt's Home Assistant discovery, which publishes under the discovery prefix and
	// its base topic and reads the commands there.
	RoleVakt Role = "vakt"
	// RoleZigbee2MQTT is a Zigbee2MQTT bridge: its base topic (which it publishes under and
	// subscribes to with base/#, since it reads its own requests there) and Home Assistant
	// discovery (homeassistant/#), which vakt does not use.
	RoleZigbee2MQTT Role = "zigbee2mqtt"
	// RoleRTL433 is rtl_433: it only publishes events on the rtl433 topic, and reads nothing.
	RoleRTL433 Role = "rtl_433"
	// RoleHomeAssistant is Home Assistant: it reads discovery (the prefix, where it also
	// announces itself on <prefix>/status) and vakt's base topic, and may publish only
	// there and on the command topics of vakt's areas and devices. It cannot read the
	// sensor bridges' topics: keypad codes and siren commands stay off it.
	RoleHomeAssistant Role = "home_assistant"
)

// Default topics of the bridges, as in their drivers' configs.
const (
	defaultZigbee2MQTTBase = "zigbee2mqtt"
	defaultRTL433Topic     = "rtl_433/events"
	homeAssistantTopics    = "homeassistant/#"
	defaultHAPrefix        = "homeassistant"
	defaultHABase          = "vakt"
)

// configRoles are the roles a configured account may have.
var configRoles = []Role{RoleZigbee2MQTT, RoleRTL433, RoleHomeAssistant}

func (r Role) configurable() bool {
	for _, c := range configRoles {
		if r == c {
			return true
		}
	}
	return false
}

func roleList() string {
	s := make([]string, len(configRoles))
	for i, r := range configRoles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// UnmarshalYAML refuses an unknown role with the line it is on.
func (r *Role) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if !Role(s).configurable() {
		return fmt.Errorf("line %d: mqtt.broker.accounts[].role: %q, want %s", n.Line, s, roleList())
	}
	*r = Role(s)
	return nil
}

// Topics are the topics the bridges use, from their drivers' configs; empty fields take
// the bridges' defaults.
type Topics struct {
	// Zigbee2MQTTBase is Zigbee2MQTT's base topic (zigbee2mqtt.base_topic).
	Zigbee2MQTTBase string
	// RTL433 is the topic (or filter) rtl_433 publishes events on (rtl433.topic).
	RTL433 string
	// HomeAssistantPrefix and HomeAssistantBase are the discovery prefix and vakt's base
	// topic for Home Assistant (homeassistant.discovery_prefix and base_topic); set only
	// when discovery is on, which lets vakt's own account use them.
	HomeAssistantPrefix, HomeAssistantBase string
}

// rules are what a role may publish to and subscribe to, as topic filters: a topic is
// allowed when a filter matches it, a subscription when a filter covers all it matches.
type rules struct {
	publish, subscribe []string
}

func (t Topics) rules(r Role) rules {
	base, rtl := t.Zigbee2MQTTBase, t.RTL433
	if base == "" {
		base = defaultZigbee2MQTTBase
	}
	if rtl == "" {
		rtl = defaultRTL433Topic
	}
	haPrefix, haBase := t.HomeAssistantPrefix, t.HomeAssistantBase
	haOn := haPrefix != "" || haBase != "" // vakt's discovery is configured
	if haPrefix == "" {
		haPrefix = defaultHAPrefix
	}
	if haBase == "" {
		haBase = defaultHABase
	}
	switch r {
	case RoleVakt:
		r := rules{publish: []string{base + "/#"}, subscribe: []string{base + "/#", rtl}}
		if haOn {
			r.publish = append(r.publish, haPrefix+"/#", haBase+"/#")
			r.subscribe = append(r.subscribe, haPrefix+"/#", haBase+"/#")
		}
		return r
	case RoleZigbee2MQTT:
		return rules{publish: []string{base + "/#", homeAssistantTopics}, subscribe: []string{base + "/#", homeAssistantTopics}}
	case RoleRTL433:
		return rules{publish: []string{rtl}}
	case RoleHomeAssistant:
		return rules{publish: []string{haPrefix + "/#", haBase + "/area/+/set", haBase + "/device/+/set"}, subscribe: []string{haPrefix + "/#", haBase + "/#"}}
	}
	return rules{}
}

func (r rules) allows(topic string, write bool) bool {
	filters := r.subscribe
	if write {
		filters = r.publish
	}
	for _, f := range filters {
		if covers(f, topic) {
			return true
		}
	}
	return false
}

// covers reports whether every topic that filter req matches is matched by filter allow.
// A topic name is a filter without wildcards, so covers(allow, topic) is MQTT matching.
// Topics starting with '$' ($SYS, $share) are never covered by a wildcard at the first level.
func covers(allow, req string) bool {
	a, r := strings.Split(allow, "/"), strings.Split(req, "/")
	for i, al := range a {
		if al == "#" {
			return i > 0 || !strings.HasPrefix(req, "$")
		}
		if i >= len(r) {
			return false
		}
		rl := r[i]
		if rl == "#" {
			return false
		}
		if al == "+" {
			if rl != "+" && i == 0 && strings.HasPrefix(rl, "$") {
				return false
			}
			continue
		}
		if rl != al {
			return false
		}
	}
	return len(r) == len(a)
}
