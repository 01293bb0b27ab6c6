package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"vakt/hub"
	"vakt/hub/hubtest"
)

// TestUserResetPassword: at the box, vakt stopped, an admin's forgotten web password is set
// again through the hub, so the history says the console did it; a short password, an
// unknown user or no terminal change nothing.
func TestUserResetPassword(t *testing.T) {
	dir := t.TempDir()
	var out hubtest.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"installation", "import", "-data", dir, "examples/installation.yaml"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	const newPassword = "a new and long password"
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"short", []string{"-password-stdin", "erik"}, "short\n", "at least 10"},
		{"unknown", []string{"-password-stdin", "nobody"}, newPassword + "\n", `no user "nobody"`},
		{"no terminal", []string{"erik"}, newPassword + "\n", "not a terminal"},
		{"empty stdin", []string{"-password-stdin", "erik"}, "", "read the password"},
		{"no name", []string{"-password-stdin"}, newPassword + "\n", "usage"},
	} {
		args := append([]string{"user", "reset-password", "-data", dir}, tc.args...)
		err := run(ctx, args, strings.NewReader(tc.stdin), &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"user", "reset-password", "-data", dir, "-password-stdin", "Erik"}, strings.NewReader(newPassword+"\n"), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "web password of erik is set") || strings.Contains(out.String(), newPassword) {
		t.Errorf("output: %q", out.String())
	}

	s, err := hub.OpenStore(filepath.Join(dir, "vakt.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inst, err := s.Installation()
	if err != nil {
		t.Fatal(err)
	}
	u := findUser(inst, "erik")
	if u == nil || !hub.CheckPassword(u.Password, newPassword) {
		t.Fatalf("erik's password is not the new one: %+v", u)
	}
	evs, _ := s.Events(0, 0)
	last := evs[len(evs)-1]
	if len(evs) != 2 || last.Kind != hub.KindConfigChange || last.User != "console" || !strings.Contains(last.Note, "erik") {
		t.Fatalf("the reset is not in the history as the console's: %d events, %+v", len(evs), last)
	}

	out.Reset()
	if err := run(ctx, []string{"help"}, nil, &out, &out); err != nil || !strings.Contains(out.String(), "user reset-password NAME") {
		t.Errorf("help does not list user reset-password: %v\n%s", err, out.String())
	}
}
