package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

var testNames = func() ([]string, []net.IP) {
	return []string{"localhost", "vaktbox", "vaktbox.local"}, []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback, net.IPv4(192, 168, 1, 20).To4()}
}

// verify checks that leaf chains to ca for every name the host has.
func verify(t *testing.T, ca *localCA, c *tls.Certificate, now time.Time) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	dns, ips := testNames()
	names := dns
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	for _, n := range names {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server certificate for %s: %v", n, err)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool, CurrentTime: now}); err == nil {
		t.Error("server certificate verifies for example.com")
	}
}

// The local CA and its server certificate verify, are kept across a restart, and the server
// certificate is made again 30 days before it ends or when the host's names change.
func TestLocalCA_VerifiesSurvivesRestartRenews(t *testing.T) {
	path := hubtest.StorePath(t)
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := loadOrMakeCA(store, "Storgatan 1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.cert.Subject.CommonName; got != "vakt local CA Storgatan 1" {
		t.Errorf("CA name %q", got)
	}
	if !ca.cert.IsCA || ca.cert.PublicKeyAlgorithm != x509.ECDSA || ca.key.Curve.Params().Name != "P-256" {
		t.Errorf("CA: IsCA %v, %v %s", ca.cert.IsCA, ca.cert.PublicKeyAlgorithm, ca.key.Curve.Params().Name)
	}
	if years := ca.cert.NotAfter.Sub(now).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA valid for %.1f years, want 10", years)
	}
	sc := &serverCerts{store: store, ca: ca, now: clock, names: testNames}
	c, err := sc.current()
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ca, c, now)
	if years := c.Leaf.NotAfter.Sub(now).Hours() / 24 / 365; years < 1.9 || years > 2.1 {
		t.Errorf("server certificate valid for %.1f years, want 2", years)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart: the same CA and the same server certificate.
	store, err = hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ca2, err := loadOrMakeCA(store, "Storgatan 1", now)
	if err != nil {
		t.Fatal(err)
	}
	if ca2.Fingerprint() != ca.Fingerprint() || !ca2.key.Equal(ca.key) {
		t.Fatal("a restart made a new CA")
	}
	sc = &serverCerts{store: store, ca: ca2, now: clock, names: testNames}
	c2, err := sc.current()
	if err != nil {
		t.Fatal(err)
	}
	if c2.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Error("a restart made a new server certificate")
	}

	// 31 days before its end it is kept; 29 days before, made again.
	now = c.Leaf.NotAfter.Add(-31 * 24 * time.Hour)
	if c3, _ := sc.current(); c3.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Error("renewed 31 days before the end")
	}
	now = c.Leaf.NotAfter.Add(-29 * 24 * time.Hour)
	c4, err := sc.current()
	if err != nil {
		t.Fatal(err)
	}
	if c4.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) == 0 {
		t.Fatal("not renewed 29 days before the end")
	}
	verify(t, ca, c4, now)

	// A new address (DHCP gave the box another one): a certificate that covers it, at the
	// next check (once a minute).
	now = now.Add(time.Minute)
	sc.names = func() ([]string, []net.IP) {
		dns, ips := testNames()
		return dns, append(ips, net.IPv4(192, 168, 1, 99).To4())
	}
	c5, err := sc.current()
	if err != nil {
		t.Fatal(err)
	}
	if c5.Leaf.VerifyHostname("192.168.1.99") != nil {
		t.Error("the new address is not in the certificate")
	}
}

func TestHostNames(t *testing.T) {
	dns, ips := hostNames()
	if !strings.Contains(strings.Join(dns, " "), "localhost") {
		t.Errorf("names %v: no localhost", dns)
	}
	found := false
	for _, ip := range ips {
		found = found || ip.Equal(net.IPv4(127, 0, 0, 1))
	}
	if !found {
		t.Errorf("addresses %v: no 127.0.0.1", ips)
	}
}

