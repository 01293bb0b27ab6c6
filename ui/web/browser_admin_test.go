package web

import (
	"os"
	"path/filepath"
	"testing"

	"vakt/devices"
	"vakt/ui/web/browsertest"
)

// TestBrowser_InstallerPairsADevice plays an installer's visit in headless Chromium: anna
// grants installer access on the users page and signs out; ivan signs in, opens pairing
// (a live countdown), a new sensor announces itself and appears without a reload, he
// adopts it into a zone and it shows on the devices page. axe-core finds no serious or
// critical violation on the pages.
func TestBrowser_InstallerPairsADevice(t *testing.T) {
	b := browsertest.Start(t)
	if os.Getenv("VAKT_SCREENSHOTS") == "" {
		b.ScreenshotDir = filepath.Join("testdata", "screenshots")
	}
	r := newRig(t)
	radio := r.withSim()
	base := r.serve()

	signIn := func(name string) {
		b.Visit(base + "/login")
		b.Type(`input[name="name"]`, name)
		b.Type(`input[name="password"]`, pw)
		b.Click(`form button.primary`)
		b.WaitText(`header nav`, name)
	}
	signIn("anna")
	b.Visit(base + "/users")
	b.WaitText(`#installer-access`, "not granted")
	b.Axe(t)
	b.Click(`#installer-access button[name="grant"]`)
	b.WaitText(`#installer-access`, "granted until")
	b.Screenshot("users-desktop", 1280, 800)
	b.Click(`header nav form button.link`)
	b.WaitText(`main h1`, "Sign in")

	signIn("ivan")
	b.Visit(base + "/installer")
	b.WaitText(`#pairing`, "No new devices")
	b.Axe(t)
	b.Click(`#pairing form[action="/installer/pairing"] button.primary`)
	b.WaitText(`#pairing .countdown`, ":")

	// A new motion sensor transmits while pairing is open: listed as it joins.
	radio.Announce("shed_pir", "motion", []devices.Capability{devices.CapMotion, devices.CapTamper})
	b.WaitText(`#pairing .discovered`, "shed_pir")
	b.Screenshot("installer-pairing-phone", 390, 844)
	b.Axe(t)
	b.Type(`.discovered[data-address="shed_pir"] input[name="name"]`, "Shed motion")
	b.Click(`.discovered[data-address="shed_pir"] button.primary`)

	b.WaitText(`tr[data-device="shed_motion"]`, "Shed motion")
	b.WaitText(`tr[data-device="shed_motion"]`, "follower")
	b.Axe(t)
	b.Screenshot("devices-desktop", 1280, 800)
}

// TestBrowser_BackupPage: an admin finds the Backup page in the menu; it passes axe-core,
// a mistyped passphrase is refused on the page with why, and the footer shows the version
// and the store schema.
func TestBrowser_BackupPage(t *testing.T) {
	b := browsertest.Start(t)
	if os.Getenv("VAKT_SCREENSHOTS") == "" {
		b.ScreenshotDir = filepath.Join("testdata", "screenshots")
	}
	r := newRig(t)
	base := r.serve()
	b.Visit(base + "/login")
	b.Type(`input[name="name"]`, "anna")
	b.Type(`input[name="password"]`, pw)
	b.Click(`form button.primary`)
	b.WaitText(`header nav`, "anna")
	b.Click(`header nav a[href="/backup"]`)
	b.WaitText(`main h1`, "Backup")
	b.WaitText(`footer.about`, "store schema 2")
	b.Axe(t)
	b.Type(`input[name="passphrase"]`, "four random words here")
	b.Type(`input[name="passphrase_again"]`, "four random words there")
	b.Click(`#backup-download button.primary`)
	b.WaitText(`p.problem`, "The two passphrases differ")
	b.Axe(t)
	b.Screenshot("backup-phone", 390, 844)
}
