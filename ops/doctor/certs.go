package doctor

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"
)

// Certificates end: warn this long before.
const (
	certWarnBefore = 30 * 24 * time.Hour
	caWarnBefore   = 180 * 24 * time.Hour
)

// certificates checks the web UI's certificates: an installer's own (web.cert), or vakt's
// local CA and the server certificate it issued, which live in the store.
func (d *doctor) certificates() []Check {
	now := d.cfg.Now()
	if d.cfg.WebCert != "" {
		c := Check{What: "web certificate " + d.cfg.WebCert}
		cert, err := readCert(d.cfg.WebCert)
		if err != nil {
			c.Status, c.Detail = Fail, err.Error()
			c.Fix = "check web.cert: a PEM certificate file readable by vakt"
			return []Check{c}
		}
		c = validity(c, cert, now, certWarnBefore)
		if c.Status != OK {
			c.Fix = "get a new certificate and key, and point web.cert and web.key at them"
		}
		return []Check{c}
	}
	switch {
	case d.running && d.cfg.WebHTTPS != "":
		return d.servedCertificates(now)
	case d.running:
		return []Check{{What: "web certificates", Detail: "vakt's local CA and server certificate are in the store the running vakt holds (no web.https_listen to read them from); it renews the server certificate 30 days before its end"}}
	case !d.read && errors.Is(d.storeErr, fs.ErrNotExist):
		return []Check{{What: "web certificates", Detail: "no store to read them from: vakt makes its local CA at first start"}}
	case !d.read:
		return []Check{{What: "web certificates", Status: Warn, Detail: "not read: the store cannot be opened (see the store's line)", Fix: "see the store's line"}}
	case d.certErr != nil:
		return []Check{{What: "web certificates", Status: Fail, Detail: "unreadable in the store: " + d.certErr.Error(), Fix: "vakt store check"}}
	}
	var out []Check
	for _, k := range []struct {
		key, what string
		der       []byte
	}{{"ca_cert", "web local CA", d.caCert}, {"server_cert", "web server certificate", d.server}} {
		c := Check{What: k.what}
		der := k.der
		if der == nil {
			c.Detail = "not made yet: vakt makes it at start"
			out = append(out, c)
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			c.Status, c.Detail = Fail, "unreadable: "+err.Error()
			c.Fix = "vakt makes a new one at start; phones must then trust the new CA (see /ca)"
			out = append(out, c)
			continue
		}
		if k.key == "ca_cert" {
			c = validity(c, cert, now, caWarnBefore)
			if c.Status != OK {
				c.Fix = "the family's phones trust this CA: plan a new one, or use an installer's certificate (web.cert, web.key)"
			}
		} else {
			c = validity(c, cert, now, 0)
			switch {
			case c.Status == Fail:
				c.Status, c.Fix = Warn, "vakt makes a new one at start: start vakt"
			case now.Add(certWarnBefore).After(cert.NotAfter):
				c.Detail += "; vakt renews it at start"
			}
		}
		out = append(out, c)
	}
	return out
}

// servedCertificates checks the certificates the running vakt serves on its HTTPS
// listener: the server certificate and, sent with it, the local CA.
func (d *doctor) servedCertificates(now time.Time) []Check {
	host, port, err := net.SplitHostPort(d.cfg.WebHTTPS)
	if err != nil {
		return []Check{{What: "web certificates", Status: Fail, Detail: err.Error(), Fix: "fix web.https_listen"}}
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, port)
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	// Only to read the certificates offered; nothing is sent over the connection.
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return []Check{{What: "web certificates on " + addr, Status: Fail, Detail: "no TLS answer: " + err.Error(),
			Fix: "the running vakt should serve HTTPS on web.https_listen: look at its log"}}
	}
	chain := conn.ConnectionState().PeerCertificates
	conn.Close()
	var out []Check
	for i, cert := range chain {
		c := Check{What: "web server certificate (served on " + addr + ")"}
		if cert.IsCA {
			c.What = "web local CA (served on " + addr + ")"
			c = validity(c, cert, now, caWarnBefore)
			if c.Status != OK {
				c.Fix = "the family's phones trust this CA: plan a new one, or use an installer's certificate (web.cert, web.key)"
			}
		} else if i == 0 {
			c = validity(c, cert, now, certWarnBefore)
			if c.Status != OK {
				c.Fix = "vakt renews its own server certificate 30 days before its end: look at its log, or restart it"
			}
		} else {
			continue
		}
		out = append(out, c)
	}
	return out
}

// validity says how long cert has left: FAIL when it has ended or not yet begun, WARN
// within warn of its end.
func validity(c Check, cert *x509.Certificate, now time.Time, warn time.Duration) Check {
	left := cert.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	switch {
	case now.Before(cert.NotBefore):
		c.Status, c.Detail = Fail, fmt.Sprintf("not valid before %s (is the clock right?)", cert.NotBefore.Format(time.DateOnly))
	case left <= 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("expired on %s, %d days ago", cert.NotAfter.Format(time.DateOnly), -days)
	case left < warn:
		c.Status, c.Detail = Warn, fmt.Sprintf("%d days left (ends %s)", days, cert.NotAfter.Format(time.DateOnly))
	default:
		c.Detail = fmt.Sprintf("%d days left (ends %s)", days, cert.NotAfter.Format(time.DateOnly))
	}
	if cn := cert.Subject.CommonName; cn != "" {
		c.Detail = cn + ": " + c.Detail
	}
	return c
}

// readCert reads the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate in it", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}
