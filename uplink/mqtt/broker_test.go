package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const mosquittoPath = "/usr/sbin/mosquitto"

// testPKI is a CA with a broker certificate (IP SAN 127.0.0.1) and a client certificate,
// as PEM files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

func mustPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vakt test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{CA: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.CA, "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) (string, string) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPath, keyPath := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certPath, "CERTIFICATE", der)
		writePEM(t, keyPath, "PRIVATE KEY", keyDER)
		return certPath, keyPath
	}
	p.ServerCert, p.ServerKey = leaf("broker", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.ClientCert, p.ClientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth, nil)
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testBroker is a mosquitto on a loopback port with TLS and required client certificates.
// It persists sessions, so a subscriber's queue survives a restart on the same port.
type testBroker struct {
	t    *testing.T
	dir  string
	pki  testPKI
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	if _, err := os.Stat(mosquittoPath); err != nil {
		t.Skipf("no mosquitto: %v", err)
	}
	dir := t.TempDir()
	b := &testBroker{t: t, dir: dir, pki: mustPKI(t, dir), port: freePort(t)}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
allow_anonymous true
persistence true
persistence_location %s/
log_dest file %s/mosquitto.log
log_type all
`, b.port, b.pki.CA, b.pki.ServerCert, b.pki.ServerKey, dir, dir)
	if u, err := user.Current(); err == nil {
		conf += "user " + u.Username + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "mosquitto.log")); err == nil {
				t.Logf("mosquitto log:\n%s", log)
			}
		}
	})
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (b *testBroker) url() string { return fmt.Sprintf("ssl://127.0.0.1:%d", b.port) }

// start runs mosquitto and waits until it completes a TLS handshake with the client
// certificate.
func (b *testBroker) start() {
	b.t.Helper()
	b.cmd = exec.Command(mosquittoPath, "-c", filepath.Join(b.dir, "mosquitto.conf"))
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(b.cmd, b.done)
	tc := b.tlsConfig(true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", b.port), tc)
		if err == nil {
			err = conn.Handshake()
			conn.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-b.done:
			b.t.Fatalf("mosquitto exited at start")
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto not ready on port %d: %v", b.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends mosquitto (which saves its sessions) and waits for it.
func (b *testBroker) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	<-b.done
	b.cmd = nil
}

func (b *testBroker) tlsConfig(withCert bool) *tls.Config {
	b.t.Helper()
	caPEM, err := os.ReadFile(b.pki.CA)
	if err != nil {
		b.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if withCert {
		cert, err := tls.LoadX509KeyPair(b.pki.ClientCert, b.pki.ClientKey)
		if err != nil {
			b.t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc
}
