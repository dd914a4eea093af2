// skein web UI: helpers shared by the live page (app.js) and the HTML report (report.js).
// Plain ES2017, no build step; exposes one global, `SK`.
(function () {
  "use strict";

  function esc(v) {
    return String(v === null || v === undefined ? "" : v)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function num(v, digits) {
    if (v === null || v === undefined || v === "") return "";
    var n = Number(v);
    if (!isFinite(n)) return esc(v);
    var f = Math.pow(10, digits || 0);
    return String(Math.round(n * f) / f);
  }

  // Epoch seconds (the live API) or a UTC text time such as "2026-11-27T19:34:16Z" (the
  // report's data), shown in the browser's local time the same way on both pages.
  function epochToLocal(v) {
    if (v === null || v === undefined || v === "") return "";
    var n = typeof v === "number" ? v * 1000 : (isFinite(Number(v)) ? Number(v) * 1000 : Date.parse(v));
    if (!isFinite(n)) return esc(v);
    return esc(new Date(n).toLocaleString());
  }

  // columns: [{title, key, fmt?(value,row)->string(html-escaped), cls?}]
  function table(id, columns, rows, emptyText) {
    var h = ['<table class="data" id="' + esc(id) + '" data-testid="' + esc(id) + '"><thead><tr>'];
    columns.forEach(function (c) { h.push("<th" + (c.cls ? ' class="' + c.cls + '"' : "") + ">" + esc(c.title) + "</th>"); });
    h.push("</tr></thead><tbody>");
    if (!rows.length && emptyText) {
      h.push('<tr class="empty"><td colspan="' + columns.length + '">' + esc(emptyText) + "</td></tr>");
    }
    rows.forEach(function (r) {
      h.push("<tr" + (r.__cls ? ' class="' + r.__cls + '"' : "") + ">");
      columns.forEach(function (c) {
        var v = r[c.key];
        var text = c.fmt ? c.fmt(v, r) : esc(v);
        h.push("<td" + (c.cls ? ' class="' + c.cls + '"' : "") + ">" + text + "</td>");
      });
      h.push("</tr>");
    });
    h.push("</tbody></table>");
    return h.join("");
  }

  var STATS_COLUMNS = [
    { title: "Type", key: "method" },
    { title: "Name", key: "name", cls: "name" },
    { title: "# Requests", key: "num_requests", cls: "n", fmt: function (v) { return num(v); } },
    { title: "# Fails", key: "num_failures", cls: "n", fmt: function (v) { return num(v); } },
    { title: "Median (ms)", key: "median_response_time", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "95%ile (ms)", key: "response_time_percentile_0.95", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "99%ile (ms)", key: "response_time_percentile_0.99", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "Average (ms)", key: "avg_response_time", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "Min (ms)", key: "min_response_time", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "Max (ms)", key: "max_response_time", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "Average size (bytes)", key: "avg_content_length", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "Current RPS", key: "current_rps", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "Current Failures/s", key: "current_fail_per_sec", cls: "n", fmt: function (v) { return num(v, 2); } }
  ];

  // The HTML report's request statistics, as Locust's report: rates over the whole run
  // (total_rps, total_fail_per_sec), not the last seconds' window.
  var REPORT_STATS_COLUMNS = [
    { title: "Type", key: "method" },
    { title: "Name", key: "name", cls: "name" },
    { title: "# Requests", key: "num_requests", cls: "n", fmt: function (v) { return num(v); } },
    { title: "# Fails", key: "num_failures", cls: "n", fmt: function (v) { return num(v); } },
    { title: "Average (ms)", key: "avg_response_time", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "Min (ms)", key: "min_response_time", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "Max (ms)", key: "max_response_time", cls: "n", fmt: function (v) { return num(v, 0); } },
    { title: "Average size (bytes)", key: "avg_content_length", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "RPS", key: "total_rps", cls: "n", fmt: function (v) { return num(v, 2); } },
    { title: "Failures/s", key: "total_fail_per_sec", cls: "n", fmt: function (v) { return num(v, 2); } }
  ];

  function statsTable(stats, columns) {
    var rows = (stats || []).map(function (s) {
      var r = Object.assign({}, s);
      if (r.name === "Aggregated" && !r.method) r.__cls = "total";
      return r;
    });
    return table("stats-table", columns || STATS_COLUMNS, rows, "No requests yet");
  }

  function failuresTable(errors) {
    return table("failures-table", [
      { title: "# Failures", key: "occurrences", cls: "n", fmt: function (v) { return num(v); } },
      { title: "Method", key: "method" },
      { title: "Name", key: "name", cls: "name" },
      { title: "Message", key: "error", fmt: function (v) { return '<pre class="msg">' + esc(v) + "</pre>"; } },
      { title: "First Seen", key: "first_seen", fmt: epochToLocal },
      { title: "Last Seen", key: "last_seen", fmt: epochToLocal }
    ], errors || [], "No failures");
  }

  function exceptionsTable(exceptions) {
    return table("exceptions-table", [
      { title: "# occurrences", key: "count", cls: "n", fmt: function (v) { return num(v); } },
      { title: "Message", key: "msg" },
      { title: "Traceback", key: "traceback", fmt: function (v) { return '<pre class="tb">' + esc(v) + "</pre>"; } },
      { title: "Nodes", key: "nodes" }
    ], exceptions || [], "No exceptions");
  }

  function membershipTable(rows) {
    return table("membership-table", [
      { title: "Time", key: "time", fmt: epochToLocal },
      { title: "Worker", key: "worker" },
      { title: "Index", key: "index", cls: "n" },
      { title: "Change", key: "change" }
    ], rows || [], "No membership changes");
  }

  // --check results: [{status, rule, subject, observed_text, threshold_text, reason}].
  function checksTable(rows) {
    var data = (rows || []).map(function (r) {
      var o = Object.assign({}, r);
      o.__cls = r.passed ? "check-pass" : "check-fail";
      return o;
    });
    return table("checks-table", [
      { title: "Result", key: "status", fmt: function (v) { return "<strong>" + esc(v) + "</strong>"; } },
      { title: "Check", key: "rule", cls: "name" },
      { title: "Request", key: "subject" },
      { title: "Observed", key: "observed_text", cls: "n" },
      { title: "Target", key: "threshold_text", cls: "n" },
      { title: "Reason", key: "reason" }
    ], data, "No checks");
  }

  var REPORT_PERCENTILES = ["0.5", "0.6", "0.7", "0.8", "0.9", "0.95", "0.99", "1.0"];
  function responseTimesTable(rows) {
    var cols = [{ title: "Method", key: "method" }, { title: "Name", key: "name", cls: "name" }];
    REPORT_PERCENTILES.forEach(function (p) {
      cols.push({ title: Math.round(Number(p) * 100) + "%ile (ms)", key: p, cls: "n", fmt: function (v) { return num(v, 0); } });
    });
    var data = (rows || []).map(function (r) {
      var o = Object.assign({}, r);
      if (o.name === "Aggregated" && !o.method) o.__cls = "total";
      return o;
    });
    return table("response-times-table", cols, data, "No requests");
  }

  // tasks: {per_class: {Cls: {ratio, tasks: {...}}}, total: {...}}
  function ratioTree(node) {
    if (!node || typeof node !== "object") return "";
    var keys = Object.keys(node).sort();
    if (!keys.length) return "";
    var h = ["<ul>"];
    keys.forEach(function (k) {
      var item = node[k] || {};
      var pct = Number(item.ratio);
      h.push("<li>" + (isFinite(pct) ? (pct * 100).toFixed(1) + "% " : "") + esc(k) + ratioTree(item.tasks) + "</li>");
    });
    h.push("</ul>");
    return h.join("");
  }

  function ratios(tasks) {
    tasks = tasks || {};
    return '<div class="ratios" id="ratio-tables"><div id="ratio-per-class"><h3>Ratio Per Class</h3>' +
      (ratioTree(tasks.per_class) || "<p>No users running</p>") +
      '</div><div id="ratio-total"><h3>Total Ratio</h3>' +
      (ratioTree(tasks.total) || "<p>No users running</p>") + "</div></div>";
  }

  // ---- charts (uPlot) ------------------------------------------------------------------

  var COLORS = ["#2e7d32", "#c62828", "#1565c0", "#ef6c00"];

  // Axis colours follow the page theme (CSS variables), so charts read in dark mode too.
  function axis(opts) {
    var css = window.getComputedStyle ? getComputedStyle(document.documentElement) : null;
    var fg = css ? css.getPropertyValue("--fg").trim() : "";
    var line = css ? css.getPropertyValue("--line").trim() : "";
    if (fg) opts.stroke = fg;
    if (line) { opts.grid = { stroke: line, width: 1 }; opts.ticks = { stroke: line, width: 1 }; }
    return opts;
  }

  // Time axis: wall-clock HH:MM:SS (local time), ticks never closer than 1 s apart.
  function pad2(n) { return (n < 10 ? "0" : "") + n; }
  function clock(ts) {
    if (ts === null || ts === undefined || !isFinite(ts)) return "--";
    var d = new Date(Math.round(ts) * 1000);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  }
  var TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400, 172800, 604800];
  function timeAxis() {
    return axis({
      space: 70,
      incrs: TIME_INCRS,
      values: function (u, splits) { return splits.map(clock); }
    });
  }

  // A live-updatable chart: {push(ts, values[]), set(xs, ys[][]), el}
  function Chart(el, title, names, unit) {
    this.el = el;
    this.xs = [];
    this.ys = names.map(function () { return []; });
    this.names = names;
    this.plot = null;
    this.title = title;
    this.unit = unit || "";
    this.build();
  }
  Chart.prototype.build = function () {
    if (!this.el || typeof uPlot === "undefined") return;
    var width = Math.max(300, (this.el.clientWidth || 800) - 10);
    var series = [{ label: "Time", value: function (u, v) { return clock(v); } }];
    var unit = this.unit;
    this.names.forEach(function (n, i) {
      series.push({
        // null points are gaps (see gap()): the idle time between two runs is not drawn as a line.
        label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false,
        value: function (u, v) { return v === null || v === undefined ? "-" : (Math.round(v * 100) / 100) + unit; }
      });
    });
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    this.el.innerHTML = "";
    this.plot = new uPlot({
      title: this.title, width: width, height: 260, series: series,
      padding: [null, 28, null, null], // room for the last HH:MM:SS tick label
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, isFinite(max) && max > 0 ? max * 1.1 : 1]; } } },
      axes: [timeAxis(), axis({ size: 60 })]
    }, [this.xs].concat(this.ys), this.el);
  };
  Chart.prototype.set = function (xs, ys) {
    this.xs = xs; this.ys = ys;
    if (this.plot) this.plot.setData([this.xs].concat(this.ys));
  };
  // Two points further apart than this are not joined (idle time between runs, a lost
  // connection); live points come every 2 s, report history every 5 s.
  var GAP_SECONDS = 15;
  Chart.prototype.gap = function () {
    var n = this.xs.length;
    if (!n || this.ys[0][n - 1] === null) return;
    this.xs.push(this.xs[n - 1] + 0.001);
    this.ys.forEach(function (y) { y.push(null); });
  };
  Chart.prototype.push = function (ts, values) {
    var n = this.xs.length;
    if (n && ts <= this.xs[n - 1]) return; // uPlot needs increasing times
    if (n && ts - this.xs[n - 1] > GAP_SECONDS) this.gap();
    this.xs.push(ts);
    for (var i = 0; i < this.ys.length; i++) {
      var v = values[i];
      // A value the API did not have yet (e.g. no percentile in the first seconds) is
      // `undefined`, which uPlot bridges; only `null`, set by gap(), breaks a line.
      this.ys[i].push(v === null || v === undefined || !isFinite(Number(v)) ? undefined : Number(v));
    }
    // Bounded memory on very long runs: keep the last ~24 h at 2 s per point.
    if (this.xs.length > 43200) {
      this.xs.shift();
      this.ys.forEach(function (y) { y.shift(); });
    }
    if (this.plot) this.plot.setData([this.xs].concat(this.ys));
  };
  Chart.prototype.resize = function () {
    if (this.plot && this.el && this.el.clientWidth) {
      this.plot.setSize({ width: Math.max(300, this.el.clientWidth - 10), height: 260 });
    }
  };

  function makeCharts(prefix) {
    var get = function (id) { return document.getElementById(id); };
    return {
      rps: new Chart(get(prefix + "rps"), "Total Requests per Second", ["RPS", "Failures/s"]),
      rt: new Chart(get(prefix + "response-times"), "Response Times (ms)", ["50th percentile", "95th percentile"], " ms"),
      users: new Chart(get(prefix + "users"), "Number of Users", ["Users"])
    };
  }

  // history items: {time, current_rps:[ts,v], current_fail_per_sec:[ts,v],
  //  "response_time_percentile_0.5":[ts,v], "response_time_percentile_0.95":[ts,v], user_count:[ts,n]}
  function seedCharts(charts, history) {
    if (!Array.isArray(history)) return;
    var val = function (item, key) {
      var p = item[key];
      return Array.isArray(p) ? p[1] : (p === undefined ? null : p);
    };
    history.forEach(function (item) {
      if (!item || typeof item !== "object") return;
      var t = Date.parse(item.time);
      if (!isFinite(t)) return;
      var ts = t / 1000;
      charts.rps.push(ts, [val(item, "current_rps"), val(item, "current_fail_per_sec")]);
      charts.rt.push(ts, [val(item, "response_time_percentile_0.5"), val(item, "response_time_percentile_0.95")]);
      charts.users.push(ts, [val(item, "user_count")]);
    });
  }

  window.SK = {
    esc: esc, num: num, table: table, statsTable: statsTable, REPORT_STATS_COLUMNS: REPORT_STATS_COLUMNS, failuresTable: failuresTable,
    exceptionsTable: exceptionsTable, membershipTable: membershipTable, checksTable: checksTable, responseTimesTable: responseTimesTable, ratios: ratios,
    makeCharts: makeCharts, seedCharts: seedCharts, epochToLocal: epochToLocal, Chart: Chart
  };
})();
