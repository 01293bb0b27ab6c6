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
