package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"vakt/hub"
)

// errTemplate is a page that could not be rendered: a clean 500, the cause logged.
var errTemplate = errors.New("template failed")

// page is what every template gets: the language, who is signed in, the CSRF token for
// forms, and the page's own data.
type page struct {
	Lang  string
	Title string
	User  string
	Role  string
	CSRF  string
	// NoPIN: the signed-in user arms and disarms on the panel without a PIN.
	NoPIN bool
	// Version and Schema are vakt's version and its store's schema, for admins' footer.
	Version string
	Schema  int
	// BackupFailed: the last scheduled backup failed; admins see it on every page.
	BackupFailed bool
	Data         any
}

// T translates a message key into the page's language.
func (p page) T(key string) string { return translate(p.Lang, key) }

var templateFuncs = template.FuncMap{
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"deref": func(b *bool) bool { return b != nil && *b },
	"has":   func(list []string, s string) bool { return slices.Contains(list, s) },
	"unixms": func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	},
}

// parsePages parses every page with the layout, once.
func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(templateFuncs).ParseFS(fsys, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render executes the page into a buffer and only then writes it, so a template error is a
// clean 500 and never half a page.
func (s *Server) render(c *fiber.Ctx, status int, name string, p page) error {
	t := s.pages[name]
	if t == nil {
		s.log.Error("no such template", "template", name)
		return errTemplate
	}
	if p.Lang == "" {
		p.Lang = lang(c)
	}
	p.Version, p.Schema = s.version, hub.SchemaVersion
	if sess, ok := c.Locals(localSession).(*session); ok && sess != nil {
		p.User, p.CSRF, p.Role, p.NoPIN = sess.User, sess.CSRF, sess.role.String(), sess.noPIN
		p.BackupFailed = sess.role == hub.RoleAdmin && s.backups != nil && s.backups.Status().Error != ""
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("render", "template", name, "error", err)
		return errTemplate
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Send(buf.Bytes())
}
