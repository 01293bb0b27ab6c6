package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// userRow is a user on the users page. Codes and tags are counted, never shown: only their
// keyed hashes are stored.
type userRow struct {
	ID       string `json:"id"`
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Areas    []int  `json:"areas,omitempty"`
	Codes    int    `json:"codes"`
	Tags     int    `json:"tags"`
	Duress   bool   `json:"duress"`
	LockSlot int    `json:"lock_slot,omitempty"`
	ArmOnly  bool   `json:"arm_only,omitempty"`
	Windows  string `json:"windows,omitempty"`
	Password bool   `json:"password"`
	Lang     string `json:"lang,omitempty"`
	WebNoPIN bool   `json:"web_no_pin,omitempty"`
}

// HasArea says whether the user's areas include n (for the form's checkboxes).
func (u userRow) HasArea(n int) bool { return slices.Contains(u.Areas, n) }

// usersView is the users page's data.
type usersView struct {
	Users          []userRow  `json:"users"`
	Areas          []hub.Area `json:"-"`
	Roles          []string   `json:"-"`
	InstallerUntil time.Time  `json:"installer_until,omitzero"`
	formNotice
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// formatWindows writes time windows as "mon,tue 07:00-17:00; sat 10:00-12:00".
func formatWindows(ws []hub.Window) string {
	var parts []string
	for _, w := range ws {
		var days []string
		for _, d := range w.Days {
			days = append(days, dayNames[d])
		}
		d := "*"
		if len(days) > 0 {
			d = strings.Join(days, ",")
		}
		parts = append(parts, fmt.Sprintf("%s %02d:%02d-%02d:%02d", d, w.From/60, w.From%60, w.To/60, w.To%60))
	}
	return strings.Join(parts, "; ")
}

// parseWindows reads what formatWindows writes; "*" is every day.
func parseWindows(s string) ([]hub.Window, error) {
	var out []hub.Window
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Fields(part)
		if len(f) != 2 {
			return nil, invalid("windows")
		}
		var w hub.Window
		if f[0] != "*" {
			for _, d := range strings.Split(strings.ToLower(f[0]), ",") {
				i := slices.Index(dayNames, strings.TrimSpace(d))
				if i < 0 {
					return nil, invalid("windows")
				}
				w.Days = append(w.Days, time.Weekday(i))
			}
		}
		from, to, ok := strings.Cut(f[1], "-")
		var err1, err2 error
		w.From, err1 = clockMinutes(from)
		w.To, err2 = clockMinutes(to)
		if !ok || err1 != nil || err2 != nil {
			return nil, invalid("windows")
		}
		out = append(out, w)
	}
	return out, nil
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		if strings.TrimSpace(s) == "24:00" {
			return 24 * 60, nil
		}
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (s *Server) userRows() []userRow {
	rows := []userRow{}
	for _, u := range s.hub.Snapshot().Installation.Users {
		rows = append(rows, userRow{ID: u.ID, Number: u.Number, Name: u.Name, Role: u.Role.String(), Areas: u.Areas,
			Codes: len(u.Codes), Tags: len(u.Tags), Duress: u.Duress != "", LockSlot: u.LockSlot, ArmOnly: u.ArmOnly,
			Windows: formatWindows(u.Windows), Password: u.Password != "", Lang: u.Lang, WebNoPIN: u.WebNoPIN})
	}
	return rows
}

func (s *Server) usersView(n formNotice) usersView {
	snap := s.hub.Snapshot()
	v := usersView{Users: s.userRows(), Areas: snap.Installation.Areas, formNotice: n}
	for r := hub.RoleAdmin; r <= hub.RoleInstaller; r++ {
		v.Roles = append(v.Roles, r.String())
	}
	if until := snap.State.InstallerUntil; s.now().Before(until) {
		v.InstallerUntil = until
	}
	return v
}

func (s *Server) usersPage(c *fiber.Ctx) error { return s.renderUsers(c, http.StatusOK, formNotice{}) }

func (s *Server) renderUsers(c *fiber.Ctx, status int, n formNotice) error {
	return s.render(c, status, "users", page{Title: translate(lang(c), "users"), Data: s.usersView(n)})
}

func (s *Server) apiUsers(c *fiber.Ctx) error { return c.JSON(s.usersView(formNotice{})) }

// userEdit is a new user or a change to one. Codes and tags are given in clear and stored
// only as keyed hashes; nil PINs, Tags or Duress keep what the user has, an empty list (or
// "") clears them. Password, when given, sets the web password.
type userEdit struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	PINs     *[]string `json:"pins"`
	Tags     *[]string `json:"tags"`
	Duress   *string   `json:"duress"`
	Areas    *[]int    `json:"areas"`
	Windows  *string   `json:"windows"`
	LockSlot *int      `json:"lock_slot"`
	ArmOnly  *bool     `json:"arm_only"`
	Lang     *string   `json:"lang"`
	WebNoPIN *bool     `json:"web_no_pin"`
	Password string    `json:"password"`
	// PIN is the admin's own, when the admin wants to give it.
	PIN string `json:"pin"`
}

