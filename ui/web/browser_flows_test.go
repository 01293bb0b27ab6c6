package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"vakt/hub"
	"vakt/hub/hubtest"
	"vakt/ui/web/browsertest"
)

// startBrowser starts headless Chromium for t, saving screenshots under
// testdata/screenshots unless $VAKT_SCREENSHOTS says where.
func startBrowser(t *testing.T) *browsertest.Browser {
	t.Helper()
	b := browsertest.Start(t)
	if os.Getenv("VAKT_SCREENSHOTS") == "" {
		b.ScreenshotDir = filepath.Join("testdata", "screenshots")
	}
	return b
}

// signInAs signs name in through the login form and waits for the panel.
func signInAs(b *browsertest.Browser, base, name string) {
	b.Visit(base + "/login")
	b.Type(`input[name="name"]`, name)
	b.Type(`input[name="password"]`, pw)
	b.Click(`form button.primary`)
	b.WaitText(`[data-area="1"] h2`, "House")
}

// acceptLanguage makes the browser send Accept-Language: lang with every request, as a
// browser set to that language does.
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return chromedp.Void{}, err
	}
}

// TestBrowser_WrongPINsLockThePad: five wrong PINs on the panel lock this browser's PIN
// pad as a keypad would be; the page says so, with the time it opens again, and even the
// right PIN is refused until then.
func TestBrowser_WrongPINsLockThePad(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")

	for i := range 5 {
		b.Visit(base + "/")
		b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "999"+string(rune('0'+i)))
		b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
		b.WaitText(`main h1`, "Wrong code")
	}
	b.Visit(base + "/")
	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`main h1`, "Too many wrong attempts")
	until := r.h.Snapshot().State.Lockouts
	if len(until) != 1 {
		t.Fatalf("lockouts %v, want this session's", until)
	}
	for _, l := range until {
		b.WaitText(`.locked`, "locked until")
		b.WaitText(`.locked time`, l.Until.Local().Format("15:04:05"))
	}
	b.Screenshot("pin-locked-phone", 390, 844)
	b.Axe(t)
	if m := r.h.Snapshot().State.Areas[0].Set; m != hub.ModeDisarmed {
		t.Fatalf("area 1 is %v after a locked-out arming", m)
	}
}

// TestBrowser_RefusedThenBypass: with a window open, arming is refused and the page names
// the window; "bypass these (1)" with the PIN arms with it bypassed.
func TestBrowser_RefusedThenBypass(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	signInAs(b, base, "anna")
	b.WaitText(`[data-area="1"] .notready`, "Living room window")
	b.Screenshot("panel-not-ready-phone", 390, 844)
	b.Axe(t)

	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`main h1`, "Not armed")
	b.WaitText(`main ul`, "Living room window")
	b.WaitText(`main button.primary`, "Bypass these and arm (1)")
	b.Screenshot("arm-refused-phone", 390, 844)
	b.Axe(t)

	b.Type(`main input[name="pin"]`, "1234")
	b.Click(`main button.primary`)
	b.WaitText(`[data-area="1"] .mode`, "Arming")
	b.WaitText(`[data-area="1"] .warn`, "Living room window")
	b.Screenshot("panel-armed-bypassed-phone", 390, 844)
	b.Axe(t)
}

// TestBrowser_CancelledExitDelayShownLoudly: a window opened during the exit delay cancels
// the arming; the open page says NOT ARMED with the window's name, without a reload.
func TestBrowser_CancelledExitDelayShownLoudly(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")
	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`[data-area="1"] .mode`, "Arming")

	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "living_window", Signal: hub.SignalContact, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	b.WaitText(`[data-area="1"] .notarmed`, "NOT ARMED")
	b.WaitText(`[data-area="1"] .notarmed`, "Living room window")
	b.WaitText(`[data-area="1"] .mode`, "Disarmed")
	b.Screenshot("panel-not-armed-phone", 390, 844)
	b.Axe(t)
}

// TestBrowser_Swedish: a browser set to Swedish gets the sign-in page, the panel and the
// history in Swedish.
func TestBrowser_Swedish(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	b.Do("accept Swedish", acceptLanguage("sv-SE,sv;q=0.9,en;q=0.5"))

	b.Visit(base + "/login")
	b.WaitText(`main h1`, "Logga in")
	b.Axe(t)
	signInAs(b, base, "anna")
	b.WaitText(`[data-area="1"] .mode`, "Avlarmat")
	b.WaitText(`[data-area="1"] .ready`, "Klart att larma")
	b.WaitText(`[data-area="1"] button[value="away"]`, "Larma borta")
	if lang := b.Text(`html`); lang == "" {
		t.Fatal("empty page")
	}
	b.Screenshot("panel-sv-phone", 390, 844)
	b.Axe(t)

	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`[data-area="1"] .mode`, "Larmar på")
	b.Screenshot("panel-sv-arming-phone", 390, 844)
}

