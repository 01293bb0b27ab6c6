package homekit

import (
	"regexp"
	"slices"
	"testing"

	"vakt/hub"
	"vakt/hub/hubtest"
)

func TestLoadSetup_RandomAndStored(t *testing.T) {
	path := hubtest.StorePath(t)
	s, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := LoadSetup(s)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{3}-\d{2}-\d{3}$`).MatchString(first.Pretty()) || first.Code == "00102003" {
		t.Fatalf("setup code %q", first.Pretty())
	}
	if !regexp.MustCompile(`^X-HM://[0-9A-Z]{9}[0-9A-Z]{4}$`).MatchString(first.Payload()) {
		t.Fatalf("payload %q", first.Payload())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = hubtest.OpenStore(t)
	other, err := LoadSetup(s)
	if err != nil {
		t.Fatal(err)
	}
	if other.Code == first.Code {
		t.Fatalf("two installations got the same code %s", first.Code)
	}
	s2, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	again, err := LoadSetup(s2)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("after a restart %+v, want %+v", again, first)
	}
}

func TestSetup_Payload(t *testing.T) {
	// HAP's layout: code | IP flag<<27 | category<<31, base 36, then the setup id.
	got := Setup{Code: "11122333", ID: "ABCD"}.Payload()
	if want := "X-HM://0023NJY59ABCD"; got != want {
		t.Fatalf("payload %s, want %s", got, want)
	}
}

func TestStore_SurvivesRestart(t *testing.T) {
	path := hubtest.StorePath(t)
	s, err := hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(s)
	if _, err := st.Get("uuid"); err == nil {
		t.Fatal("an empty store has a uuid")
	}
	for _, k := range []string{"uuid", "A.pairing", "B.pairing"} {
		if err := st.Set(k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete("A.pairing"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = hub.OpenStore(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st = NewStore(s)
	keys, err := st.KeysWithSuffix(".pairing")
	if err != nil || !slices.Equal(keys, []string{"B.pairing"}) {
		t.Fatalf("pairings %v %v, want [B.pairing]", keys, err)
	}
	if v, err := st.Get("uuid"); err != nil || string(v) != "vuuid" {
		t.Fatalf("uuid %q %v", v, err)
	}
}
