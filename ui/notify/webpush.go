package notify

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"vakt/hub"
)

// ChannelWebPush is Web Push to the browsers (the installed PWA) a user subscribed.
const ChannelWebPush = "webpush"

// DefaultWebPushSubscriber is the VAPID contact when config.yaml names none.
const DefaultWebPushSubscriber = "mailto:root@localhost"

// maxSubscriptions bounds the browsers one user may subscribe.
const maxSubscriptions = 10

// WebPushConfig is Web Push (RFC 8030) with VAPID (RFC 8292) and payload encryption
// (RFC 8291, aes128gcm). The keys are generated on first start and kept in the store.
type WebPushConfig struct {
	// Subscriber is the contact a push service may write to about vakt's messages: a
	// mailto: or https: URL (the VAPID "sub" claim).
	Subscriber string `yaml:"subscriber"`
}

// PushSubscription is one browser's subscription, as PushSubscription.toJSON() gives it.
type PushSubscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Created time.Time `json:"created,omitzero"`
	// Agent is the browser's User-Agent, to tell the user's browsers apart.
	Agent string `json:"agent,omitempty"`
}

// ErrBadSubscription is a subscription that cannot be pushed to.
var ErrBadSubscription = errors.New("bad push subscription")

// check validates the subscription: an https endpoint (http only on a loopback address,
// for tests), a P-256 public key and a 16-byte auth secret.
func (s PushSubscription) check() error {
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Host == "" || len(s.Endpoint) > 2000 {
		return fmt.Errorf("%w: endpoint %q", ErrBadSubscription, s.Endpoint)
	}
	if u.Scheme != "https" {
		ip := net.ParseIP(u.Hostname())
		if u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%w: endpoint %q is not https", ErrBadSubscription, s.Endpoint)
		}
	}
	pub, err := b64(s.Keys.P256dh)
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(pub)
	}
	if err != nil {
		return fmt.Errorf("%w: p256dh is no P-256 public key", ErrBadSubscription)
	}
	if auth, err := b64(s.Keys.Auth); err != nil || len(auth) != 16 {
		return fmt.Errorf("%w: auth is no 16-byte secret", ErrBadSubscription)
	}
	return nil
}

// b64 decodes base64url with or without padding, as browsers and libraries write it.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

const (
	vapidKey     = "vapid"
	webpushOfKey = "webpush/"
)

// vapidKeys are the application server's keys, base64url as webpush-go takes them.
type vapidKeys struct {
	Private string `json:"private"`
	Public  string `json:"public"`
}

// vapidStore loads the VAPID keys, generating and storing them the first time.
type vapidStore struct {
	store *hub.Store
	mu    sync.Mutex
	keys  vapidKeys
}

func (v *vapidStore) get() (vapidKeys, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys.Public != "" {
		return v.keys, nil
	}
	b, err := v.store.DriverData(storeName, vapidKey)
	if err != nil {
		return vapidKeys{}, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &v.keys); err != nil {
			return vapidKeys{}, fmt.Errorf("stored VAPID keys: %w", err)
		}
		return v.keys, nil
	}
	priv, pub, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return vapidKeys{}, fmt.Errorf("generate VAPID keys: %w", err)
	}
	k := vapidKeys{Private: priv, Public: pub}
	if b, err = json.Marshal(k); err != nil {
		return vapidKeys{}, err
	}
	if err := v.store.SaveDriverData(storeName, vapidKey, b); err != nil {
		return vapidKeys{}, err
	}
	v.keys = k
	return k, nil
}

// Subscriptions returns the browsers user subscribed.
func Subscriptions(store *hub.Store, user string) ([]PushSubscription, error) {
	b, err := store.DriverData(storeName, webpushOfKey+user)
	if err != nil || b == nil {
		return nil, err
	}
	var out []PushSubscription
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("stored push subscriptions of %s: %w", user, err)
	}
	return out, nil
}

func saveSubscriptions(store *hub.Store, user string, subs []PushSubscription) error {
	if len(subs) == 0 {
		return store.SaveDriverData(storeName, webpushOfKey+user, nil)
	}
	b, err := json.Marshal(subs)
	if err != nil {
		return err
	}
	return store.SaveDriverData(storeName, webpushOfKey+user, b)
}

// pushPayload is what the service worker gets (static/sw.js shows it).
type pushPayload struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Tag   string `json:"tag,omitempty"`
	Alarm bool   `json:"alarm,omitempty"`
	URL   string `json:"url"`
}

// WebPush pushes to every browser a user subscribed. A subscription the push service
// says is gone (404, 410) is deleted.
type WebPush struct {
	cfg    WebPushConfig
	store  *hub.Store
	vapid  *vapidStore
	client *http.Client
	log    *slog.Logger
	mu     sync.Mutex // one user's subscriptions are read and pruned by one send at a time
}