// TestBrowser_FirstRunSetup: a hub with no users logs a setup link; opening it, the first
// admin is created with name, password and PIN, signed in on the panel, and arms with
// that PIN.
func TestBrowser_FirstRunSetup(t *testing.T) {
	b := startBrowser(t)
	h, _ := hubtest.StartHub(t, hubtest.StorePath(t), &hub.Installation{Name: "New", CodeKey: []byte("0123456789abcdef"),
		Areas: []hub.Area{{Number: 1, Name: "House"}}}, hub.Options{})
	s, err := New(Config{}, Deps{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, h: h, s: s}
	base := r.serve()
	link, err := s.firstLink(base)
	if err != nil || !strings.HasPrefix(link, base+"/setup?token=") {
		t.Fatalf("setup link %q, %v", link, err)
	}

	b.Visit(link)
	b.WaitText(`main h1`, "Set up vakt")
	b.Screenshot("setup-phone", 390, 844)
	b.Axe(t)
	b.Type(`input[name="name"]`, "Anna")
	b.Type(`input[name="password"]`, pw)
	b.Type(`input[name="pin"]`, "2580")
	b.Click(`form button.primary`)
	b.WaitText(`[data-area="1"] h2`, "House")
	b.WaitText(`header nav`, "anna")
	b.Screenshot("setup-done-panel-phone", 390, 844)
	b.Axe(t)

	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "2580")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`[data-area="1"] .mode`, "Arming")

	// The link worked once.
	b.Visit(link)
	b.WaitText(`main h1`, "expired")
}

// TestBrowser_AccountPasswordAndSessions: erik changes his own password on the account page
// (his other browser is signed out, and he signs in with the new one); anna, an admin, sees
// his session there and ends it.
func TestBrowser_AccountPasswordAndSessions(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	other := r.login("erik") // erik's phone
	signInAs(b, base, "erik")

	b.Visit(base + "/account")
	b.WaitText(`#sessions`, "this browser")
	b.WaitText(`#sessions ul`, "Browser")
	b.Screenshot("account-phone", 390, 844)
	b.Axe(t)
	b.Type(`#password input[name="current"]`, "not my password")
	b.Type(`#password input[name="password"]`, "a new long password")
	b.Click(`#password button.primary`)
	b.WaitText(`#password .problem`, "Wrong current password")
	b.Type(`#password input[name="current"]`, pw)
	b.Type(`#password input[name="password"]`, "a new long password")
	b.Click(`#password button.primary`)
	b.WaitText(`main .notice`, "Password changed")
	if _, ok, _ := r.h.Store().Session(other.cookie); ok {
		t.Fatal("erik's other browser is still signed in")
	}
	b.Axe(t)

	// erik signs out here and in on his phone with the new password; anna, an admin, ends
	// that session from her account page.
	b.Click(`header nav form button.link`)
	b.WaitText(`main h1`, "Sign in")
	phone, _ := hub.NewToken()
	if err := r.h.Store().SaveSession(phone, hub.Session{Kind: hub.SessionWeb, User: "erik", Created: r.clk.Now(), Expires: r.clk.Now().Add(time.Hour),
		Address: "192.168.1.23", Agent: "erik's phone"}); err != nil {
		t.Fatal(err)
	}
	signInAs(b, base, "anna")
	b.Visit(base + "/account")
	b.WaitText(`#sessions h2`, "every user")
	b.WaitText(`#sessions ul`, "erik")
	b.Screenshot("account-admin-desktop", 1280, 800)
	b.Axe(t)
	list, err := r.h.Store().Sessions(r.clk.Now(), "erik")
	if err != nil || len(list) != 1 {
		t.Fatalf("erik's sessions: %+v %v", list, err)
	}
	erikRow := `li[data-session="` + list[0].ID + `"]`
	b.Click(erikRow + ` button`)
	b.WaitText(`main .notice`, "Session ended")
	if list, _ := r.h.Store().Sessions(r.clk.Now(), "erik"); len(list) != 0 {
		t.Fatalf("erik still has sessions: %+v", list)
	}
}

// TestBrowser_AlarmBannerOnEveryPage: anna is reading the history when a fire is reported;
// the banner at the top of the page says so without a reload and links to the panel.
func TestBrowser_AlarmBannerOnEveryPage(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")
	b.Visit(base + "/history")
	b.WaitText(`main h1`, "History")
	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "kitchen_smoke", Signal: hub.SignalSmoke, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	b.WaitText(`#alarm-banner a`, "ALARM — Kitchen smoke (fire)")
	b.Screenshot("alarm-banner-history-phone", 390, 844)
	b.Axe(t)
	b.Click(`#alarm-banner a`)
	b.WaitText(`[data-area="1"] .mode`, "ALARM")
}

