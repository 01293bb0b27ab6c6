package web

import (
	"net/http"
	"strings"
	"testing"

	"vakt/hub"
)

// TestServer_ActionPlan: the installer records the action plan with the family (contacts
// in order, roles, verbal passwords), reorders and removes contacts; the passwords are
// hashed and never shown, not even in the JSON twin or the export; every change is in the
// history as the installer's; bad input changes nothing; a user may not touch it.
func TestServer_ActionPlan(t *testing.T) {
	r := newRig(t)
	anna, ivan, erik := r.login("anna"), r.login("ivan"), r.login("erik")
	r.grant(anna, "4")
	if _, body := r.req(ivan, "GET", "/installer", nil); !strings.Contains(body, `id="plan"`) || !strings.Contains(body, "No contacts yet") {
		t.Fatalf("action plan on the installer page:\n%s", body)
	}
	res, body := r.req(ivan, "POST", "/installer/plan/contact", ivan.form("name", "Anna Svensson", "phone", "+46 70 123 45 67", "role", "key_holder", "verbal_password", "blå tulpan"))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a contact: %d %s", res.StatusCode, body)
	}
	plan := func() []hub.Contact { return r.h.Snapshot().Installation.ActionPlan }
	if p := plan(); len(p) != 1 || p[0].Role != hub.ContactKeyHolder || !p[0].CheckPassword("blå tulpan") {
		t.Fatalf("plan %+v", p)
	}
	evs, _ := r.h.Store().History(0, 1)
	if evs[0].Kind != hub.KindConfigChange || evs[0].User != "ivan" || !strings.Contains(evs[0].Note, "Anna Svensson") || strings.Contains(evs[0].Note, "tulpan") {
		t.Fatalf("history: %+v", evs[0])
	}
	res, body = r.api(ivan, "POST", "/api/v1/installer/plan/contact", `{"name":"Per Nilsson","phone":"070-765 43 21","role":"fire_neighbour","verbal_password":"gammal ek"}`)
	if res.StatusCode != 200 || !strings.Contains(body, `"action_plan":[{"position":1,"name":"Anna Svensson"`) || !strings.Contains(body, `"role":"fire_neighbour"`) {
		t.Fatalf("add by the API: %d %s", res.StatusCode, body)
	}
	for _, path := range []string{"/installer", "/api/v1/installer", "/installer/installation.yaml"} {
		_, body := r.req(ivan, "GET", path, nil)
		if strings.Contains(body, "tulpan") || strings.Contains(body, "gammal ek") || (path != "/installer/installation.yaml" && strings.Contains(body, "argon2")) {
			t.Fatalf("%s shows a verbal password or its hash:\n%s", path, body)
		}
		if !strings.Contains(body, "Per Nilsson") {
			t.Fatalf("%s does not list Per:\n%s", path, body)
		}
	}

	// A change without a password keeps it; with one, replaces it.
	hash := plan()[0].Password
	if res, body := r.req(ivan, "POST", "/installer/plan/contact", ivan.form("position", "1", "was", "Anna Svensson", "name", "Anna S", "phone", "112", "role", "other")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d %s", res.StatusCode, body)
	}
	if p := plan()[0]; p.Name != "Anna S" || p.Role != hub.ContactOther || p.Password != hash {
		t.Fatalf("changed contact %+v", p)
	}
	if res, _ := r.req(anna, "POST", "/installer/plan/contact", anna.form("position", "1", "was", "Anna S", "name", "Anna S", "phone", "112", "role", "key_holder", "verbal_password", "röd ros")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin changes the password: %d", res.StatusCode)
	}
	if p := plan()[0]; !p.CheckPassword("röd ros") || p.CheckPassword("blå tulpan") {
		t.Fatalf("new password not set: %+v", p)
	}

	// Reorder: Per first. A form made before the change is refused, not applied to whoever
	// is now in its place.
	if res, _ := r.req(ivan, "POST", "/installer/plan/move", ivan.form("position", "2", "was", "Per Nilsson", "move", "up")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("move up: %d", res.StatusCode)
	}
	if p := plan(); p[0].Name != "Per Nilsson" || p[1].Name != "Anna S" {
		t.Fatalf("after the move: %+v", p)
	}
	res, body = r.req(ivan, "POST", "/installer/plan/contact", ivan.form("position", "1", "was", "Anna S", "name", "Anna S", "phone", "112", "role", "key_holder", "verbal_password", "fel person"))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "changed meanwhile") {
		t.Fatalf("stale form: %d %s", res.StatusCode, body)
	}
	if plan()[0].CheckPassword("fel person") {
		t.Fatal("a stale form set Per's password")
	}

	for _, tc := range []struct {
		name string
		form []string
		want string
	}{
		{"weak password", []string{"name", "X", "phone", "112", "role", "other", "verbal_password", "ab"}, "at least 4"},
		{"no password", []string{"name", "X", "phone", "112", "role", "other"}, "at least 4"},
		{"bad phone", []string{"name", "X", "phone", "ring mig", "role", "other", "verbal_password", "abcd"}, "action_plan[2].phone"},
		{"bad role", []string{"name", "X", "phone", "112", "role", "granne", "verbal_password", "abcd"}, ""},
		{"no name", []string{"name", " ", "phone", "112", "role", "other", "verbal_password", "abcd"}, ""},
		{"bad move", []string{"position", "1", "was", "Per Nilsson", "move", "sideways"}, ""},
		{"bad position", []string{"position", "9", "was", "Per Nilsson", "move", "remove"}, "changed meanwhile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/installer/plan/contact"
			if strings.Contains(strings.Join(tc.form, " "), "move") {
				path = "/installer/plan/move"
			}
			res, body := r.req(ivan, "POST", path, ivan.form(tc.form...))
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Fatalf("%d, want 400 with %q:\n%s", res.StatusCode, tc.want, body)
			}
			if n := len(plan()); n != 2 {
				t.Fatalf("%d contacts after a refused change", n)
			}
		})
	}
	if res, _ := r.req(erik, "POST", "/installer/plan/move", erik.form("position", "1", "was", "Per Nilsson", "move", "remove")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a user removed a contact: %d", res.StatusCode)
	}
	if res, body := r.api(ivan, "POST", "/api/v1/installer/plan/move", `{"position":1,"was":"Per Nilsson","move":"remove"}`); res.StatusCode != 200 || strings.Contains(body, "Per Nilsson") {
		t.Fatalf("remove: %d %s", res.StatusCode, body)
	}
	if p := plan(); len(p) != 1 || p[0].Name != "Anna S" {
		t.Fatalf("after the removal: %+v", p)
	}
}
