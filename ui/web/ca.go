package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// caData is what the /ca page shows.
type caData struct {
	Name        string
	Fingerprint string
	NotAfter    time.Time
}

// caInfo is the CA, or not found when an installer's certificate is used instead.
func (s *Server) caInfo() (caData, error) {
	if s.ca == nil {
		return caData{}, fiber.ErrNotFound
	}
	return caData{Name: s.ca.cert.Subject.CommonName, Fingerprint: s.ca.Fingerprint(), NotAfter: s.ca.cert.NotAfter}, nil
}

// caPage explains how to trust the local CA on a phone, with its fingerprint to compare.
func (s *Server) caPage(c *fiber.Ctx) error {
	d, err := s.caInfo()
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "ca", page{Title: translate(lang(c), "ca_title"), Data: d})
}

// caCert is the CA certificate (DER), which phones offer to install.
func (s *Server) caCert(c *fiber.Ctx) error {
	if _, err := s.caInfo(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-x509-ca-cert")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+caFileName(s.ca.cert.Subject.CommonName)+`.crt"`)
	return c.Send(s.ca.cert.Raw)
}

// caPEM is the CA certificate in PEM, for computers.
func (s *Server) caPEM(c *fiber.Ctx) error {
	if _, err := s.caInfo(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-pem-file")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+caFileName(s.ca.cert.Subject.CommonName)+`.pem"`)
	return c.Send(s.ca.PEM())
}

// apiCA is the /ca page's JSON twin.
func (s *Server) apiCA(c *fiber.Ctx) error {
	d, err := s.caInfo()
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"name": d.Name, "sha256": d.Fingerprint, "not_after": d.NotAfter, "pem": string(s.ca.PEM())})
}

// caFileName is the CA's name as a file name: letters, digits and dashes.
func caFileName(name string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name), "-")
}
