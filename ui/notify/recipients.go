package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"vakt/hub"
)

// The store keeps what the web UI saves under the driver data of "notify" (hub/driverdata.go):
// one key per user ("recipient/anna"), so that saving one user's settings cannot undo
// another's saved at the same time.
const (
	storeName       = "notify"
	recipientPrefix = "recipient/"
)

// Source says where a recipient's settings come from.
type Source string

// Sources of a recipient's settings: nothing, config.yaml, or the web UI (the store).
const (
	SourceNone   Source = ""
	SourceConfig Source = "config"
	SourceStore  Source = "store"
)

// StoredRecipient returns the settings saved in the web UI for user, if any.
func StoredRecipient(store *hub.Store, user string) (Recipient, bool, error) {
	b, err := store.DriverData(storeName, recipientPrefix+user)
	if err != nil || b == nil {
		return Recipient{}, false, err
	}
	var r Recipient
	if err := json.Unmarshal(b, &r); err != nil {
		return Recipient{}, false, fmt.Errorf("notify: stored settings of %s: %w", user, err)
	}
	r.User = user
	return r, true, nil
}

// SaveRecipient stores the settings of r.User as the web UI edited them; they win over
// config.yaml's entry for that user from now on.
func SaveRecipient(store *hub.Store, r Recipient) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return store.SaveDriverData(storeName, recipientPrefix+r.User, b)
}

// Recipients merges config.yaml's recipients with the store's: a user's settings saved in
// the web UI replace that user's config.yaml entry as a whole (config.yaml is the default
// until the user or an admin saves); users only in the store are added, in the order of
// the installation's users. Stored settings of users no longer in the installation are
// left out. A recipient without a language takes the user's own, then Swedish.
func Recipients(cfg Config, store *hub.Store, inst *hub.Installation) ([]Recipient, error) {
	var out []Recipient
	taken := map[string]bool{}
	lookup := func(id string) *hub.User {
		for i := range inst.Users {
			if inst.Users[i].ID == id {
				return &inst.Users[i]
			}
		}
		return nil
	}
	add := func(r Recipient) {
		taken[r.User] = true
		if r.Lang == "" {
			r.Lang = "sv"
			if u := lookup(r.User); u != nil && slices.Contains([]string{"sv", "en"}, u.Lang) {
				r.Lang = u.Lang
			}
		}
		out = append(out, r)
	}
	for _, r := range cfg.Recipients {
		s, ok, err := StoredRecipient(store, r.User)
		if err != nil {
			return nil, err
		}
		if ok {
			if lookup(r.User) == nil {
				continue
			}
			r = s
		}
		add(r)
	}
	for _, u := range inst.Users {
		if taken[u.ID] {
			continue
		}
		s, ok, err := StoredRecipient(store, u.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			add(s)
		}
	}
	// Browsers subscribed to Web Push: a channel of their user, who may have chosen
	// nothing else (an admin still gets every alarm).
	for _, u := range inst.Users {
		subs, err := Subscriptions(store, u.ID)
		if err != nil {
			return nil, err
		}
		if len(subs) == 0 {
			continue
		}
		if !taken[u.ID] {
			add(Recipient{User: u.ID})
		}
		for i := range out {
			if out[i].User == u.ID {
				out[i].webPush = true
			}
		}
	}
	return out, nil
}

// CursorNames returns the cursor names of every destination of the merged recipients (see
// Recipients), for outbox.Prepare at start.
func CursorNames(cfg Config, store *hub.Store, inst *hub.Installation) ([]string, error) {
	rs, err := Recipients(cfg, store, inst)
	if err != nil {
		return nil, err
	}
	c := cfg
	c.Recipients = rs
	return c.CursorNames(), nil
}

// isNotifyCursor reports whether a cursor name is one of the notifier's.
func isNotifyCursor(name string) bool { return strings.HasPrefix(name, "notify/") }
