package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"vakt/hub"
)

// Defaults and bounds of the notify settings.
const (
	DefaultEscalateAfter = 2 * time.Minute
	DefaultMainsReminder = 6 * time.Hour
	DefaultFaultAfter    = 3
	DefaultPushoverAPI   = "https://api.pushover.net"
	DefaultModemBaud     = 115200
)

// Config is the notify: section of config.yaml: the channels and who gets what. The web UI
// will edit the recipients later; for now they are machine settings.
type Config struct {
	// Ntfy is an ntfy server; enabled when server is set.
	Ntfy NtfyConfig `yaml:"ntfy"`
	// Pushover is the Pushover API; enabled when token is set.
	Pushover PushoverConfig `yaml:"pushover"`
	// SMS is a cellular modem on a serial port; enabled when device is set.
	SMS ModemConfig `yaml:"sms"`
	// WebPush is Web Push to the browsers users subscribe in the web UI; always on.
	WebPush WebPushConfig `yaml:"webpush"`
	// EscalateAfter is how long an alarm may go unacknowledged before it goes to the admins
	// by SMS too.
	EscalateAfter hub.Duration `yaml:"escalate_after"`
	// MainsReminder reminds whoever gets mains notifications when mains has been out this
	// long (the seed's 6 h); 0 turns it off.
	MainsReminder hub.Duration `yaml:"mains_reminder"`
	// FaultAfter is how many failed deliveries in a row make a channel a trouble.
	FaultAfter int `yaml:"fault_after"`
	// Recipients are the users who get notifications, and how.
	Recipients []Recipient `yaml:"recipients"`
}

// NtfyConfig is an ntfy server (ntfy.sh or self-hosted).
type NtfyConfig struct {
	// Server is the server's base URL, as https://ntfy.sh.
	Server string `yaml:"server"`
	// Token is an access token sent as Authorization: Bearer; optional.
	Token string `yaml:"token"`
}

// PushoverConfig is the Pushover API.
type PushoverConfig struct {
	// Token is the application's API token.
	Token string `yaml:"token"`
	// API is the API's base URL.
	API string `yaml:"api"`
	// Retry and Expire are how often Pushover repeats an alarm (priority 2) until it is
	// acknowledged, and for how long.
	Retry  hub.Duration `yaml:"retry"`
	Expire hub.Duration `yaml:"expire"`
	// Poll is how often an alarm's receipt is polled for its acknowledgement.
	Poll hub.Duration `yaml:"poll"`
}

// ModemConfig is a cellular modem that sends SMS with AT commands.
type ModemConfig struct {
	// Device is the modem's serial port, as /dev/ttyUSB2.
	Device string `yaml:"device"`
	// Baud is the serial port's speed.
	Baud int `yaml:"baud"`
	// Timeout bounds the wait for each answer of the modem.
	Timeout hub.Duration `yaml:"timeout"`
	// Attempts is how many times one message is tried before it is a fault.
	Attempts int `yaml:"attempts"`
	// Poll is how often the modem's received SMS are read for replies that acknowledge
	// an alarm ("OK", "KVITTERA"); 0 reads none.
	Poll hub.Duration `yaml:"poll"`
}

// Recipient is a user who gets notifications, and how. Recipients come from config.yaml
// (defaults) and from the store (what the user or an admin saved in the web UI), which
// wins for its user: see Recipients.
type Recipient struct {
	// User is the user's id in the installation; admins get every alarm on every channel
	// they have, whatever Events says.
	User string `yaml:"user" json:"user"`
	// Lang is sv or en; empty (only in the store) means the user's own language setting.
	Lang string `yaml:"lang" json:"lang,omitempty"`
	// Events are the kinds of news the user wants: arming, alarm, not_armed,
	// schedule, mains, battery, missing, path_fault.
	Events []string `yaml:"events" json:"events"`
	// Ntfy is the user's ntfy topic, PushoverUser the user's Pushover user key, and SMS the
	// phone number an SMS goes to; each is optional.
	Ntfy         string `yaml:"ntfy_topic" json:"ntfy_topic,omitempty"`
	PushoverUser string `yaml:"pushover_user" json:"pushover_user,omitempty"`
	SMS          string `yaml:"sms" json:"sms,omitempty"`
	// NtfyServer and NtfyToken are the user's own ntfy server and access token, in place
	// of notify.ntfy's; both optional.
	NtfyServer string `yaml:"ntfy_server" json:"ntfy_server,omitempty"`
	NtfyToken  string `yaml:"ntfy_token" json:"ntfy_token,omitempty"`
	// webPush is set when the user has subscribed a browser (kept in the store).
	webPush bool
}

