package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// Session lengths: "stay signed in", else a working day.
const (
	sessionLong  = 30 * 24 * time.Hour
	sessionShort = 12 * time.Hour
	// oneTimeTTL bounds a setup or login link.
	oneTimeTTL = 24 * time.Hour
)

const (
	cookieName   = "vakt_session"
	csrfField    = "csrf"
	csrfHeader   = "X-CSRF-Token"
	localSession = "session"
)

// dummyHash is checked against when the account does not exist, so a wrong name costs
// as long as a wrong password and does not tell which names exist.
var dummyHash, _ = hub.HashPassword("no such user, no such password")

// session is a request's signed-in user.
type session struct {
	hub.Session
	token string
	role  hub.Role
	// iface is what the engine counts wrong PINs by: this session.
	iface string
	// lang is the user's own language, "" for the browser's.
	lang string
	// noPIN: the admin lets this user arm and disarm on the panel without a PIN.
	noPIN bool
}

// credential returns the hub credential of a command: the PIN when given (the engine
// checks it and counts a wrong one against this session), else the signed-in user.
func (s *session) credential(pin string) hub.Input {
	if pin != "" {
		return hub.Input{Code: pin, How: hub.HowWeb, Iface: s.iface}
	}
	return hub.Input{User: s.User, How: hub.HowWeb, Iface: s.iface}
}

// oneTime is a setup or login link that works once.
type oneTime struct {
	kind    string // "setup" or "login"
	user    string
	expires time.Time
}

func (s *Server) newOneTime(kind, user string) (string, error) {
	tok, err := hub.NewToken()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, o := range s.oneTime {
		if !now.Before(o.expires) {
			delete(s.oneTime, k)
		}
	}
	s.oneTime[tok] = oneTime{kind: kind, user: user, expires: now.Add(oneTimeTTL)}
	return tok, nil
}

// takeOneTime uses a one-time token of the kind up; peek only looks.
func (s *Server) takeOneTime(tok, kind string, use bool) (oneTime, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.oneTime[tok]
	if !ok || o.kind != kind || !s.now().Before(o.expires) {
		return oneTime{}, false
	}
	if use {
		delete(s.oneTime, tok)
	}
	return o, true
}

// firstLink makes the link a new installation needs: with no users a setup link, with
// users who have no web password (the demo) a login link for the first admin.
func (s *Server) firstLink(base string) (string, error) {
	users := s.hub.Snapshot().Installation.Users
	if len(users) == 0 {
		tok, err := s.newOneTime("setup", "")
		if err != nil {
			return "", err
		}
		return base + "/setup?token=" + tok, nil
	}
	for _, u := range users {
		if u.Password != "" {
			return "", nil
		}
	}
	for _, u := range users {
		if u.Role == hub.RoleAdmin {
			return s.LoginLink(base, u.ID)
		}
	}
	return "", nil
}

// LoginLink returns a link that signs user in once, within a day: for the demo's console
// and for an admin who has not set a password yet.
func (s *Server) LoginLink(base, user string) (string, error) {
	tok, err := s.newOneTime("login", user)
	if err != nil {
		return "", err
	}
	return base + "/login/link?token=" + tok, nil
}

func userByID(inst *hub.Installation, id string) *hub.User {
	for i := range inst.Users {
		if inst.Users[i].ID == id {
			return &inst.Users[i]
		}
	}
	return nil
}

// authorize loads the request's session (cookie or API token), checks the route's roles
// and, for a state-changing request made with a cookie, the CSRF token.
func (s *Server) authorize(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if r.roles == nil {
			return c.Next()
		}
		sess, err := s.session(c)
		if err != nil {
			return err
		}
		if sess == nil {
			return errUnauthenticated
		}
		c.Locals(localSession, sess)
		if !r.allowed(sess.role) {
			return hub.ErrNotAllowed
		}
		if sess.Kind == hub.SessionWeb && c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			got := c.Get(csrfHeader)
			if got == "" {
				got = c.FormValue(csrfField)
			}
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
				return errCSRF
			}
		}
		if !carriesPIN(c) {
			return c.Next()
		}
		// Wrong PINs count per session in the engine, and here per address too, so a
		// fresh session does not buy fresh tries.
		addr := c.IP()
		if until := s.pins.lockedUntil(addr, s.now()); !until.IsZero() {
			return errPINsFromAddress
		}
		err = c.Next()
		if errors.Is(err, hub.ErrWrongCode) {
			s.pins.fail(addr, s.now())
		}
		return err
	}
}

