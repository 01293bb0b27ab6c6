package hub

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrWeakVerbalPassword is the error for a verbal password too short to identify anyone.
var ErrWeakVerbalPassword = errors.New("a verbal password has at least 4 letters or digits")

// Bounds of the action plan.
const (
	// MaxContacts is the longest action plan: a station calls down a short list.
	MaxContacts = 20
	// MinVerbalPassword is the shortest verbal password, in letters and digits.
	MinVerbalPassword = 4
	// maxVerbalPassword bounds what is hashed, so a request cannot make argon2 work on megabytes.
	maxVerbalPassword = 64
)

// ContactRole is what a contact of the action plan is to the station (DESIGN §2 item 21).
type ContactRole uint8

// Contact roles. A key holder can let the guard in; the fire neighbour ("brandgranne")
// lives nearby and looks at the house from outside when a fire alarm cannot be confirmed
// from the photos; other contacts are called in their turn.
const (
	ContactKeyHolder ContactRole = iota + 1
	ContactFireNeighbour
	ContactOther
)

var contactRoleNames = [...]string{"", "key_holder", "fire_neighbour", "other"}

// ContactRoles are the contact roles' names, in order.
var ContactRoles = contactRoleNames[1:]

// String returns the contact role's name.
func (r ContactRole) String() string {
	if int(r) < len(contactRoleNames) {
		return contactRoleNames[r]
	}
	return fmt.Sprintf("contactrole(%d)", uint8(r))
}

// MarshalText writes the contact role's name.
func (r ContactRole) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a contact role's name.
func (r *ContactRole) UnmarshalText(b []byte) error {
	for i, n := range contactRoleNames {
		if i > 0 && n == string(b) {
			*r = ContactRole(i)
			return nil
		}
	}
	return fmt.Errorf("unknown contact role %q (want key_holder, fire_neighbour or other)", b)
}

// Contact is one person of the action plan, called in the plan's order. The verbal
// password identifies them to the station on the phone (and the station to them); it is
// kept only as an argon2id hash, which never leaves the hub.
type Contact struct {
	Name  string      `json:"name" yaml:"name"`
	Phone string      `json:"phone" yaml:"phone"`
	Role  ContactRole `json:"role" yaml:"role"`
	// Password is the verbal password's argon2id hash (SetPassword).
	Password string `json:"password_hash" yaml:"password_hash"`
}

// NormalizeVerbalPassword is how a verbal password is compared: spoken and typed by an
// operator, so case, surrounding spaces and runs of spaces do not count.
func NormalizeVerbalPassword(p string) string {
	return strings.ToLower(strings.Join(strings.Fields(p), " "))
}

// SetPassword sets the contact's verbal password, hashed with argon2id.
func (c *Contact) SetPassword(password string) error {
	p := NormalizeVerbalPassword(password)
	n := 0
	for _, r := range p {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	if n < MinVerbalPassword {
		return ErrWeakVerbalPassword
	}
	if len(p) > maxVerbalPassword {
		return fmt.Errorf("a verbal password has at most %d bytes", maxVerbalPassword)
	}
	h, err := argonHash(p)
	if err != nil {
		return err
	}
	c.Password = h
	return nil
}

// CheckPassword reports whether spoken is the contact's verbal password. It takes an
// argon2id hash's time (tens of milliseconds): callers rate-limit it.
func (c *Contact) CheckPassword(spoken string) bool {
	p := NormalizeVerbalPassword(spoken)
	if c.Password == "" || len(p) > maxVerbalPassword {
		return false
	}
	return CheckPassword(c.Password, p)
}

// validPhone reports whether s looks like a phone number: an optional +, then digits with
// spaces or dashes between them, 3 to 20 digits (112 and short numbers included).
func validPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case (r == ' ' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return digits >= 3 && digits <= 20
}

// validateActionPlan checks the contacts; bad formats its error like Validate.
func (in *Installation) validateActionPlan(bad func(string, ...any) error) error {
	if len(in.ActionPlan) > MaxContacts {
		return bad("action_plan has %d contacts, at most %d", len(in.ActionPlan), MaxContacts)
	}
	for i, c := range in.ActionPlan {
		if strings.TrimSpace(c.Name) == "" {
			return bad("action_plan[%d].name is empty", i)
		}
		if len(c.Name) > 100 {
			return bad("action_plan[%d].name is longer than 100 bytes", i)
		}
		if !validPhone(c.Phone) {
			return bad("action_plan[%d].phone %q is not a phone number (digits, an optional leading +, spaces or dashes)", i, c.Phone)
		}
		if c.Role == 0 {
			return bad("action_plan[%d].role is missing (key_holder, fire_neighbour or other)", i)
		}
		if int(c.Role) >= len(contactRoleNames) {
			return bad("action_plan[%d].role %s is unknown", i, c.Role)
		}
		if !strings.HasPrefix(c.Password, "$argon2id$") {
			return bad("action_plan[%d].password_hash: %s has no verbal password (give verbal_password)", i, c.Name)
		}
	}
	return nil
}
