package photos

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vakt/hub"
)

// testJPEG is a picture as a camera sends one: the JPEG start and end markers around n
// random bytes.
func testJPEG(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return append(append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, b...), 0xFF, 0xD9)
}

// SnapshotServer is a camera in the tests: it serves Picture on /snapshot.jpg behind basic
// or digest authentication (Auth "basic", "digest" for MD5, "digest-sha256", "" none),
// checking the digest answer itself, and can be told to hang or send an error page.
type SnapshotServer struct {
	*httptest.Server
	Auth, User, Pass string
	Picture          []byte
	Hang             atomic.Bool // never answer (until the client gives up)
	NotAPicture      atomic.Bool // 200 with an HTML page
	Served, Refused  atomic.Int64
}

const testRealm = "camera@vakt.test"

// NewSnapshotServer starts a camera on 127.0.0.1 until the test ends.
func NewSnapshotServer(t testing.TB, auth string, picture []byte) *SnapshotServer {
	s := &SnapshotServer{Auth: auth, User: "admin", Pass: "hemlig kamera", Picture: picture}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *SnapshotServer) camera(name string, areas ...int) Camera {
	c := Camera{Name: name, URL: s.URL + "/snapshot.jpg?channel=1", Username: s.User, Password: s.Pass, Areas: areas, Timeout: hub.Duration(2 * time.Second)}
	return c
}

func (s *SnapshotServer) serve(w http.ResponseWriter, r *http.Request) {
	if s.Hang.Load() {
		<-r.Context().Done()
		return
	}
	if !s.authorized(r) {
		s.Refused.Add(1)
		switch s.Auth {
		case "basic":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q`, testRealm))
		case "digest":
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth,auth-int", nonce="n0nce-%d", opaque="0paque"`, testRealm, time.Now().UnixNano()))
		case "digest-sha256":
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=MD5, nonce="md5-%d"`, testRealm, time.Now().UnixNano()))
			w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=SHA-256, nonce="sha-%d", opaque="x"`, testRealm, time.Now().UnixNano()))
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
	w.Write(s.Picture)
}

// authorized checks the request's credentials as the camera would, on its own code path.
func (s *SnapshotServer) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	switch s.Auth {
	case "":
		return true
	case "basic":
		u, p, ok := r.BasicAuth()
		return ok && u == s.User && p == s.Pass
	}
	if !strings.HasPrefix(h, "Digest ") {
		return false
	}
	params := parseChallenges(h)[0].params
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
	if params["username"] != s.User || params["realm"] != testRealm || params["uri"] != r.URL.RequestURI() || params["qop"] != "auth" {
		return false
	}
	if s.Auth == "digest" && params["opaque"] != "0paque" {
		return false
	}
	ha1, ha2 := hx(s.User+":"+testRealm+":"+s.Pass), hx(r.Method+":"+r.URL.RequestURI())
	want := hx(strings.Join([]string{ha1, params["nonce"], params["nc"], params["cnonce"], "auth", ha2}, ":"))
	return params["response"] == want
}