// session finds the request's session; nil when there is none or it ended.
func (s *Server) session(c *fiber.Ctx) (*session, error) {
	kind := hub.SessionWeb
	tok := c.Cookies(cookieName)
	if h := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(h, "Bearer ") {
		kind, tok = hub.SessionAPI, strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	if tok == "" {
		return nil, nil
	}
	tok = strings.Clone(tok) // fiber's strings are reused after the handler
	st, ok, err := s.store.Session(tok)
	if err != nil {
		return nil, err
	}
	if !ok || st.Kind != kind || st.Expired(s.now()) {
		return nil, nil
	}
	u := userByID(s.hub.Snapshot().Installation, st.User)
	if u == nil {
		return nil, nil // a removed user's sessions end with them
	}
	id := sha256.Sum256([]byte(tok))
	return &session{Session: st, token: tok, role: u.Role, iface: "web:" + st.User + ":" + hex.EncodeToString(id[:4]), lang: u.Lang, noPIN: u.WebNoPIN}, nil
}

// startSession signs user in: a new session in the store and its cookie.
func (s *Server) startSession(c *fiber.Ctx, user string, stay bool) error {
	tok, err := hub.NewToken()
	if err != nil {
		return err
	}
	csrf, err := hub.NewToken()
	if err != nil {
		return err
	}
	now := s.now()
	length := sessionShort
	if stay {
		length = sessionLong
	}
	agent := c.Get(fiber.HeaderUserAgent)
	if len(agent) > 160 {
		agent = agent[:160]
	}
	st := hub.Session{Kind: hub.SessionWeb, User: user, CSRF: csrf, Created: now, Expires: now.Add(length),
		Address: c.IP(), Agent: strings.ToValidUTF8(agent, "")}
	if err := s.store.SaveSession(tok, st); err != nil {
		return err
	}
	ck := &fiber.Cookie{Name: cookieName, Value: tok, Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: c.Protocol() == "https"}
	if stay {
		ck.Expires = st.Expires
	}
	c.Cookie(ck)
	s.log.Info("signed in", "user", user, "address", c.IP())
	return nil
}

type loginData struct {
	Name  string
	Error string
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "login", page{Title: translate(lang(c), "sign_in"), Data: loginData{}})
}

// login checks name and password, with back-off per account and per address.
func (s *Server) login(c *fiber.Ctx) error {
	name := strings.ToLower(strings.TrimSpace(c.FormValue("name")))
	password := c.FormValue("password")
	l := lang(c)
	fail := func(status int, key string) error {
		return s.render(c, status, "login", page{Lang: l, Title: translate(l, "sign_in"), Data: loginData{Name: name, Error: translate(l, key)}})
	}
	if name == "" || len(name) > 64 || password == "" || len(password) > 256 {
		return fail(http.StatusBadRequest, "wrong_password")
	}
	now := s.now()
	addr := "addr:" + c.IP()
	if s.byAccount.wait(name, now) > 0 || s.byAddress.wait(addr, now) > 0 {
		return fail(http.StatusTooManyRequests, "locked_out")
	}
	var user *hub.User
	for i, u := range s.hub.Snapshot().Installation.Users {
		if u.ID == name || strings.EqualFold(u.Name, name) {
			user = &s.hub.Snapshot().Installation.Users[i]
			break
		}
	}
	hash := dummyHash
	if user != nil && user.Password != "" {
		hash = user.Password
	}
	if !hub.CheckPassword(hash, password) || user == nil || user.Password == "" {
		s.byAccount.fail(name, now)
		s.byAddress.fail(addr, now)
		s.log.Warn("wrong password", "user", name, "address", c.IP())
		return fail(http.StatusForbidden, "wrong_password")
	}
	s.byAccount.succeed(name)
	s.byAddress.succeed(addr)
	if err := s.startSession(c, user.ID, c.FormValue("stay") != ""); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

// loginLink signs in with a one-time link. The cookie is SameSite=Strict, so the link
// (opened from a terminal or a mail) lands on a page of our own that goes on to the panel.
func (s *Server) loginLink(c *fiber.Ctx) error {
	o, ok := s.takeOneTime(c.Query("token"), "login", true)
	if !ok || userByID(s.hub.Snapshot().Installation, o.user) == nil {
		return errLinkUsed
	}
	if err := s.startSession(c, o.user, false); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "continue", page{Title: "vakt"})
}

