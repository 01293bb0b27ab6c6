package hub_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestStore_Sessions(t *testing.T) {
	s := hubtest.OpenStore(t)
	tok, err := hub.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	now := hubtest.T0
	want := hub.Session{Kind: hub.SessionWeb, User: "anna", CSRF: "c", Created: now, Expires: now.Add(12 * time.Hour)}
	if err := s.SaveSession(tok, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Session(tok)
	if err != nil || !ok || got.User != "anna" || !got.Expires.Equal(want.Expires) {
		t.Fatalf("Session = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := s.Session(tok + "x"); ok {
		t.Fatal("another token found the session")
	}
	// Only the hash of the token is kept.
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(tok)) {
		t.Fatal("the store file holds the token itself")
	}
	api, _ := hub.NewToken()
	if err := s.SaveSession(api, hub.Session{Kind: hub.SessionAPI, User: "erik", Created: now}); err != nil {
		t.Fatal(err)
	}
	gone, _ := hub.NewToken()
	if err := s.SaveSession(gone, hub.Session{Kind: hub.SessionWeb, User: "olle", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneSessions(now.Add(13*time.Hour), func(u string) bool { return u != "olle" })
	if err != nil || n != 2 {
		t.Fatalf("PruneSessions = %d, %v; want 2 (expired, removed user)", n, err)
	}
	if _, ok, _ := s.Session(api); !ok {
		t.Fatal("the API token was pruned")
	}
	if err := s.DeleteSession(api); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Session(api); ok {
		t.Fatal("deleted session still there")
	}
}

func TestPassword_HashAndCheck(t *testing.T) {
	h, err := hub.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !hub.CheckPassword(h, "correct horse") {
		t.Fatal("right password refused")
	}
	for _, bad := range []string{"correct hors", "", "correct horse "} {
		if hub.CheckPassword(h, bad) {
			t.Errorf("wrong password %q accepted", bad)
		}
	}
	for _, hash := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$$", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"} {
		if hub.CheckPassword(hash, "correct horse") {
			t.Errorf("malformed hash %q matched", hash)
		}
	}
	if _, err := hub.HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was hashed")
	}
	h2, _ := hub.HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestStore_SessionsListAndRevokeByID(t *testing.T) {
	s := hubtest.OpenStore(t)
	now := hubtest.T0
	a1, _ := hub.NewToken()
	a2, _ := hub.NewToken()
	e1, _ := hub.NewToken()
	old, _ := hub.NewToken()
	for tok, sess := range map[string]hub.Session{
		a1:  {Kind: hub.SessionWeb, User: "anna", Created: now, Expires: now.Add(time.Hour), Address: "10.0.0.2"},
		a2:  {Kind: hub.SessionAPI, User: "anna", Created: now.Add(time.Minute), Name: "ha"},
		e1:  {Kind: hub.SessionWeb, User: "erik", Created: now.Add(2 * time.Minute), Expires: now.Add(time.Hour)},
		old: {Kind: hub.SessionWeb, User: "erik", Created: now.Add(-time.Hour), Expires: now},
	} {
		if err := s.SaveSession(tok, sess); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Sessions(now, "")
	if err != nil || len(all) != 3 || all[0].ID != hub.SessionID(a1) || all[1].ID != hub.SessionID(a2) || all[2].ID != hub.SessionID(e1) || all[0].Address != "10.0.0.2" {
		t.Fatalf("Sessions(all) = %+v, %v: want a1, a2, e1 oldest first, the ended one left out", all, err)
	}
	if annas, _ := s.Sessions(now, "anna"); len(annas) != 2 {
		t.Fatalf("anna's sessions: %+v", annas)
	}
	if got, ok, err := s.SessionByID(hub.SessionID(e1)); err != nil || !ok || got.User != "erik" {
		t.Fatalf("SessionByID = %+v, %v, %v", got, ok, err)
	}
	for _, bad := range []string{"", "nonsense", hub.SessionID(e1) + "x", e1} {
		if _, ok, err := s.SessionByID(bad); ok || err != nil {
			t.Fatalf("SessionByID(%q) = %v, %v", bad, ok, err)
		}
		if err := s.DeleteSessionID(bad); err != nil {
			t.Fatalf("DeleteSessionID(%q) = %v", bad, err)
		}
	}
	if err := s.DeleteSessionID(hub.SessionID(e1)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Session(e1); ok {
		t.Fatal("the revoked session still signs in")
	}
	if _, ok, _ := s.Session(a1); !ok {
		t.Fatal("revoking erik's session ended anna's")
	}
}

func TestHub_SetOwnPassword(t *testing.T) {
	inst := hub.DemoInstallation([]byte("0123456789abcdef"))
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{})
	hash, err := hub.HashPassword("erik's own password")
	if err != nil {
		t.Fatal(err)
	}
	// Configure is for admins; a user may still set their own password.
	if res := h.Configure(t.Context(), hub.Input{User: "erik", How: hub.HowWeb}, "x", func(*hub.Installation) error { return nil }); res.Err == nil {
		t.Fatal("a user configured the installation")
	}
	res := h.SetOwnPassword(t.Context(), hub.Input{User: "erik", How: hub.HowWeb}, hash)
	if res.Err != nil || len(res.Events) != 1 || res.Events[0].Kind != hub.KindConfigChange || res.Events[0].User != "erik" || res.Events[0].How != hub.HowWeb {
		t.Fatalf("SetOwnPassword = %+v", res)
	}
	for _, u := range h.Snapshot().Installation.Users {
		if got := hub.CheckPassword(u.Password, "erik's own password"); got != (u.ID == "erik") {
			t.Errorf("%s's password is erik's new one: %v", u.ID, got)
		}
	}
	if res := h.SetOwnPassword(t.Context(), hub.Input{User: "nobody", How: hub.HowWeb}, hash); res.Err == nil {
		t.Fatal("an unknown user set a password")
	}
}

func TestHub_SetOwnLang(t *testing.T) {
	inst := hub.DemoInstallation([]byte("0123456789abcdef"))
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), inst, hub.Options{})
	if res := h.SetOwnLang(t.Context(), hub.Input{User: "erik", How: hub.HowWeb}, "sv"); res.Err != nil || len(res.Events) != 1 || res.Events[0].User != "erik" {
		t.Fatalf("SetOwnLang = %+v", res)
	}
	for _, u := range h.Snapshot().Installation.Users {
		if (u.Lang == "sv") != (u.ID == "erik") {
			t.Errorf("%s's language is %q", u.ID, u.Lang)
		}
	}
	if res := h.SetOwnLang(t.Context(), hub.Input{User: "erik", How: hub.HowWeb}, "de"); res.Err == nil {
		t.Fatal("a language vakt does not speak was set")
	}
}
