package notify

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// browser is the browser side of a push subscription: its key pair and auth secret, which
// only it holds (RFC 8291 §2).
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) *browser {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return &browser{key: key, auth: auth}
}

func (b *browser) subscription(endpoint string) PushSubscription {
	var s PushSubscription
	s.Endpoint = endpoint
	s.Keys.P256dh = base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes())
	s.Keys.Auth = base64.RawURLEncoding.EncodeToString(b.auth)
	return s
}

// decrypt opens an aes128gcm body (RFC 8188) encrypted to the browser (RFC 8291 §3.4):
// written from the RFCs, sharing no code with the sender.
func (b *browser) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short body")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("keyid length %d", idlen)
	}
	asPublic, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, fmt.Errorf("more than one record (%d > rs %d)", len(ciphertext), rs)
	}
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, err
	}
	ecdhSecret, err := b.key.ECDH(as)
	if err != nil {
		return nil, err
	}
	prkKey, err := hkdf.Extract(sha256.New, ecdhSecret, b.auth)
	if err != nil {
		return nil, err
	}
	info := "WebPush: info\x00" + string(b.key.PublicKey().Bytes()) + string(asPublic)
	ikm, err := hkdf.Expand(sha256.New, prkKey, info, 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, err
	}
	// The last record ends in 0x02 and zero or more zero bytes of padding.
	end := bytes.LastIndexFunc(plain, func(r rune) bool { return r != 0 })
	if end < 0 || plain[end] != 0x02 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:end], nil
}

// checkVAPID verifies the Authorization header (RFC 8292): "vapid t=<JWT>, k=<key>", the
// JWT signed with ES256 by k, for the endpoint's origin, expiring within 24 h.
func checkVAPID(header, origin, wantKey, wantSub string, now time.Time) error {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return fmt.Errorf("scheme: %q", header)
	}
	var tok, k string
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(part, "t="):
			tok = part[2:]
		case strings.HasPrefix(part, "k="):
			k = part[2:]
		}
	}
	if k != strings.TrimRight(wantKey, "=") {
		return fmt.Errorf("k=%s, want the stored public key %s", k, wantKey)
	}
	pubBytes, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		return err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("JWT %q", tok)
	}
	var hdr struct{ Alg, Typ string }
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return err
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("signature: %d bytes, %v", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("JWT signature does not verify")
	}
	exp := time.Unix(claims.Exp, 0)
	switch {
	case hdr.Alg != "ES256":
		return fmt.Errorf("alg %q", hdr.Alg)
	case claims.Aud != origin:
		return fmt.Errorf("aud %q, want %q", claims.Aud, origin)
	case claims.Sub != wantSub:
		return fmt.Errorf("sub %q, want %q", claims.Sub, wantSub)
	case !exp.After(now) || exp.After(now.Add(24*time.Hour)):
		return fmt.Errorf("exp %v", exp)
	}
	return nil
}

// pushService is a push service on 127.0.0.1: /push/<n> is a browser's endpoint that
// decrypts what it gets; /gone answers 410 as for an unsubscribed browser.
type pushService struct {
	*httptest.Server
	t        *testing.T
	browsers map[string]*browser
	vapidKey func() string
	mu       sync.Mutex
	got      []pushPayload
	urgency  []string
}

