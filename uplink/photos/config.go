package photos

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"vakt/hub"
)

// Defaults and bounds of the photo settings (DESIGN §2 item 20).
const (
	DefaultBurstCount    = 5
	DefaultBurstInterval = time.Second
	DefaultFireInterval  = 40 * time.Second
	DefaultFireMax       = 30 * time.Minute
	DefaultRetention     = 14 * 24 * time.Hour
	DefaultHoldRetention = 30 * 24 * time.Hour
	DefaultTimeout       = 5 * time.Second
	DefaultMaxSize       = 5 << 20
	// MaxBurstCount bounds the photos of a burglary per camera.
	MaxBurstCount = 20
	// maxPerAlarm bounds the photos of one camera for one alarm, fire included, so that a
	// fault cannot fill the card.
	maxPerAlarm = 200
	// minInterval is the shortest interval between photos.
	minInterval = 10 * time.Millisecond
)

var cameraName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// Config is the photos: section of config.yaml: the cameras, how many photos an alarm
// takes, and how long they are kept. Photos are encrypted to the station's key
// (uplink_mqtt.station_public_key) and delivered over the MQTT uplink.
type Config struct {
	Cameras []Camera `yaml:"cameras"`
	// Burglar is the burst a burglary alarm takes per camera: Count photos, Interval apart.
	Burglar Burst `yaml:"burglar"`
	// FireInterval is the time between photos while a fire alarm lasts (its siren sounds or
	// a fire zone of the area still detects), at most FireMax.
	FireInterval hub.Duration `yaml:"fire_interval"`
	FireMax      hub.Duration `yaml:"fire_max"`
	// Retention is how long a photo is kept; HoldRetention how long when the station placed
	// an investigation hold on its alarm.
	Retention     hub.Duration `yaml:"retention"`
	HoldRetention hub.Duration `yaml:"hold_retention"`
	// MaxSize bounds one photo, in bytes; a larger one is refused (logged), not cut.
	MaxSize int64 `yaml:"max_size"`
}

// Burst is a number of photos at an interval.
type Burst struct {
	Count    int          `yaml:"count"`
	Interval hub.Duration `yaml:"interval"`
}

// Camera is an IP camera with an HTTP snapshot URL.
type Camera struct {
	// Name names the camera in the history and to the station: a-z, 0-9, '_', '-'.
	Name string `yaml:"name"`
	// URL returns one JPEG per GET (http or https).
	URL string `yaml:"url"`
	// Username and Password (or PasswordEnv, an environment variable holding it) log in.
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
	// Auth is basic, digest, or empty to follow the camera's challenge.
	Auth string `yaml:"auth"`
	// Areas are the areas whose alarms the camera photographs.
	Areas []int `yaml:"areas"`
	// Timeout bounds one snapshot.
	Timeout hub.Duration `yaml:"timeout"`

	password string
}

// Validate fills in defaults and checks c, resolving passwords through getenv; errors name
// the field, as "photos.cameras[0].url: …".
func (c *Config) Validate(getenv func(string) string) error {
	const at = "photos"
	if c.Burglar.Count == 0 {
		c.Burglar.Count = DefaultBurstCount
	}
	if c.Burglar.Interval == 0 {
		c.Burglar.Interval = hub.Duration(DefaultBurstInterval)
	}
	if c.FireInterval == 0 {
		c.FireInterval = hub.Duration(DefaultFireInterval)
	}
	if c.FireMax == 0 {
		c.FireMax = hub.Duration(DefaultFireMax)
	}
	if c.Retention == 0 {
		c.Retention = hub.Duration(DefaultRetention)
	}
	if c.HoldRetention == 0 {
		c.HoldRetention = hub.Duration(DefaultHoldRetention)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	switch {
	case c.Burglar.Count < 1 || c.Burglar.Count > MaxBurstCount:
		return fmt.Errorf("%s.burglar.count: %d, want 1 to %d", at, c.Burglar.Count, MaxBurstCount)
	case c.Burglar.Interval.D() < minInterval || c.Burglar.Interval.D() > time.Minute:
		return fmt.Errorf("%s.burglar.interval: %s, want %s to 1m", at, c.Burglar.Interval.D(), minInterval)
	case c.FireInterval.D() < minInterval || c.FireInterval.D() > 10*time.Minute:
		return fmt.Errorf("%s.fire_interval: %s, want %s to 10m", at, c.FireInterval.D(), minInterval)
	case c.FireMax.D() < c.FireInterval.D() || c.FireMax.D() > 24*time.Hour:
		return fmt.Errorf("%s.fire_max: %s, want fire_interval to 24h", at, c.FireMax.D())
	case c.Retention.D() < time.Hour:
		return fmt.Errorf("%s.retention: %s, want at least 1h", at, c.Retention.D())
	case c.HoldRetention.D() < c.Retention.D():
		return fmt.Errorf("%s.hold_retention: %s, want at least retention (%s)", at, c.HoldRetention.D(), c.Retention.D())
	case c.MaxSize < 1024 || c.MaxSize > 64<<20:
		return fmt.Errorf("%s.max_size: %d, want 1024 to %d bytes", at, c.MaxSize, 64<<20)
	}
	names := map[string]bool{}
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		f := fmt.Sprintf("%s.cameras[%d]", at, i)
		if !cameraName.MatchString(cam.Name) {
			return fmt.Errorf("%s.name: %q, want 1 to 32 of a-z, 0-9, '_' and '-'", f, cam.Name)
		}
		if names[cam.Name] {
			return fmt.Errorf("%s.name: %q used twice", f, cam.Name)
		}
		names[cam.Name] = true
		u, err := url.Parse(cam.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s.url: %q, want an http:// or https:// snapshot URL", f, cam.URL)
		}
		if u.User != nil {
			return fmt.Errorf("%s.url: give the login as username and password, not in the URL", f)
		}
		switch cam.Auth {
		case "", "basic", "digest":
		default:
			return fmt.Errorf("%s.auth: %q, want basic, digest or empty (the camera's choice)", f, cam.Auth)
		}
		cam.password = cam.Password
		if cam.PasswordEnv != "" {
			if cam.Password != "" {
				return fmt.Errorf("%s.password_env: give password or password_env, not both", f)
			}
			if getenv == nil || getenv(cam.PasswordEnv) == "" {
				return fmt.Errorf("%s.password_env: $%s is empty or unset", f, cam.PasswordEnv)
			}
			cam.password = getenv(cam.PasswordEnv)
		}
		if cam.Auth != "" && cam.Username == "" {
			return fmt.Errorf("%s.username: required with auth %s", f, cam.Auth)
		}
		if len(cam.Areas) == 0 {
			return fmt.Errorf("%s.areas: name the areas whose alarms it photographs", f)
		}
		for j, a := range cam.Areas {
			if a < 1 || a > 99 {
				return fmt.Errorf("%s.areas[%d]: %d, want 1 to 99", f, j, a)
			}
		}
		if cam.Timeout == 0 {
			cam.Timeout = hub.Duration(DefaultTimeout)
		}
		if cam.Timeout.D() < minInterval || cam.Timeout.D() > time.Minute {
			return fmt.Errorf("%s.timeout: %s, want %s to 1m", f, cam.Timeout.D(), minInterval)
		}
	}
	return nil
}

// covers reports whether the camera photographs area's alarms.
func (c *Camera) covers(area int) bool {
	for _, a := range c.Areas {
		if a == area {
			return true
		}
	}
	return false
}
