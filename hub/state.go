package hub

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrUnknownSirenPattern reports a siren pattern vakt does not know: an error, never a
// silent "off" (a siren that stops for a typo is an alarm lost).
var ErrUnknownSirenPattern = errors.New("unknown siren pattern")

// SirenPattern is what an area's sirens play.
type SirenPattern uint8

// Siren patterns. Fire has the highest priority and its own pattern (temporal-3).
const (
	SirenOff SirenPattern = iota
	SirenBurglar
	SirenEmergency
	SirenFire
)

var patternNames = [...]string{"off", "burglar", "emergency", "fire"}

// String returns the pattern's name.
func (p SirenPattern) String() string {
	if p.known() {
		return patternNames[p]
	}
	return fmt.Sprintf("pattern(%d)", uint8(p))
}

func (p SirenPattern) known() bool { return int(p) < len(patternNames) }

// MarshalText writes the pattern's name; a pattern vakt does not know is an error.
func (p SirenPattern) MarshalText() ([]byte, error) {
	if !p.known() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownSirenPattern, uint8(p))
	}
	return []byte(patternNames[p]), nil
}

// UnmarshalText reads a pattern's name; an unknown name is an error and leaves p as it was.
func (p *SirenPattern) UnmarshalText(b []byte) error {
	for i, n := range patternNames {
		if n == string(b) {
			*p = SirenPattern(i)
			return nil
		}
	}
	return fmt.Errorf("%w %q (want off, burglar, emergency or fire)", ErrUnknownSirenPattern, b)
}

// Alarm is one entry of an area's alarm memory.
type Alarm struct {
	Time   time.Time `json:"time"`
	Kind   EventKind `json:"kind"`
	Zone   int       `json:"zone,omitempty"`
	Device string    `json:"device,omitempty"`
}

// AreaState is the live state of one area. Deadlines are absolute times; zero means none.
type AreaState struct {
	Number int  `json:"number"`
	Mode   Mode `json:"mode"`
	// Set is the mode a user chose: disarmed or one of the armed modes. Mode shows the
	// passing states (arming, pending, triggered) on top of it.
	Set Mode `json:"set"`
	// User, UserNumber and How say who set the mode.
	User       string `json:"user,omitempty"`
	UserNumber int    `json:"user_number,omitempty"`
	How        Method `json:"how,omitempty"`
	// ArmedAt is when the last arming started: device reports sent before it never
	// trigger an intrusion alarm.
	ArmedAt time.Time `json:"armed_at,omitzero"`

	ExitUntil  time.Time    `json:"exit_until,omitzero"`
	EntryUntil time.Time    `json:"entry_until,omitzero"`
	Siren      SirenPattern `json:"siren"`
	SirenUntil time.Time    `json:"siren_until,omitzero"`
	// ReportAt is when an entry-route alarm still in its local warning gets reported.
	ReportAt     time.Time `json:"report_at,omitzero"`
	ReportZone   int       `json:"report_zone,omitempty"`
	ReportDevice string    `json:"report_device,omitempty"`
	// ReportedAt is the last alarm report, for the cancel window.
	ReportedAt time.Time `json:"reported_at,omitzero"`

	// Memory and FireMemory keep alarms until a user acknowledges them.
	Memory     []Alarm `json:"memory,omitempty"`
	FireMemory []Alarm `json:"fire_memory,omitempty"`
	// Bypassed zones and Forced last for one armed period.
	Bypassed []int `json:"bypassed,omitempty"`
	Forced   bool  `json:"forced,omitempty"`

	// ServiceUntil ends the area's service mode (tamper is history only); it starts only
	// while the area is disarmed, and arming ends it.
	ServiceUntil time.Time `json:"service_until,omitzero"`
	// NotArmed names the zone that cancelled the last arming during its exit delay, until
	// the area is armed or disarmed again: keypads and panels show "NOT ARMED".
	NotArmed string `json:"not_armed,omitempty"`
	// NotArmedHow is HowSchedule when NotArmed is instead the reasons a scheduled arming
	// was refused (open zones, faults), and HowNone otherwise.
	NotArmedHow Method `json:"not_armed_how,omitempty"`
}

func (a *AreaState) bypassed(zone int) bool { return slices.Contains(a.Bypassed, zone) }