// ntfyConfig is the ntfy server the recipient's topic is on.
func (c Config) ntfyConfig(r Recipient) NtfyConfig {
	n := c.Ntfy
	if r.NtfyServer != "" {
		n = NtfyConfig{Server: r.NtfyServer}
	}
	if r.NtfyToken != "" {
		n.Token = r.NtfyToken
	}
	return n
}

// Classes are the kinds of news a recipient chooses from.
var Classes = []string{ClassArming, ClassAlarm, ClassNotArmed, ClassSchedule, ClassMains, ClassBattery, ClassMissing, ClassPathFault}

// DefaultConfig returns the settings with every default and no recipient.
func DefaultConfig() Config {
	return Config{
		Pushover:      PushoverConfig{API: DefaultPushoverAPI, Retry: hub.Duration(time.Minute), Expire: hub.Duration(time.Hour), Poll: hub.Duration(30 * time.Second)},
		SMS:           ModemConfig{Baud: DefaultModemBaud, Timeout: hub.Duration(10 * time.Second), Attempts: 3, Poll: hub.Duration(15 * time.Second)},
		WebPush:       WebPushConfig{Subscriber: DefaultWebPushSubscriber},
		EscalateAfter: hub.Duration(DefaultEscalateAfter),
		MainsReminder: hub.Duration(DefaultMainsReminder),
		FaultAfter:    DefaultFaultAfter,
		Recipients:    []Recipient{},
	}
}

var (
	topicRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	phoneRe = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	keyRe   = regexp.MustCompile(`^[A-Za-z0-9]{20,40}$`)
)

// Validate checks every field and bound; errors name the field under prefix ("notify").
func (c Config) Validate(prefix string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", prefix, field, fmt.Sprintf(format, args...)))
	}
	if c.Ntfy.Server != "" {
		if u, err := url.Parse(c.Ntfy.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("ntfy.server", "%q, want an http or https URL", c.Ntfy.Server)
		}
	}
	if c.Pushover.Token != "" {
		if u, err := url.Parse(c.Pushover.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("pushover.api", "%q, want an http or https URL", c.Pushover.API)
		}
		if d := c.Pushover.Retry.D(); d < 30*time.Second || d > time.Hour {
			bad("pushover.retry", "%s, want 30s to 1h (Pushover's minimum is 30s)", d)
		}
		if d := c.Pushover.Expire.D(); d < time.Minute || d > 3*time.Hour {
			bad("pushover.expire", "%s, want 1m to 3h (Pushover's maximum is 3h)", d)
		}
		if d := c.Pushover.Poll.D(); d < 5*time.Second || d > 10*time.Minute {
			bad("pushover.poll", "%s, want 5s to 10m", d)
		}
	}
	if c.SMS.Device != "" {
		if !strings.HasPrefix(c.SMS.Device, "/") {
			bad("sms.device", "%q, want an absolute path such as /dev/ttyUSB2", c.SMS.Device)
		}
		if _, ok := bauds[c.SMS.Baud]; !ok {
			bad("sms.baud", "%d, want 9600, 19200, 38400, 57600, 115200, 230400, 460800 or 921600", c.SMS.Baud)
		}
		if d := c.SMS.Timeout.D(); d < time.Second || d > 2*time.Minute {
			bad("sms.timeout", "%s, want 1s to 2m", d)
		}
		if c.SMS.Attempts < 1 || c.SMS.Attempts > 10 {
			bad("sms.attempts", "%d, want 1 to 10", c.SMS.Attempts)
		}
		if d := c.SMS.Poll.D(); d != 0 && (d < time.Second || d > 10*time.Minute) {
			bad("sms.poll", "%s, want 0 (off) or 1s to 10m", d)
		}
	}
	if s := c.WebPush.Subscriber; !strings.HasPrefix(s, "mailto:") && !strings.HasPrefix(s, "https://") || len(s) < 9 {
		bad("webpush.subscriber", "%q, want a mailto: or https: URL", s)
	}
	if d := c.EscalateAfter.D(); d < 30*time.Second || d > time.Hour {
		bad("escalate_after", "%s, want 30s to 1h", d)
	}
	if d := c.MainsReminder.D(); d != 0 && (d < time.Hour || d > 48*time.Hour) {
		bad("mains_reminder", "%s, want 0 (off) or 1h to 48h", d)
	}
	if c.FaultAfter < 1 || c.FaultAfter > 100 {
		bad("fault_after", "%d, want 1 to 100", c.FaultAfter)
	}
	seen := map[string]bool{}
	for i, r := range c.Recipients {
		f := fmt.Sprintf("recipients[%d]", i)
		if seen[r.User] && r.User != "" {
			bad(f+".user", "%q is listed twice", r.User)
		}
		seen[r.User] = true
		if r.Lang != "sv" && r.Lang != "en" {
			bad(f+".lang", "%q, want sv or en", r.Lang)
		}
		if r.Ntfy == "" && r.PushoverUser == "" && r.SMS == "" {
			bad(f, "no channel: set ntfy_topic, pushover_user or sms")
		}
		c.validateRecipient(f, r, bad)
	}
	return errors.Join(errs...)
}

