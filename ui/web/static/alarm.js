// vakt alarm banner: on every signed-in page, a sounding alarm is shown at the top from the
// live stream (/events), without a reload, linking to the panel. No inline script: the CSP
// forbids it.
(function () {
  "use strict";
  var banner = document.getElementById("alarm-banner");
  if (!banner || !window.EventSource) { return; }
  var link = banner.querySelector("a");
  var label = banner.dataset.label || "ALARM";

  function show(st) {
    var what = [];
    (st.areas || []).forEach(function (a) {
      if (a.mode !== "triggered") { return; }
      var mem = a.memory || [];
      if (mem.length === 0) { what.push(a.name); }
      mem.forEach(function (m) {
        var w = (m.zone || a.name) + " (" + (banner.dataset["kind_" + m.kind] || m.kind) + ")";
        if (what.indexOf(w) < 0) { what.push(w); }
      });
    });
    if (what.length === 0) {
      banner.hidden = true;
      link.textContent = "";
      return;
    }
    link.textContent = label + " — " + what.join(", ");
    banner.hidden = false;
  }

  var src = new EventSource("/events");
  src.addEventListener("state", function (e) { show(JSON.parse(e.data)); });
})();