// TestDigestAuth_RFC7616 checks the digest answer against the worked examples of
// RFC 7616 §3.9.1 (MD5 and SHA-256).
func TestDigestAuth_RFC7616(t *testing.T) {
	ch := map[string]string{"realm": "http-auth@example.org", "qop": "auth, auth-int", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
		"opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}
	for _, tc := range []struct{ alg, want string }{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		ch["algorithm"] = tc.alg
		got, err := digestAuth(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, `response="`+tc.want+`"`) || !strings.Contains(got, "nc=00000001") || !strings.Contains(got, `opaque="FQhe`) {
			t.Errorf("%s: %s, want response %s", tc.alg, got, tc.want)
		}
	}
	if _, err := digestAuth(map[string]string{"nonce": "x", "algorithm": "SHA-512-256"}, "u", "p", "GET", "/", "c"); err == nil {
		t.Error("an unknown algorithm was answered")
	}
	if _, err := digestAuth(map[string]string{"nonce": "x", "qop": "auth-int"}, "u", "p", "GET", "/", "c"); err == nil {
		t.Error("qop auth-int alone was answered")
	}
}

func TestParseChallenges(t *testing.T) {
	got := parseChallenges(`Basic realm="cam", Digest realm="a \"b\", c", nonce=abc, qop="auth,auth-int"`)
	if len(got) != 2 || got[0].scheme != "Basic" || got[0].params["realm"] != "cam" || got[1].scheme != "Digest" ||
		got[1].params["realm"] != `a "b", c` || got[1].params["nonce"] != "abc" || got[1].params["qop"] != "auth,auth-int" {
		t.Fatalf("%+v", got)
	}
	if got := parseChallenges(`Negotiate`); len(got) != 1 || got[0].scheme != "Negotiate" {
		t.Fatalf("%+v", got)
	}
	if got := parseChallenges(``); len(got) != 0 {
		t.Fatalf("%+v", got)
	}
}

// TestCamera_Snapshot takes pictures through each way in, and fails clearly on a wrong
// password, a camera that hangs, an error page and a picture too large.
func TestCamera_Snapshot(t *testing.T) {
	pic := testJPEG(3000)
	for _, auth := range []string{"", "basic", "digest", "digest-sha256"} {
		for _, configured := range []string{"", "basic", "digest"} {
			if (auth == "" && configured != "") || (auth == "basic" && configured == "digest") || (strings.HasPrefix(auth, "digest") && configured == "basic") {
				continue
			}
			t.Run(auth+"/"+configured, func(t *testing.T) {
				s := NewSnapshotServer(t, auth, pic)
				cfg := s.camera("hall", 1)
				cfg.Auth = configured
				mustValidate(t, &Config{Cameras: []Camera{cfg}})
				cfg.password = cfg.Password
				var buf bytes.Buffer
				n, err := newCamera(cfg, nil).snapshot(t.Context(), &buf, 1<<20)
				if err != nil || n != int64(len(pic)) || !bytes.Equal(buf.Bytes(), pic) {
					t.Fatalf("snapshot: %d bytes, %v", n, err)
				}
			})
		}
	}
	for _, tc := range []struct {
		name  string
		auth  string
		setup func(*SnapshotServer, *Camera)
		want  string
	}{
		{"wrong password digest", "digest", func(_ *SnapshotServer, c *Camera) { c.password = "fel" }, "401"},
		{"wrong password basic", "basic", func(_ *SnapshotServer, c *Camera) { c.password = "fel" }, "401"},
		{"basic configured, digest asked", "digest", func(_ *SnapshotServer, c *Camera) { c.Auth = "basic" }, "offers no scheme"},
		{"no login for a camera that wants one", "basic", func(_ *SnapshotServer, c *Camera) { c.Username = "" }, "401"},
		{"hangs", "", func(s *SnapshotServer, c *Camera) {
			s.Hang.Store(true)
			c.Timeout = hub.Duration(50 * time.Millisecond)
		}, "deadline exceeded"},
		{"gone", "", func(s *SnapshotServer, _ *Camera) { s.Close() }, "connection refused"},
		{"too large", "", func(s *SnapshotServer, _ *Camera) { s.Picture = testJPEG(5000) }, ErrTooLarge.Error()},
		{"empty", "", func(s *SnapshotServer, _ *Camera) { s.Picture = nil }, ErrEmpty.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSnapshotServer(t, tc.auth, pic)
			cfg := s.camera("hall", 1)
			cfg.password = cfg.Password
			tc.setup(s, &cfg)
			_, err := newCamera(cfg, nil).snapshot(t.Context(), &bytes.Buffer{}, 4000)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func mustValidate(t testing.TB, c *Config) {
	t.Helper()
	if err := c.Validate(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
}

func TestConfig_Validate(t *testing.T) {
	env := map[string]string{"CAM_PASS": "x"}
	good := func() Config {
		return Config{Cameras: []Camera{{Name: "hall", URL: "http://192.168.1.50/snap.jpg", Username: "admin", Password: "p", Areas: []int{1}}}}
	}
	c := good()
	if err := c.Validate(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Burglar.Count != 5 || c.Burglar.Interval.D() != time.Second || c.FireInterval.D() != 40*time.Second || c.Retention.D() != 14*24*time.Hour ||
		c.HoldRetention.D() != 30*24*time.Hour || c.Cameras[0].Timeout.D() != DefaultTimeout {
		t.Fatalf("defaults %+v", c)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad name", func(c *Config) { c.Cameras[0].Name = "Hall Cam" }, "photos.cameras[0].name"},
		{"twice", func(c *Config) { c.Cameras = append(c.Cameras, c.Cameras[0]) }, "photos.cameras[1].name"},
		{"bad url", func(c *Config) { c.Cameras[0].URL = "rtsp://cam/stream" }, "photos.cameras[0].url"},
		{"login in url", func(c *Config) { c.Cameras[0].URL = "http://a:b@cam/x.jpg" }, "photos.cameras[0].url"},
		{"bad auth", func(c *Config) { c.Cameras[0].Auth = "ntlm" }, "photos.cameras[0].auth"},
		{"auth without user", func(c *Config) { c.Cameras[0].Auth, c.Cameras[0].Username = "digest", "" }, "photos.cameras[0].username"},
		{"no areas", func(c *Config) { c.Cameras[0].Areas = nil }, "photos.cameras[0].areas"},
		{"bad area", func(c *Config) { c.Cameras[0].Areas = []int{100} }, "photos.cameras[0].areas[0]"},
		{"both passwords", func(c *Config) { c.Cameras[0].PasswordEnv = "CAM_PASS" }, "photos.cameras[0].password_env"},
		{"unset env", func(c *Config) { c.Cameras[0].Password, c.Cameras[0].PasswordEnv = "", "NOPE" }, "photos.cameras[0].password_env"},
		{"burst too long", func(c *Config) { c.Burglar.Count = 21 }, "photos.burglar.count"},
		{"fire interval", func(c *Config) { c.FireInterval = hub.Duration(time.Hour) }, "photos.fire_interval"},
		{"short retention", func(c *Config) { c.Retention = hub.Duration(time.Minute) }, "photos.retention"},
		{"hold shorter", func(c *Config) { c.HoldRetention = hub.Duration(24 * time.Hour) }, "photos.hold_retention"},
		{"huge", func(c *Config) { c.MaxSize = 1 << 30 }, "photos.max_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			if err := c.Validate(func(k string) string { return env[k] }); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("%v, want an error starting %q", err, tc.want)
			}
		})
	}
	c = good()
	c.Cameras[0].Password, c.Cameras[0].PasswordEnv = "", "CAM_PASS"
	if err := c.Validate(func(k string) string { return env[k] }); err != nil || c.Cameras[0].password != "x" {
		t.Fatalf("password from the environment: %v", err)
	}
}