// ZoneState is the live state of one zone.
type ZoneState struct {
	Number int  `json:"number"`
	Active bool `json:"active,omitempty"`
	// Trips counts alarms in the current armed period, for swinger shutdown.
	Trips int `json:"trips,omitempty"`
	// Out is set when a zone was still open at bell cut-off: it stays out until it closes.
	Out bool `json:"out,omitempty"`
}

// DeviceState is the health of one device as the engine needs it for alarms and arming.
type DeviceState struct {
	ID         string `json:"id"`
	Tamper     bool   `json:"tamper,omitempty"`
	BatteryLow bool   `json:"battery_low,omitempty"`
	Missing    bool   `json:"missing,omitempty"`
	Fault      bool   `json:"fault,omitempty"`
	Jamming    bool   `json:"jamming,omitempty"`
}

// Lockout counts wrong codes on one interface.
type Lockout struct {
	Wrong []time.Time `json:"wrong,omitempty"`
	Level int         `json:"level,omitempty"`
	Until time.Time   `json:"until,omitzero"`
}

// Mains is the state of the gateway's mains supply.
type Mains struct {
	Lost     bool      `json:"lost,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	ReportAt time.Time `json:"report_at,omitzero"`
	Reported bool      `json:"reported,omitempty"`
}

// State is all alarm state: a value that the store persists after every step.
type State struct {
	// NextSeq is the sequence the next event gets.
	NextSeq uint64        `json:"next_seq"`
	Areas   []AreaState   `json:"areas"`
	Zones   []ZoneState   `json:"zones"`
	Devices []DeviceState `json:"devices"`

	HubTamper     bool     `json:"hub_tamper,omitempty"`
	Mains         Mains    `json:"mains"`
	HubBatteryLow bool     `json:"hub_battery_low,omitempty"`
	UplinkFaults  []string `json:"uplink_faults,omitempty"`
	SirenFault    bool     `json:"siren_fault,omitempty"`
	DiskFault     bool     `json:"disk_fault,omitempty"`
	// BusFaults are the drivers off their MQTT broker for longer than the grace.
	BusFaults []string            `json:"bus_faults,omitempty"`
	Lockouts  map[string]*Lockout `json:"lockouts,omitempty"`

	InstallerUntil time.Time `json:"installer_until,omitzero"`
	WalkUntil      time.Time `json:"walk_until,omitzero"`

	// ScheduleAt is the next time a schedule runs (a deadline); ScheduleFrom is how far the
	// schedules have been run, so a restart neither runs one twice nor, after a gap, late.
	ScheduleAt   time.Time `json:"schedule_at,omitzero"`
	ScheduleFrom time.Time `json:"schedule_from,omitzero"`
}

// Clone returns a deep copy, safe to hand to other goroutines.
func (s *State) Clone() State {
	c := *s
	c.Areas = slices.Clone(s.Areas)
	for i := range c.Areas {
		a := &c.Areas[i]
		a.Memory = slices.Clone(a.Memory)
		a.FireMemory = slices.Clone(a.FireMemory)
		a.Bypassed = slices.Clone(a.Bypassed)
	}
	c.Zones = slices.Clone(s.Zones)
	c.Devices = slices.Clone(s.Devices)
	c.UplinkFaults = slices.Clone(s.UplinkFaults)
	c.BusFaults = slices.Clone(s.BusFaults)
	if s.Lockouts != nil {
		c.Lockouts = make(map[string]*Lockout, len(s.Lockouts))
		for k, v := range s.Lockouts {
			l := *v
			l.Wrong = slices.Clone(v.Wrong)
			c.Lockouts[k] = &l
		}
	}
	return c
}

// EffectKind says what the run loop must do with an Effect.
type EffectKind uint8

// Effect kinds.
const (
	// EffectEvent appends Event to the log (and so to the outbox).
	EffectEvent EffectKind = iota + 1
	// EffectSiren sets the sirens of Area to Pattern.
	EffectSiren
	// EffectChime beeps the keypads of Area for Zone; Zone 0 is a scheduled arming's
	// warning.
	EffectChime
	// EffectSwitch switches the plug Device on (On) or off, for a plug schedule.
	EffectSwitch
)

// Effect is one thing a Step asks the world to do, after the step is committed.
type Effect struct {
	Kind    EffectKind
	Event   Event
	Area    int
	Pattern SirenPattern
	Zone    int
	Device  string
	On      bool
}
