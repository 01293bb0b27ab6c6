package photos

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/uplink/photos/phototest"
)

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
				s := phototest.New(t, auth, pic)
				cfg := testCamera(s, "hall", 1)
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
		setup func(*phototest.Server, *Camera)
		want  string
	}{
		{"wrong password digest", "digest", func(_ *phototest.Server, c *Camera) { c.password = "fel" }, "401"},
		{"wrong password basic", "basic", func(_ *phototest.Server, c *Camera) { c.password = "fel" }, "401"},
		{"basic configured, digest asked", "digest", func(_ *phototest.Server, c *Camera) { c.Auth = "basic" }, "offers no scheme"},
		{"no login for a camera that wants one", "basic", func(_ *phototest.Server, c *Camera) { c.Username = "" }, "401"},
		{"hangs", "", func(s *phototest.Server, c *Camera) {
			s.Hang.Store(true)
			c.Timeout = hub.Duration(50 * time.Millisecond)
		}, "deadline exceeded"},
		{"gone", "", func(s *phototest.Server, _ *Camera) { s.Close() }, "connection refused"},
		{"too large", "", func(s *phototest.Server, _ *Camera) { s.SetPicture(testJPEG(5000)) }, ErrTooLarge.Error()},
		{"empty", "", func(s *phototest.Server, _ *Camera) { s.SetPicture(nil) }, ErrEmpty.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := phototest.New(t, tc.auth, pic)
			cfg := testCamera(s, "hall", 1)
			cfg.password = cfg.Password
			tc.setup(s, &cfg)
			_, err := newCamera(cfg, nil).snapshot(t.Context(), &bytes.Buffer{}, 4000)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func testCamera(s *phototest.Server, name string, areas ...int) Camera {
	return Camera{Name: name, URL: s.SnapshotURL(), Username: s.User, Password: s.Pass, Areas: areas, Timeout: hub.Duration(2 * time.Second)}
}

var testJPEG = phototest.JPEG

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

// TestPhotos_TakeRefusesNonPictures: a camera's error page sent with 200 is not kept as a
// photo.
func TestPhotos_TakeRefusesNonPictures(t *testing.T) {
	s := phototest.New(t, "basic", testJPEG(100))
	cfg := Config{Cameras: []Camera{testCamera(s, "hall", 1)}}
	mustValidate(t, &cfg)
	p := &Photos{cfg: cfg}
	cam := newCamera(cfg.Cameras[0], nil)
	var buf bytes.Buffer
	if err := p.take(t.Context(), cam, &buf); err != nil || !bytes.Equal(buf.Bytes(), s.Picture()) {
		t.Fatalf("a picture: %v", err)
	}
	s.NotAPicture.Store(true)
	if err := p.take(t.Context(), cam, &bytes.Buffer{}); !errors.Is(err, ErrNotJPEG) {
		t.Fatalf("an error page: %v, want ErrNotJPEG", err)
	}
}
