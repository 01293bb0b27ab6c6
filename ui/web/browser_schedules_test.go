package web

import (
	"testing"

	"github.com/chromedp/chromedp"

	"vakt/hub"
)

// TestBrowser_Schedules: anna adds an auto-arm for the night on weekdays in Chromium, sees
// it listed with its next run, and a mistake (no days) is named on the page; axe-core finds
// no serious or critical problem on the page.
func TestBrowser_Schedules(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")

	b.Visit(base + "/schedules")
	b.WaitText(`#area-schedules`, "None yet")
	b.Axe(t)
	add := `#add-area-schedule form`
	b.Do("choose night", chromedp.SetValue(chromedp.CSS(add+` select[name="mode"]`), "night"))
	b.Do("arm at 22:30", chromedp.SetValue(chromedp.CSS(add+` input[name="arm"]`), "22:30"))
	b.Do("disarm at 06:30", chromedp.SetValue(chromedp.CSS(add+` input[name="disarm"]`), "06:30"))
	b.Click(add + ` button.primary`)
	b.WaitText(`main .problem`, "Days: choose at least one day")

	// What was entered is still there: only the days are missing.
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		b.Click(add + ` input[name="days"][value="` + d + `"]`)
	}
	b.Click(add + ` button.primary`)
	b.WaitText(`main .notice`, "Saved")
	b.WaitText(`tr[data-schedule="0"]`, "22:30")
	b.WaitText(`tr[data-schedule="0"]`, "Night")
	b.WaitText(`tr[data-schedule="0"]`, "arms Tue 2026-11-24 22:30 CET")
	b.WaitText(`tr[data-schedule="0"]`, "disarms Wed 2026-11-25 06:30 CET")
	b.Axe(t)
	b.Screenshot("schedules-phone", 390, 844)
	s := r.h.Snapshot().Installation.Schedules
	if len(s) != 1 || s[0].Mode != hub.ModeArmedNight || s[0].Arm.String() != "22:30" || s[0].Disarm == nil || s[0].Disarm.String() != "06:30" || len(s[0].Days) != 5 {
		t.Fatalf("stored: %+v", s)
	}
	if ev := r.lastChange(); ev.User != "anna" {
		t.Fatalf("history: %s", ev)
	}
}
