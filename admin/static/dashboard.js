// The dashboard's live figures: polls the JSON endpoint named by #dashboard[data-src] and
// redraws the tiles, the tables and the per-second chart. Our own file (the CSP allows
// scripts from /admin/static only); text goes in through textContent, never as HTML.
"use strict";

(function () {
  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var src = root.getAttribute("data-src");
  var poll = Math.max(1, parseInt(root.getAttribute("data-poll"), 10) || 2) * 1000;
  var canvas = document.getElementById("per-second");
  var COLOURS = ["#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#57606a"];

  function fillTable(id, pairs, empty) {
    var body = document.getElementById(id);
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    if (pairs.length === 0) {
      var row = document.createElement("tr");
      var td = document.createElement("td");
      var head = body.parentNode.querySelectorAll("thead th").length;
      td.colSpan = Math.max(1, head);
      td.className = "muted";
      td.textContent = empty;
      row.appendChild(td);
      body.appendChild(row);
      return;
    }
    pairs.forEach(function (cells) {
      var row = document.createElement("tr");
      cells.forEach(function (cell, i) {
        var td = document.createElement("td");
        td.textContent = String(cell);
        if (i > 0 && typeof cell === "number") { td.className = "num"; }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
  }

  function sorted(obj) {
    return Object.keys(obj).sort().map(function (k) { return [k, obj[k]]; });
  }

  function health(rows) {
    return rows.map(function (h) { return [h.name, h.status, h.ok, h.failed, h.pending]; });
  }

  function draw(data) {
    if (!canvas || !canvas.getContext) { return; }
    var ctx = canvas.getContext("2d");
    var w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    var channels = Object.keys(data.per_second_by_channel).sort();
    var n = data.per_second.length;
    var top = Math.max(1, Math.max.apply(null, data.per_second));
    var bar = w / n;
    for (var i = 0; i < n; i++) {
      var y = h;
      channels.forEach(function (channel, c) {
        var count = data.per_second_by_channel[channel][i];
        if (!count) { return; }
        var height = (count / top) * (h - 14);
        ctx.fillStyle = COLOURS[c % COLOURS.length];
        ctx.fillRect(i * bar + 1, y - height, Math.max(1, bar - 2), height);
        y -= height;
      });
    }
    ctx.fillStyle = "#57606a";
    ctx.font = "11px sans-serif";
    ctx.fillText("max " + top + "/s", 4, 11);
    var legend = document.getElementById("legend");
    if (legend) {
      legend.textContent = channels.map(function (c, i) {
        return c + " (" + ["blue", "green", "amber", "red", "purple", "grey"][i % 6] + ")";
      }).join(" · ");
    }
  }

  function show(data) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-field]"), function (el) {
      var value = data[el.getAttribute("data-field")];
      if (value !== undefined && value !== null) { el.textContent = String(value); }
    });
    fillTable("by-channel", sorted(data.by_channel), "No sales.");
    fillTable("by-product", sorted(data.by_product), "No sales.");
    fillTable("providers", health(data.providers), "None in the last 15 minutes.");
    fillTable("utilities", health(data.utilities), "None in the last 15 minutes.");
    var alerts = document.getElementById("alerts");
    if (alerts) {
      while (alerts.firstChild) { alerts.removeChild(alerts.firstChild); }
      var items = data.alerts.concat(data.flags);
      if (items.length === 0) { items = ["No alerts."]; }
      items.forEach(function (text) {
        var li = document.createElement("li");
        li.textContent = text;
        alerts.appendChild(li);
      });
    }
    draw(data);
    root.setAttribute("data-updated", data.at);
  }

  function tick() {
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { show(data); } })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { window.setTimeout(tick, poll); });
  }

  tick();
}());
