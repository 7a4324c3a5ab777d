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
  source.onmessage = function (e) {
    var item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + "  " + e.data;
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_EVENTS) {
      list.removeChild(list.lastChild);
    }
  };
})();
