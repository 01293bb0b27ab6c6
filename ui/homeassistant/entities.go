package homeassistant

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"vakt/devices"
	"vakt/hub"
)

// Home Assistant's MQTT components that vakt announces.
const (
	compAlarm  = "alarm_control_panel"
	compBinary = "binary_sensor"
	compSensor = "sensor"
	compSwitch = "switch"
	compLock   = "lock"
)

// Payloads of availability and of binary states, Home Assistant's defaults.
const (
	online  = "online"
	offline = "offline"
	on      = "ON"
	off     = "OFF"
)

// commandTemplate makes Home Assistant send the action and the code entered as JSON.
const commandTemplate = `{"action":"{{ action }}","code":"{{ code }}"}`

// commandTemplateNoCode is the command template when no code is asked for: Home
// Assistant renders a missing code as "None".
const commandTemplateNoCode = `{"action":"{{ action }}"}`

// availability is one entry of an entity's availability list.
type availability struct {
	Topic string `json:"topic"`
}

// deviceInfo ties an entity to a device in Home Assistant's device registry.
type deviceInfo struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model,omitempty"`
	SWVersion    string   `json:"sw_version,omitempty"`
	ViaDevice    string   `json:"via_device,omitempty"`
}

// origin says which software announced the entity, as discovery asks.
type origin struct {
	Name       string `json:"name"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

// entityConfig is a discovery config payload: the keys every component vakt uses may
// have, each written out in full (never abbreviated), left out when empty. Name is
// always written: null makes an entity take its device's name.
type entityConfig struct {
	Name                *string        `json:"name"`
	UniqueID            string         `json:"unique_id"`
	Device              deviceInfo     `json:"device"`
	Origin              origin         `json:"origin"`
	Availability        []availability `json:"availability"`
	AvailabilityMode    string         `json:"availability_mode,omitempty"`
	StateTopic          string         `json:"state_topic"`
	ValueTemplate       string         `json:"value_template,omitempty"`
	JSONAttributesTopic string         `json:"json_attributes_topic,omitempty"`
	CommandTopic        string         `json:"command_topic,omitempty"`
	CommandTemplate     string         `json:"command_template,omitempty"`
	Code                string         `json:"code,omitempty"`
	CodeArmRequired     *bool          `json:"code_arm_required,omitempty"`
	CodeDisarmRequired  *bool          `json:"code_disarm_required,omitempty"`
	SupportedFeatures   []string       `json:"supported_features,omitempty"`
	DeviceClass         string         `json:"device_class,omitempty"`
	EntityCategory      string         `json:"entity_category,omitempty"`
	UnitOfMeasurement   string         `json:"unit_of_measurement,omitempty"`
	StateClass          string         `json:"state_class,omitempty"`
	PayloadOn           string         `json:"payload_on,omitempty"`
	PayloadOff          string         `json:"payload_off,omitempty"`
	StateOn             string         `json:"state_on,omitempty"`
	StateOff            string         `json:"state_off,omitempty"`
	PayloadLock         string         `json:"payload_lock,omitempty"`
	PayloadUnlock       string         `json:"payload_unlock,omitempty"`
	StateLocked         string         `json:"state_locked,omitempty"`
	StateUnlocked       string         `json:"state_unlocked,omitempty"`
	StateJammed         string         `json:"state_jammed,omitempty"`
	QoS                 int            `json:"qos"`
}

// entity is one entity: the discovery topic's component and object id, and its config.
type entity struct {
	component, object string
	config            entityConfig
}

// topics are the topics of one hub: discovery under the prefix, states and commands under
// the base topic.
type topics struct {
	prefix, base, node string
}

func (t topics) status() string                 { return t.base + "/status" }
func (t topics) area(n int) string              { return t.base + "/area/" + strconv.Itoa(n) }
func (t topics) areaAttributes(n int) string    { return t.area(n) + "/attributes" }
func (t topics) areaSet(n int) string           { return t.area(n) + "/set" }
func (t topics) device(slug string) string      { return t.base + "/device/" + slug }
func (t topics) deviceAvail(slug string) string { return t.device(slug) + "/availability" }
func (t topics) deviceSet(slug string) string   { return t.device(slug) + "/set" }
func (t topics) config(e entity) string {
	return t.prefix + "/" + e.component + "/" + t.node + "/" + e.object + "/config"
}

// safeID is what Home Assistant accepts in object ids, and what is safe in a topic level.
var safeID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// slug is a device id made safe for a topic level and an object id. An id that is safe
// already is itself; another gets its unsafe characters replaced and a hash of the id
// appended, so that two ids never share a slug.
func slug(id string) string {
	if safeID.MatchString(id) && len(id) <= 64 {
		return id
	}
	var b strings.Builder
	for _, r := range id {
		if r < 128 && safeID.MatchString(string(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 48 {
			break
		}
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("%s_%08x", b.String(), h.Sum32())
}

// plan is which entities an installation has in Home Assistant, and how commands find
// their devices.
type plan struct {
	entities []entity
	// devices maps a device's slug to its id, for the devices that take commands.
	devices map[string]string
	// slugs are the slugs of every device with an entity, for their states.
	slugs map[string]string // id → slug
}

// planKey says what a plan depends on: the installation (a new one after every change)
// and which devices report a temperature or a battery level.
type planKey struct {
	inst     *hub.Installation
	readings string
}

func keyOf(inst *hub.Installation, health map[string]devices.Health) planKey {
	b := make([]byte, 0, 2*len(inst.Devices))
	for _, d := range inst.Devices {
		h := health[d.ID]
		b = append(b, boolByte(h.Temperature != nil), boolByte(h.Battery != nil))
	}
	return planKey{inst: inst, readings: string(b)}
}

func boolByte(v bool) byte {
	if v {
		return '1'
	}
	return '0'
}

// sensorClass is the binary_sensor device class of a zone: what its device senses.
func sensorClass(z hub.Zone, d hub.Device) string {
	switch {
	case z.Type == hub.ZoneFire:
		return "smoke"
	case z.Type == hub.ZoneTechnical:
		return "moisture"
	case z.Type == hub.ZonePanic:
		return "safety"
	case z.Type == hub.ZoneTamper:
		return "tamper"
	case z.Interior:
		return "motion"
	}
	words := strings.ToLower(z.Name + " " + d.Name + " " + d.Model)
	if strings.Contains(words, "window") || strings.Contains(words, "fönster") {
		return "window"
	}
	return "door"
}

// planFor decides the entities of an installation: an alarm panel per area, and for each
// device what it has: its zone, tamper, battery and temperature, a plug's switch, a lock.
func (b *Bridge) planFor(inst *hub.Installation, health map[string]devices.Health) plan {
	t, cfg := b.topics, b.cfg
	p := plan{devices: map[string]string{}, slugs: map[string]string{}}
	hubID := "vakt_" + t.node
	hubDevice := deviceInfo{Identifiers: []string{hubID}, Name: or(inst.Name, "vakt"), Manufacturer: "vakt", Model: "vakt alarm hub", SWVersion: b.opts.Version}
	org := origin{Name: "vakt", SWVersion: b.opts.Version}
	bridgeAvail := availability{Topic: t.status()}
	yes, no := true, false
	zoneOf := make(map[string]int, len(inst.Zones))
	for i, z := range inst.Zones {
		zoneOf[z.Device] = i
	}
	for _, a := range inst.Areas {
		name := or(a.Name, fmt.Sprintf("Area %d", a.Number))
		c := entityConfig{Name: &name, UniqueID: fmt.Sprintf("%s_area_%d", hubID, a.Number), Device: hubDevice, Origin: org,
			Availability: []availability{bridgeAvail}, StateTopic: t.area(a.Number), JSONAttributesTopic: t.areaAttributes(a.Number),
			CommandTopic: t.areaSet(a.Number), SupportedFeatures: []string{"arm_home", "arm_away", "arm_night"}, QoS: 1}
		if cfg.CodeRequired {
			c.Code, c.CodeArmRequired, c.CodeDisarmRequired, c.CommandTemplate = "REMOTE_CODE", &yes, &yes, commandTemplate
		} else {
			c.CodeArmRequired, c.CodeDisarmRequired, c.CommandTemplate = &no, &no, commandTemplateNoCode
		}
		p.entities = append(p.entities, entity{component: compAlarm, object: fmt.Sprintf("area_%d", a.Number), config: c})
	}
	for _, d := range inst.Devices {
		s := slug(d.ID)
		devName := or(d.Name, d.ID)
		model := d.Model
		if d.Driver != "" {
			model = strings.TrimSpace(model + " (" + d.Driver + ")")
		}
		dev := deviceInfo{Identifiers: []string{hubID + "_" + s}, Name: devName, Manufacturer: "vakt", Model: model, ViaDevice: hubID}
		base := func(what string, name *string) entityConfig {
			return entityConfig{Name: name, UniqueID: hubID + "_" + s + "_" + what, Device: dev, Origin: org,
				Availability: []availability{bridgeAvail, {Topic: t.deviceAvail(s)}}, AvailabilityMode: "all",
				StateTopic: t.device(s), ValueTemplate: "{{ value_json." + what + " }}", QoS: 1}
		}
		add := func(comp, what string, c entityConfig) {
			p.entities = append(p.entities, entity{component: comp, object: s + "_" + what, config: c})
		}
		named := func(n string) *string { return &n }
		h := health[d.ID]
		n := len(p.entities)
		switch d.Kind {
		case "plug":
			c := base("switch", nil)
			c.CommandTopic, c.PayloadOn, c.PayloadOff, c.StateOn, c.StateOff = t.deviceSet(s), on, off, on, off
			c.DeviceClass = "outlet"
			add(compSwitch, "switch", c)
			p.devices[s] = d.ID
		case "lock":
			c := base("lock", nil)
			c.CommandTopic, c.PayloadLock, c.PayloadUnlock = t.deviceSet(s), "LOCK", "UNLOCK"
			c.StateLocked, c.StateUnlocked, c.StateJammed = "LOCKED", "UNLOCKED", "JAMMED"
			add(compLock, "lock", c)
			p.devices[s] = d.ID
		default: // sensors, sirens, keypads
			if zi, ok := zoneOf[d.ID]; ok {
				c := base("zone", nil)
				c.DeviceClass, c.PayloadOn, c.PayloadOff = sensorClass(inst.Zones[zi], d), on, off
				add(compBinary, "zone", c)
			}
			c := base("tamper", named("Tamper"))
			c.DeviceClass, c.EntityCategory, c.PayloadOn, c.PayloadOff = "tamper", "diagnostic", on, off
			add(compBinary, "tamper", c)
		}
		if h.Temperature != nil {
			c := base("temperature", named("Temperature"))
			c.DeviceClass, c.UnitOfMeasurement, c.StateClass = "temperature", "°C", "measurement"
			add(compSensor, "temperature", c)
		}
		if h.Battery != nil {
			c := base("battery", named("Battery"))
			c.DeviceClass, c.UnitOfMeasurement, c.StateClass, c.EntityCategory = "battery", "%", "measurement", "diagnostic"
			add(compSensor, "battery", c)
		}
		if len(p.entities) > n {
			p.slugs[d.ID] = s
		}
	}
	return p
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
