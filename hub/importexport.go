package hub

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// importFile is an installation as an installer writes it: users may give their codes and
// tags in clear (pins, duress_pin, tag_ids), which are hashed on import and never stored.
type importFile struct {
	Name     string       `yaml:"name"`
	Settings Settings     `yaml:"settings"`
	Areas    []Area       `yaml:"areas"`
	Zones    []Zone       `yaml:"zones"`
	Devices  []Device     `yaml:"devices"`
	Users    []importUser `yaml:"users"`
	// Schedules and PlugSchedules are the auto-arm and plug schedules.
	Schedules     []Schedule     `yaml:"schedules,omitempty"`
	PlugSchedules []PlugSchedule `yaml:"plug_schedules,omitempty"`
	// ActionPlan may give verbal passwords in clear (verbal_password), hashed on import;
	// an export has only their hashes (password_hash).
	ActionPlan []importContact `yaml:"action_plan,omitempty"`
}

type importContact struct {
	Contact        `yaml:",inline"`
	VerbalPassword string `yaml:"verbal_password,omitempty"`
}

type importUser struct {
	User      `yaml:",inline"`
	PINs      []string `yaml:"pins,omitempty"`
	DuressPIN string   `yaml:"duress_pin,omitempty"`
	TagIDs    []string `yaml:"tag_ids,omitempty"`
}

// ParseInstallation reads an installation from YAML, strictly: an unknown key or a bad
// value is an error naming its line, and the result is validated. Codes and tags given in
// clear are hashed with key.
func ParseInstallation(data []byte, key []byte) (*Installation, error) {
	var f importFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidInstallation, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	inst := &Installation{Name: f.Name, Settings: f.Settings, Areas: f.Areas, Zones: f.Zones, Devices: f.Devices, CodeKey: key,
		Schedules: f.Schedules, PlugSchedules: f.PlugSchedules}
	for i, iu := range f.Users {
		u := iu.User
		for _, p := range iu.PINs {
			if err := u.SetCode(key, p); err != nil {
				return nil, fmt.Errorf("%w: users[%d].pins: %v", ErrInvalidInstallation, i, err)
			}
		}
		if iu.DuressPIN != "" {
			if err := u.SetDuress(key, iu.DuressPIN); err != nil {
				return nil, fmt.Errorf("%w: users[%d].duress_pin: %v", ErrInvalidInstallation, i, err)
			}
		}
		for _, t := range iu.TagIDs {
			if err := u.AddTag(key, t); err != nil {
				return nil, fmt.Errorf("%w: users[%d].tag_ids: %v", ErrInvalidInstallation, i, err)
			}
		}
		inst.Users = append(inst.Users, u)
	}
	for i, ic := range f.ActionPlan {
		c := ic.Contact
		if ic.VerbalPassword != "" {
			if c.Password != "" {
				return nil, fmt.Errorf("%w: action_plan[%d]: give verbal_password or password_hash, not both", ErrInvalidInstallation, i)
			}
			if err := c.SetPassword(ic.VerbalPassword); err != nil {
				return nil, fmt.Errorf("%w: action_plan[%d].verbal_password: %v", ErrInvalidInstallation, i, err)
			}
		}
		inst.ActionPlan = append(inst.ActionPlan, c)
	}
	if err := inst.Validate(); err != nil {
		return nil, err
	}
	return inst, nil
}

// MarshalInstallation writes the installation as YAML for backup: codes and tags only as
// their hashes, and never the code key (the hashes are only good in the same store).
func MarshalInstallation(inst *Installation) ([]byte, error) {
	return marshalInstallation(inst, true)
}

// MarshalInstallationNoPasswords is MarshalInstallation without the users' web password
// hashes: the export a third party (the installer) takes away. Codes and tags stay: they
// are keyed with this box's secret, which no export carries, so they are of no use
// elsewhere, and an import here keeps them working.
func MarshalInstallationNoPasswords(inst *Installation) ([]byte, error) {
	return marshalInstallation(inst, false)
}

func marshalInstallation(inst *Installation, passwords bool) ([]byte, error) {
	f := importFile{Name: inst.Name, Settings: inst.Settings, Areas: inst.Areas, Zones: inst.Zones, Devices: inst.Devices,
		Schedules: inst.Schedules, PlugSchedules: inst.PlugSchedules}
	for _, u := range inst.Users {
		if !passwords {
			u.Password = ""
		}
		f.Users = append(f.Users, importUser{User: u})
	}
	for _, c := range inst.ActionPlan {
		f.ActionPlan = append(f.ActionPlan, importContact{Contact: c})
	}
	b, err := yaml.Marshal(f)
	if err != nil || passwords {
		return b, err
	}
	return append([]byte("# Web passwords are left out of an installer's export; an import keeps the stored ones.\n"), b...), nil
}

// KeepPasswords gives each user of next without a web password the one cur has for the
// user with the same id: an imported file without passwords (an installer's export) does
// not sign the family out for good. A password is removed in the users page, not by
// leaving it out of a file.
func KeepPasswords(cur, next *Installation) {
	for i := range next.Users {
		if next.Users[i].Password != "" {
			continue
		}
		for _, u := range cur.Users {
			if u.ID == next.Users[i].ID {
				next.Users[i].Password = u.Password
				break
			}
		}
	}
}

// UnmarshalYAML reads a zone type's name; a wrong one is an error naming it and its line.
func (t *ZoneType) UnmarshalYAML(n *yaml.Node) error { return unmarshalYAMLName(n, "zone type", t) }

// UnmarshalYAML reads a contact role's name; a wrong one is an error naming it and its line.
func (r *ContactRole) UnmarshalYAML(n *yaml.Node) error {
	return unmarshalYAMLName(n, "contact role", r)
}

// UnmarshalYAML reads a mode's name (a schedule's away, home or night); a wrong one is an
// error naming it and its line.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error { return unmarshalYAMLName(n, "mode", m) }

// UnmarshalYAML reads a role's name; a wrong one is an error naming it and its line.
func (r *Role) UnmarshalYAML(n *yaml.Node) error { return unmarshalYAMLName(n, "role", r) }

// UnmarshalYAML reads a duration such as "90s"; a wrong one is an error with its line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 30s or 5m", n.Line)
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// unmarshalYAMLName reads a name with u, adding the line to the error: yaml.v3 says where
// a value of the wrong kind is, but not where a TextUnmarshaler refused one.
func unmarshalYAMLName(n *yaml.Node, what string, u encoding.TextUnmarshaler) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %s: want a name", n.Line, what)
	}
	if err := u.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
