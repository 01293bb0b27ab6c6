package web

import (
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// importTTL is how long an uploaded installation waits for its confirmation.
const importTTL = 15 * time.Minute

// maxImport is the largest installation file taken.
const maxImport = 1 << 20

// pendingImport is an uploaded, valid installation waiting for the installer to confirm
// it: kept in memory for the session that uploaded it, never in the page (it has codes).
type pendingImport struct {
	inst    *hub.Installation
	base    *hub.Installation // the installation the diff was made against
	expires time.Time
}

// importDiff is what an import would change, by name only: never codes or hashes.
type importDiff struct {
	Token    string        `json:"token"`
	Sections []diffSection `json:"sections"`
	// Same says the file changes nothing.
	Same bool `json:"same"`
}

// diffSection is one part of the installation: what is added, removed and changed.
type diffSection struct {
	Key     string   `json:"what"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// diffBy compares two lists by key, naming each element.
func diffBy[T any](key string, old, cur []T, id func(T) string, name func(T) string) diffSection {
	d := diffSection{Key: key}
	was := map[string]T{}
	for _, o := range old {
		was[id(o)] = o
	}
	now := map[string]bool{}
	for _, n := range cur {
		now[id(n)] = true
		o, ok := was[id(n)]
		switch {
		case !ok:
			d.Added = append(d.Added, name(n))
		case !reflect.DeepEqual(o, n):
			d.Changed = append(d.Changed, name(n))
		}
	}
	for _, o := range old {
		if !now[id(o)] {
			d.Removed = append(d.Removed, name(o))
		}
	}
	return d
}

func numbered(name string, n int) string {
	if name == "" {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%s (%d)", name, n)
}

// diffInstallations names what replacing old by cur changes.
func diffInstallations(old, cur *hub.Installation) importDiff {
	d := importDiff{Sections: []diffSection{
		diffBy("areas", old.Areas, cur.Areas, func(a hub.Area) string { return strconv.Itoa(a.Number) }, func(a hub.Area) string { return numbered(a.Name, a.Number) }),
		diffBy("zones", old.Zones, cur.Zones, func(z hub.Zone) string { return strconv.Itoa(z.Number) }, func(z hub.Zone) string { return numbered(z.Name, z.Number) }),
		diffBy("devices", old.Devices, cur.Devices, func(x hub.Device) string { return x.ID }, func(x hub.Device) string {
			if x.Name == "" || x.Name == x.ID {
				return x.ID
			}
			return x.Name + " (" + x.ID + ")"
		}),
		diffBy("users", old.Users, cur.Users, func(u hub.User) string { return u.ID }, func(u hub.User) string {
			if u.Name == "" || u.Name == u.ID {
				return u.ID
			}
			return u.Name + " (" + u.ID + ")"
		}),
	}}
	// A schedule has no name of its own: it is named by what it does, so a change shows as
	// one removed and one added.
	describe := func(inst *hub.Installation) func(hub.Schedule) string {
		return func(sc hub.Schedule) string {
			area := strconv.Itoa(sc.Area)
			for _, a := range inst.Areas {
				if a.Number == sc.Area && a.Name != "" {
					area = a.Name
				}
			}
			t := area + ": " + modeWord(sc.Mode) + " " + clockText(sc.Arm)
			if sc.Disarm != nil {
				t += "–" + sc.Disarm.String()
			}
			return t + " " + strings.Join(dayWords(sc.Days), ",")
		}
	}
	plug := func(p hub.PlugSchedule) string {
		return p.Device + ": " + clockText(p.On) + "–" + clockText(p.Off) + " " + strings.Join(dayWords(p.Days), ",")
	}
	d.Sections = append(d.Sections,
		diffBy("schedules", old.Schedules, cur.Schedules, describe(old), describe(cur)),
		diffBy("plug_schedules", old.PlugSchedules, cur.PlugSchedules, plug, plug))
	var other []string
	if old.Name != cur.Name {
		other = append(other, "name")
	}
	if !reflect.DeepEqual(old.Settings, cur.Settings) {
		other = append(other, "settings")
	}
	if !reflect.DeepEqual(old.ActionPlan, cur.ActionPlan) {
		other = append(other, "action_plan")
	}
	if other != nil {
		d.Sections = append(d.Sections, diffSection{Key: "installation", Changed: other})
	}
	d.Same = true
	for _, s := range d.Sections {
		if len(s.Added)+len(s.Removed)+len(s.Changed) > 0 {
			d.Same = false
		}
	}
	return d
}

// uploadedYAML is the installation file of an import form: the uploaded file, or the
// text pasted in.
func uploadedYAML(c *fiber.Ctx) ([]byte, error) {
	if fh, err := c.FormFile("file"); err == nil {
		if fh.Size > maxImport {
			return nil, invalid("file")
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxImport))
	}
	text, err := importField(c, "yaml")
	if err != nil {
		return nil, err
	}
	if text == "" || len(text) > maxImport {
		return nil, invalid("file")
	}
	return []byte(text), nil
}

// importField is a field of the form, or of the JSON body ({"yaml": …}, {"token": …}).
func importField(c *fiber.Ctx, name string) (string, error) {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return c.FormValue(name), nil
	}
	var m map[string]string
	if err := body(c, &m); err != nil {
		return "", err
	}
	return m[name], nil
}

// importPost reads an uploaded installation and shows what it would change; nothing
// changes until importApplyPost. A file that does not parse or validate is refused with
// the error naming its line or field.
func (s *Server) importPost(c *fiber.Ctx) error {
	data, err := uploadedYAML(c)
	if err != nil {
		return s.fail(c, err, s.again(c))
	}
	snap := s.hub.Snapshot()
	inst, err := hub.ParseInstallation(data, snap.Installation.CodeKey)
	if err != nil {
		return s.fail(c, configErr(err), s.again(c))
	}
	hub.KeepPasswords(snap.Installation, inst) // an installer's export has none
	tok, err := hub.NewToken()
	if err != nil {
		return err
	}
	d := diffInstallations(snap.Installation, inst)
	d.Token = tok
	s.mu.Lock()
	if s.imports == nil {
		s.imports = map[string]pendingImport{}
	}
	for k, p := range s.imports {
		if !s.now().Before(p.expires) {
			delete(s.imports, k)
		}
	}
	s.imports[sess(c).token+"/"+tok] = pendingImport{inst: inst, base: snap.Installation, expires: s.now().Add(importTTL)}
	s.mu.Unlock()
	if isAPI(c) {
		return c.JSON(d)
	}
	return s.render(c, http.StatusOK, "import", page{Title: translate(lang(c), "import"), Data: d})
}

// importApplyPost applies a previewed import, through the hub with the installer's own
// credential, so it is authorised and logged.
func (s *Server) importApplyPost(c *fiber.Ctx) error {
	tok, err := importField(c, "token")
	if err != nil {
		return err
	}
	key := sess(c).token + "/" + tok
	s.mu.Lock()
	p, ok := s.imports[key]
	delete(s.imports, key)
	s.mu.Unlock()
	if !ok || !s.now().Before(p.expires) {
		return invalidKey("token", "import_gone")
	}
	if !reflect.DeepEqual(p.base, s.hub.Snapshot().Installation) {
		// The installation changed since the preview: the diff shown is not what would
		// happen. Upload again.
		return invalidKey("token", "import_stale")
	}
	err = s.configure(c, "", "installation imported in the web UI", func(cur *hub.Installation) error {
		key := cur.CodeKey
		*cur = *p.inst
		cur.CodeKey = key
		return nil
	})
	if err != nil {
		return s.fail(c, err, s.again(c))
	}
	if isAPI(c) {
		return s.apiInstaller(c)
	}
	return c.Redirect("/installer?imported=1#import", http.StatusSeeOther)
}
