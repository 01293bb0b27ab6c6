package hub

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ZoneType says when a zone is armed and what its trigger means (DESIGN §2 items 2–5).
type ZoneType uint8

// Zone types. The first three are intrusion zones armed by the area's mode; the others are
// 24-hour zones, active in every mode.
const (
	ZoneEntryExit ZoneType = iota + 1
	ZoneFollower
	ZoneInstant
	ZoneFire
	ZoneTamper
	ZonePanic
	ZoneTechnical
)

var zoneTypeNames = [...]string{"", "entry_exit", "follower", "instant", "fire", "tamper", "panic", "technical"}

// String returns the zone type's name.
func (t ZoneType) String() string {
	if int(t) < len(zoneTypeNames) {
		return zoneTypeNames[t]
	}
	return fmt.Sprintf("zonetype(%d)", uint8(t))
}

// MarshalText writes the zone type's name.
func (t ZoneType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a zone type's name.
func (t *ZoneType) UnmarshalText(b []byte) error {
	for i, n := range zoneTypeNames {
		if i > 0 && n == string(b) {
			*t = ZoneType(i)
			return nil
		}
	}
	return fmt.Errorf("unknown zone type %q (want entry_exit, follower, instant, fire, tamper, panic or technical)", b)
}

// Intrusion reports whether the zone is armed by the area's mode rather than always active.
func (t ZoneType) Intrusion() bool {
	return t == ZoneEntryExit || t == ZoneFollower || t == ZoneInstant
}

// ExitRoute reports whether the zone may be active during the exit delay.
func (t ZoneType) ExitRoute() bool { return t == ZoneEntryExit || t == ZoneFollower }

// Bounds of the timing settings (DESIGN §2).
const (
	MaxExitDelay       = 255 * time.Second
	MaxEntryDelay      = 45 * time.Second
	MinBellCutoff      = 1 * time.Minute
	MaxBellCutoff      = 15 * time.Minute
	MaxMainsDelay      = 6 * time.Hour
	DefaultExitDelay   = 60 * time.Second
	DefaultEntryDelay  = 30 * time.Second
	DefaultBellCutoff  = 3 * time.Minute
	DefaultAbortWindow = 30 * time.Second
	MaxAbortWindow     = time.Minute
	DefaultCancelAfter = 5 * time.Minute
	MaxCancelAfter     = 30 * time.Minute
	DefaultMainsDelay  = 60 * time.Minute
	DefaultServiceTime = 60 * time.Minute
	MaxServiceTime     = 8 * time.Hour
	DefaultWalkTest    = 10 * time.Minute
	DefaultInstaller   = 4 * time.Hour
	DefaultSwinger     = 3
)

// Area is a part of the installation armed and disarmed on its own (house, garage).
type Area struct {
	Number int    `json:"number" yaml:"number"`
	Name   string `json:"name" yaml:"name"`
	// ExitDelay, EntryDelay and BellCutoff override the installation's settings when set;
	// nil means unset, and a set 0 is a delay of 0.
	ExitDelay  *Duration `json:"exit_delay,omitempty" yaml:"exit_delay,omitempty"`
	EntryDelay *Duration `json:"entry_delay,omitempty" yaml:"entry_delay,omitempty"`
	BellCutoff *Duration `json:"bell_cutoff,omitempty" yaml:"bell_cutoff,omitempty"`
}

// Zone is a detection point: one device in one area, with a type and a number.
type Zone struct {
	Number int      `json:"number" yaml:"number"`
	Name   string   `json:"name" yaml:"name"`
	Area   int      `json:"area" yaml:"area"`
	Type   ZoneType `json:"type" yaml:"type"`
	Device string   `json:"device" yaml:"device"`
	// Interior zones (motion detectors inside) are not armed in armed_home, the perimeter
	// ("skalskydd") mode; in armed_night only if Night is set.
	Interior bool `json:"interior,omitempty" yaml:"interior,omitempty"`
	Night    bool `json:"night,omitempty" yaml:"night,omitempty"`
	// Chime beeps the keypads when the zone opens while its area is disarmed.
	Chime bool `json:"chime,omitempty" yaml:"chime,omitempty"`
	// Audible makes a panic zone sound the emergency pattern; panic is silent by default.
	Audible bool `json:"audible,omitempty" yaml:"audible,omitempty"`
}

// armedIn reports whether an intrusion zone is armed in the mode.
func (z *Zone) armedIn(m Mode) bool {
	if !z.Type.Intrusion() {
		return true
	}
	switch m {
	case ModeArmedAway:
		return true
	case ModeArmedHome:
		return !z.Interior
	case ModeArmedNight:
		return !z.Interior || z.Night
	}
	return false
}

// Device is a sensor, keypad, siren, plug or lock known to the installation.
type Device struct {
	ID     string `json:"id" yaml:"id"`
	Name   string `json:"name" yaml:"name"`
	Driver string `json:"driver" yaml:"driver"`
	Model  string `json:"model,omitempty" yaml:"model,omitempty"`
	// Address is the driver's own name for the device: a Zigbee IEEE address, an rtl_433
	// model/id, a GPIO pin. Empty means the ID.
	Address string `json:"address,omitempty" yaml:"address,omitempty"`
	// CheckIn is the supervision window; zero takes the driver's or the default (2 h).
	CheckIn Duration `json:"check_in,omitempty" yaml:"check_in,omitempty"`
	// DisarmOnUnlock (locks, opt-in) disarms the lock's area when a vakt user's lock code or
	// tag unlocks it; ArmOnLock arms it away when that user locks it from outside.
	DisarmOnUnlock bool `json:"disarm_on_unlock,omitempty" yaml:"disarm_on_unlock,omitempty"`
	ArmOnLock      bool `json:"arm_on_lock,omitempty" yaml:"arm_on_lock,omitempty"`
	// Kind is what the device is to the hub: sensor (the default), siren, keypad, plug or lock.
	Kind string `json:"kind,omitempty" yaml:"kind,omitempty"`
	// Area is the area a siren or keypad serves; sensors take the area of their zone.
	Area int `json:"area,omitempty" yaml:"area,omitempty"`
}

// AddressOrID returns the device's driver address, or its ID when it has none.
func (d *Device) AddressOrID() string {
	if d.Address != "" {
		return d.Address
	}
	return d.ID
}

// Settings are the installation-wide timings and limits. A nil duration is unset and takes
// the default; a set 0 means 0 (no delay, no local warning, no cancel window), where the
// bounds allow it. An installation stored or exported without a field leaves it unset.
type Settings struct {
	ExitDelay   *Duration `json:"exit_delay,omitempty" yaml:"exit_delay,omitempty"`
	EntryDelay  *Duration `json:"entry_delay,omitempty" yaml:"entry_delay,omitempty"`
	BellCutoff  *Duration `json:"bell_cutoff,omitempty" yaml:"bell_cutoff,omitempty"`
	AbortWindow *Duration `json:"abort_window,omitempty" yaml:"abort_window,omitempty"`
	CancelAfter *Duration `json:"cancel_window,omitempty" yaml:"cancel_window,omitempty"`
	MainsDelay  *Duration `json:"mains_report_delay,omitempty" yaml:"mains_report_delay,omitempty"`
	// NoExitDelay and NoEntryDelay are the older spelling of exit_delay: 0s and
	// entry_delay: 0s, still honoured when the delay itself is unset.
	NoExitDelay  bool `json:"no_exit_delay,omitempty" yaml:"no_exit_delay,omitempty"`
	NoEntryDelay bool `json:"no_entry_delay,omitempty" yaml:"no_entry_delay,omitempty"`
	// SwingerLimit is how many times a zone may trigger in one armed period.
	SwingerLimit int `json:"swinger_limit,omitempty" yaml:"swinger_limit,omitempty"`
	// PreventArmingOn lists the reasons that prevent arming (EN 50131-1 grade 2): tamper,
	// missing_device, device_fault, mains, battery, uplink, siren, disk, bus. Unset means
	// DefaultPreventArmingOn, the seed's: all but mains. Open zones always prevent (bypass them).
	PreventArmingOn []string `json:"prevent_arming_on,omitempty" yaml:"prevent_arming_on,omitempty"`
	// Timezone is the IANA zone schedules run in; empty means Europe/Stockholm.
	Timezone string `json:"timezone,omitempty" yaml:"timezone,omitempty"`
}

// Installation is what the installer sets up: areas, zones, devices and users. It lives in
// the store, not in config.yaml.
type Installation struct {
	Name     string   `json:"name" yaml:"name"`
	Settings Settings `json:"settings" yaml:"settings"`
	Areas    []Area   `json:"areas" yaml:"areas"`
	Zones    []Zone   `json:"zones" yaml:"zones"`
	Devices  []Device `json:"devices" yaml:"devices"`
	Users    []User   `json:"users" yaml:"users"`
	// ActionPlan is the station's call list, in order (DESIGN §2 item 21).
	ActionPlan []Contact `json:"action_plan,omitempty" yaml:"action_plan,omitempty"`
	// Schedules arm (and disarm) areas by the clock; PlugSchedules switch smart plugs.
	Schedules     []Schedule     `json:"schedules,omitempty" yaml:"schedules,omitempty"`
	PlugSchedules []PlugSchedule `json:"plug_schedules,omitempty" yaml:"plug_schedules,omitempty"`
	// CodeKey keys the hashes of PIN codes and tags; it never leaves the store.
	CodeKey []byte `json:"code_key" yaml:"-"`

	// loc is Settings.Timezone, loaded once by Validate.
	loc *time.Location
}

// Validation errors.
var (
	ErrInvalidInstallation = errors.New("invalid installation")
)

// Validate checks the installation and returns an error naming the first bad field.
func (in *Installation) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidInstallation, fmt.Sprintf(format, a...))
	}
	// within checks a set duration against its bounds (DESIGN §2); unset is always fine.
	within := func(field string, d *Duration, lo, hi time.Duration) error {
		if d != nil && (d.D() < lo || d.D() > hi) {
			return bad("%s %s outside %s–%s", field, d.D(), lo, hi)
		}
		return nil
	}
	s := in.Settings
	for _, c := range []struct {
		field  string
		d      *Duration
		lo, hi time.Duration
	}{
		{"settings.exit_delay", s.ExitDelay, 0, MaxExitDelay},
		{"settings.entry_delay", s.EntryDelay, 0, MaxEntryDelay},
		{"settings.bell_cutoff", s.BellCutoff, MinBellCutoff, MaxBellCutoff},
		{"settings.mains_report_delay", s.MainsDelay, 0, MaxMainsDelay},
		{"settings.abort_window", s.AbortWindow, 0, MaxAbortWindow},
		{"settings.cancel_window", s.CancelAfter, 0, MaxCancelAfter},
	} {
		if err := within(c.field, c.d, c.lo, c.hi); err != nil {
			return err
		}
	}
	for _, k := range s.PreventArmingOn {
		if k == "open_zone" || !slices.Contains(ReasonKinds, k) {
			return bad("settings.prevent_arming_on: unknown reason %q (want tamper, missing_device, device_fault, mains, battery, uplink, siren, disk or bus)", k)
		}
	}
	if s.SwingerLimit < 0 {
		return bad("settings.swinger_limit %d is negative", s.SwingerLimit)
	}
	areas := map[int]bool{}
	for i, a := range in.Areas {
		if a.Number <= 0 || a.Number > 99 {
			return bad("areas[%d].number %d outside 1–99", i, a.Number)
		}
		if areas[a.Number] {
			return bad("areas[%d].number %d used twice", i, a.Number)
		}
		areas[a.Number] = true
		if err := within(fmt.Sprintf("areas[%d].exit_delay", i), a.ExitDelay, 0, MaxExitDelay); err != nil {
			return err
		}
		if err := within(fmt.Sprintf("areas[%d].entry_delay", i), a.EntryDelay, 0, MaxEntryDelay); err != nil {
			return err
		}
		if err := within(fmt.Sprintf("areas[%d].bell_cutoff", i), a.BellCutoff, MinBellCutoff, MaxBellCutoff); err != nil {
			return err
		}
	}
	devices := map[string]bool{}
	addresses := map[string]bool{}
	for i, d := range in.Devices {
		if d.ID == "" {
			return bad("devices[%d].id is empty", i)
		}
		if d.ID == HubDevice {
			return bad("devices[%d].id %q is the hub's own", i, d.ID)
		}
		if devices[d.ID] {
			return bad("devices[%d].id %q used twice", i, d.ID)
		}
		devices[d.ID] = true
		addr := d.Driver + "\x00" + d.AddressOrID()
		if addresses[addr] {
			return bad("devices[%d].address %q of driver %s is another device's", i, d.AddressOrID(), d.Driver)
		}
		addresses[addr] = true
		switch d.Kind {
		case "", "sensor", "siren", "keypad", "plug", "lock":
		default:
			return bad("devices[%d].kind %q: want sensor, siren, keypad, plug or lock", i, d.Kind)
		}
		if d.Area != 0 && !areas[d.Area] {
			return bad("devices[%d].area %d does not exist", i, d.Area)
		}
	}
	zones := map[int]bool{}
	zoneDevices := map[string]bool{}
	for i, z := range in.Zones {
		if z.Number <= 0 || z.Number > 999 {
			return bad("zones[%d].number %d outside 1–999", i, z.Number)
		}
		if zones[z.Number] {
			return bad("zones[%d].number %d used twice", i, z.Number)
		}
		zones[z.Number] = true
		if !areas[z.Area] {
			return bad("zones[%d].area %d does not exist", i, z.Area)
		}
		if z.Type == 0 {
			return bad("zones[%d].type is missing", i)
		}
		if int(z.Type) >= len(zoneTypeNames) {
			return bad("zones[%d].type %s is unknown", i, z.Type)
		}
		if !devices[z.Device] {
			return bad("zones[%d].device %q is not a known device", i, z.Device)
		}
		if zoneDevices[z.Device] {
			return bad("zones[%d].device %q is in another zone already", i, z.Device)
		}
		zoneDevices[z.Device] = true
	}
	users := map[string]bool{}
	numbers := map[int]bool{}
	for i, u := range in.Users {
		if u.ID == "" {
			return bad("users[%d].id is empty", i)
		}
		if users[u.ID] {
			return bad("users[%d].id %q used twice", i, u.ID)
		}
		users[u.ID] = true
		if u.Number <= 0 || u.Number > 999 {
			return bad("users[%d].number %d outside 1–999", i, u.Number)
		}
		if numbers[u.Number] {
			return bad("users[%d].number %d used twice", i, u.Number)
		}
		numbers[u.Number] = true
		if u.Role == RoleNone {
			return bad("users[%d].role is missing", i)
		}
		if int(u.Role) >= len(roleNames) {
			return bad("users[%d].role %s is unknown", i, u.Role)
		}
		for _, a := range u.Areas {
			if !areas[a] {
				return bad("users[%d].areas: area %d does not exist", i, a)
			}
		}
		if u.Lang != "" && !slices.Contains(Langs, u.Lang) {
			return bad("users[%d].lang %q is not sv, en or empty (the browser's)", i, u.Lang)
		}
		for j, w := range u.Windows {
			if w.From < 0 || w.From >= 24*60 || w.To <= 0 || w.To > 24*60 {
				return bad("users[%d].windows[%d] has a time outside the day", i, j)
			}
			if w.From == w.To {
				return bad("users[%d].windows[%d] opens and closes at the same time", i, j)
			}
			for _, d := range w.Days {
				if d < time.Sunday || d > time.Saturday {
					return bad("users[%d].windows[%d].days: %d is not a weekday (0 = Sunday to 6 = Saturday)", i, j, d)
				}
			}
		}
	}
	if err := in.validateActionPlan(bad); err != nil {
		return err
	}
	if err := in.validateSchedules(bad, areas); err != nil {
		return err
	}
	if len(in.CodeKey) < 16 {
		return bad("code_key is shorter than 16 bytes")
	}
	if err := in.uniqueCredentials(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInstallation, err)
	}
	return nil
}

