package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// contactRow is a contact of the action plan as the installer tools show it: never its
// verbal password, nor the hash.
type contactRow struct {
	Position int    `json:"position"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Role     string `json:"role"`
}

func contactRows(inst *hub.Installation) []contactRow {
	out := make([]contactRow, len(inst.ActionPlan))
	for i, c := range inst.ActionPlan {
		out[i] = contactRow{Position: i + 1, Name: c.Name, Phone: c.Phone, Role: c.Role.String()}
	}
	return out
}

// contactSetting adds a contact (Position 0) or changes the one at Position, which must
// still be the contact named Was: a plan reordered meanwhile by someone else is refused
// rather than a password given to the wrong person. An empty Password keeps the
// contact's; a new contact needs one.
type contactSetting struct {
	Position int    `json:"position"`
	Was      string `json:"was"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Role     string `json:"role"`
	Password string `json:"verbal_password"`
	PIN      string `json:"pin,omitempty"`
}

// errPlanChanged is a change to a contact that is no longer where the form saw it.
var errPlanChanged = &badInput{key: "plan_changed", what: "position"}

// planAt returns the index of the contact at position, if it is still named was.
func planAt(inst *hub.Installation, position int, was string) (int, error) {
	if position < 1 || position > len(inst.ActionPlan) || inst.ActionPlan[position-1].Name != was {
		return 0, errPlanChanged
	}
	return position - 1, nil
}

// saveContact adds or changes a contact through the hub: authorised, validated and logged
// (with the contact's name, never the password). The password is hashed here, before the
// hub's loop, which must not wait for argon2.
func (s *Server) saveContact(c *fiber.Ctx, r contactSetting) error {
	name, phone := strings.TrimSpace(r.Name), strings.TrimSpace(r.Phone)
	if name == "" {
		return invalid("name")
	}
	var role hub.ContactRole
	if err := role.UnmarshalText([]byte(r.Role)); err != nil {
		return invalid("role")
	}
	var fresh hub.Contact
	if r.Password != "" {
		if err := fresh.SetPassword(r.Password); err != nil {
			return invalidKey("verbal_password", "verbal_password_weak")
		}
	} else if r.Position == 0 {
		return invalidKey("verbal_password", "verbal_password_weak")
	}
	note := fmt.Sprintf("action plan: contact %s (%s) added in the web UI", name, role)
	if r.Position > 0 {
		note = fmt.Sprintf("action plan: contact %d, %s (%s), changed in the web UI", r.Position, name, role)
		if r.Password != "" {
			note += " with a new verbal password"
		}
	}
	return s.configure(c, r.PIN, note, func(inst *hub.Installation) error {
		ct := hub.Contact{Name: name, Phone: phone, Role: role, Password: fresh.Password}
		if r.Position == 0 {
			inst.ActionPlan = append(inst.ActionPlan, ct)
			return nil
		}
		i, err := planAt(inst, r.Position, r.Was)
		if err != nil {
			return err
		}
		if ct.Password == "" {
			ct.Password = inst.ActionPlan[i].Password
		}
		inst.ActionPlan[i] = ct
		return nil
	})
}

// planMove is a reordering or removal of the contact at Position, still named Was.
type planMove struct {
	Position int    `json:"position"`
	Was      string `json:"was"`
	// Move is "up", "down" or "remove".
	Move string `json:"move"`
	PIN  string `json:"pin,omitempty"`
}

// moveContact moves a contact one place up or down in the plan, or removes it.
func (s *Server) moveContact(c *fiber.Ctx, r planMove) error {
	switch r.Move {
	case "up", "down", "remove":
	default:
		return invalid("move")
	}
	note := fmt.Sprintf("action plan: contact %d, %s, moved %s in the web UI", r.Position, r.Was, r.Move)
	if r.Move == "remove" {
		note = fmt.Sprintf("action plan: contact %d, %s, removed in the web UI", r.Position, r.Was)
	}
	return s.configure(c, r.PIN, note, func(inst *hub.Installation) error {
		i, err := planAt(inst, r.Position, r.Was)
		if err != nil {
			return err
		}
		p := inst.ActionPlan
		switch {
		case r.Move == "remove":
			inst.ActionPlan = append(p[:i:i], p[i+1:]...)
		case r.Move == "up" && i > 0:
			p[i-1], p[i] = p[i], p[i-1]
		case r.Move == "down" && i < len(p)-1:
			p[i], p[i+1] = p[i+1], p[i]
		}
		return nil
	})
}

func (s *Server) contactPost(c *fiber.Ctx) error {
	// fiber reuses its strings after the handler: what goes into the installation is copied.
	r := contactSetting{Was: formCopy(c, "was"), Name: formCopy(c, "name"), Phone: formCopy(c, "phone"), Role: c.FormValue("role"),
		Password: c.FormValue("verbal_password"), PIN: c.FormValue("pin")}
	if c.FormValue("position") != "" {
		n, err := formInt(c, "position")
		if err != nil {
			return err
		}
		r.Position = n
	}
	if err := s.saveContact(c, r); err != nil {
		return s.planFail(c, err)
	}
	return c.Redirect("/installer#plan", http.StatusSeeOther)
}

func (s *Server) planMovePost(c *fiber.Ctx) error {
	r := planMove{Was: formCopy(c, "was"), Move: c.FormValue("move"), PIN: c.FormValue("pin")}
	n, err := formInt(c, "position")
	if err != nil {
		return err
	}
	r.Position = n
	if err := s.moveContact(c, r); err != nil {
		return s.planFail(c, err)
	}
	return c.Redirect("/installer#plan", http.StatusSeeOther)
}

// formCopy returns a form value that may outlive the handler.
func formCopy(c *fiber.Ctx, name string) string { return strings.Clone(c.FormValue(name)) }

// planFail shows a refused plan change on the installer page, as other installer forms do.
func (s *Server) planFail(c *fiber.Ctx, err error) error {
	var bad *badInput
	if errors.As(err, &bad) {
		return s.renderInstaller(c, http.StatusBadRequest, installerView{}, formNotice{Error: translate(lang(c), bad.key)})
	}
	return s.fail(c, err, s.again(c))
}

func (s *Server) apiContact(c *fiber.Ctx) error {
	var r contactSetting
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.saveContact(c, r); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiInstaller(c)
}

func (s *Server) apiPlanMove(c *fiber.Ctx) error {
	var r planMove
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.moveContact(c, r); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiInstaller(c)
}
