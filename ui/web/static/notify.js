// Web Push on the notifications page: subscribes this browser with vakt's VAPID key and
// hands the subscription to vakt. What the browser says when it refuses is shown as it is.
"use strict";
(() => {
  const box = document.getElementById("webpush");
  const button = document.getElementById("push-subscribe");
  const status = document.getElementById("push-status");
  if (!box || !button || !status) {
    return;
  }
  const say = (text) => { status.textContent = text; };
  const key = (b64) => {
    const s = (b64 + "=".repeat((4 - (b64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  };
  button.addEventListener("click", async () => {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      say(box.dataset.unsupported);
      return;
    }
    say(box.dataset.working);
    try {
      if (await Notification.requestPermission() !== "granted") {
        say(box.dataset.denied);
        return;
      }
      await navigator.serviceWorker.register("/sw.js", { scope: "/" });
      const reg = await navigator.serviceWorker.ready;
      // The browser registers with its maker's push service first: without the internet
      // that never answers, and the promise would wait for ever.
      const sub = await Promise.race([
        reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(box.dataset.vapid) }),
        new Promise((resolve) => setTimeout(() => resolve(null), 20000)),
      ]);
      if (!sub) {
        say(box.dataset.noservice);
        return;
      }
      const res = await fetch("/api/v1/notify/webpush", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf },
        body: JSON.stringify(sub.toJSON()),
      });
      if (!res.ok) {
        say(box.dataset.failed + ": HTTP " + res.status);
        return;
      }
      say(box.dataset.on);
      location.reload();
    } catch (e) {
      say(box.dataset.failed + ": " + e.name + ": " + e.message);
    }
  });
})();
