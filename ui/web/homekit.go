package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// HomeKit is the HomeKit bridge as the installer tools show it (ui/homekit's Bridge).
type HomeKit interface {
	// SetupCode returns the setup code written XXX-XX-XXX and the X-HM:// payload of its
	// QR code; empty until the bridge has started.
	SetupCode() (code, payload string)
	// Paired returns how many controllers are paired.
	Paired() (int, error)
	// ResetPairings forgets every paired controller and makes a new setup code, logged as
	// by's change.
	ResetPairings(ctx context.Context, by hub.Input) error
}

// homekitView is the HomeKit card of the installer tools.
type homekitView struct {
	Code    string `json:"setup_code"`
	Payload string `json:"setup_payload"`
	Paired  int    `json:"paired"`
	// QR is the payload's QR code as inline SVG, which the Home app's camera reads.
	QR template.HTML `json:"-"`
}

// homekitView returns the HomeKit card, nil without a bridge.
func (s *Server) homekitView() (*homekitView, error) {
	if s.homekit == nil {
		return nil, nil
	}
	v := &homekitView{}
	v.Code, v.Payload = s.homekit.SetupCode()
	n, err := s.homekit.Paired()
	if err != nil {
		return nil, err
	}
	v.Paired = n
	if v.Payload != "" {
		if v.QR, err = qrSVG(v.Payload, "HomeKit setup QR code"); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// resetHomeKit resets the bridge's pairings for the signed-in admin, who must confirm.
func (s *Server) resetHomeKit(c *fiber.Ctx, confirmed bool) error {
	if s.homekit == nil {
		return fiber.ErrNotFound
	}
	if !confirmed {
		return invalidKey("confirm", "homekit_confirm")
	}
	if err := s.homekit.ResetPairings(c.UserContext(), sess(c).credential("")); err != nil {
		// The hub's refusals keep their own status (classify sees them first); anything
		// else is the bridge not answering (not running: its error is in the log).
		return fmt.Errorf("%w: %w", fiber.ErrServiceUnavailable, configErr(err))
	}
	s.log.Info("HomeKit pairings reset", "user", sess(c).User)
	return nil
}

func (s *Server) homekitResetPost(c *fiber.Ctx) error {
	if err := s.resetHomeKit(c, c.FormValue("confirm") == "1"); err != nil {
		return err
	}
	return c.Redirect("/installer?homekit=reset#homekit", http.StatusSeeOther)
}

func (s *Server) apiHomeKitReset(c *fiber.Ctx) error {
	var r struct {
		Confirm bool `json:"confirm"`
	}
	if err := body(c, &r); err != nil {
		return err
	}
	if err := s.resetHomeKit(c, r.Confirm); err != nil {
		return err
	}
	return s.apiInstaller(c)
}
