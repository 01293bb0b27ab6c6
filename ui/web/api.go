package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// The JSON API under /api/v1/ does what the pages do, with the same route table. A request
// signs in with the session cookie (and the CSRF token in X-CSRF-Token) or with an API
// token (Authorization: Bearer …). Commands take the PIN when given, else act as the
// signed-in user. Errors are {"error": message, "code": key[, "reasons": …]}.

func (s *Server) apiState(c *fiber.Ctx) error { return c.JSON(s.view()) }

// body decodes a JSON request body; a bad one is a 400.
func body(c *fiber.Ctx, v any) error {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return invalid("content type: want application/json")
	}
	if err := c.BodyParser(v); err != nil {
		return invalid("body")
	}
	return nil
}

// done answers a command with the new state.
func (s *Server) done(c *fiber.Ctx) error { return c.JSON(s.view()) }

func (s *Server) apiArm(c *fiber.Ctx) error {
	var r armRequest
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.armArea(c, r); err != nil {
		return err
	}
	return s.done(c)
}

type areaRequest struct {
	Area int    `json:"area"`
	Zone int    `json:"zone"`
	PIN  string `json:"pin"`
}

func (s *Server) apiAreaCommand(c *fiber.Ctx, kind hub.InputKind) error {
	var r areaRequest
	if err := body(c, &r); err != nil {
		return err
	}
	in := sess(c).credential(r.PIN)
	in.Kind, in.Area, in.Zone = kind, r.Area, r.Zone
	if err := s.do(c, in); err != nil {
		return err
	}
	return s.done(c)
}

func (s *Server) apiDisarm(c *fiber.Ctx) error { return s.apiAreaCommand(c, hub.InDisarm) }
func (s *Server) apiAck(c *fiber.Ctx) error    { return s.apiAreaCommand(c, hub.InAcknowledge) }
func (s *Server) apiBypass(c *fiber.Ctx) error { return s.apiAreaCommand(c, hub.InBypass) }

// apiSeen: {"area":1} (0: every area of yours in alarm), no PIN; see seen.
func (s *Server) apiSeen(c *fiber.Ctx) error {
	var r areaRequest
	if err := body(c, &r); err != nil {
		return err
	}
	in := sess(c).credential("")
	in.Kind, in.Area = hub.InAlarmSeen, r.Area
	if err := s.do(c, in); err != nil {
		return err
	}
	return s.done(c)
}

// historyAnswer is a page of the history as JSON.
type historyAnswer struct {
	Events []hub.Event `json:"events"`
	// Before is the "before" of the next page; 0 when there is none.
	Before uint64 `json:"before,omitempty"`
}

func (s *Server) apiHistory(c *fiber.Ctx) error {
	f, err := parseFilter(c)
	if err != nil {
		return err
	}
	evs, next, err := s.historyPage(f)
	if err != nil {
		return err
	}
	return c.JSON(historyAnswer{Events: evs, Before: next})
}

func (s *Server) apiDevices(c *fiber.Ctx) error { return c.JSON(s.view().Devices) }

type deviceRequest struct {
	On     bool   `json:"on"`
	Locked bool   `json:"locked"`
	PIN    string `json:"pin"`
}

func (s *Server) apiSwitch(c *fiber.Ctx) error {
	var r deviceRequest
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.deviceCommand(c, strings.Clone(c.Params("id")), r.On, r.PIN, false); err != nil {
		return err
	}
	return s.done(c)
}

func (s *Server) apiLock(c *fiber.Ctx) error {
	var r deviceRequest
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.deviceCommand(c, strings.Clone(c.Params("id")), r.Locked, r.PIN, true); err != nil {
		return err
	}
	return s.done(c)
}

// apiNewToken makes an API token for the signed-in user; it is shown once.
func (s *Server) apiNewToken(c *fiber.Ctx) error {
	var r struct {
		Name string `json:"name"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if r.Name == "" || len(r.Name) > 64 {
		return invalid("name")
	}
	tok, err := hub.NewToken()
	if err != nil {
		return err
	}
	st := hub.Session{Kind: hub.SessionAPI, User: sess(c).User, Name: r.Name, Created: s.now()}
	if err := s.store.SaveSession(tok, st); err != nil {
		return err
	}
	s.log.Info("API token made", "user", st.User, "name", r.Name)
	return c.Status(http.StatusCreated).JSON(fiber.Map{"token": tok, "name": r.Name})
}

// apiSetPassword sets a user's web password (an admin's act, logged as a config change).
func (s *Server) apiSetPassword(c *fiber.Ctx) error {
	var r struct {
		Password string `json:"password"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	id := strings.Clone(c.Params("id"))
	hash, err := hub.HashPassword(r.Password)
	if err != nil {
		return invalid("password")
	}
	by := sess(c).credential("")
	res := s.hub.Configure(c.UserContext(), by, "web password of "+id+" set", func(inst *hub.Installation) error {
		u := userByID(inst, id)
		if u == nil {
			return hub.ErrUnknownUser
		}
		u.Password = hash
		return nil
	})
	if res.Err != nil && !errors.Is(res.Err, hub.ErrNotDurable) {
		if errors.Is(res.Err, hub.ErrUnknownUser) {
			return fiber.ErrNotFound
		}
		return res.Err
	}
	return c.SendStatus(http.StatusNoContent)
}
