package homeassistant

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The discovery payload schema, as Home Assistant documents it for each MQTT component
// (home-assistant.io, source/_integrations/{alarm_control_panel,binary_sensor,sensor,
// switch,lock}.mqtt.markdown, and docs/mqtt/discovery): the keys a config must have, and
// every key it may have. Written from the documentation, not from vakt's code, so a key
// vakt misspells or Home Assistant does not know fails here.

// commonKeys may appear in the config of every MQTT entity.
var commonKeys = []string{
	"availability", "availability_mode", "availability_template", "availability_topic",
	"default_entity_id", "device", "enabled_by_default", "encoding", "entity_category", "entity_picture",
	"icon", "json_attributes_template", "json_attributes_topic", "name", "object_id", "origin",
	"payload_available", "payload_not_available", "platform", "qos", "unique_id",
}

type componentSchema struct {
	required, allowed []string
	// deviceClasses are the device classes the component knows (nil: it has none).
	deviceClasses []string
}

var schema = map[string]componentSchema{
	"alarm_control_panel": {
		required: []string{"command_topic", "state_topic"},
		allowed: []string{"code", "code_arm_required", "code_disarm_required", "code_trigger_required",
			"command_template", "payload_arm_away", "payload_arm_home", "payload_arm_night", "payload_arm_vacation",
			"payload_arm_custom_bypass", "payload_disarm", "payload_trigger", "retain", "supported_features", "value_template"},
	},
	"binary_sensor": {
		required: []string{"state_topic"},
		allowed:  []string{"device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on", "value_template"},
		deviceClasses: []string{"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door",
			"gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
			"presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"},
	},
	"sensor": {
		required: []string{"state_topic"},
		allowed: []string{"device_class", "expire_after", "force_update", "last_reset_value_template", "options",
			"suggested_display_precision", "state_class", "unit_of_measurement", "value_template"},
		deviceClasses: []string{"apparent_power", "aqi", "atmospheric_pressure", "battery", "carbon_dioxide", "carbon_monoxide",
			"current", "data_rate", "data_size", "date", "distance", "duration", "energy", "enum", "frequency", "gas",
			"humidity", "illuminance", "irradiance", "moisture", "monetary", "power", "power_factor", "precipitation",
			"pressure", "signal_strength", "sound_pressure", "speed", "temperature", "timestamp", "voltage", "volume",
			"water", "weight", "wind_speed"},
	},
	"switch": {
		required: []string{"command_topic"},
		allowed: []string{"command_template", "device_class", "optimistic", "payload_off", "payload_on", "retain",
			"state_off", "state_on", "state_topic", "value_template"},
		deviceClasses: []string{"outlet", "switch"},
	},
	"lock": {
		required: []string{"command_topic"},
		allowed: []string{"code_format", "command_template", "optimistic", "payload_lock", "payload_open", "payload_reset",
			"payload_unlock", "retain", "state_jammed", "state_locked", "state_locking", "state_open", "state_opening",
			"state_topic", "state_unlocked", "state_unlocking", "value_template"},
	},
}

// deviceKeys may appear in a config's device block; at least identifiers or connections.
var deviceKeys = []string{"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
	"model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"}

// originKeys may appear in a config's origin block; name is required.
var originKeys = []string{"name", "sw_version", "support_url"}

// availabilityKeys may appear in an availability entry; topic is required.
var availabilityKeys = []string{"topic", "payload_available", "payload_not_available", "value_template"}

// abbreviations are some of discovery's abbreviated keys: vakt writes every key in full,
// so none of them may appear (a mix of both is what Home Assistant's docs warn about).
var abbreviations = []string{"~", "avty", "avty_t", "cmd_t", "cmd_tpl", "dev", "dev_cla", "ent_cat", "ids", "json_attr_t",
	"mf", "mdl", "o", "pl_avail", "pl_not_avail", "pl_on", "pl_off", "stat_t", "sw", "uniq_id", "unit_of_meas", "val_tpl", "via_device_id"}

// discoveryTopic is <prefix>/<component>/[<node_id>/]<object_id>/config.
var discoveryTopic = regexp.MustCompile(`^([^/#+]+(?:/[^/#+]+)*)/(alarm_control_panel|binary_sensor|sensor|switch|lock)/(?:([a-zA-Z0-9_-]+)/)?([a-zA-Z0-9_-]+)/config$`)

// validTopic reports whether t is a topic name one may publish to: no wildcards, no empty
// level, not empty.
func validTopic(t string) bool {
	return t != "" && !strings.ContainsAny(t, "+#\x00") && !strings.Contains(t, "//") && !strings.HasPrefix(t, "/") && !strings.HasSuffix(t, "/")
}

