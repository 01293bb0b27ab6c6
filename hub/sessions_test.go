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