var _ Channel = (*WebPush)(nil)

// Send pushes m to every subscription of user. It succeeds when at least one browser's
// push service accepted it; with none left the message is rejected.
func (w *WebPush) Send(ctx context.Context, user string, m Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys, err := w.vapid.get()
	if err != nil {
		return fmt.Errorf("webpush: %w", err)
	}
	subs, err := Subscriptions(w.store, user)
	if err != nil {
		return fmt.Errorf("webpush: %w", err)
	}
	payload, _ := json.Marshal(pushPayload{Title: m.Title, Body: m.Body, Alarm: m.Alarm, URL: "/", Tag: strings.Join(m.Tags, " ")})
	// webpush-go writes "mailto:" before any subscriber that is no https: URL.
	sub := strings.TrimPrefix(w.cfg.Subscriber, "mailto:")
	opts := &webpush.Options{HTTPClient: w.client, Subscriber: sub, VAPIDPublicKey: keys.Public, VAPIDPrivateKey: keys.Private,
		TTL: 24 * 3600, Urgency: webpush.UrgencyNormal, RecordSize: 2048}
	if m.Alarm {
		opts.Urgency, opts.TTL = webpush.UrgencyHigh, 3600
	}
	var errs []error
	kept := subs[:0:0]
	delivered := 0
	for _, s := range subs {
		ws := &webpush.Subscription{Endpoint: s.Endpoint, Keys: webpush.Keys{P256dh: s.Keys.P256dh, Auth: s.Keys.Auth}}
		resp, err := webpush.SendNotificationWithContext(ctx, payload, ws, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", host(s.Endpoint), err))
			kept = append(kept, s)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			delivered++
			kept = append(kept, s)
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			w.log.Info("push subscription gone: deleted", "user", user, "endpoint", host(s.Endpoint), "status", resp.StatusCode)
		default:
			errs = append(errs, fmt.Errorf("%s: HTTP %d: %s", host(s.Endpoint), resp.StatusCode, strings.TrimSpace(string(body))))
			kept = append(kept, s)
		}
	}
	if len(kept) != len(subs) {
		if err := saveSubscriptions(w.store, user, kept); err != nil {
			return fmt.Errorf("webpush: %w", err)
		}
	}
	switch {
	case delivered > 0:
		if len(errs) > 0 {
			w.log.Warn("push not delivered to every browser", "user", user, "error", errors.Join(errs...))
		}
		return nil
	case len(kept) == 0:
		return fmt.Errorf("webpush: %w: no browser subscribed", ErrRejected)
	}
	return fmt.Errorf("webpush: %w", errors.Join(errs...))
}

// host is an endpoint's host, for logs: the rest of an endpoint is a capability.
func host(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return "?"
}

// VAPIDPublicKey returns the key browsers subscribe with (applicationServerKey),
// generating the keys on first use.
func (n *Notifier) VAPIDPublicKey() (string, error) {
	k, err := n.vapid.get()
	return k.Public, err
}

// Subscriptions returns the browsers user subscribed.
func (n *Notifier) Subscriptions(user string) ([]PushSubscription, error) {
	return Subscriptions(n.hub.Store(), user)
}

// Subscribe adds (or renews) a browser's subscription for user, and delivers to it from
// now on, without a restart.
func (n *Notifier) Subscribe(user string, s PushSubscription) error {
	if err := s.check(); err != nil {
		return err
	}
	n.pushMu.Lock()
	defer n.pushMu.Unlock()
	subs, err := Subscriptions(n.hub.Store(), user)
	if err != nil {
		return err
	}
	subs = slices.DeleteFunc(subs, func(o PushSubscription) bool { return o.Endpoint == s.Endpoint })
	if len(subs) >= maxSubscriptions {
		return fmt.Errorf("%w: at most %d browsers per user", ErrBadSubscription, maxSubscriptions)
	}
	s.Created = n.now()
	if err := saveSubscriptions(n.hub.Store(), user, append(subs, s)); err != nil {
		return err
	}
	n.log.Info("browser subscribed to push", "user", user, "endpoint", host(s.Endpoint))
	return n.prepared(Recipient{User: user, webPush: true})
}

// Unsubscribe removes the subscription with endpoint from user's.
func (n *Notifier) Unsubscribe(user, endpoint string) error {
	n.pushMu.Lock()
	defer n.pushMu.Unlock()
	subs, err := Subscriptions(n.hub.Store(), user)
	if err != nil {
		return err
	}
	kept := slices.DeleteFunc(slices.Clone(subs), func(o PushSubscription) bool { return o.Endpoint == endpoint })
	if len(kept) == len(subs) {
		return fmt.Errorf("%w: no such subscription", ErrBadSubscription)
	}
	if err := saveSubscriptions(n.hub.Store(), user, kept); err != nil {
		return err
	}
	n.Reload()
	return nil
}
