// skein web UI: the live page. Reads window.templateArgs (SPEC §4.4), polls the JSON API with
// relative URLs (so --web-base-path works), and drives /swarm, /stop and /stats/reset.
(function () {
  "use strict";

  var args = window.templateArgs || {};
  var $ = function (id) { return document.getElementById(id); };
  var state = args.state || "ready";
  var isDistributed = !!args.is_distributed;
  var charts = null;
  var lastStats = null;
  var editing = false;
  // The first poll right after a start can still say "ready" (the engine ramps asynchronously);
  // do not pop the start form back up during that window.
  var suppressFormUntil = 0;
  // The user closed the start form (Escape, backdrop, Cancel): polling must not pop it back up.
  var dismissed = false;
  // Whether the last poll reached the server; while not, the page says so and offers no actions.
  var online = true;
  // The element that had focus before the dialog opened, to give it back on close.
  var focusBefore = null;

  function active(s) { return s === "spawning" || s === "running"; }

  function show(el, on) { if (el) el.hidden = !on; }

  // ---- header --------------------------------------------------------------------------

  function renderHeader() {
    $("status-host").textContent = args.host || "";
    $("status-state").textContent = state;
    $("status-state").className = "state-" + state;
    show($("status-workers-box"), isDistributed);
    show($("new-button"), !active(state) && (state !== "ready" || $("swarm-dialog").hidden));
    show($("edit-button"), active(state));
    show($("stop-button"), active(state));
    // Without a server these would only fail: disabled until the connection is back.
    ["stop-button", "edit-button", "reset-button", "new-button", "start-button"].forEach(function (id) {
      $(id).disabled = !online;
    });
  }

  // ---- connection and action errors ----------------------------------------------------

  function setOnline(on, why) {
    var changed = on !== online;
    online = on;
    show($("offline-banner"), !on);
    if (!on) $("offline-detail").textContent = why || "";
    if (changed) renderHeader();
    if (changed && on) pollSlow();
  }

  // An action that failed (a network error or an error status) says so until dismissed or
  // replaced by the next action's outcome.
  function actionError(what, e) {
    $("action-error-text").textContent = what + " failed: " + (e && e.message ? e.message : String(e));
    show($("action-error"), true);
  }

  function clearActionError() { show($("action-error"), false); }

  function applyStats(s) {
    lastStats = s;
    if (s.state) state = s.state;
    $("status-users").textContent = s.user_count === undefined ? "0" : String(s.user_count);
    if (s.worker_count !== undefined) $("status-workers").textContent = String(s.worker_count);
    $("status-rps").textContent = SK.num(s.current_rps || 0, 1);
    $("status-failures").textContent = SK.num((Number(s.fail_ratio) || 0) * 100, 0) + "%";
    $("stats").innerHTML = SK.statsTable(s.stats);
    renderChecks(s.checks);
    setOnline(true);
    $("failures").innerHTML = SK.failuresTable(s.errors);
    var nErr = (s.errors || []).length;
    $("failures-count").textContent = nErr ? String(nErr) : "";
    if (isDistributed) renderWorkers(s.workers || []);
    if (active(state) && charts) {
      var now = Date.now() / 1000;
      var p = s.current_response_time_percentiles || {};
      charts.rps.push(now, [s.current_rps, s.current_fail_per_sec]);
      charts.rt.push(now, [p["response_time_percentile_0.5"], p["response_time_percentile_0.95"]]);
      charts.users.push(now, [s.user_count]);
    }
    renderHeader();
    if (state === "ready" && !editing && !dismissed && Date.now() > suppressFormUntil) openForm(false);
    $("last-update").textContent = "updated " + new Date().toLocaleTimeString();
  }

  // skein's `checks` key (only with --check): the targets, evaluated on the statistics so far.
  function renderChecks(checks) {
    var panel = $("checks-panel");
    if (!Array.isArray(checks) || !checks.length) { panel.hidden = true; return; }
    var failed = checks.filter(function (c) { return !c.passed; }).length;
    var title = $("checks-title");
    title.textContent = failed ? "Checks: " + failed + " of " + checks.length + " failing" :
      "Checks: all " + checks.length + " passing";
    title.className = failed ? "failed" : "";
    $("checks").innerHTML = SK.checksTable(checks);
    panel.hidden = false;
  }

  function renderWorkers(workers) {
    $("workers").innerHTML = SK.table("workers-table", [
      { title: "Worker id", key: "id" },
      { title: "State", key: "state" },
      { title: "# users", key: "user_count", cls: "n" },
      { title: "CPU usage", key: "cpu_usage", cls: "n", fmt: function (v) { return SK.num(v, 1) + "%"; } },
      { title: "Memory usage", key: "memory_usage", cls: "n", fmt: function (v) { return SK.num((Number(v) || 0) / 1048576, 1) + " MB"; } }
    ], workers, "No workers connected");
  }

  // ---- polling -------------------------------------------------------------------------

  function getJSON(url) {
    return fetch(url, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  // The poll runs every 2 s whatever happened before, so a server that comes back is picked
  // up by the next poll (automatic reconnect) without reloading the page.
  function pollStats() {
    getJSON("./stats/requests").then(applyStats).catch(function (e) {
      $("last-update").textContent = "connection problem: " + e.message;
      setOnline(false, e.message);
    });
    getJSON("./skein/health").then(applyHealth).catch(function () {});
  }

  // skein's own endpoint: this process's latest CPU (% of one core) and RSS, in the header.
  function applyHealth(g) {
    var known = g && g.cpu_usage !== undefined;
    show($("status-generator-box"), known);
    if (!known) return;
    var el = $("status-generator");
    el.textContent = SK.num(g.cpu_usage, 0) + "% CPU, " + SK.num((Number(g.memory_usage) || 0) / 1048576, 0) + " MB";
    el.title = "This process: CPU in % of one core (" + g.cores + " cores), resident memory" +
      (g.cpu_warning ? "; CPU was above 90% of its cores" : "");
    el.className = g.cpu_warning ? "warn" : "";
  }

  function pollSlow() {
    getJSON("./exceptions").then(function (d) {
      var ex = d.exceptions || [];
      $("exceptions").innerHTML = SK.exceptionsTable(ex);
      $("exceptions-count").textContent = ex.length ? String(ex.length) : "";
    }).catch(function () {});
    getJSON("./tasks").then(function (d) { $("ratio").innerHTML = SK.ratios(d); }).catch(function () {});
    getJSON("./logs").then(renderLogs).catch(function () {});
  }

  function renderLogs(d) {
    var h = ['<h3>Master</h3><pre class="log" id="logs-master" data-testid="logs-master">'];
    h.push(SK.esc((d.master || []).join("\n")));
    h.push("</pre>");
    var workers = d.workers || {};
    Object.keys(workers).sort().forEach(function (id) {
      h.push("<h3>" + SK.esc(id) + '</h3><pre class="log">' + SK.esc((workers[id] || []).join("\n")) + "</pre>");
    });
    $("logs").innerHTML = h.join("");
  }

  // ---- start / edit form ---------------------------------------------------------------

  function fillClasses() {
    var classes = args.available_user_classes || [];
    var picker = !!args.show_userclass_picker;
    show($("user-classes-box"), classes.length > 0);
    $("user-classes").innerHTML = classes.map(function (c, i) {
      return '<label class="check"><input type="checkbox" name="user_classes" id="user-class-' + i +
        '" value="' + SK.esc(c) + '" checked' + (picker ? "" : " disabled") + "> " + SK.esc(c) + "</label>";
    }).join("");
    $("user-classes-hint").textContent = picker ? "" : "All classes run (start with --class-picker to choose).";
  }

  function openForm(isEdit) {
    dismissed = false;
    editing = isEdit;
    $("form-title").textContent = isEdit ? "Edit running load test" : "Start new load test";
    $("start-button").textContent = isEdit ? "Update" : "Start";
    show($("cancel-button"), true);
    var users = isEdit && lastStats ? lastStats.user_count : args.num_users;
    if (!$("swarm-dialog").hidden) return;
    $("user_count").value = users === null || users === undefined ? 1 : users;
    $("spawn_rate").value = args.spawn_rate === null || args.spawn_rate === undefined ? 1 : args.spawn_rate;
    $("host").value = args.host || "";
    $("run_time").value = args.run_time || "";
    $("profile").value = args.profile || "";
    show($("form-error"), false);
    focusBefore = document.activeElement;
    show($("swarm-dialog"), true);
    renderHeader();
    // Focus moves into the dialog, so typing and Escape act on it.
    $("user_count").focus();
    $("user_count").select();
  }

  function closeForm() {
    editing = false;
    show($("swarm-dialog"), false);
    renderHeader();
    var back = focusBefore && document.body.contains(focusBefore) && !focusBefore.disabled ? focusBefore : null;
    if (back && back.offsetParent !== null) back.focus();
    else if ($("new-button").offsetParent !== null) $("new-button").focus();
    focusBefore = null;
  }

  // Escape, Cancel and a click on the backdrop close the form without starting anything.
  function dismissForm() {
    dismissed = true;
    closeForm();
  }

  function submitForm(ev) {
    ev.preventDefault();
    var body = new URLSearchParams();
    body.append("user_count", $("user_count").value);
    body.append("spawn_rate", $("spawn_rate").value);
    body.append("host", $("host").value);
    if ($("run_time").value) body.append("run_time", $("run_time").value);
    if ($("profile").value) body.append("profile", $("profile").value);
    if (args.show_userclass_picker) {
      document.querySelectorAll("#user-classes input:checked").forEach(function (el) {
        body.append("user_classes", el.value);
      });
    }
    $("start-button").disabled = true;
    var fresh = !active(state);
    fetch("./swarm", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (res) {
        if (!res.success) {
          $("form-error").textContent = res.message || "Failed to start";
          show($("form-error"), true);
          return;
        }
        args.host = res.host === null || res.host === undefined ? args.host : res.host;
        args.num_users = Number($("user_count").value);
        args.spawn_rate = Number($("spawn_rate").value);
        if (fresh) {
          // A new test starts from empty statistics (the server cleared them): drop the old
          // rows now rather than at the next poll, and break the chart lines at the idle time.
          $("stats").innerHTML = SK.statsTable([]);
          $("failures").innerHTML = SK.failuresTable([]);
          $("failures-count").textContent = "";
          if (charts) [charts.rps, charts.rt, charts.users].forEach(function (c) { c.gap(); });
        }
        state = state === "running" ? "running" : "spawning";
        suppressFormUntil = Date.now() + 6000;
        closeForm();
        renderHeader();
        selectTab("stats");
        setTimeout(pollStats, 300);
      })
      .catch(function (e) {
        $("form-error").textContent = "Request failed: " + e.message;
        show($("form-error"), true);
        pollStats();
      })
      .then(function () { $("start-button").disabled = false; });
  }

  // A POST whose promise fails on a network error and on an error status alike.
  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin" }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) {
          var msg = (t || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
          throw new Error("HTTP " + r.status + (msg ? ": " + msg.slice(0, 300) : ""));
        });
      }
      return r;
    });
  }

  // ---- tabs ----------------------------------------------------------------------------

  function selectTab(name) {
    document.querySelectorAll("#tabs button").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-tab") === name);
    });
    document.querySelectorAll("main > section.tab").forEach(function (s) {
      s.classList.toggle("active", s.id === "tab-" + name);
    });
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + name);
    }
    if (name === "charts" && charts) {
      // uPlot measures its container; a hidden tab has width 0.
      [charts.rps, charts.rt, charts.users].forEach(function (c) { c.resize(); });
    }
  }

  // ---- theme ---------------------------------------------------------------------------

  function currentTheme() {
    try { return window.localStorage.getItem("skein-theme") === "dark" ? "dark" : "light"; } catch (e) { return "light"; }
  }

  function applyTheme(theme) {
    if (theme === "dark") document.documentElement.setAttribute("data-theme", "dark");
    else document.documentElement.removeAttribute("data-theme");
    $("view-report").setAttribute("href", "./stats/report?theme=" + theme);
    $("download-report").setAttribute("href", "./stats/report?download=1&theme=" + theme);
    if (charts) [charts.rps, charts.rt, charts.users].forEach(function (c) { c.build(); });
  }

  // ---- boot ----------------------------------------------------------------------------

  function boot() {
    // The version already reads "0.1.0 (Locust 2.47.0 compatible)".
    $("version").textContent = "skein" + (args.version ? " " + args.version : "");
    show($("download-full-history-item"), !!args.stats_history_enabled);
    show($("tab-button-workers"), isDistributed);
    document.querySelectorAll("#tabs button").forEach(function (b) {
      b.addEventListener("click", function () { selectTab(b.getAttribute("data-tab")); });
    });
    applyTheme(currentTheme());
    $("theme-button").addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      try { window.localStorage.setItem("skein-theme", next); } catch (e) { /* private mode */ }
      var chartsTab = $("tab-charts");
      var wasActive = chartsTab.classList.contains("active");
      chartsTab.classList.add("active");
      applyTheme(next);
      if (!wasActive) chartsTab.classList.remove("active");
    });
    // Charts are built while their tab is visible so they get a real width.
    $("tab-charts").classList.add("active");
    charts = SK.makeCharts("chart-");
    // Reachable from the console and the browser tests (read-only use).
    window.skeinCharts = charts;
    SK.seedCharts(charts, args.history);
    $("tab-charts").classList.remove("active");

    fillClasses();
    $("start-form").addEventListener("submit", submitForm);
    $("cancel-button").addEventListener("click", dismissForm);
    $("swarm-dialog").addEventListener("click", function (ev) {
      if (ev.target === $("swarm-dialog")) dismissForm();
    });
    document.addEventListener("keydown", function (ev) {
      if ((ev.key === "Escape" || ev.key === "Esc") && !$("swarm-dialog").hidden) {
        ev.preventDefault();
        dismissForm();
      }
    });
    $("action-error-close").addEventListener("click", clearActionError);
    $("new-button").addEventListener("click", function () { openForm(false); });
    $("edit-button").addEventListener("click", function () { openForm(true); });
    $("stop-button").addEventListener("click", function () {
      clearActionError();
      post("./stop").then(function () { state = "stopped"; renderHeader(); setTimeout(pollStats, 300); })
        .catch(function (e) { actionError("Stop", e); pollStats(); });
    });
    $("reset-button").addEventListener("click", function () {
      clearActionError();
      post("./stats/reset").then(function () { setTimeout(pollStats, 100); pollSlow(); })
        .catch(function (e) { actionError("Reset", e); pollStats(); });
    });
    window.addEventListener("resize", function () {
      if ($("tab-charts").classList.contains("active")) selectTab("charts");
    });

    renderHeader();
    var wanted = (window.location.hash || "").replace(/^#/, "");
    if (wanted && $("tab-" + wanted) && !$("tab-button-" + wanted).hidden) selectTab(wanted);
    if (state === "ready") openForm(false);
    pollStats();
    pollSlow();
    setInterval(pollStats, 2000);
    setInterval(function () { if (active(state)) pollSlow(); }, 5000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
