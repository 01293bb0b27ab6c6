package hub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Credential errors.
var (
	ErrMalformedCode = errors.New("malformed code: a code is 4 to 8 digits")
	ErrWrongCode     = errors.New("wrong code")
	ErrUnknownUser   = errors.New("unknown user")
	ErrNotAllowed    = errors.New("not allowed")
	ErrLockedOut     = errors.New("too many wrong codes: interface locked")
)

// Role is what a user may do (DESIGN §2 item 10, EN 50131 access levels).
type Role uint8

// Roles.
const (
	RoleNone Role = iota
	// RoleAdmin manages users and grants the installer access.
	RoleAdmin
	// RoleUser arms, disarms, bypasses and acknowledges.
	RoleUser
	// RoleLimited may only arm, or only within its time windows.
	RoleLimited
	// RoleInstaller configures and tests, only while an admin's grant lasts.
	RoleInstaller
)

var roleNames = [...]string{"", "admin", "user", "limited", "installer"}

// String returns the role's name.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	for i, n := range roleNames {
		if i > 0 && n == string(b) {
			*r = Role(i)
			return nil
		}
	}
	return fmt.Errorf("unknown role %q (want admin, user, limited or installer)", b)
}

// Window is a weekly time window in which a limited user's credentials work.
type Window struct {
	// Days lists weekdays, 0 = Sunday; empty means every day.
	Days []time.Weekday `json:"days,omitempty" yaml:"days,omitempty"`
	// From and To are minutes after local midnight; To is exclusive.
	From int `json:"from" yaml:"from"`
	To   int `json:"to" yaml:"to"`
}

func (w Window) contains(t time.Time) bool {
	day := func(d time.Weekday) bool { return len(w.Days) == 0 || slices.Contains(w.Days, d) }
	m := t.Hour()*60 + t.Minute()
	if w.From < w.To {
		return day(t.Weekday()) && m >= w.From && m < w.To
	}
	// Over midnight: the part after midnight belongs to the day the window opened.
	if m >= w.From {
		return day(t.Weekday())
	}
	return m < w.To && day((t.Weekday()+6)%7)
}

// User is a person with credentials. Codes and tags are kept only as keyed hashes.
type User struct {
	ID     string `json:"id" yaml:"id"`
	Number int    `json:"number" yaml:"number"`
	Name   string `json:"name" yaml:"name"`
	Role   Role   `json:"role" yaml:"role"`
	// Areas the user may operate; empty means all.
	Areas []int `json:"areas,omitempty" yaml:"areas,omitempty"`
	// Codes, Tags and Duress hold hex HMAC-SHA256 hashes keyed with the installation's
	// CodeKey; never the codes themselves.
	Codes  []string `json:"codes,omitempty" yaml:"codes,omitempty"`
	Tags   []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Duress string   `json:"duress,omitempty" yaml:"duress,omitempty"`
	// LockSlot is the user's slot (user number) in the door locks, 0 if none: a lock report
	// naming the slot says this user operated it.
	LockSlot int `json:"lock_slot,omitempty" yaml:"lock_slot,omitempty"`
	// ArmOnly limits the user to arming.
	ArmOnly bool `json:"arm_only,omitempty" yaml:"arm_only,omitempty"`
	// Windows limit when a limited user's credentials work; empty means always.
	Windows []Window `json:"windows,omitempty" yaml:"windows,omitempty"`
	// Password is the user's web password as an argon2id hash (HashPassword); empty means
	// the user has no web password.
	Password string `json:"password,omitempty" yaml:"password,omitempty"`
	// Lang is the language of the user's web pages: "sv", "en", or empty for the
	// browser's (Accept-Language).
	Lang string `json:"lang,omitempty" yaml:"lang,omitempty"`
	// WebNoPIN lets the user, signed in to the web UI, arm and disarm there without a PIN
	// (as themselves); an admin's choice per user.
	WebNoPIN bool `json:"web_no_pin,omitempty" yaml:"web_no_pin,omitempty"`
}

// Langs are the languages a user's Lang may name ("" is the browser's).
var Langs = []string{"en", "sv"}

// ValidCode reports whether s is a well-formed PIN code: 4 to 8 digits.
func ValidCode(s string) bool {
	if len(s) < 4 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// HashCredential returns the keyed hash under which a code or tag is stored. The prefix keeps
// a code and a tag with the same digits apart.
func HashCredential(key []byte, kind, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}

// SetCode adds a PIN code to the user, hashed with key.
func (u *User) SetCode(key []byte, code string) error {
	if !ValidCode(code) {
		return fmt.Errorf("user %s: %w", u.ID, ErrMalformedCode)
	}
	u.Codes = append(u.Codes, HashCredential(key, "code", code))
	return nil
}

// SetDuress sets the user's duress code, hashed with key.
func (u *User) SetDuress(key []byte, code string) error {
	if !ValidCode(code) {
		return fmt.Errorf("user %s duress: %w", u.ID, ErrMalformedCode)
	}
	u.Duress = HashCredential(key, "code", code)
	return nil
}

// AddTag adds an RFID tag id to the user, hashed with key.
func (u *User) AddTag(key []byte, tag string) error {
	if tag == "" {
		return fmt.Errorf("user %s: empty tag", u.ID)
	}
	u.Tags = append(u.Tags, HashCredential(key, "tag", tag))
	return nil
}

func (u *User) mayUseArea(area int) bool {
	return len(u.Areas) == 0 || slices.Contains(u.Areas, area)
}

func (u *User) activeAt(t time.Time) bool {
	if u.Role != RoleLimited || len(u.Windows) == 0 {
		return true
	}
	for _, w := range u.Windows {
		if w.contains(t) {
			return true
		}
	}
	return false
}

func hashEqual(a, b string) bool {
	return len(a) == len(b) && hmac.Equal([]byte(a), []byte(b))
}