func newPushService(t *testing.T) *pushService {
	p := &pushService{t: t, browsers: map[string]*browser{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		b := p.browsers[r.URL.Path]
		if b == nil {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
			t.Errorf("headers %v", r.Header)
		}
		if err := checkVAPID(r.Header.Get("Authorization"), p.URL, p.vapidKey(), DefaultWebPushSubscriber, time.Now()); err != nil {
			t.Errorf("VAPID: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		plain, err := b.decrypt(body)
		if err != nil {
			t.Errorf("decrypt: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var pl pushPayload
		if err := json.Unmarshal(plain, &pl); err != nil {
			t.Errorf("payload %q: %v", plain, err)
		}
		p.mu.Lock()
		p.got = append(p.got, pl)
		p.urgency = append(p.urgency, r.Header.Get("Urgency"))
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pushService) received() ([]pushPayload, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pushPayload(nil), p.got...), append([]string(nil), p.urgency...)
}

// TestWebPush_EncryptedToTheBrowser: anna subscribes two browsers, one of which has gone;
// a fire reaches the other, encrypted so that only its keys open it, with a VAPID token
// signed by the key generated on first start (the same after a restart), at high urgency;
// the gone one is deleted. Bad subscriptions are refused.
func TestWebPush_EncryptedToTheBrowser(t *testing.T) {
	ps := newPushService(t)
	clock := hubtest.NewClock(hubtest.T0)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), demo(), hub.Options{Now: clock.Now})
	cfg := DefaultConfig()
	n, stop := startNotifier(t, cfg, h, clock)
	key, err := n.VAPIDPublicKey()
	if err != nil || len(key) < 80 {
		t.Fatalf("VAPID key %q %v", key, err)
	}
	ps.vapidKey = func() string { return key }
	phone := newBrowser(t)
	ps.browsers["/push/1"] = phone

	for _, bad := range []PushSubscription{
		newBrowser(t).subscription("http://push.example.com/x"),
		newBrowser(t).subscription("not a url"),
		func() PushSubscription { s := phone.subscription(ps.URL + "/push/1"); s.Keys.P256dh = "AAAA"; return s }(),
		func() PushSubscription { s := phone.subscription(ps.URL + "/push/1"); s.Keys.Auth = "AAAA"; return s }(),
	} {
		if err := n.Subscribe("anna", bad); !errors.Is(err, ErrBadSubscription) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	if err := n.Subscribe("anna", newBrowser(t).subscription(ps.URL+"/gone")); err != nil {
		t.Fatal(err)
	}
	if err := n.Subscribe("anna", phone.subscription(ps.URL+"/push/1")); err != nil {
		t.Fatal(err)
	}
	hubtest.Eventually(t, "anna's push destination", func() bool {
		return len(n.Status().Channels) == 1 && n.Status().Channels[0].Channel == ChannelWebPush
	})

	do(t, h, hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true})
	hubtest.Eventually(t, "the fire pushed", func() bool { got, _ := ps.received(); return len(got) == 1 })
	got, urgency := ps.received()
	if got[0].Title != "BRAND" || !got[0].Alarm || !strings.Contains(got[0].Body, "Kitchen smoke") || urgency[0] != "high" {
		t.Errorf("push %+v, urgency %q", got[0], urgency[0])
	}
	hubtest.Eventually(t, "the gone browser deleted", func() bool { subs, _ := n.Subscriptions("anna"); return len(subs) == 1 })
	subs, _ := n.Subscriptions("anna")
	if len(subs) != 1 || subs[0].Endpoint != ps.URL+"/push/1" || !subs[0].Created.Equal(hubtest.T0) {
		t.Errorf("subscriptions after a gone one: %+v", subs)
	}

	// After a restart: the same keys, and a test by the page's button.
	stop()
	n2, _ := startNotifier(t, cfg, h, clock)
	if k2, _ := n2.VAPIDPublicKey(); k2 != key {
		t.Errorf("VAPID key changed across a restart")
	}
	hubtest.Eventually(t, "anna's push destination after the restart", func() bool { return len(n2.Status().Channels) == 1 })
	if err := n2.SendTest(t.Context(), "anna", ChannelWebPush); err != nil {
		t.Fatal(err)
	}
	if got, urgency := ps.received(); len(got) != 2 || got[1].Alarm || urgency[1] != "normal" {
		t.Errorf("test push %+v %q", got, urgency)
	}
	if err := n2.Unsubscribe("anna", ps.URL+"/push/1"); err != nil {
		t.Fatal(err)
	}
	hubtest.Eventually(t, "no push destination left", func() bool { return len(n2.Status().Channels) == 0 })
}