// saveUser adds (id "") or changes a user through the hub; it returns the user's id.
func (s *Server) saveUser(c *fiber.Ctx, id string, e userEdit) (string, error) {
	e.Name = strings.TrimSpace(e.Name)
	if len(e.Name) > 40 || (id == "" && userID(e.Name) == "") {
		return "", invalid("name")
	}
	var role hub.Role
	if e.Role != "" {
		if err := role.UnmarshalText([]byte(e.Role)); err != nil {
			return "", invalid("role")
		}
	} else if id == "" {
		return "", invalid("role")
	}
	for _, list := range []*[]string{e.PINs} {
		if list != nil {
			for _, p := range *list {
				if !hub.ValidCode(p) {
					return "", invalid("pins")
				}
			}
		}
	}
	if e.Duress != nil && *e.Duress != "" && !hub.ValidCode(*e.Duress) {
		return "", invalid("duress")
	}
	var windows []hub.Window
	if e.Windows != nil {
		w, err := parseWindows(*e.Windows)
		if err != nil {
			return "", err
		}
		windows = w
	}
	var password string
	if e.Password != "" {
		var u hub.User
		if err := u.SetPassword(e.Password); err != nil {
			return "", invalid("password")
		}
		password = u.Password
	}
	note := "user " + id + " changed in the web UI"
	if id == "" {
		id = userID(e.Name)
		note = "user " + id + " added in the web UI"
	}
	err := s.configure(c, e.PIN, note, func(inst *hub.Installation) error {
		u := userByID(inst, id)
		if u == nil {
			if c.Params("id") != "" {
				return hub.ErrUnknownUser
			}
			n := 0
			for _, o := range inst.Users {
				n = max(n, o.Number)
			}
			inst.Users = append(inst.Users, hub.User{ID: id, Number: n + 1})
			u = &inst.Users[len(inst.Users)-1]
		} else if c.Params("id") == "" {
			return &invalidConfig{detail: "a user with the id " + id + " exists"}
		}
		if e.Name != "" {
			u.Name = e.Name
		}
		if role != hub.RoleNone {
			u.Role = role
		}
		if e.PINs != nil {
			u.Codes = nil
			for _, p := range *e.PINs {
				if err := u.SetCode(inst.CodeKey, p); err != nil {
					return err
				}
			}
		}
		if e.Tags != nil {
			u.Tags = nil
			for _, t := range *e.Tags {
				if err := u.AddTag(inst.CodeKey, t); err != nil {
					return err
				}
			}
		}
		if e.Duress != nil {
			u.Duress = ""
			if *e.Duress != "" {
				if err := u.SetDuress(inst.CodeKey, *e.Duress); err != nil {
					return err
				}
			}
		}
		if e.Areas != nil {
			u.Areas = slices.Clone(*e.Areas)
		}
		if e.Windows != nil {
			u.Windows = windows
		}
		if e.LockSlot != nil {
			u.LockSlot = *e.LockSlot
		}
		if e.ArmOnly != nil {
			u.ArmOnly = *e.ArmOnly
		}
		if e.WebNoPIN != nil {
			u.WebNoPIN = *e.WebNoPIN
		}
		if e.Lang != nil {
			u.Lang = *e.Lang // Installation.Validate refuses a language vakt does not speak
		}
		if password != "" {
			u.Password = password
		}
		return nil
	})
	return id, err
}

