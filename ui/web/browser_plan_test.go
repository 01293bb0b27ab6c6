package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"vakt/ui/web/browsertest"
)

// TestBrowser_ActionPlan records an action plan in headless Chromium as an admin with the
// family would: two contacts with roles and verbal passwords, then the key holder moved
// first. The page never shows a password, and axe-core finds no serious violation.
func TestBrowser_ActionPlan(t *testing.T) {
	b := browsertest.Start(t)
	r := newRig(t)
	base := r.serve()
	b.Visit(base + "/login")
	b.Type(`input[name="name"]`, "anna")
	b.Type(`input[name="password"]`, pw)
	b.Click(`form button.primary`)
	b.WaitText(`header nav`, "anna")

	b.Visit(base + "/installer#plan")
	b.WaitText(`#plan`, "No contacts yet")
	add := func(name, phone, role, password string) {
		t.Helper()
		b.Type(`#plan > form input[name="name"]`, name)
		b.Type(`#plan > form input[name="phone"]`, phone)
		b.Do("choose the role", chromedp.SetValue(chromedp.CSS(`#plan > form select[name="role"]`), role))
		b.Type(`#plan > form input[name="verbal_password"]`, password)
		b.Click(`#plan > form button`)
		b.WaitText(`#plan`, name)
	}
	add("Per Nilsson", "+46 70 765 43 21", "fire_neighbour", "gammal ek")
	add("Anna Svensson", "+46 70 123 45 67", "key_holder", "blå tulpan")
	b.WaitText(`#plan .contact legend`, "1. Per Nilsson")
	b.Click(`#plan .contact:nth-of-type(2) button[value="up"]`)
	b.WaitText(`#plan .contact legend`, "1. Anna Svensson")
	b.Axe(t)
	if page := b.Text("main"); strings.Contains(page, "tulpan") || strings.Contains(page, "gammal") || strings.Contains(page, "argon2") {
		t.Fatal("the installer page shows a verbal password or its hash")
	}
	plan := r.h.Snapshot().Installation.ActionPlan
	if len(plan) != 2 || plan[0].Name != "Anna Svensson" || !plan[0].CheckPassword("Blå tulpan") || plan[1].Role.String() != "fire_neighbour" {
		t.Fatalf("plan %+v", plan)
	}
}
