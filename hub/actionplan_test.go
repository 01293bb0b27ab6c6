package hub

import (
	"errors"
	"strings"
	"testing"
)

func TestContact_VerbalPassword(t *testing.T) {
	var c Contact
	if err := c.SetPassword("ab c"); !errors.Is(err, ErrWeakVerbalPassword) {
		t.Fatalf("3 letters: %v, want ErrWeakVerbalPassword", err)
	}
	if err := c.SetPassword(strings.Repeat("x", 65)); err == nil {
		t.Fatal("65 bytes accepted")
	}
	if err := c.SetPassword("Blå  Tulpan"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Password, "tulpan") || !strings.HasPrefix(c.Password, "$argon2id$") {
		t.Fatalf("hash %q", c.Password)
	}
	for _, tc := range []struct {
		spoken string
		ok     bool
	}{
		{"blå tulpan", true},
		{"  BLÅ tulpan ", true},
		{"blå\ttulpan", true},
		{"bla tulpan", false},
		{"blåtulpan", false},
		{"", false},
		{strings.Repeat("blå tulpan ", 20), false},
	} {
		if got := c.CheckPassword(tc.spoken); got != tc.ok {
			t.Errorf("CheckPassword(%q) = %v, want %v", tc.spoken, got, tc.ok)
		}
	}
	if (&Contact{}).CheckPassword("blå tulpan") {
		t.Fatal("a contact without a password matched")
	}
}

func TestParseInstallation_ActionPlan(t *testing.T) {
	src := `areas: [{number: 1}]
action_plan:
  - {name: Anna, phone: "+46 70 123 45 67", role: key_holder, verbal_password: "blå tulpan"}
  - {name: Per, phone: "070-7654321", role: fire_neighbour, verbal_password: "gammal ek"}
`
	inst, err := ParseInstallation([]byte(src), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.ActionPlan) != 2 || inst.ActionPlan[1].Role != ContactFireNeighbour || !inst.ActionPlan[0].CheckPassword("blå tulpan") {
		t.Fatalf("plan %+v", inst.ActionPlan)
	}
	out, err := MarshalInstallation(inst)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "tulpan") || strings.Contains(string(out), "gammal") || !strings.Contains(string(out), "password_hash: $argon2id$") {
		t.Fatalf("export shows a verbal password, or no hash:\n%s", out)
	}
	again, err := ParseInstallation(out, testKey)
	if err != nil {
		t.Fatalf("re-import: %v\n%s", err, out)
	}
	if !again.ActionPlan[1].CheckPassword("Gammal Ek") || again.ActionPlan[0].Name != "Anna" {
		t.Fatalf("re-imported plan %+v", again.ActionPlan)
	}
}

func TestParseInstallation_ActionPlanErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad role", "action_plan: [{name: A, phone: '112', role: neighbour, verbal_password: abcd}]\n", `line 1: unknown contact role "neighbour"`},
		{"no role", "action_plan: [{name: A, phone: '112', verbal_password: abcd}]\n", "action_plan[0].role is missing"},
		{"no name", "action_plan: [{name: ' ', phone: '112', role: other, verbal_password: abcd}]\n", "action_plan[0].name is empty"},
		{"bad phone", "action_plan: [{name: A, phone: 'call me', role: other, verbal_password: abcd}]\n", "action_plan[0].phone"},
		{"no password", "action_plan: [{name: A, phone: '112', role: other}]\n", "action_plan[0].password_hash"},
		{"bad hash", "action_plan: [{name: A, phone: '112', role: other, password_hash: secret}]\n", "action_plan[0].password_hash"},
		{"weak", "action_plan: [{name: A, phone: '112', role: other, verbal_password: ab}]\n", "action_plan[0].verbal_password"},
		{"both", "action_plan: [{name: A, phone: '112', role: other, verbal_password: abcd, password_hash: $argon2id$x}]\n", "not both"},
		{"unknown key", "action_plan: [{name: A, phone: '112', role: other, pasword: abcd}]\n", "field pasword not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInstallation([]byte(tc.yaml), testKey)
			if !errors.Is(err, ErrInvalidInstallation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	var in Installation
	in.CodeKey = testKey
	for range MaxContacts + 1 {
		c := Contact{Name: "A", Phone: "112", Role: ContactOther, Password: "$argon2id$x"}
		in.ActionPlan = append(in.ActionPlan, c)
	}
	if err := in.Validate(); err == nil || !strings.Contains(err.Error(), "at most 20") {
		t.Fatalf("21 contacts: %v", err)
	}
}