// uniqueCredentials checks that every PIN, duress code and tag names one user, and that no
// PIN is a duress code (not even the user's own): otherwise the engine would have to guess
// who operated the panel, or whether it was under duress. Codes are compared as their keyed
// hashes, and the error names the users, never a code.
func (in *Installation) uniqueCredentials() error {
	type owner struct {
		user int
		what string
	}
	// PINs and duress codes share one map: both are hashed as "code".
	codes := map[string]owner{}
	tags := map[string]owner{}
	claim := func(m map[string]owner, h string, i int, field, what string) error {
		o, ok := m[h]
		if !ok {
			m[h] = owner{i, what}
			return nil
		}
		if o.user == i && o.what == what {
			return nil // the same credential listed twice names the same user
		}
		return fmt.Errorf("users[%d].%s: %s's %s is also %s's %s", i, field, in.Users[i].ID, what, in.Users[o.user].ID, o.what)
	}
	for i, u := range in.Users {
		for _, h := range u.Codes {
			if err := claim(codes, h, i, "codes", "PIN code"); err != nil {
				return err
			}
		}
		if u.Duress != "" {
			if err := claim(codes, u.Duress, i, "duress", "duress code"); err != nil {
				return err
			}
		}
		for _, h := range u.Tags {
			if err := claim(tags, h, i, "tags", "tag"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *Installation) exitDelay(a *Area) time.Duration {
	if a.ExitDelay != nil {
		return a.ExitDelay.D()
	}
	if in.Settings.ExitDelay == nil && in.Settings.NoExitDelay {
		return 0
	}
	return in.Settings.ExitDelay.Or(DefaultExitDelay)
}

func (in *Installation) entryDelay(a *Area) time.Duration {
	if a.EntryDelay != nil {
		return a.EntryDelay.D()
	}
	if in.Settings.EntryDelay == nil && in.Settings.NoEntryDelay {
		return 0
	}
	return in.Settings.EntryDelay.Or(DefaultEntryDelay)
}

func (in *Installation) bellCutoff(a *Area) time.Duration {
	if a.BellCutoff != nil {
		return a.BellCutoff.D()
	}
	return in.Settings.BellCutoff.Or(DefaultBellCutoff)
}

// abortWindow is the local warning of an entry-route alarm; 0 reports it at once.
func (in *Installation) abortWindow() time.Duration {
	return in.Settings.AbortWindow.Or(DefaultAbortWindow)
}

// cancelWindow is how long after a report a disarm sends a cancel; 0 never sends one.
func (in *Installation) cancelWindow() time.Duration {
	return in.Settings.CancelAfter.Or(DefaultCancelAfter)
}

// mainsDelay is how long mains may be lost before it is reported; 0 reports it at once.
func (in *Installation) mainsDelay() time.Duration {
	return in.Settings.MainsDelay.Or(DefaultMainsDelay)
}

func (in *Installation) swingerLimit() int {
	if in.Settings.SwingerLimit > 0 {
		return in.Settings.SwingerLimit
	}
	return DefaultSwinger
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Duration is a time.Duration written as "30s" or "1h" in YAML and JSON.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// NewDuration returns a set duration for a setting, where nil means unset.
func NewDuration(d time.Duration) *Duration {
	v := Duration(d)
	return &v
}

// Or returns the duration if it is set (also when it is 0), and def if d is nil.
func (d *Duration) Or(def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// MarshalText writes the duration as Go writes durations.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration such as "90s" or "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, such as 30s or 5m", b)
	}
	*d = Duration(v)
	return nil
}