// logout ends the session.
func (s *Server) logout(c *fiber.Ctx) error {
	sess := c.Locals(localSession).(*session)
	if err := s.store.DeleteSession(sess.token); err != nil {
		return err
	}
	c.ClearCookie(cookieName)
	c.Cookie(&fiber.Cookie{Name: cookieName, Value: "", Path: "/", HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Expires: time.Unix(1, 0)})
	if isAPI(c) {
		return c.SendStatus(http.StatusNoContent)
	}
	return c.Redirect("/login", http.StatusSeeOther)
}

type setupData struct {
	Token string
	Name  string
	Error string
}

// setupPage shows the first-run form, for a valid setup link while there are no users.
func (s *Server) setupPage(c *fiber.Ctx) error {
	tok := c.Query("token")
	if _, ok := s.takeOneTime(tok, "setup", false); !ok || len(s.hub.Snapshot().Installation.Users) > 0 {
		return errLinkUsed
	}
	return s.render(c, http.StatusOK, "setup", page{Title: translate(lang(c), "setup"), Data: setupData{Token: tok}})
}

// setup creates the first admin with name, password and PIN, and signs them in.
func (s *Server) setup(c *fiber.Ctx) error {
	tok := c.FormValue("token")
	name := strings.TrimSpace(c.FormValue("name"))
	password, pin := c.FormValue("password"), c.FormValue("pin")
	l := lang(c)
	again := func(key string) error {
		return s.render(c, http.StatusBadRequest, "setup", page{Lang: l, Title: translate(l, "setup"), Data: setupData{Token: tok, Name: name, Error: translate(l, key)}})
	}
	if _, ok := s.takeOneTime(tok, "setup", false); !ok || len(s.hub.Snapshot().Installation.Users) > 0 {
		return errLinkUsed
	}
	id := userID(name)
	if id == "" || len(name) > 40 {
		return again("bad_input")
	}
	if !hub.ValidCode(pin) {
		return again("pin_needed")
	}
	hash, err := hub.HashPassword(password)
	if err != nil {
		return again("bad_input")
	}
	if _, ok := s.takeOneTime(tok, "setup", true); !ok {
		return errLinkUsed
	}
	res := s.hub.Configure(c.UserContext(), hub.Input{How: hub.HowSystem, User: id}, "first admin "+id+" created in the web UI", func(inst *hub.Installation) error {
		if len(inst.Users) > 0 {
			return errLinkUsed
		}
		u := hub.User{ID: id, Number: 1, Name: name, Role: hub.RoleAdmin, Password: hash}
		if err := u.SetCode(inst.CodeKey, pin); err != nil {
			return err
		}
		inst.Users = append(inst.Users, u)
		return nil
	})
	if res.Err != nil && !errors.Is(res.Err, hub.ErrNotDurable) {
		return res.Err
	}
	s.log.Info("first admin created", "user", id)
	if err := s.startSession(c, id, false); err != nil {
		return err
	}
	return c.Redirect("/", http.StatusSeeOther)
}

// userID makes a user id from a name: lower-case letters and digits, others as "_".
func userID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		case r == 'å' || r == 'ä':
			b.WriteRune('a')
		case r == 'ö':
			b.WriteRune('o')
		default:
			b.WriteRune('_')
		}
	}
	return strings.Trim(b.String(), "_")
}
