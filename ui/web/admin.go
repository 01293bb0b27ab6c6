package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// installers may open the installer tools: an installer (while granted, which the engine
// and installerActive check) or an admin.
var installers = []hub.Role{hub.RoleAdmin, hub.RoleInstaller}

// invalidConfig is a change the installation's Validate refused: 400, and its text (which
// names fields and users, never codes) is shown to the admin or installer who made it.
type invalidConfig struct{ detail string }

func (e *invalidConfig) Error() string { return "invalid installation: " + e.detail }

// configure changes the installation through the hub as the signed-in user (with the PIN
// when given): the engine checks that they are an admin or a granted installer, and logs
// the change with who and how. A change stored but not yet durable is done.
func (s *Server) configure(c *fiber.Ctx, pin, note string, change func(*hub.Installation) error) error {
	return configErr(s.hub.Configure(c.UserContext(), sess(c).credential(pin), note, change).Err)
}

// configErr turns Configure's error into what the web UI shows.
func configErr(err error) error {
	if err == nil || errors.Is(err, hub.ErrNotDurable) {
		return nil
	}
	if errors.Is(err, hub.ErrInvalidInstallation) && !errors.Is(err, hub.ErrNotAllowed) {
		msg := err.Error()
		if i := strings.LastIndex(msg, hub.ErrInvalidInstallation.Error()+": "); i >= 0 {
			msg = msg[i+len(hub.ErrInvalidInstallation.Error())+2:]
		}
		return &invalidConfig{detail: msg}
	}
	return err
}

// installerActive refuses an installer whose access is not granted now; an admin always may.
func (s *Server) installerActive(c *fiber.Ctx) error {
	if sess(c).role == hub.RoleAdmin {
		return nil
	}
	if until := s.hub.Snapshot().State.InstallerUntil; until.IsZero() || !s.now().Before(until) {
		return hub.ErrInstallerNotActive
	}
	return nil
}

// formNotice is what a management page says after a change: done, or why not.
type formNotice struct {
	Error string
	Done  bool
}

// fail answers a refused change: an invalid installation on the page itself (rendered by
// again) or as JSON with its text; anything else goes to the error handler.
func (s *Server) fail(c *fiber.Ctx, err error, again func(formNotice) error) error {
	var ic *invalidConfig
	if !errors.As(err, &ic) {
		return err
	}
	if isAPI(c) {
		return c.Status(http.StatusBadRequest).JSON(errorBody{Error: ic.detail, Code: "invalid_installation"})
	}
	return again(formNotice{Error: ic.detail})
}

func init() {
	// dict passes the page and a row to a shared form template.
	templateFuncs["dict"] = func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	templateFuncs["emptyUser"] = func() userRow { return userRow{} }
}
