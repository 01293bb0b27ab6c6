package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"vakt/ui/web/browsertest"
)

// TestBrowser_WebPushSubscribe drives the real Chromium through the page's Web Push flow
// as far as headless Chromium goes. anna opens /notify; the page says what push needs and
// carries vakt's VAPID key. Pressed while notifications are not allowed, the button says
// they are blocked (headless Chromium answers requestPermission with "denied" itself).
// Once notifications and push are allowed for vakt's origin, as a tap on "Allow" would,
// the service worker registers and PushManager.subscribe is called with the VAPID key:
// headless Chromium, with no connection to its push service (Firebase Cloud Messaging),
// neither resolves nor rejects that promise, so after the page's 20 s the page says the
// push service did not answer, and nothing is stored. A Chromium that did subscribe would
// have to end with anna's subscription stored, with an https endpoint.
func TestBrowser_WebPushSubscribe(t *testing.T) {
	b := browsertest.Start(t)
	r, _, n := newNotifyRig(t)
	base := r.serve()

	b.Visit(base + "/login")
	b.Type(`input[name="name"]`, "anna")
	b.Type(`input[name="password"]`, pw)
	b.Click(`form button.primary`)
	b.WaitText(`[data-area="1"] h2`, "House")
	b.Visit(base + "/notify")
	b.WaitText(`#webpush`, "needs the internet")
	b.WaitText(`#webpush`, "trust vakt's certificate authority")
	b.Axe(t)
	key, err := n.VAPIDPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	vapid, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("webpush").dataset.vapid`))
	if err != nil || vapid != key {
		t.Fatalf("page's VAPID key %q (%v), want %q", vapid, err, key)
	}

	b.Click(`#push-subscribe`)
	b.WaitText(`#push-status`, "Notifications are blocked for vakt")

	// What a user's tap on "Allow" does: notifications and push granted to vakt's origin.
	for _, perm := range []string{"notifications", "push"} {
		_, err := chromedp.Run(ctx, chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: perm, UserVisibleOnly: true}, Setting: browser.PermissionSettingGranted, Origin: base})
			return chromedp.Void{}, err
		}))
		if err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	b.Click(`#push-subscribe`)
	b.WaitText(`#push-status`, "Subscribing…")
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const reg = await navigator.serviceWorker.ready;
		return reg.scope + " " + await reg.pushManager.permissionState({userVisibleOnly: true});
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || state != base+"/ granted" {
		t.Fatalf("service worker and push permission: %q %v", state, err)
	}
	var said string
	for said == "" || said == "Subscribing…" {
		if ctx.Err() != nil {
			t.Fatalf("the page still says %q", said)
		}
		time.Sleep(200 * time.Millisecond)
		said, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("push-status").textContent`))
	}
	t.Logf("after PushManager.subscribe the page says: %q", said)
	subs, err := n.Subscriptions("anna")
	if err != nil {
		t.Fatal(err)
	}
	if said == "Push is on in this browser." {
		if len(subs) != 1 || !strings.HasPrefix(subs[0].Endpoint, "https://") {
			t.Fatalf("subscribed, but stored %+v", subs)
		}
		return
	}
	if !strings.Contains(said, "push service did not answer within 20 seconds") {
		t.Errorf("page says %q", said)
	}
	if len(subs) != 0 {
		t.Errorf("stored %+v", subs)
	}
}