// formUserEdit reads the user form: blank PIN, tag and duress fields keep what is stored
// (the "clear_…" boxes clear it).
func formUserEdit(c *fiber.Ctx) (userEdit, error) {
	e := userEdit{Name: c.FormValue("name"), Role: c.FormValue("role"), Password: c.FormValue("password"), PIN: c.FormValue("pin")}
	list := func(field string) *[]string {
		v := strings.FieldsFunc(c.FormValue(field), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
		if len(v) == 0 && c.FormValue("clear_"+field) == "" {
			return nil
		}
		return &v
	}
	e.PINs, e.Tags = list("pins"), list("tags")
	if d := strings.TrimSpace(c.FormValue("duress")); d != "" || c.FormValue("clear_duress") != "" {
		e.Duress = &d
	}
	if c.FormValue("has_areas") != "" {
		areas := []int{}
		for _, b := range c.Request().PostArgs().PeekMulti("areas") {
			n, err := strconv.Atoi(string(b))
			if err != nil || n <= 0 {
				return e, invalid("areas")
			}
			areas = append(areas, n)
		}
		e.Areas = &areas
		w := c.FormValue("windows")
		e.Windows = &w
		arm := c.FormValue("arm_only") != ""
		e.ArmOnly = &arm
		l := c.FormValue("lang")
		e.Lang = &l
		noPIN := c.FormValue("web_no_pin") != ""
		e.WebNoPIN = &noPIN
		slot := 0
		if v := strings.TrimSpace(c.FormValue("lock_slot")); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1<<16 {
				return e, invalid("lock_slot")
			}
			slot = n
		}
		e.LockSlot = &slot
	}
	return e, nil
}

func (s *Server) userAddPost(c *fiber.Ctx) error { return s.userPost(c, "") }
func (s *Server) userEditPost(c *fiber.Ctx) error {
	return s.userPost(c, strings.Clone(c.Params("id")))
}

func (s *Server) userPost(c *fiber.Ctx, id string) error {
	e, err := formUserEdit(c)
	if err == nil {
		_, err = s.saveUser(c, id, e)
	}
	if err != nil {
		return s.fail(c, err, func(n formNotice) error { return s.renderUsers(c, http.StatusBadRequest, n) })
	}
	return c.Redirect("/users", http.StatusSeeOther)
}

func (s *Server) apiUserAdd(c *fiber.Ctx) error { return s.apiUserSave(c, "") }
func (s *Server) apiUserEdit(c *fiber.Ctx) error {
	return s.apiUserSave(c, strings.Clone(c.Params("id")))
}

func (s *Server) apiUserSave(c *fiber.Ctx, id string) error {
	var e userEdit
	if err := body(c, &e); err != nil {
		return err
	}
	if _, err := s.saveUser(c, id, e); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiUsers(c)
}

// removeUser takes a user out of the installation; their sessions end with them.
func (s *Server) removeUser(c *fiber.Ctx, id, pin string) error {
	if id == sess(c).User {
		return &invalidConfig{detail: "you cannot remove yourself"}
	}
	return s.configure(c, pin, "user "+id+" removed in the web UI", func(inst *hub.Installation) error {
		i := slices.IndexFunc(inst.Users, func(u hub.User) bool { return u.ID == id })
		if i < 0 {
			return hub.ErrUnknownUser
		}
		inst.Users = slices.Delete(inst.Users, i, i+1)
		return nil
	})
}

func (s *Server) userRemovePost(c *fiber.Ctx) error {
	if err := s.removeUser(c, strings.Clone(c.Params("id")), c.FormValue("pin")); err != nil {
		return s.fail(c, err, func(n formNotice) error { return s.renderUsers(c, http.StatusBadRequest, n) })
	}
	return c.Redirect("/users", http.StatusSeeOther)
}

func (s *Server) apiUserRemove(c *fiber.Ctx) error {
	if err := s.removeUser(c, strings.Clone(c.Params("id")), ""); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiUsers(c)
}

// grant grants installer access for hours (0 revokes it), with the admin's credential.
func (s *Server) grant(c *fiber.Ctx, hours float64, pin string) error {
	if hours < 0 || hours > 168 {
		return invalid("hours")
	}
	in := sess(c).credential(pin)
	in.Kind, in.Active, in.Duration = hub.InGrantInstaller, hours > 0, time.Duration(hours*float64(time.Hour))
	return s.do(c, in)
}

func (s *Server) grantPost(c *fiber.Ctx) error {
	hours := 0.0 // revoke
	if c.FormValue("revoke") == "" {
		h, err := strconv.ParseFloat(strings.TrimSpace(c.FormValue("hours")), 64)
		if err != nil || h <= 0 {
			return invalid("hours")
		}
		hours = h
	}
	if err := s.grant(c, hours, c.FormValue("pin")); err != nil {
		return err
	}
	return c.Redirect("/users", http.StatusSeeOther)
}

func (s *Server) apiGrant(c *fiber.Ctx) error {
	var r struct {
		Hours float64 `json:"hours"`
		PIN   string  `json:"pin"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.grant(c, r.Hours, r.PIN); err != nil {
		return err
	}
	return s.apiUsers(c)
}
