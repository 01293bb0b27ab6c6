package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"vakt/hub"
)

// The local certificate authority: made at first start and kept in the store, so that a
// phone that trusts it once trusts every server certificate vakt makes after.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 2 * 365 * 24 * time.Hour
	// renewBefore is how long before its end the server certificate is made again.
	renewBefore = 30 * 24 * time.Hour
	// dataScope is the web UI's part of the store's driver data.
	dataScope = "web"
)

// localCA is vakt's own certificate authority. Its key lives only in the store (a 0600
// file), never in a file of its own.
type localCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// loadOrMakeCA returns the store's local CA, making it (ECDSA P-256, ten years, named
// after the installation) when the store has none.
func loadOrMakeCA(store *hub.Store, installation string, now time.Time) (*localCA, error) {
	certDER, err := store.DriverData(dataScope, "ca_cert")
	if err != nil {
		return nil, err
	}
	keyDER, err := store.DriverData(dataScope, "ca_key")
	if err != nil {
		return nil, err
	}
	if certDER != nil && keyDER != nil {
		cert, err := x509.ParseCertificate(certDER)
		if err != nil {
			return nil, fmt.Errorf("local CA certificate in the store: %w", err)
		}
		key, err := x509.ParseECPrivateKey(keyDER)
		if err != nil {
			return nil, fmt.Errorf("local CA key in the store: %w", err)
		}
		return &localCA{cert: cert, key: key}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace("vakt local CA " + installation)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"vakt"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make local CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err = x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key first: a certificate without its key is made again, never trusted alone.
	if err := store.SaveDriverData(dataScope, "ca_key", keyDER); err != nil {
		return nil, err
	}
	if err := store.SaveDriverData(dataScope, "ca_cert", der); err != nil {
		return nil, err
	}
	return &localCA{cert: cert, key: key}, nil
}

// Fingerprint is the SHA-256 of the CA certificate, as phones and browsers show it
// (AB:CD:…).
func (ca *localCA) Fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// PEM is the CA certificate in PEM.
func (ca *localCA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// hostNames are the names and addresses the server certificate is for: the host's name,
// name.local, localhost, loopback and every other address of the host's interfaces (not
// IPv6 link-local ones, which need a zone no certificate carries).
func hostNames() (dns []string, ips []net.IP) {
	dns = []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		dns = append(dns, h)
		if !strings.HasSuffix(h, ".local") {
			dns = append(dns, strings.SplitN(h, ".", 2)[0]+".local")
		}
	}
	ips = []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() {
			continue
		}
		ip := n.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		ips = append(ips, ip)
	}
	return slices.Compact(dns), ips
}

// serverCerts hands out the HTTPS server's certificate: the installer's own when one is
// configured, else one the local CA signs for the host's names, kept in the store and made
// again 30 days before it ends or when the host's names change.
type serverCerts struct {
	store *hub.Store
	ca    *localCA
	now   func() time.Time
	names func() ([]string, []net.IP)

	mu   sync.Mutex
	cert *tls.Certificate
	// checked is when the certificate was last checked against the names and the clock:
	// at most once a minute, not at every handshake.
	checked time.Time
}

// fixedCert is an installer-supplied certificate: serverCerts hands out only it.
func fixedCert(certFile, keyFile string) (*serverCerts, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web.cert, web.key: %w", err)
	}
	return &serverCerts{cert: &c}, nil
}

// GetCertificate is tls.Config's callback.
func (sc *serverCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return sc.current()
}

// current returns the server certificate, renewing it first when it is due.
func (sc *serverCerts) current() (*tls.Certificate, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.ca == nil {
		return sc.cert, nil
	}
	now := sc.now()
	if sc.cert != nil && now.Sub(sc.checked) >= 0 && now.Sub(sc.checked) < time.Minute {
		return sc.cert, nil
	}
	sc.checked = now
	dns, ips := sc.names()
	if sc.cert == nil {
		if c, err := sc.stored(); err != nil {
			return nil, err
		} else if c != nil {
			sc.cert = c
		}
	}
	if sc.cert != nil && sc.fits(sc.cert.Leaf, dns, ips) {
		return sc.cert, nil
	}
	c, err := sc.issue(dns, ips)
	if err != nil {
		return nil, err
	}
	sc.cert = c
	return c, nil
}

