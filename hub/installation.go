package hub

import (
	"errors"
	"fmt"
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
	DefaultCancelAfter = 5 * time.Minute
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
	// ExitDelay, EntryDelay and BellCutoff override the installation's defaults when set.
	ExitDelay  Duration `json:"exit_delay,omitempty" yaml:"exit_delay,omitempty"`
	EntryDelay Duration `json:"entry_delay,omitempty" yaml:"entry_delay,omitempty"`
	BellCutoff Duration `json:"bell_cutoff,omitempty" yaml:"bell_cutoff,omitempty"`
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

// Settings are the installation-wide timings and limits; zero values take the defaults.
type Settings struct {
	ExitDelay   Duration `json:"exit_delay,omitempty" yaml:"exit_delay,omitempty"`
	EntryDelay  Duration `json:"entry_delay,omitempty" yaml:"entry_delay,omitempty"`
	BellCutoff  Duration `json:"bell_cutoff,omitempty" yaml:"bell_cutoff,omitempty"`
	AbortWindow Duration `json:"abort_window,omitempty" yaml:"abort_window,omitempty"`
	CancelAfter Duration `json:"cancel_window,omitempty" yaml:"cancel_window,omitempty"`
	MainsDelay  Duration `json:"mains_report_delay,omitempty" yaml:"mains_report_delay,omitempty"`
	// NoExitDelay and NoEntryDelay make a zero delay explicit (a zero Duration means default).
	NoExitDelay  bool `json:"no_exit_delay,omitempty" yaml:"no_exit_delay,omitempty"`
	NoEntryDelay bool `json:"no_entry_delay,omitempty" yaml:"no_entry_delay,omitempty"`
	// SwingerLimit is how many times a zone may trigger in one armed period.
	SwingerLimit int `json:"swinger_limit,omitempty" yaml:"swinger_limit,omitempty"`
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
	// CodeKey keys the hashes of PIN codes and tags; it never leaves the store.
	CodeKey []byte `json:"code_key" yaml:"-"`
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
	s := in.Settings
	if d := s.ExitDelay.D(); d < 0 || d > MaxExitDelay {
		return bad("settings.exit_delay %s outside 0–%s", d, MaxExitDelay)
	}
	if d := s.EntryDelay.D(); d < 0 || d > MaxEntryDelay {
		return bad("settings.entry_delay %s outside 0–%s", d, MaxEntryDelay)
	}
	if d := s.BellCutoff.D(); d != 0 && (d < MinBellCutoff || d > MaxBellCutoff) {
		return bad("settings.bell_cutoff %s outside %s–%s", d, MinBellCutoff, MaxBellCutoff)
	}
	if d := s.MainsDelay.D(); d < 0 || d > MaxMainsDelay {
		return bad("settings.mains_report_delay %s outside 0–%s", d, MaxMainsDelay)
	}
	if d := s.AbortWindow.D(); d < 0 || d > time.Minute {
		return bad("settings.abort_window %s outside 0–1m", d)
	}
	if d := s.CancelAfter.D(); d < 0 || d > 30*time.Minute {
		return bad("settings.cancel_window %s outside 0–30m", d)
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
		if d := a.ExitDelay.D(); d < 0 || d > MaxExitDelay {
			return bad("areas[%d].exit_delay %s outside 0–%s", i, d, MaxExitDelay)
		}
		if d := a.EntryDelay.D(); d < 0 || d > MaxEntryDelay {
			return bad("areas[%d].entry_delay %s outside 0–%s", i, d, MaxEntryDelay)
		}
		if d := a.BellCutoff.D(); d != 0 && (d < MinBellCutoff || d > MaxBellCutoff) {
			return bad("areas[%d].bell_cutoff %s outside %s–%s", i, d, MinBellCutoff, MaxBellCutoff)
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
		if z.Type == 0 || int(z.Type) >= len(zoneTypeNames) {
			return bad("zones[%d].type is missing", i)
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
		for _, a := range u.Areas {
			if !areas[a] {
				return bad("users[%d].areas: area %d does not exist", i, a)
			}
		}
		for j, w := range u.Windows {
			if w.From < 0 || w.From >= 24*60 || w.To <= 0 || w.To > 24*60 {
				return bad("users[%d].windows[%d] has a time outside the day", i, j)
			}
			if w.From == w.To {
				return bad("users[%d].windows[%d] opens and closes at the same time", i, j)
			}
		}
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
	if a.ExitDelay != 0 {
		return a.ExitDelay.D()
	}
	if in.Settings.NoExitDelay {
		return 0
	}
	return or(in.Settings.ExitDelay.D(), DefaultExitDelay)
}

func (in *Installation) entryDelay(a *Area) time.Duration {
	if a.EntryDelay != 0 {
		return a.EntryDelay.D()
	}
	if in.Settings.NoEntryDelay {
		return 0
	}
	return or(in.Settings.EntryDelay.D(), DefaultEntryDelay)
}

func (in *Installation) bellCutoff(a *Area) time.Duration {
	if a.BellCutoff != 0 {
		return a.BellCutoff.D()
	}
	return or(in.Settings.BellCutoff.D(), DefaultBellCutoff)
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
