package web

import (
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
)

//go:generate go run genicons.go

// themeColour is the header's colour: the phone's status bar when vakt is installed.
const themeColour = "#222222"

// manifest is the web app manifest: vakt installed on a phone's home screen opens the
// panel full screen.
func (s *Server) manifest(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	icon := func(size string) fiber.Map {
		return fiber.Map{"src": "/static/icon-" + size + ".png", "sizes": size + "x" + size, "type": "image/png", "purpose": "any maskable"}
	}
	return c.JSON(fiber.Map{
		"id":               "/",
		"name":             "vakt",
		"short_name":       "vakt",
		"description":      translate(lang(c), "pwa_description"),
		"lang":             lang(c),
		"start_url":        "/",
		"scope":            "/",
		"display":          "standalone",
		"theme_color":      themeColour,
		"background_color": "#f4f4f2",
		"icons":            []fiber.Map{icon("192"), icon("512")},
	}, "application/manifest+json")
}

// serviceWorker is static/sw.js, served from the root so that its scope is the whole site.
// It keeps the static assets and the offline page only, never a page or the API.
func (s *Server) serviceWorker(c *fiber.Ctx) error {
	b, err := fs.ReadFile(staticFS, "static/sw.js")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(b)
}

// offline is the page the service worker shows when vakt cannot be reached: it says so,
// and shows no state.
func (s *Server) offline(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "offline", page{Title: translate(lang(c), "offline")})
}