// ValidateRecipient checks a recipient as the web UI saves it: as in config.yaml, except
// that the language may be empty (the user's own) and no channel at all is allowed (the
// user wants nothing). Errors name the field (events, ntfy_topic, sms …).
func (c Config) ValidateRecipient(r Recipient) error {
	var errs []error
	c.validateRecipient("", r, func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: strings.TrimPrefix(field, "."), Msg: fmt.Sprintf(format, args...)})
	})
	if r.Lang != "" && r.Lang != "sv" && r.Lang != "en" {
		errs = append(errs, &FieldError{Field: "lang", Msg: fmt.Sprintf("%q, want sv or en", r.Lang)})
	}
	return errors.Join(errs...)
}

// FieldError is a bad field of a recipient.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func (c Config) validateRecipient(f string, r Recipient, bad func(field, format string, args ...any)) {
	if r.User == "" {
		bad(f+".user", "must not be empty")
	}
	for j, e := range r.Events {
		if !slices.Contains(Classes, e) {
			bad(fmt.Sprintf("%s.events[%d]", f, j), "%q, want one of %s", e, strings.Join(Classes, ", "))
		}
	}
	if r.NtfyServer != "" {
		if u, err := url.Parse(r.NtfyServer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+".ntfy_server", "%q, want an http or https URL", r.NtfyServer)
		}
	}
	if len(r.NtfyToken) > 200 || strings.ContainsAny(r.NtfyToken, " \r\n\t") {
		bad(f+".ntfy_token", "want an ntfy access token (no spaces, at most 200 characters)")
	}
	if r.Ntfy != "" {
		if !topicRe.MatchString(r.Ntfy) {
			bad(f+".ntfy_topic", "%q, want 1 to 64 letters, digits, _ or -", r.Ntfy)
		} else if c.Ntfy.Server == "" && r.NtfyServer == "" {
			bad(f+".ntfy_topic", "set notify.ntfy.server or the user's own ntfy server too")
		}
	}
	if r.PushoverUser != "" {
		if !keyRe.MatchString(r.PushoverUser) {
			bad(f+".pushover_user", "want a Pushover user key (letters and digits)")
		} else if c.Pushover.Token == "" {
			bad(f+".pushover_user", "set notify.pushover.token too")
		}
	}
	if r.SMS != "" {
		if !phoneRe.MatchString(r.SMS) {
			bad(f+".sms", "%q, want a phone number such as +46701234567", r.SMS)
		} else if c.SMS.Device == "" {
			bad(f+".sms", "set notify.sms.device too")
		}
	}
}

// CursorNames returns the store's names of every destination's cursor, so that stale
// cursors can be deleted (outbox.DeleteStale).
func (c Config) CursorNames() []string {
	var out []string
	for _, d := range c.destinations() {
		out = append(out, d.cursor())
	}
	return out
}

// destination is one channel of one recipient: it has its own cursor.
type destination struct {
	rcpt    Recipient
	channel string // ntfy, pushover, sms
	to      string // topic, user key, phone number
}

func (d destination) cursor() string { return "notify/" + d.rcpt.User + "/" + d.channel }

func (c Config) destinations() []destination {
	var out []destination
	// A channel not set up in config.yaml (any more) has no destination, even where a
	// user's stored settings still name an address for it.
	for _, r := range c.Recipients {
		if r.Ntfy != "" && c.ntfyConfig(r).Server != "" {
			out = append(out, destination{r, ChannelNtfy, r.Ntfy})
		}
		if r.PushoverUser != "" && c.Pushover.Token != "" {
			out = append(out, destination{r, ChannelPushover, r.PushoverUser})
		}
		if r.SMS != "" && c.SMS.Device != "" {
			out = append(out, destination{r, ChannelSMS, r.SMS})
		}
		if r.webPush {
			out = append(out, destination{r, ChannelWebPush, r.User})
		}
	}
	return out
}
