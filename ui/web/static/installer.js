// vakt installer tools: the pairing countdown, and devices listed as they join (a small
// poll of the API while pairing is open). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var box = document.getElementById("pairing");
  if (!box) { return; }
  var skew = Number(box.dataset.now) - Date.now();
  var until = Number(box.dataset.until);
  var known = box.dataset.discovered;
  var walked = box.dataset.walk;

  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "SELECT") && a.type !== "hidden" && a.value !== "" && a.type !== "submit";
  }

  function tick() {
    var now = Date.now() + skew;
    box.querySelectorAll(".countdown").forEach(function (el) {
      var left = Math.ceil((Number(el.dataset.until) - now) / 1000);
      el.textContent = left > 0 ? Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") : "";
    });
  }

  function poll() {
    fetch("/api/v1/installer", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) {
        if (!st) { return; }
        var n = String((st.discovered || []).length);
        var open = st.pairing && st.pairing.active;
        var w = String((st.walk || []).length);
        if ((n !== known || w !== walked || (until && !open)) && !busy()) { window.location.reload(); }
      })
      .catch(function () {});
  }

  tick();
  setInterval(tick, 1000);
  setInterval(poll, 2000);
})();