// checkConfig returns every way the config c on topic breaks the documented schema.
func checkConfig(prefix, topic string, c map[string]any) []string {
	var bad []string
	fail := func(f string, a ...any) { bad = append(bad, topic+": "+fmt.Sprintf(f, a...)) }
	m := discoveryTopic.FindStringSubmatch(topic)
	if m == nil || m[1] != prefix {
		fail("not a discovery topic under %s", prefix)
		return bad
	}
	comp := m[2]
	s := schema[comp]
	for _, k := range s.required {
		if _, ok := c[k]; !ok {
			fail("required key %s missing", k)
		}
	}
	for k, v := range c {
		if slices.Contains(abbreviations, k) {
			fail("abbreviated key %s", k)
			continue
		}
		if !slices.Contains(commonKeys, k) && !slices.Contains(s.allowed, k) && !slices.Contains(s.required, k) {
			fail("key %s is not in the %s schema", k, comp)
		}
		if strings.HasSuffix(k, "_topic") {
			if str, ok := v.(string); !ok || !validTopic(str) {
				fail("%s: %v is not a topic", k, v)
			}
		}
	}
	if uid, ok := c["unique_id"].(string); !ok || uid == "" {
		fail("unique_id missing: the device block works only with one")
	}
	if n, ok := c["name"]; ok && n != nil {
		if _, isStr := n.(string); !isStr {
			fail("name %v: want a string or null", n)
		}
	}
	if dc, ok := c["device_class"]; ok {
		if str, _ := dc.(string); !slices.Contains(s.deviceClasses, str) {
			fail("device_class %v unknown to %s", dc, comp)
		}
	}
	if ec, ok := c["entity_category"]; ok && ec != "diagnostic" && ec != "config" {
		fail("entity_category %v, want diagnostic or config", ec)
	}
	if am, ok := c["availability_mode"]; ok && am != "all" && am != "any" && am != "latest" {
		fail("availability_mode %v", am)
	}
	if q, ok := c["qos"]; ok {
		if f, isNum := q.(float64); !isNum || f < 0 || f > 2 || f != float64(int(f)) {
			fail("qos %v", q)
		}
	}
	if _, ok := c["availability"]; ok {
		if _, both := c["availability_topic"]; both {
			fail("availability and availability_topic together")
		}
		list, isList := c["availability"].([]any)
		if !isList || len(list) == 0 {
			fail("availability: want a non-empty list")
		}
		for _, e := range list {
			em, _ := e.(map[string]any)
			if t, _ := em["topic"].(string); !validTopic(t) {
				fail("availability entry without a topic: %v", e)
			}
			for k := range em {
				if !slices.Contains(availabilityKeys, k) {
					fail("availability key %s", k)
				}
			}
		}
	}
	if d, ok := c["device"]; ok {
		dm, isMap := d.(map[string]any)
		if !isMap {
			fail("device: want a map")
		}
		for k := range dm {
			if !slices.Contains(deviceKeys, k) {
				fail("device key %s", k)
			}
		}
		if _, ok := dm["identifiers"]; !ok {
			if _, ok := dm["connections"]; !ok {
				fail("device without identifiers or connections")
			}
		}
	}
	if o, ok := c["origin"]; ok {
		om, _ := o.(map[string]any)
		if n, _ := om["name"].(string); n == "" {
			fail("origin without a name")
		}
		for k := range om {
			if !slices.Contains(originKeys, k) {
				fail("origin key %s", k)
			}
		}
	}
	if comp == "alarm_control_panel" {
		if f, ok := c["supported_features"]; ok {
			list, _ := f.([]any)
			for _, x := range list {
				if !slices.Contains([]any{"arm_home", "arm_away", "arm_night", "arm_vacation", "arm_custom_bypass", "trigger"}, x) {
					fail("supported feature %v", x)
				}
			}
		}
		if code, ok := c["code"]; ok && code != "REMOTE_CODE" && code != "REMOTE_CODE_TEXT" {
			fail("code %v: a fixed code would be checked by Home Assistant, not vakt", code)
		}
		for _, k := range []string{"code_arm_required", "code_disarm_required", "code_trigger_required", "retain"} {
			if v, ok := c[k]; ok {
				if _, isBool := v.(bool); !isBool {
					fail("%s %v: want a boolean", k, v)
				}
			}
		}
	}
	if r, ok := c["retain"]; ok && r == true {
		fail("retain true: Home Assistant's commands would be replayed on every reconnect")
	}
	return bad
}
