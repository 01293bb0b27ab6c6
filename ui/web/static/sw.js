// vakt's service worker. It keeps the static assets and the offline page, never a page with
// the alarm's state and never the API: without a connection a page says "No connection to
// vakt" instead of showing an old state as if it were current.
"use strict";

const CACHE = "vakt-static-1";
const ASSETS = [
  "/offline",
  "/static/style.css",
  "/static/panel.js",
  "/static/pwa.js",
  "/static/icon-192.png",
  "/static/icon-512.png",
];

self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (req.mode === "navigate") {
    // Pages always from vakt; the offline page only when vakt cannot be reached.
    e.respondWith(fetch(req).catch(() => caches.match("/offline")));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // The newest asset when online, the kept one when not.
    e.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(CACHE).then((c) => c.put(req, copy));
          }
          return res;
        })
        .catch(() => caches.match(req)),
    );
  }
  // Everything else (state, API, events, history) goes to the network only.
});

// Web Push: vakt's notifications, decrypted by the browser (RFC 8291), shown as they come;
// an alarm stays on the screen until touched.
self.addEventListener("push", (e) => {
  const home = self.registration.scope; // the panel
  let m = { title: "vakt", body: "", url: home };
  try {
    m = Object.assign(m, e.data ? e.data.json() : {});
  } catch (err) {
    m.body = e.data ? e.data.text() : "";
  }
  e.waitUntil(self.registration.showNotification(m.title, {
    body: m.body,
    icon: "/static/icon-192.png",
    tag: m.alarm ? "vakt-alarm" : undefined,
    requireInteraction: !!m.alarm,
    data: { url: new URL(m.url || "", home).href },
  }));
});

self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  const url = (e.notification.data && e.notification.data.url) || self.registration.scope;
  e.waitUntil(self.clients.matchAll({ type: "window" }).then((list) => {
    for (const c of list) {
      if ("focus" in c) {
        return c.navigate(url).then((w) => (w || c).focus());
      }
    }
    return self.clients.openWindow(url);
  }));
});
