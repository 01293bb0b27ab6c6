// Package phototest is a camera for tests: an HTTP snapshot server behind basic or digest
// authentication that checks the answers on its own code path, and a scan of a directory
// for anything readable as a picture.
package phototest

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// JPEG returns a picture as a camera sends one: the JPEG start and end markers around n
// random bytes.
func JPEG(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return append(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, b...), 0xFF, 0xD9)
}

// Realm is the cameras' authentication realm.
const Realm = "camera@vakt.test"

// Server is a camera: it serves its picture on any path behind basic or digest
// authentication (Auth "basic", "digest" for MD5 with opaque, "digest-sha256" offering
// MD5 and SHA-256 and accepting only SHA-256, "" none).
type Server struct {
	*httptest.Server
	Auth, User, Pass string
	picture          atomic.Pointer[[]byte]
	// Hang makes it never answer, NotAPicture answer 200 with an HTML page.
	Hang, NotAPicture atomic.Bool
	// Served and Refused count pictures sent and requests refused.
	Served, Refused atomic.Int64
}

// New starts a camera on 127.0.0.1 until the test ends.
func New(t testing.TB, auth string, picture []byte) *Server {
	s := &Server{Auth: auth, User: "admin", Pass: "hemlig kamera"}
	s.SetPicture(picture)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// SetPicture changes what the camera sends.
func (s *Server) SetPicture(b []byte) { s.picture.Store(&b) }

// Picture is what the camera sends.
func (s *Server) Picture() []byte { return *s.picture.Load() }

// SnapshotURL is the camera's snapshot URL.
func (s *Server) SnapshotURL() string { return s.URL + "/snapshot.jpg?channel=1" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Hang.Load() {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	if !s.authorized(r) {
		s.Refused.Add(1)
		switch s.Auth {
		case "basic":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q`, Realm))
		case "digest":
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth,auth-int", nonce="n0nce-%d", opaque="0paque"`, Realm, time.Now().UnixNano()))
		case "digest-sha256":
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=MD5, nonce="md5-%d"`, Realm, time.Now().UnixNano()))
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=SHA-256, nonce="sha-%d", opaque="x"`, Realm, time.Now().UnixNano()))
		}
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	if s.NotAPicture.Load() {
		w.Write([]byte("<html>Camera busy</html>"))
		return
	}
	s.Served.Add(1)
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(s.Picture())
}

// authorized checks the request's credentials as the camera would.
func (s *Server) authorized(r *http.Request) bool {
	switch s.Auth {
	case "":
		return true
	case "basic":
		u, p, ok := r.BasicAuth()
		return ok && u == s.User && p == s.Pass
	}
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Digest ")
	if !ok {
		return false
	}
	params := map[string]string{}
	for _, kv := range splitParams(h) {
		k, v, _ := strings.Cut(kv, "=")
		params[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	var newHash func() hash.Hash = md5.New
	if s.Auth == "digest-sha256" {
		if params["algorithm"] != "SHA-256" {
			return false
		}
		newHash = sha256.New
	}
	hx := func(v string) string {
		x := newHash()
		x.Write([]byte(v))
		return hex.EncodeToString(x.Sum(nil))
	}
	if params["username"] != s.User || params["realm"] != Realm || params["uri"] != r.URL.RequestURI() || params["qop"] != "auth" {
		return false
	}
	if s.Auth == "digest" && params["opaque"] != "0paque" {
		return false
	}
	ha1, ha2 := hx(s.User+":"+Realm+":"+s.Pass), hx(r.Method+":"+r.URL.RequestURI())
	return params["response"] == hx(strings.Join([]string{ha1, params["nonce"], params["nc"], params["cnonce"], "auth", ha2}, ":"))
}

// splitParams splits a header's parameters at commas outside quotes.
func splitParams(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// AssertNothingReadable fails the test if any file under dir holds a JPEG's start marker
// or a stretch of one of the pictures: what someone holding the SD card would look for.
func AssertNothingReadable(t testing.TB, dir string, pictures ...[]byte) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if bytes.Contains(b, []byte{0xFF, 0xD8, 0xFF}) {
			t.Errorf("%s holds a JPEG marker", path)
		}
		for _, pic := range pictures {
			if len(pic) > 40 && bytes.Contains(b, pic[4:40]) {
				t.Errorf("%s holds a picture's bytes", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no files under %s", dir)
	}
}
