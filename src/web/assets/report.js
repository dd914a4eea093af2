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

  $("report-requests").innerHTML = SK.statsTable(arr(data.requests_statistics));
  $("report-response-times").innerHTML = SK.responseTimesTable(arr(data.response_time_statistics));
  $("report-failures").innerHTML = SK.failuresTable(arr(data.failures_statistics));
  $("report-exceptions").innerHTML = SK.exceptionsTable(arr(data.exceptions_statistics));
  $("report-tasks").innerHTML = SK.ratios(data.tasks && typeof data.tasks === "object" ? data.tasks : {});

  var charts = SK.makeCharts("chart-");
  SK.seedCharts(charts, arr(data.history));
  window.addEventListener("resize", function () {
    [charts.rps, charts.rt, charts.users].forEach(function (c) { c.resize(); });
  });
})();
