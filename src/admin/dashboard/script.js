"use strict";
// Everything is relative to where the dashboard is mounted (say /admin), and no event text is
// ever parsed as HTML: it is written with textContent.
(function () {
  var base = location.pathname.replace(/\/+$/, "");
  document.getElementById("export-json").href = base + "/sessions?format=json&limit=1000";
  document.getElementById("export-csv").href = base + "/sessions?format=csv&limit=1000";
  var list = document.getElementById("events");
  var status = document.getElementById("status");
  var MAX_EVENTS = 50;
  var source = new EventSource(base + "/events");
  source.onopen = function () {
    status.textContent = "Live";
    status.className = "";
  };
  source.onerror = function () {
    status.textContent = "Disconnected: retrying…";
    status.className = "down";
  };
  source.addEventListener("stats", function (e) {
    var stats = JSON.parse(e.data);
    document.getElementById("active").textContent = String(stats.active);
    document.getElementById("users").textContent = String(stats.users);
  });
  // One line per event: its kind and the fields a person looks for, or the raw JSON of an
  // event of another shape.
  function describe(data) {
    var event;
    try {
      event = JSON.parse(data);
    } catch (err) {
      return data;
    }
    var kind = event && (event.event || event.action);
    if (typeof kind !== "string") {
      return data;
    }
    var by = event.by && event.by.kind === "admin" ? "by " + event.by.user : event.by && event.by.kind;
    return [
      kind,
      event.user,
      event.session_id || (event.kept && "kept " + event.kept),
      typeof event.revoked === "number" ? event.revoked + " ended" : null,
      by,
      event.reason,
      event.client_ip && "from " + event.client_ip
    ].filter(function (part) { return part; }).join("  ");
  }
  source.onmessage = function (e) {
    var item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + "  " + describe(e.data);
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_EVENTS) {
      list.removeChild(list.lastChild);
    }
  };
})();
