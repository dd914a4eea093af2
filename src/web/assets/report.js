// skein HTML report: renders the run's data (the JSON in #report-data) into tables and charts.
// Inlined into the report file together with common.js and uPlot, so it works offline.
(function () {
  "use strict";
  var data = {};
  try {
    data = JSON.parse(document.getElementById("report-data").textContent) || {};
  } catch (e) {
    data = {};
  }
  if (typeof data !== "object" || Array.isArray(data)) data = {};
  var $ = function (id) { return document.getElementById(id); };
  var arr = function (v) { return Array.isArray(v) ? v : []; };

  $("report-requests").innerHTML = SK.statsTable(arr(data.requests_statistics), SK.REPORT_STATS_COLUMNS);
  $("report-response-times").innerHTML = SK.responseTimesTable(arr(data.response_time_statistics));
  $("report-failures").innerHTML = SK.failuresTable(arr(data.failures_statistics));
  $("report-exceptions").innerHTML = SK.exceptionsTable(arr(data.exceptions_statistics));
  $("report-tasks").innerHTML = SK.ratios(data.tasks && typeof data.tasks === "object" ? data.tasks : {});
  // Empty sections are left out, as in Locust's report (response times and exceptions).
  $("section-response-times").hidden = !arr(data.response_time_statistics).length;
  $("section-exceptions").hidden = !arr(data.exceptions_statistics).length;
  // --check results: what passed and failed, with the observed values.
  $("report-checks").innerHTML = SK.checksTable(arr(data.checks));
  $("section-checks").hidden = !arr(data.checks).length;
  // A master's report: when each worker joined, went missing, healed or quit.
  $("report-workers").innerHTML = SK.membershipTable(arr(data.workers_membership));
  $("section-workers").hidden = !arr(data.workers_membership).length;
  // The run's times in the reader's local time, as the live page shows times (the server wrote
  // UTC text, which stays when JavaScript is off).
  var during = $("report-during");
  if (during && data.start_time && data.end_time) {
    during.textContent = SK.epochToLocal(data.start_time).replace(/&amp;/g, "&") + " - " +
      SK.epochToLocal(data.end_time).replace(/&amp;/g, "&");
  }

  var charts = SK.makeCharts("chart-");
  SK.seedCharts(charts, arr(data.history));
  var all = [charts.rps, charts.rt, charts.users];
  // skein's generator section: this process's CPU and memory, one point a second.
  var series = data.generator && data.generator.series;
  if (series && $("chart-generator-cpu")) {
    var cpu = new SK.Chart($("chart-generator-cpu"), "Generator CPU (% of one core)", ["CPU"], "%");
    var rss = new SK.Chart($("chart-generator-rss"), "Generator memory (MB)", ["RSS"], " MB");
    var xs = arr(series.time).map(Number);
    cpu.set(xs.slice(), [arr(series.cpu_percent).slice(0, xs.length)]);
    rss.set(xs.slice(), [arr(series.rss_bytes).slice(0, xs.length).map(function (b) { return (Number(b) || 0) / 1048576; })]);
    all.push(cpu, rss);
  }
  window.addEventListener("resize", function () {
    all.forEach(function (c) { c.resize(); });
  });
})();