// fits says whether leaf is the CA's, not due for renewal, and for every name.
func (sc *serverCerts) fits(leaf *x509.Certificate, dns []string, ips []net.IP) bool {
	if leaf == nil || leaf.CheckSignatureFrom(sc.ca.cert) != nil || !sc.now().Add(renewBefore).Before(leaf.NotAfter) {
		return false
	}
	for _, n := range dns {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// stored is the server certificate kept in the store, nil when there is none.
func (sc *serverCerts) stored() (*tls.Certificate, error) {
	der, err := sc.store.DriverData(dataScope, "server_cert")
	if err != nil {
		return nil, err
	}
	keyDER, err := sc.store.DriverData(dataScope, "server_key")
	if err != nil || der == nil || keyDER == nil {
		return nil, err
	}
	leaf, err1 := x509.ParseCertificate(der)
	key, err2 := x509.ParseECPrivateKey(keyDER)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil // made again
	}
	return &tls.Certificate{Certificate: [][]byte{der, sc.ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// issue makes a server certificate for the names and keeps it in the store.
func (sc *serverCerts) issue(dns []string, ips []net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := sc.now()
	notAfter := now.Add(serverValidity)
	if notAfter.After(sc.ca.cert.NotAfter) {
		notAfter = sc.ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dns[len(dns)-1], Organization: []string{"vakt"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, sc.ca.cert, &key.PublicKey, sc.ca.key)
	if err != nil {
		return nil, fmt.Errorf("make server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := sc.store.SaveDriverData(dataScope, "server_key", keyDER); err != nil {
		return nil, err
	}
	if err := sc.store.SaveDriverData(dataScope, "server_cert", der); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, sc.ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	return n.Add(n, big.NewInt(1))
}

// listeners serves connections from several listeners (plain HTTP on loopback and HTTPS)
// as one, so one fiber app serves both.
type listeners struct {
	lns   []net.Listener
	conns chan acceptResult
	done  chan struct{}
	once  sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func joinListeners(lns ...net.Listener) *listeners {
	l := &listeners{lns: lns, conns: make(chan acceptResult), done: make(chan struct{})}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				select {
				case l.conns <- acceptResult{c, err}:
				case <-l.done:
					if c != nil {
						c.Close()
					}
					return
				}
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					if !errors.Is(err, net.ErrClosed) {
						continue // a failed handshake or a lack of descriptors: keep accepting
					}
					return
				}
			}
		}()
	}
	return l
}

func (l *listeners) Accept() (net.Conn, error) {
	select {
	case r := <-l.conns:
		if r.err != nil && !errors.Is(r.err, net.ErrClosed) {
			// fasthttp gives up on other errors; this listener keeps going.
			return nil, tempError{r.err}
		}
		return r.c, r.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listeners) Close() error {
	var errs []error
	l.once.Do(func() {
		close(l.done)
		for _, ln := range l.lns {
			errs = append(errs, ln.Close())
		}
	})
	return errors.Join(errs...)
}

func (l *listeners) Addr() net.Addr { return l.lns[0].Addr() }

// tempError makes an accept error temporary, so the server waits and accepts again.
type tempError struct{ error }

func (tempError) Timeout() bool   { return false }
func (tempError) Temporary() bool { return true }

// setUpTLS checks the HTTPS settings and makes (or loads) the local CA. The CA is made at
// first start even without an HTTPS listener, so /ca can offer it before one is set.
func (s *Server) setUpTLS() error {
	if s.cfg.HTTPSListen != "" {
		if _, _, err := net.SplitHostPort(s.cfg.HTTPSListen); err != nil {
			return fmt.Errorf("web.https_listen %q: %w", s.cfg.HTTPSListen, err)
		}
	}
	if (s.cfg.Cert == "") != (s.cfg.Key == "") {
		return errors.New("web.cert and web.key: set both or neither")
	}
	if s.cfg.Cert != "" {
		certs, err := fixedCert(s.cfg.Cert, s.cfg.Key)
		if err != nil {
			return err
		}
		s.certs = certs
		return nil
	}
	ca, err := loadOrMakeCA(s.store, s.hub.Snapshot().Installation.Name, s.now())
	if err != nil {
		return err
	}
	s.ca = ca
	s.certs = &serverCerts{store: s.store, ca: ca, now: s.now, names: hostNames}
	return nil
}

// tlsConfig is the HTTPS server's TLS configuration.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: s.certs.GetCertificate, MinVersion: tls.VersionTLS12}
}

// listenTLS opens the HTTPS listener, making the server certificate first so a problem
// with it is an error at start, not at the first visit.
func (s *Server) listenTLS() (net.Listener, error) {
	if _, err := s.certs.current(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPSListen)
	if err != nil && s.cfg.AnyPortIfTaken {
		host, _, _ := net.SplitHostPort(s.cfg.HTTPSListen)
		s.log.Warn("web UI HTTPS port taken; using another", "error", err)
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.httpsBases = lanBases(ln.Addr().String())
	s.log.Info("web UI (HTTPS)", "url", s.httpsBases[0]+"/", "all", strings.Join(s.httpsBases, " "))
	return tls.NewListener(ln, s.tlsConfig()), nil
}

// lanBases are the HTTPS addresses a phone on the LAN opens for a listener at addr: for a
// listener on every interface (":8443"), the host's .local name and each LAN address (IPv4
// first; never loopback, which is the box itself); else addr itself.
func lanBases(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{"https://" + addr}
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return []string{"https://" + addr}
	}
	var out, v6 []string
	dns, ips := hostNames()
	for _, ip := range ips {
		switch {
		case ip.IsLoopback():
		case ip.To4() != nil:
			out = append(out, "https://"+net.JoinHostPort(ip.String(), port))
		default:
			v6 = append(v6, "https://"+net.JoinHostPort(ip.String(), port))
		}
	}
	for _, d := range dns {
		if strings.HasSuffix(d, ".local") {
			out = append(out, "https://"+net.JoinHostPort(d, port))
		}
	}
	out = append(out, v6...)
	if len(out) == 0 {
		return []string{"https://" + net.JoinHostPort("localhost", port)}
	}
	return out
}
