package photos

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
)

// Errors of a snapshot.
var (
	ErrTooLarge = errors.New("photo larger than photos.max_size")
	ErrEmpty    = errors.New("camera sent no picture")
)

// camera takes snapshots over HTTP, logging in with basic or digest authentication
// (RFC 7617, RFC 7616).
type camera struct {
	cfg    Camera
	client *http.Client
}

func newCamera(cfg Camera, client *http.Client) *camera {
	if client == nil {
		client = &http.Client{}
	}
	return &camera{cfg: cfg, client: client}
}

// snapshot GETs one picture and copies it to w, at most max bytes. With digest (or a
// camera that asks for it) the first request gets the challenge and a second answers it.
func (c *camera) snapshot(ctx context.Context, w io.Writer, max int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D())
	defer cancel()
	res, err := c.get(ctx, "")
	if err != nil {
		return 0, err
	}
	if res.StatusCode == http.StatusUnauthorized && c.cfg.Username != "" {
		auth, err := c.answer(res.Header.Values("WWW-Authenticate"))
		drain(res)
		if err != nil {
			return 0, err
		}
		if res, err = c.get(ctx, auth); err != nil {
			return 0, err
		}
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("camera answered %s", res.Status)
	}
	n, err := io.Copy(w, io.LimitReader(res.Body, max+1))
	switch {
	case err != nil:
		return n, fmt.Errorf("read the picture: %w", err)
	case n > max:
		return n, ErrTooLarge
	case n == 0:
		return 0, ErrEmpty
	}
	return n, nil
}

func drain(res *http.Response) {
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
}

func (c *camera) get(ctx context.Context, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case auth != "":
		req.Header.Set("Authorization", auth)
	case c.cfg.Auth == "basic":
		req.SetBasicAuth(c.cfg.Username, c.cfg.password) // no need to wait for the challenge
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get snapshot: %w", err)
	}
	return res, nil
}

// answer builds the Authorization header for the camera's challenges: digest when the
// camera offers it (SHA-256 before MD5) unless basic is configured, else basic.
func (c *camera) answer(headers []string) (string, error) {
	var basic bool
	var best map[string]string
	for _, h := range headers {
		for _, ch := range parseChallenges(h) {
			switch strings.ToLower(ch.scheme) {
			case "basic":
				basic = true
			case "digest":
				alg := strings.ToUpper(ch.params["algorithm"])
				if alg == "" {
					alg = "MD5"
				}
				if digestHash(alg) == nil {
					continue
				}
				if best == nil || strings.HasPrefix(alg, "SHA-256") {
					best = ch.params
				}
			}
		}
	}
	switch {
	case best != nil && c.cfg.Auth != "basic":
		req, _ := http.NewRequest(http.MethodGet, c.cfg.URL, nil)
		return digestAuth(best, c.cfg.Username, c.cfg.password, http.MethodGet, req.URL.RequestURI(), newCnonce())
	case basic && c.cfg.Auth != "digest":
		req, _ := http.NewRequest(http.MethodGet, c.cfg.URL, nil)
		req.SetBasicAuth(c.cfg.Username, c.cfg.password)
		return req.Header.Get("Authorization"), nil
	}
	return "", fmt.Errorf("camera refused the login, and offers no scheme vakt speaks (%s wanted)", or(c.cfg.Auth, "basic or digest"))
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newCnonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// digestHash returns the hash of a digest algorithm (RFC 7616 §3.2), nil if unknown.
func digestHash(alg string) func() hash.Hash {
	switch strings.TrimSuffix(alg, "-SESS") {
	case "MD5":
		return md5.New
	case "SHA-256":
		return sha256.New
	}
	return nil
}

// digestAuth answers a digest challenge (RFC 7616 §3.4) for method and uri, with qop
// auth when offered (auth-int is not: a GET has no body to protect) and nonce count 1.
func digestAuth(ch map[string]string, user, password, method, uri, cnonce string) (string, error) {
	alg := strings.ToUpper(or(ch["algorithm"], "MD5"))
	newHash := digestHash(alg)
	if newHash == nil {
		return "", fmt.Errorf("digest algorithm %q", alg)
	}
	h := func(s string) string {
		x := newHash()
		io.WriteString(x, s)
		return hex.EncodeToString(x.Sum(nil))
	}
	realm, nonce := ch["realm"], ch["nonce"]
	if nonce == "" {
		return "", errors.New("digest challenge without a nonce")
	}
	ha1 := h(user + ":" + realm + ":" + password)
	if strings.HasSuffix(alg, "-SESS") {
		ha1 = h(ha1 + ":" + nonce + ":" + cnonce)
	}
	ha2 := h(method + ":" + uri)
	qop := ""
	for _, q := range strings.Split(ch["qop"], ",") {
		if strings.TrimSpace(q) == "auth" {
			qop = "auth"
		}
	}
	if ch["qop"] != "" && qop == "" {
		return "", fmt.Errorf("digest qop %q: only auth is spoken", ch["qop"])
	}
	const nc = "00000001"
	var resp string
	if qop != "" {
		resp = h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
	} else {
		resp = h(ha1 + ":" + nonce + ":" + ha2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%q, realm=%q, nonce=%q, uri=%q, algorithm=%s, response=%q`, user, realm, nonce, uri, alg, resp)
	if qop != "" {
		fmt.Fprintf(&b, `, qop=%s, nc=%s, cnonce=%q`, qop, nc, cnonce)
	}
	if o, ok := ch["opaque"]; ok {
		fmt.Fprintf(&b, `, opaque=%q`, o)
	}
	return b.String(), nil
}

type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges reads a WWW-Authenticate value: one or more challenges, each a scheme
// and comma-separated name=value parameters, values as tokens or quoted strings.
func parseChallenges(s string) []challenge {
	var out []challenge
	var cur *challenge
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(s, " ,\t") {
		// A token followed by '=' is a parameter; one followed by space or end a scheme.
		i := strings.IndexAny(s, " =,\t")
		if i < 0 {
			out = append(out, challenge{scheme: s, params: map[string]string{}})
			break
		}
		if s[i] != '=' {
			out = append(out, challenge{scheme: s[:i], params: map[string]string{}})
			cur = &out[len(out)-1]
			s = s[i:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(s[:i]))
		s = s[i+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			val, s = b.String(), s[min(j+1, len(s)):]
		} else {
			j := strings.IndexAny(s, ", \t")
			if j < 0 {
				j = len(s)
			}
			val, s = s[:j], s[j:]
		}
		if cur != nil {
			cur.params[name] = val
		}
	}
	return out
}
