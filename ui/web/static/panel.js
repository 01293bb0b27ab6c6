// vakt panel: live state over server-sent events, countdowns, and a reload when something
// the page shows has changed (unless a PIN is being typed). No inline script: the CSP
// forbids it.
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  if (!panel || !window.EventSource) { return; }
  var skew = Number(panel.dataset.now) - Date.now();
  var seq = panel.dataset.seq;
  var rev = panel.dataset.rev;
  var stale = false;
  // A form on its way: its answer (a wrong code, a refusal) replaces the page, and a reload
  // for the event the command itself committed would cancel it and hide that answer.
  var submitting = false;
  document.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("pageshow", function () { submitting = false; });

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll(".countdown").forEach(function (el) {
      var until = Number(el.dataset.until);
      el.textContent = until > now ? Math.ceil((until - now) / 1000) + " s" : "";
    });
  }

  function typing() {
    var a = document.activeElement;
    return a && a.name === "pin" && a.value !== "";
  }

  function maybeReload() {
    if (stale && !submitting && !typing()) { window.location.reload(); }
  }

  var src = new EventSource("/events");
  src.addEventListener("state", function (e) {
    var st = JSON.parse(e.data);
    skew = Date.parse(st.now) - Date.now();
    // A new event, or a change shown without one (a window opened while disarmed).
    if (String(st.seq) !== String(seq) || st.rev !== rev) { stale = true; }
    st.areas.forEach(function (a) {
      var el = panel.querySelector('[data-area="' + a.number + '"] .countdown');
      if (el) {
        var u = a.entry_until || a.exit_until;
        el.dataset.until = u ? Date.parse(u) : 0;
      }
    });
    tick();
    maybeReload();
  });
  document.addEventListener("focusout", maybeReload);
  setInterval(function () { tick(); maybeReload(); }, 1000);
  tick();
})();