// An HTTPS request that trusts only the local CA succeeds over a real listener; the session
// cookie is Secure there, and plain HTTP still answers on loopback.
// serveHTTPS runs a server for the rig's hub on loopback with HTTPS from the local CA (and
// plain HTTP), until the test ends, and returns it, its log and its HTTPS base URL.
func serveHTTPS(t *testing.T, r *rig) (*Server, *hubtest.Buffer, string) {
	t.Helper()
	logs := &hubtest.Buffer{}
	s, err := New(Config{Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0"}, Deps{Hub: r.h, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	httpsURL := regexp.MustCompile(`url=(https://[0-9.:]+)/`)
	hubtest.Eventually(t, "the HTTPS URL logged", func() bool { return httpsURL.MatchString(logs.String()) })
	return s, logs, httpsURL.FindStringSubmatch(logs.String())[1]
}

func TestServer_HTTPSWithTheLocalCA(t *testing.T) {
	r := newRig(t)
	s, logs, base := serveHTTPS(t, r)
	httpURL := regexp.MustCompile(`url=(http://[0-9.:]+)/`)
	if !strings.Contains(logs.String(), "sha256="+s.ca.Fingerprint()) {
		t.Errorf("the CA's fingerprint is not logged:\n%s", logs.String())
	}

	pool := x509.NewCertPool()
	pool.AddCert(s.ca.cert)
	cl := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	defer cl.CloseIdleConnections()
	res, err := cl.PostForm(base+"/login", url.Values{"name": {"anna"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over HTTPS: %d", res.StatusCode)
	}
	var secure bool
	for _, ck := range res.Cookies() {
		secure = secure || (ck.Name == cookieName && ck.Secure)
	}
	if !secure {
		t.Errorf("session cookie over HTTPS is not Secure: %v", res.Header["Set-Cookie"])
	}

	// Without the CA the certificate is not trusted.
	bare := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := bare.Get(base + "/login"); err == nil {
		t.Error("the server certificate is trusted without the local CA")
	}
	bare.CloseIdleConnections()

	// Plain HTTP on loopback, as before, with no Secure cookie.
	plain := httpURL.FindStringSubmatch(logs.String())[1]
	res, err = http.PostForm(plain+"/login", url.Values{"name": {"anna"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == cookieName && ck.Secure {
			t.Error("session cookie over plain HTTP is Secure: the browser would not send it")
		}
	}
}

func TestServer_TLSConfigErrors(t *testing.T) {
	r := newRig(t)
	for _, cfg := range []Config{
		{HTTPSListen: "8443"},
		{Cert: "cert.pem"},
		{Cert: "/nonexistent/cert.pem", Key: "/nonexistent/key.pem"},
	} {
		if _, err := New(cfg, Deps{Hub: r.h}); err == nil || !strings.Contains(err.Error(), "web.") {
			t.Errorf("%+v: %v, want an error naming the field", cfg, err)
		}
	}
}

// /ca offers the CA certificate (DER and PEM), its fingerprint and how to install it, in
// English and Swedish; /api/v1/ca is its JSON twin. No sign-in is needed.
func TestServer_CAPage(t *testing.T) {
	r := newRig(t)
	res, body := r.req(client{}, "GET", "/ca.crt", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-x509-ca-cert" {
		t.Fatalf("/ca.crt: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	cert, err := x509.ParseCertificate([]byte(body))
	if err != nil || !cert.Equal(r.s.ca.cert) {
		t.Fatalf("/ca.crt is not the CA: %v", err)
	}
	res, body = r.req(client{}, "GET", "/ca.pem", nil)
	if blk, _ := pem.Decode([]byte(body)); res.StatusCode != http.StatusOK || blk == nil || string(blk.Bytes) != string(cert.Raw) {
		t.Fatalf("/ca.pem: %d %q", res.StatusCode, body)
	}
	res, body = r.req(client{}, "GET", "/ca", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, r.s.ca.Fingerprint()) || !strings.Contains(body, "Certificate Trust Settings") || !strings.Contains(body, `href="/ca.crt"`) {
		t.Fatalf("/ca: %d %s", res.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", "/ca", nil)
	req.Header.Set("Accept-Language", "sv-SE,sv;q=0.9")
	if res, body := r.do(req); res.StatusCode != http.StatusOK || !strings.Contains(body, "Lita på vakt i din telefon") {
		t.Fatalf("/ca in Swedish: %d %s", res.StatusCode, body)
	}
	res, body = r.req(client{}, "GET", "/api/v1/ca", nil)
	var api struct{ Name, SHA256, PEM string }
	if err := json.Unmarshal([]byte(body), &api); err != nil || res.StatusCode != http.StatusOK || api.SHA256 != r.s.ca.Fingerprint() || api.PEM == "" {
		t.Fatalf("/api/v1/ca: %d %s", res.StatusCode, body)
	}
}

// An installer's own certificate replaces the local CA's: HTTPS serves it, and /ca has no CA
// to offer.
func TestServer_InstallersCertificate(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	store := hubtest.OpenStore(t)
	ca, err := loadOrMakeCA(store, "installer", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&serverCerts{store: store, ca: ca, now: time.Now, names: testNames}).current()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Listen: "127.0.0.1:0", HTTPSListen: "127.0.0.1:0", Cert: certFile, Key: keyFile}, Deps{Hub: r.h})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.certs.GetCertificate(nil)
	if err != nil || !bytes.Equal(got.Certificate[0], c.Leaf.Raw) {
		t.Fatalf("HTTPS certificate is not the installer's: %v", err)
	}
	if res, _ := s.App().Test(httptest.NewRequest("GET", "/ca.crt", nil)); res.StatusCode != http.StatusNotFound {
		t.Errorf("/ca.crt with an installer's certificate: %d, want 404", res.StatusCode)
	}
}

// TestLANBases: a listener on every interface is reached from a phone at the host's LAN
// addresses and .local name, never at loopback; one on a given address at that address.
func TestLANBases(t *testing.T) {
	if got := lanBases("127.0.0.1:8443"); len(got) != 1 || got[0] != "https://127.0.0.1:8443" {
		t.Errorf("a loopback listener: %v", got)
	}
	if got := lanBases("192.168.1.20:8443"); len(got) != 1 || got[0] != "https://192.168.1.20:8443" {
		t.Errorf("a LAN listener: %v", got)
	}
	for _, addr := range []string{"[::]:8443", "0.0.0.0:8443"} {
		got := lanBases(addr)
		if len(got) == 0 {
			t.Fatalf("%s: no address", addr)
		}
		_, ips := hostNames()
		for _, b := range got {
			if strings.Contains(b, "127.0.0.1") || strings.Contains(b, "[::1]") || !strings.HasSuffix(b, ":8443") {
				t.Errorf("%s: %s", addr, b)
			}
		}
		if len(ips) > 2 && !strings.HasPrefix(got[0], "https://"+ips[2].String()) && ips[2].To4() != nil {
			t.Errorf("%s: the first LAN address %s is not first: %v", addr, ips[2], got)
		}
	}
}
