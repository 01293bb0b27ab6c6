package notify

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestNotifier_SettingsFromTheWebUI: settings saved as the web UI saves them take effect
// without a restart, win over config.yaml's entry for their user, add users config.yaml
// does not name, survive a restart, and a removed destination's cursor is deleted.
func TestNotifier_SettingsFromTheWebUI(t *testing.T) {
	srv := newNtfyServer(t)
	own := newNtfyServer(t) // lisa's own ntfy server
	clock := hubtest.NewClock(hubtest.T0)
	path := hubtest.StorePath(t)
	h, stopHub := hubtest.StartHub(t, path, demo(), hub.Options{Now: clock.Now})
	cfg := ntfyConfig(srv.URL, Recipient{User: "erik", Lang: "en", Events: []string{ClassArming}, Ntfy: "erik"})
	n, stopN := startNotifier(t, cfg, h, clock)

	if r, src, err := n.Recipient("erik"); err != nil || src != SourceConfig || r.Ntfy != "erik" {
		t.Fatalf("erik before: %+v %q %v", r, src, err)
	}
	// Bad input is refused naming the field, and nothing is stored.
	err := n.SetRecipient(Recipient{User: "lisa", Events: []string{"gossip"}, Ntfy: "a/b", SMS: "+46701234567"})
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("bad settings: %v", err)
	}
	for _, want := range []string{`events[0]: "gossip"`, `ntfy_topic: "a/b"`, "sms: set notify.sms.device too"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, src, _ := n.Recipient("lisa"); src != SourceNone {
		t.Fatalf("refused settings stored: %q", src)
	}

	must := func(r Recipient) {
		t.Helper()
		if err := n.SetRecipient(r); err != nil {
			t.Fatal(err)
		}
	}
	must(Recipient{User: "erik", Lang: "en", Events: []string{ClassArming}, Ntfy: "erik-new"})
	must(Recipient{User: "lisa", Events: []string{ClassArming}, Ntfy: "lisa", NtfyServer: own.URL, NtfyToken: "tk_lisa"})
	hubtest.Eventually(t, "lisa's cursor", func() bool {
		_, ok, _ := h.Store().Cursor("notify/lisa/ntfy")
		return ok
	})
	do(t, h, hub.Input{Kind: hub.InArm, Area: 1, Mode: hub.ModeArmedAway, User: "anna", How: hub.HowWeb})
	hubtest.Eventually(t, "erik's new topic", func() bool { return len(srv.got()) == 1 })
	hubtest.Eventually(t, "lisa's own server", func() bool { return len(own.got()) == 1 })
	if r := srv.got()[0]; r.Path != "/erik-new" || r.Body != "Anna armed (away) from the web at 18:00" {
		t.Errorf("erik got %+v", r)
	}
	if r := own.got()[0]; r.Path != "/lisa" || r.Auth != "Bearer tk_lisa" {
		t.Errorf("lisa got %+v", r)
	}

	// After a restart the stored settings still win; erik chooses nothing any more, so his
	// destination and its cursor are gone.
	must(Recipient{User: "erik"})
	hubtest.Eventually(t, "erik's cursor deleted", func() bool {
		_, ok, _ := h.Store().Cursor("notify/erik/ntfy")
		return !ok
	})
	stopN()
	stopHub()
	h, _ = hubtest.StartHub(t, path, nil, hub.Options{Now: clock.Now})
	names, err := CursorNames(cfg, h.Store(), h.Snapshot().Installation)
	if err != nil || !slices.Equal(names, []string{"notify/lisa/ntfy"}) {
		t.Fatalf("cursor names after restart %v %v", names, err)
	}
	n, _ = startNotifier(t, cfg, h, clock)
	clock.Add(time.Minute)
	do(t, h, hub.Input{Kind: hub.InDisarm, Area: 1, User: "anna", How: hub.HowWeb})
	hubtest.Eventually(t, "lisa's disarm", func() bool { return len(own.got()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if len(srv.got()) != 1 {
		t.Errorf("erik still notified: %+v", srv.got())
	}
	if st := n.Status(); len(st.Channels) != 1 || st.Channels[0].User != "lisa" {
		t.Errorf("status %+v", st)
	}
}
