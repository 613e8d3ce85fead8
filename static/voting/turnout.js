// Live turnout: replace the figures with each snapshot the server pushes over the websocket.
(function () {
  "use strict";
  var root = document.getElementById("turnout");
  if (!root || !root.dataset.socket) { return; }
  var state = document.getElementById("live-state");
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + window.location.host + root.dataset.socket;
  var delay = 1000;

  function text(value) { return value === null || value === undefined ? "–" : String(value); }

  function meter(percent) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "meter"); svg.setAttribute("viewBox", "0 0 100 10");
    svg.setAttribute("preserveAspectRatio", "none"); svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", percent + " %");
    var bg = document.createElementNS(ns, "rect"); bg.setAttribute("width", "100"); bg.setAttribute("height", "10"); bg.setAttribute("class", "meter-bg");
    var fill = document.createElementNS(ns, "rect"); fill.setAttribute("width", String(percent)); fill.setAttribute("height", "10"); fill.setAttribute("class", "meter-fill");
    svg.appendChild(bg); svg.appendChild(fill);
    return svg;
  }

  function fillRows(kind, rows) {
    var body = root.querySelector('[data-rows="' + kind + '"] tbody');
    if (!body) { return; }
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var th = document.createElement("th"); th.scope = "row"; th.textContent = row.name;
      if (row.code) { var code = document.createElement("code"); code.textContent = row.code; th.appendChild(document.createTextNode(" ")); th.appendChild(code); }
      tr.appendChild(th);
      ["voters", "checked_in", "mobile", "votes"].forEach(function (key) {
        var td = document.createElement("td"); td.className = "num"; td.textContent = text(row[key]); tr.appendChild(td);
      });
      var last = document.createElement("td"); last.className = "meter-cell"; last.appendChild(meter(row.percent));
      var pct = document.createElement("span"); pct.className = "pct"; pct.textContent = " " + row.percent + " %";
      last.appendChild(pct); tr.appendChild(last); body.appendChild(tr);
    });
  }

  function render(snapshot) {
    Object.keys(snapshot.totals).forEach(function (key) {
      var el = root.querySelector('[data-total="' + key + '"]');
      if (el) { el.textContent = text(snapshot.totals[key]); }
    });
    fillRows("regions", snapshot.regions);
    fillRows("stations", snapshot.stations);
  }

  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () { delay = 1000; state.textContent = state.dataset.live; root.dataset.connected = "1"; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "turnout") { render(message); root.dataset.updates = String(Number(root.dataset.updates || 0) + 1); }
    };
    socket.onclose = function () {
      root.dataset.connected = "0"; state.textContent = state.dataset.offline;
      window.setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