// TestBrowser_EntryCountdown: the house is armed away; the front door opens, and the open
// panel shows the entry delay counting down in seconds without a reload; anna disarms with
// her PIN in time.
func TestBrowser_EntryCountdown(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	signInAs(b, base, "anna")
	b.Type(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`[data-area="1"] .mode`, "Arming")
	r.clk.Add(hub.DefaultExitDelay + time.Second)
	r.h.Do(context.Background(), hub.Input{Kind: hub.InTick})
	b.WaitText(`[data-area="1"] .mode`, "Armed away")

	if res := r.h.Do(context.Background(), hub.Input{Kind: hub.InReport, Device: "front_door", Signal: hub.SignalContact, Active: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	b.WaitText(`[data-area="1"] .mode`, "Entry delay")
	b.WaitText(`[data-area="1"] .countdown`, " s")
	txt := strings.ToLower(strings.TrimSpace(b.Text(`[data-area="1"] .countdown`)))
	var secs int
	if _, err := fmt.Sscanf(txt, "%d s", &secs); err != nil || secs < 1 || secs > int(hub.DefaultEntryDelay/time.Second) {
		t.Fatalf("entry countdown %q: want seconds up to %v", txt, hub.DefaultEntryDelay)
	}
	b.Screenshot("panel-entry-delay-phone", 390, 844)
	b.Axe(t)

	b.Type(`[data-area="1"] form[action="/disarm"] input[name="pin"]`, "1234")
	b.Click(`[data-area="1"] form[action="/disarm"] button`)
	b.WaitText(`[data-area="1"] .mode`, "Disarmed")
	if a := r.h.Snapshot().State.Areas[0]; a.Mode != hub.ModeDisarmed {
		t.Fatalf("area 1 is %v after disarming in the entry delay", a.Mode)
	}
}

// TestBrowser_NoPINAndLanguagePicker: anna (admin) lets erik arm and disarm in the web UI
// without a PIN; erik, signed in, arms and disarms with the PIN field left empty, and the
// history names him. He then picks Swedish on his account page: every page after is in
// Swedish although his browser asks for English.
func TestBrowser_NoPINAndLanguagePicker(t *testing.T) {
	b := startBrowser(t)
	r := newRig(t)
	base := r.serve()
	b.Do("accept English", acceptLanguage("en-GB,en;q=0.9"))

	signInAs(b, base, "anna")
	b.Visit(base + "/users")
	b.Click(`section:has(form[action="/users/erik/edit"]) summary`)
	b.Click(`form[action="/users/erik/edit"] input[name="web_no_pin"]`)
	b.Click(`form[action="/users/erik/edit"] button.primary`)
	b.WaitText(`tr[data-user="erik"]`, "web without PIN")
	b.Do("sign anna out", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return chromedp.Void{}, err
	})

	signInAs(b, base, "erik")
	if ph := b.Attr(`[data-area="1"] form[action="/arm"] input[name="pin"]`, "placeholder"); !strings.Contains(ph, "not needed") {
		t.Errorf("erik's PIN field says %q, want it not needed", ph)
	}
	b.Click(`[data-area="1"] form[action="/arm"] button[value="away"]`)
	b.WaitText(`[data-area="1"] .mode`, "Arming")
	b.Click(`[data-area="1"] form[action="/disarm"] button.primary`)
	b.WaitText(`[data-area="1"] .mode`, "Disarmed")
	b.Visit(base + "/history")
	b.WaitText(`main table`, "erik")
	evs, err := r.h.Store().Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var armed, disarmed bool
	for _, ev := range evs {
		armed = armed || (ev.Kind == hub.KindExitDelay && ev.User == "erik" && ev.How == hub.HowWeb)
		disarmed = disarmed || (ev.Kind == hub.KindDisarm && ev.User == "erik" && ev.How == hub.HowWeb)
	}
	if !armed || !disarmed {
		t.Errorf("erik's arming and disarming without a PIN are not in the log as his: %+v", evs)
	}

	b.Visit(base + "/account")
	b.Do("pick Swedish", chromedp.SetValue(chromedp.CSS(`#lang select[name="lang"]`), "sv"))
	b.Click(`#lang button`)
	b.WaitText(`main`, "Språket är sparat.")
	b.Axe(t)
	b.Visit(base + "/")
	b.WaitText(`[data-area="1"] .mode`, "Avlarmat")
	b.Visit(base + "/history")
	b.WaitText(`main h1`, "Historik")
	for _, u := range r.h.Snapshot().Installation.Users {
		if u.ID == "erik" && (u.Lang != "sv" || !u.WebNoPIN) {
			t.Errorf("erik's language and no-PIN are not kept: %+v", u)
		}
	}
}
