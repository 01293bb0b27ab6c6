// Registers vakt's service worker, which shows "No connection to vakt" when vakt cannot be
// reached; it never keeps the alarm's state.
"use strict";
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
