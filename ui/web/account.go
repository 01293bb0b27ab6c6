package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// accountView is the account page: the user's own password form, and the sessions they
// may see (their own; an admin every user's).
type accountView struct {
	Notice   string
	Error    string
	All      bool   // an admin's view: every user's sessions, with the user
	Lang     string // the user's own language setting, "" for the browser's
	Sessions []sessionRow
}

// sessionRow is a session on the account page and in the API.
type sessionRow struct {
	hub.SessionEntry
	// Current is the session of this request.
	Current bool `json:"current"`
}

// sessionsFor lists the sessions the signed-in user may see: their own, or an admin's
// every user's.
func (s *Server) sessionsFor(c *fiber.Ctx) ([]sessionRow, bool, error) {
	se := sess(c)
	user, all := se.User, se.role == hub.RoleAdmin
	if all {
		user = ""
	}
	list, err := s.store.Sessions(s.now(), user)
	if err != nil {
		return nil, false, err
	}
	cur := hub.SessionID(se.token)
	rows := make([]sessionRow, 0, len(list))
	for _, e := range list {
		e.CSRF = "" // never shown, not even to its own user
		rows = append(rows, sessionRow{SessionEntry: e, Current: e.ID == cur})
	}
	return rows, all, nil
}

func (s *Server) renderAccount(c *fiber.Ctx, status int, v accountView) error {
	rows, all, err := s.sessionsFor(c)
	if err != nil {
		return err
	}
	v.Sessions, v.All = rows, all
	return s.render(c, status, "account", page{Title: translate(lang(c), "account"), Data: v})
}

// accountPage is the user's own page: change the password, see and end sessions.
func (s *Server) accountPage(c *fiber.Ctx) error {
	var v accountView
	switch c.Query("done") {
	case "password":
		v.Notice = translate(lang(c), "password_changed")
	case "revoked":
		v.Notice = translate(lang(c), "session_revoked")
	case "lang":
		v.Notice = translate(lang(c), "lang_saved")
	}
	if u := userByID(s.hub.Snapshot().Installation, sess(c).User); u != nil {
		v.Lang = u.Lang
	}
	return s.renderAccount(c, http.StatusOK, v)
}

// changeOwnPassword checks the user's current password (with the login's back-off per
// account and address), sets the new one through the hub and ends the user's other
// browser sessions. API tokens stay.
func (s *Server) changeOwnPassword(c *fiber.Ctx, current, next string) error {
	se := sess(c)
	now := s.now()
	addr := "addr:" + c.IP()
	if s.byAccount.wait(se.User, now) > 0 || s.byAddress.wait(addr, now) > 0 {
		return errBackoff
	}
	u := userByID(s.hub.Snapshot().Installation, se.User)
	if u == nil {
		return errUnauthenticated
	}
	hash := u.Password
	if hash == "" {
		hash = dummyHash
	}
	if len(current) > 256 || !hub.CheckPassword(hash, current) || u.Password == "" {
		s.byAccount.fail(se.User, now)
		s.byAddress.fail(addr, now)
		s.log.Warn("wrong current password", "user", se.User, "address", c.IP())
		return errWrongCurrent
	}
	s.byAccount.succeed(se.User)
	s.byAddress.succeed(addr)
	newHash, err := hub.HashPassword(next)
	if err != nil {
		return invalidKey("password", "weak_password")
	}
	if res := s.hub.SetOwnPassword(c.UserContext(), se.credential(""), newHash); res.Err != nil && !errors.Is(res.Err, hub.ErrNotDurable) {
		return res.Err
	}
	list, err := s.store.Sessions(now, se.User)
	if err != nil {
		return err
	}
	cur := hub.SessionID(se.token)
	for _, e := range list {
		if e.Kind == hub.SessionWeb && e.ID != cur {
			if err := s.store.DeleteSessionID(e.ID); err != nil {
				return err
			}
		}
	}
	s.log.Info("password changed", "user", se.User, "address", c.IP())
	return nil
}

// passwordPost changes the signed-in user's own password from the account page.
func (s *Server) passwordPost(c *fiber.Ctx) error {
	err := s.changeOwnPassword(c, c.FormValue("current"), c.FormValue("password"))
	var bad *badInput
	switch {
	case errors.Is(err, errWrongCurrent), errors.As(err, &bad):
		p := classify(err)
		return s.renderAccount(c, p.status, accountView{Error: translate(lang(c), p.key)})
	case err != nil:
		return err
	}
	return c.Redirect("/account?done=password", http.StatusSeeOther)
}

// revokeSession ends the session id: the user's own, or any user's for an admin. Another
// user's session is as unknown to a non-admin as one that does not exist.
func (s *Server) revokeSession(c *fiber.Ctx, id string) error {
	se := sess(c)
	st, ok, err := s.store.SessionByID(id)
	if err != nil {
		return err
	}
	if !ok || (st.User != se.User && se.role != hub.RoleAdmin) {
		return fiber.ErrNotFound
	}
	if err := s.store.DeleteSessionID(id); err != nil {
		return err
	}
	s.log.Info("session revoked", "user", st.User, "kind", st.Kind, "by", se.User)
	return nil
}

func (s *Server) revokePost(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if err := s.revokeSession(c, id); err != nil {
		return err
	}
	if id == hub.SessionID(sess(c).token) {
		c.ClearCookie(cookieName)
		return c.Redirect("/login", http.StatusSeeOther)
	}
	return c.Redirect("/account?done=revoked", http.StatusSeeOther)
}

// apiSessions lists the sessions the caller may see.
func (s *Server) apiSessions(c *fiber.Ctx) error {
	rows, _, err := s.sessionsFor(c)
	if err != nil {
		return err
	}
	return c.JSON(rows)
}

func (s *Server) apiRevoke(c *fiber.Ctx) error {
	if err := s.revokeSession(c, strings.Clone(c.Params("id"))); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// apiOwnPassword changes the caller's own password: {"current": …, "password": …}.
func (s *Server) apiOwnPassword(c *fiber.Ctx) error {
	var r struct {
		Current  string `json:"current"`
		Password string `json:"password"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.changeOwnPassword(c, r.Current, r.Password); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// setOwnLang sets the signed-in user's language: "sv", "en" or "" (the browser's).
func (s *Server) setOwnLang(c *fiber.Ctx, l string) error {
	if l != "" && !slices.Contains(hub.Langs, l) {
		return invalid("lang")
	}
	if res := s.hub.SetOwnLang(c.UserContext(), sess(c).credential(""), l); res.Err != nil && !errors.Is(res.Err, hub.ErrNotDurable) {
		return res.Err
	}
	return nil
}

// langPost sets the user's language from the account page.
func (s *Server) langPost(c *fiber.Ctx) error {
	if err := s.setOwnLang(c, c.FormValue("lang")); err != nil {
		return err
	}
	return c.Redirect("/account?done=lang", http.StatusSeeOther)
}

// apiOwnLang sets the caller's language: {"lang": "sv"|"en"|""}.
func (s *Server) apiOwnLang(c *fiber.Ctx) error {
	var r struct {
		Lang string `json:"lang"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.setOwnLang(c, r.Lang); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
