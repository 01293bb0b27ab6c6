package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// areaSetting adds an area or changes one: its name and the delays that override the
// installation's (empty: the installation's own).
type areaSetting struct {
	Number     int    `json:"number"`
	Name       string `json:"name"`
	ExitDelay  string `json:"exit_delay"`
	EntryDelay string `json:"entry_delay"`
	BellCutoff string `json:"bell_cutoff"`
	PIN        string `json:"pin,omitempty"`
}

// saveArea adds area r.Number, or changes it when it exists, through the hub: authorised
// (an admin or the granted installer), validated (delays within DESIGN's bounds) and logged.
func (s *Server) saveArea(c *fiber.Ctx, r areaSetting) error {
	if r.Number <= 0 {
		return invalid("number")
	}
	name := strings.TrimSpace(r.Name)
	if name == "" {
		return invalid("name")
	}
	durs := make([]*hub.Duration, 3)
	for i, d := range []struct{ field, text string }{{"exit_delay", r.ExitDelay}, {"entry_delay", r.EntryDelay}, {"bell_cutoff", r.BellCutoff}} {
		t := strings.TrimSpace(d.text)
		if t == "" {
			continue
		}
		v, err := time.ParseDuration(t)
		if err != nil {
			return invalid(d.field)
		}
		durs[i] = hub.NewDuration(v)
	}
	return s.configure(c, r.PIN, fmt.Sprintf("area %d (%s) set in the web UI", r.Number, name), func(inst *hub.Installation) error {
		a := hub.Area{Number: r.Number, Name: name, ExitDelay: durs[0], EntryDelay: durs[1], BellCutoff: durs[2]}
		for i := range inst.Areas {
			if inst.Areas[i].Number == r.Number {
				inst.Areas[i] = a
				return nil
			}
		}
		inst.Areas = append(inst.Areas, a)
		return nil
	})
}

func (s *Server) areaPost(c *fiber.Ctx) error {
	r := areaSetting{Name: c.FormValue("name"), ExitDelay: c.FormValue("exit_delay"), EntryDelay: c.FormValue("entry_delay"),
		BellCutoff: c.FormValue("bell_cutoff"), PIN: c.FormValue("pin")}
	n, err := formInt(c, "number")
	if err != nil {
		return err
	}
	r.Number = n
	if err := s.saveArea(c, r); err != nil {
		return s.fail(c, err, s.again(c))
	}
	return c.Redirect("/installer#areas", http.StatusSeeOther)
}

func (s *Server) apiArea(c *fiber.Ctx) error {
	var r areaSetting
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.saveArea(c, r); err != nil {
		return s.fail(c, err, nil)
	}
	return s.apiInstaller(c)
}

// areaRow is an area as the installer tools show it.
type areaRow struct {
	Number     int    `json:"number"`
	Name       string `json:"name"`
	ExitDelay  string `json:"exit_delay,omitempty"`
	EntryDelay string `json:"entry_delay,omitempty"`
	BellCutoff string `json:"bell_cutoff,omitempty"`
}

func areaRows(inst *hub.Installation) []areaRow {
	out := make([]areaRow, len(inst.Areas))
	for i, a := range inst.Areas {
		out[i] = areaRow{Number: a.Number, Name: a.Name, ExitDelay: durText(a.ExitDelay), EntryDelay: durText(a.EntryDelay), BellCutoff: durText(a.BellCutoff)}
	}
	return out
}
