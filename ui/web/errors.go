package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// The web UI's own errors; the error handler turns them into status codes.
var (
	errUnauthenticated = errors.New("not signed in")
	errCSRF            = errors.New("missing or wrong CSRF token")
	errWrongPassword   = errors.New("wrong name or password")
	errBackoff         = errors.New("too many wrong passwords: wait")
	errPINsFromAddress = errors.New("too many wrong PINs from this address: wait")
	errLinkUsed        = errors.New("one-time link expired or used")
	errPINNeeded       = errors.New("PIN needed")
	errWrongCurrent    = errors.New("wrong current password")
)

// badInput is a validation error: 400, with a message key for the user.
type badInput struct {
	key  string // message key
	what string // the field, for logs and the API
}

func (e *badInput) Error() string { return "bad input: " + e.what }

func invalid(what string) error { return &badInput{key: "bad_input", what: what} }

// invalidKey is invalid with a message of its own.
func invalidKey(what, key string) error { return &badInput{key: key, what: what} }

// problem is what an error shows: a status and a message key.
type problem struct {
	status int
	key    string
	log    bool // an unexpected error, logged
}

// classify maps an error to its status and message; unknown errors are 500 and logged.
func classify(err error) problem {
	var fe *fiber.Error
	var bad *badInput
	var refused *hub.ArmRefusedError
	switch {
	case errors.As(err, &refused):
		return problem{http.StatusConflict, "arm_refused", false}
	case errors.Is(err, errUnauthenticated):
		return problem{http.StatusUnauthorized, "unauthenticated", false}
	case errors.Is(err, errCSRF):
		return problem{http.StatusForbidden, "csrf", false}
	case errors.Is(err, hub.ErrWrongCode):
		return problem{http.StatusForbidden, "wrong_code", false}
	case errors.Is(err, errWrongCurrent):
		return problem{http.StatusForbidden, "wrong_current_password", false}
	case errors.Is(err, errWrongPassword):
		return problem{http.StatusForbidden, "wrong_password", false}
	case errors.Is(err, hub.ErrInstallerNotActive):
		return problem{http.StatusForbidden, "installer_off", false}
	case errors.Is(err, hub.ErrNotAllowed), errors.Is(err, hub.ErrUnknownUser):
		return problem{http.StatusForbidden, "not_allowed", false}
	case errors.Is(err, hub.ErrLockedOut), errors.Is(err, errBackoff), errors.Is(err, errPINsFromAddress):
		return problem{http.StatusTooManyRequests, "locked_out", false}
	case errors.Is(err, errLinkUsed):
		return problem{http.StatusForbidden, "link_used", false}
	case errors.Is(err, errPINNeeded):
		return problem{http.StatusBadRequest, "pin_needed", false}
	case errors.As(err, &bad):
		return problem{http.StatusBadRequest, bad.key, false}
	case errors.Is(err, hub.ErrMalformedCode), errors.Is(err, hub.ErrNoCredential):
		return problem{http.StatusBadRequest, "pin_needed", false}
	case errors.Is(err, hub.ErrBadInput), errors.Is(err, hub.ErrUnknownArea), errors.Is(err, hub.ErrUnknownZone),
		errors.Is(err, hub.ErrUnknownDevice), errors.Is(err, hub.ErrNotAPlugOrLock), errors.Is(err, hub.ErrWeakPassword),
		errors.Is(err, hub.ErrInvalidInstallation):
		return problem{http.StatusBadRequest, "bad_input", false}
	case errors.Is(err, hub.ErrAlreadyArmed):
		return problem{http.StatusConflict, "already_armed", false}
	case errors.Is(err, hub.ErrAlreadyDisarmed):
		return problem{http.StatusConflict, "already_disarmed", false}
	case errors.Is(err, hub.ErrNothingToAck):
		return problem{http.StatusConflict, "nothing_to_ack", false}
	case errors.Is(err, hub.ErrAlarmSounding):
		return problem{http.StatusConflict, "alarm_sounding", false}
	case errors.Is(err, hub.ErrAlreadyBypassed):
		return problem{http.StatusConflict, "already_bypassed", false}
	case errors.Is(err, hub.ErrStopped), errors.Is(err, context.DeadlineExceeded):
		return problem{http.StatusServiceUnavailable, "unavailable", true}
	case errors.As(err, &fe):
		switch fe.Code {
		case http.StatusNotFound:
			return problem{fe.Code, "not_found", false}
		case http.StatusRequestEntityTooLarge, http.StatusBadRequest:
			return problem{fe.Code, "bad_input", false}
		case http.StatusMethodNotAllowed:
			return problem{fe.Code, "not_found", false}
		}
		return problem{fe.Code, "server_error", fe.Code >= 500}
	}
	return problem{http.StatusInternalServerError, "server_error", true}
}

// errorBody is an error as the API writes it.
type errorBody struct {
	Error string `json:"error"`
	// Code is the message key, stable for programs.
	Code string `json:"code"`
	// Reasons are why arming was refused, by name.
	Reasons []hub.Reason `json:"reasons,omitempty"`
}

// handleError is the one place errors become answers. It never writes an error's text to
// the client: the status and a message in the user's language, and for a refused arming the
// reasons by name.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := classify(err)
	if p.log {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "error", err)
	}
	l := lang(c)
	msg := translate(l, p.key)
	var refused *hub.ArmRefusedError
	errors.As(err, &refused)
	if isAPI(c) {
		body := errorBody{Error: msg, Code: p.key}
		if refused != nil {
			body.Reasons = refused.Reasons
		}
		return c.Status(p.status).JSON(body)
	}
	if p.status == http.StatusUnauthorized && c.Method() == fiber.MethodGet {
		return c.Redirect("/login", http.StatusSeeOther)
	}
	ep := errorPage{Status: p.status, Message: msg, Refused: refused}
	if errors.Is(err, hub.ErrLockedOut) {
		ep.LockedUntil = s.lockedUntil(c)
	}
	if errors.Is(err, errPINsFromAddress) {
		ep.LockedUntil = s.pins.lockedUntil(c.IP(), s.now())
	}
	if rerr := s.render(c, p.status, "error", page{Lang: l, Title: msg, Data: ep}); rerr != nil {
		// The error page itself failed: the status text, nothing more.
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(p.status).SendString(http.StatusText(p.status))
	}
	return nil
}

// errorPage is the error template's data.
type errorPage struct {
	Status  int
	Message string
	Refused *hub.ArmRefusedError
	// LockedUntil is when this browser's PIN pad opens again after too many wrong PINs.
	LockedUntil time.Time
}

// lockedUntil is when the signed-in session's PIN pad (its interface on the hub) opens
// again; zero when it is not locked or nobody is signed in.
func (s *Server) lockedUntil(c *fiber.Ctx) time.Time {
	se, ok := c.Locals(localSession).(*session)
	if !ok || se == nil {
		return time.Time{}
	}
	if l := s.hub.Snapshot().State.Lockouts[se.iface]; l != nil && s.now().Before(l.Until) {
		return l.Until
	}
	return time.Time{}
}

// isAPI says whether the request is for the JSON API (or asks for JSON), or is a
// scraper's (/metrics), and so gets its errors as JSON, never a redirect to the login page.
func isAPI(c *fiber.Ctx) bool {
	return strings.HasPrefix(c.Path(), "/api/") || c.Path() == "/metrics" || strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON)
}
