//! End-to-end test of the web UI in a real headless Chromium, driven over WebDriver
//! (`chromedriver`, via the `fantoccini` crate): the `skein` binary serves its page against the
//! reference classifier service on loopback; the test opens the page, starts a swarm from the
//! form, waits for the statistics table to fill and the charts to draw, edits the user count,
//! stops the run, and fetches the requests CSV and the HTML report through the page's own
//! download links, and opens the report in the browser. It also checks the page's behaviours:
//! the start dialog takes focus and closes on Escape and on a click on its backdrop; a new test
//! with another class clears the rows of the class that no longer runs; neither the page nor the
//! report requests anything that fails (the report's icon is inline); the report's "Final ratio"
//! lists the class that ran; and when the server goes away the page shows a banner with its
//! actions disabled, then reconnects by itself when a server is back on the same port
//! (`web-ui-e2e-offline.png`). Screenshots are kept in `reports/`:
//! `web-ui-e2e.png` (statistics tab while running), `web-ui-e2e-charts.png` (charts tab),
//! `web-ui-e2e-stopped.png` (download tab after stopping), `web-ui-e2e-report.png` (the HTML
//! report), and `web-ui-e2e-failure.png` when a step fails.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`;
//! `.ci/run` installs them). Without them the test prints a skip notice and passes, except when
//! `CI` is set, where it fails. Run it alone with:
//!
//! ```text
//! cargo test --test web_e2e -- --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use skein::classifier::{spawn_local, LocalClassifier};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The whole test, browser start-up included.
const OVERALL: Duration = Duration::from_secs(180);
/// One wait for the page to reach a state (polled).
const STEP: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(250);
/// Locust's `_stats.csv` / `/stats/requests/csv` header, the contract.
const LOCUST_STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,\
Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,\
Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_in_headless_chromium() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "web UI end-to-end test needs {} (apt-get install chromium chromium-driver; .ci/run does it)",
            missing.join(" and ")
        );
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but the browser is missing: {msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let started = Instant::now();
    match tokio::time::timeout(OVERALL, run()).await {
        Ok(Ok(())) => eprintln!(
            "web UI end-to-end test passed in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Ok(Err(e)) => panic!("web UI end-to-end test failed: {e:#}"),
        Err(_) => panic!("web UI end-to-end test did not finish within {OVERALL:?}"),
    }
}

fn reports_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports")
}

/// Everything the test starts, ended in [`Rig::shutdown`] (and by `kill_on_drop` if the test
/// is cut short).
struct Rig {
    classifier: LocalClassifier,
    skein: Child,
    skein_log: Arc<Mutex<Vec<String>>>,
    web_url: String,
    web_port: u16,
    driver: Child,
    profile: tempfile::TempDir,
}

async fn run() -> Result<()> {
    // A failure picture from an earlier run would mislead.
    let _ = std::fs::remove_file(reports_dir().join("web-ui-e2e-failure.png"));
    let classifier = spawn_local()
        .await
        .context("starting the reference classifier")?;
    let web_port = free_port()?;
    let (skein, skein_log, web_url) = start_skein(&classifier.base_url(), web_port).await?;
    let (driver, driver_url) = start_chromedriver().await?;
    let profile = tempfile::tempdir().context("browser profile dir")?;
    let mut rig = Rig {
        classifier,
        skein,
        skein_log,
        web_url,
        web_port,
        driver,
        profile,
    };

    let result = match connect_browser(&driver_url, rig.profile.path()).await {
        Ok(client) => {
            let r = drive(&client, &mut rig).await;
            if r.is_err() {
                // What the page showed when it went wrong, for the CI artifacts.
                if let Ok(png) = client.screenshot().await {
                    let _ = save(&png, "web-ui-e2e-failure.png");
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
            r
        }
        Err(e) => Err(e),
    };
    if result.is_err() {
        let log = rig
            .skein_log
            .lock()
            .map(|l| l.join("\n"))
            .unwrap_or_default();
        eprintln!("---- skein's log ----\n{log}\n---- end of skein's log ----");
    }
    rig.shutdown().await;
    result
}

impl Rig {
    async fn shutdown(&mut self) {
        terminate(&mut self.skein, "skein").await;
        terminate(&mut self.driver, "chromedriver").await;
        self.classifier.shutdown.cancel();
    }
}

/// SIGTERM first so the process shuts down cleanly, then a bounded wait, then SIGKILL.
async fn terminate(child: &mut Child, what: &str) {
    if let Some(pid) = child.id() {
        // SAFETY: plain signal to the child this test spawned, by its PID.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(Ok(status)) => eprintln!("{what} ended: {status}"),
        _ => {
            eprintln!("{what} did not end within 10 s of SIGTERM; killing it");
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }
}

/// Starts `skein` with its web UI on an ephemeral port and reads the URL from its log line
/// `Starting web interface at http://127.0.0.1:PORT`. Its stderr keeps being drained (a full
/// pipe would block its logging) into a buffer shown when the test fails.
async fn start_skein(host: &str, port: u16) -> Result<(Child, Arc<Mutex<Vec<String>>>, String)> {
    let port = port.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skein"))
        .args([
            "--web-host",
            "127.0.0.1",
            "--web-port",
            &port,
            "-H",
            host,
            "ErrorTestingUser",
            "HighLoadUser",
        ])
        .env_remove("LOCUST_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawning skein")?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("skein has no stderr pipe"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let sink = log.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("Starting web interface at ").nth(1) {
                let url = rest
                    .split([',', ' '])
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_string();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url);
                }
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    let url = match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok(url)) => url,
        _ => {
            let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
            bail!("skein did not log 'Starting web interface at' within 30 s; its log:\n{log}");
        }
    };
    ensure!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected web URL {url:?}"
    );
    Ok((child, log, url))
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn start_chromedriver() -> Result<(Child, String)> {
    let port = free_port()?;
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("spawning chromedriver")?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(r) = http.get(format!("{url}/status")).send().await {
            if let Ok(v) = r.json::<Value>().await {
                if v["value"]["ready"] == json!(true) {
                    return Ok((child, url));
                }
            }
        }
        ensure!(
            Instant::now() < deadline,
            "chromedriver on port {port} not ready within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect_browser(driver_url: &str, profile: &Path) -> Result<Client> {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", format!("--user-data-dir={}", profile.display()),
                "--window-size=1400,1000"
            ]
        }
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => bail!("capabilities must be an object"),
    };
    let mut builder = ClientBuilder::rustls().context("WebDriver client")?;
    builder.capabilities(caps);
    tokio::time::timeout(Duration::from_secs(30), builder.connect(driver_url))
        .await
        .map_err(|_| anyhow!("no WebDriver session within 30 s"))?
        .context("starting a Chromium session")
}

fn save(png: &[u8], name: &str) -> Result<PathBuf> {
    let dir = reports_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, png)?;
    Ok(path)
}

/// Polls `check` until it yields `Some`, at most [`STEP`]; the error names what was awaited and
/// the last value seen.
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(Option<T>, String)>>,
{
    let deadline = Instant::now() + STEP;
    loop {
        let last = match check().await {
            Ok((Some(v), _)) => return Ok(v),
            Ok((None, seen)) => seen,
            Err(e) => format!("error: {e:#}"),
        };
        if Instant::now() >= deadline {
            bail!("timed out after {STEP:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn text_of(c: &Client, id: &str) -> Result<String> {
    Ok(c.find(Locator::Id(id))
        .await
        .with_context(|| format!("#{id}"))?
        .text()
        .await?
        .trim()
        .to_string())
}

async fn click(c: &Client, id: &str) -> Result<()> {
    let el = c
        .find(Locator::Id(id))
        .await
        .with_context(|| format!("#{id}"))?;
    el.click().await.with_context(|| format!("clicking #{id}"))
}

async fn shown(c: &Client, id: &str) -> Result<bool> {
    let el = c
        .find(Locator::Id(id))
        .await
        .with_context(|| format!("#{id}"))?;
    Ok(el.is_displayed().await?)
}

async fn set_field(c: &Client, id: &str, value: &str) -> Result<()> {
    let el = c
        .find(Locator::Id(id))
        .await
        .with_context(|| format!("#{id}"))?;
    el.clear().await?;
    el.send_keys(value).await?;
    let got = el.prop("value").await?.unwrap_or_default();
    ensure!(got == value, "#{id} holds {got:?} after typing {value:?}");
    Ok(())
}

/// The statistics table's body rows as `(type, name, request count)`.
const STATS_ROWS_JS: &str = r#"
const t = document.getElementById("stats-table");
if (!t) return null;
return Array.from(t.querySelectorAll("tbody tr:not(.empty)")).map(function (tr) {
  const td = tr.querySelectorAll("td");
  return [td[0].textContent, td[1].textContent, Number(td[2].textContent)];
});
"#;

/// How many pixels of the first series' colour (#2e7d32, the RPS / Users line) a chart's canvas
/// holds, and its size: axes and labels alone have none, so a count > 0 means data was drawn.
const CHART_PIXELS_JS: &str = r##"
const c = document.querySelector("#" + arguments[0] + " canvas");
if (!c || !c.width || !c.height) return null;
const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 0; i < d.length; i += 4) {
  if (d[i + 3] > 200 && Math.abs(d[i] - 46) < 24 && Math.abs(d[i + 1] - 125) < 24 && Math.abs(d[i + 2] - 50) < 24) n++;
}
return [n, c.width, c.height];
"##;

/// Every resource the document loaded, with its HTTP status (0 when the browser does not say),
/// plus the document itself, and whether it names an icon (else browsers ask for /favicon.ico).
const LOADED_JS: &str = r#"
const nav = performance.getEntriesByType("navigation").map(function (e) { return [e.name, e.responseStatus || 0]; });
const res = performance.getEntriesByType("resource").map(function (e) { return [e.name, e.responseStatus || 0]; });
return { loaded: nav.concat(res), icon: !!document.querySelector("link[rel~=icon]") };
"#;

/// Fails when the page loaded anything with an error status or names no icon.
async fn no_failed_requests(c: &Client, what: &str) -> Result<usize> {
    let v = c.execute(LOADED_JS, vec![]).await?;
    ensure!(
        v["icon"] == json!(true),
        "{what} names no icon: the browser would request /favicon.ico"
    );
    let loaded: Vec<(String, u64)> =
        serde_json::from_value(v["loaded"].clone()).unwrap_or_default();
    ensure!(
        !loaded.is_empty(),
        "{what}: the browser lists no loaded resources"
    );
    // The document's own 200 shows that this browser reports statuses (else the check is void).
    ensure!(
        loaded[0].1 == 200,
        "{what}: the document's status is {:?}",
        loaded[0]
    );
    let failed: Vec<&(String, u64)> = loaded.iter().filter(|(_, st)| *st >= 400).collect();
    ensure!(
        failed.is_empty(),
        "{what} loaded resources that failed: {failed:?}"
    );
    Ok(loaded.len())
}

/// A real click at viewport coordinates (the dialog's backdrop, beside the form).
async fn click_at(c: &Client, x: f64, y: f64) -> Result<()> {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let actions = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(actions).await?;
    c.release_actions().await?;
    Ok(())
}

async fn active_id(c: &Client) -> Result<String> {
    let v = c
        .execute(
            "return document.activeElement ? document.activeElement.id : '';",
            vec![],
        )
        .await?;
    Ok(v.as_str().unwrap_or("").to_string())
}

async fn wait_shown(c: &Client, id: &str, want: bool) -> Result<()> {
    wait_until(&format!("#{id} displayed={want}"), || async {
        let s = shown(c, id).await?;
        Ok(((s == want).then_some(()), format!("displayed={s}")))
    })
    .await
}

/// Checks one class box and clears the others (the ids follow the sorted class names).
async fn choose_classes(c: &Client, wanted: &[&str]) -> Result<()> {
    let v = c
        .execute(
            r##"const want = arguments[0];
               const boxes = Array.from(document.querySelectorAll("#user-classes input"));
               boxes.forEach(function (b) { b.checked = want.indexOf(b.value) >= 0; });
               return boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });"##,
            vec![json!(wanted)],
        )
        .await?;
    ensure!(
        v == json!(wanted),
        "class boxes checked: {v}, wanted {wanted:?}"
    );
    Ok(())
}

async fn drive(c: &Client, rig: &mut Rig) -> Result<()> {
    let host = rig.classifier.base_url();
    c.goto(&format!("{}/", rig.web_url))
        .await
        .context("opening the page")?;

    // A fresh runner opens the start form.
    wait_until("the start form to show", || async {
        let shown = shown(c, "start-form").await?;
        Ok((shown.then_some(()), format!("displayed={shown}")))
    })
    .await?;
    let state = text_of(c, "status-state").await?;
    ensure!(
        state == "ready",
        "state before start is {state:?}, not ready"
    );
    let n = no_failed_requests(c, "the page").await?;
    eprintln!("the page loaded {n} resources, none failed");

    // The dialog takes the focus; Escape closes it, New opens it again, and a click on the
    // backdrop beside the form closes it too. Polling does not pop it back up.
    let focused = active_id(c).await?;
    ensure!(
        focused == "user_count",
        "focus is on {focused:?}, not in the dialog"
    );
    c.active_element()
        .await?
        .send_keys("\u{e00c}")
        .await
        .context("pressing Escape")?;
    wait_shown(c, "start-form", false).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    ensure!(
        !shown(c, "start-form").await?,
        "a poll reopened the dismissed dialog"
    );
    click(c, "new-button").await?;
    wait_shown(c, "start-form", true).await?;
    click_at(c, 15.0, 500.0).await?;
    wait_shown(c, "start-form", false).await?;
    click(c, "new-button").await?;
    wait_shown(c, "start-form", true).await?;
    // The first test runs HighLoadUser only.
    choose_classes(c, &["HighLoadUser"]).await?;

    set_field(c, "user_count", "4").await?;
    set_field(c, "spawn_rate", "4").await?;
    set_field(c, "host", &host).await?;
    click(c, "start-button").await?;

    wait_until("the start form to close", || async {
        let shown = shown(c, "start-form").await?;
        let err = text_of(c, "form-error").await.unwrap_or_default();
        ensure!(err.is_empty(), "the form reports an error: {err}");
        Ok(((!shown).then_some(()), format!("displayed={shown}")))
    })
    .await?;

    let rows: Vec<(String, String, f64)> =
        wait_until("running with non-zero request counts", || async {
            let state = text_of(c, "status-state").await?;
            let users = text_of(c, "status-users").await?;
            let rows: Vec<(String, String, f64)> =
                serde_json::from_value(c.execute(STATS_ROWS_JS, vec![]).await?).unwrap_or_default();
            let counted: Vec<_> = rows
                .iter()
                .filter(|r| r.1 != "Aggregated" && r.2 > 0.0)
                .cloned()
                .collect();
            let agg = rows
                .iter()
                .find(|r| r.1 == "Aggregated")
                .map(|r| r.2)
                .unwrap_or(0.0);
            let ok = state == "running" && users == "4" && !counted.is_empty() && agg > 0.0;
            Ok((
                ok.then_some(rows.clone()),
                format!("state={state} users={users} rows={rows:?}"),
            ))
        })
        .await?;
    let names: Vec<String> = rows
        .iter()
        .filter(|r| r.1 != "Aggregated" && r.2 > 0.0)
        .map(|r| r.1.clone())
        .collect();
    eprintln!("statistics table while running: {rows:?}");
    ensure!(
        text_of(c, "status-host").await? == host,
        "the header's host is not {host}"
    );
    ensure!(
        rig.classifier.counters.total() > 0,
        "the classifier service saw no requests"
    );
    // Let a couple more polls land so the charts hold several points.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let png = c.screenshot().await.context("screenshot")?;
    eprintln!("screenshot: {}", save(&png, "web-ui-e2e.png")?.display());

    // Charts: the tab shows and each live chart has drawn its first series. The window grows
    // so that the screenshot holds all three charts.
    c.set_window_size(1400, 1250).await?;
    click(c, "tab-button-charts").await?;
    ensure!(
        shown(c, "chart-rps").await?,
        "#chart-rps not visible on the Charts tab"
    );
    ensure!(
        c.current_url().await?.fragment() == Some("charts"),
        "the URL does not say #charts"
    );
    for chart in ["chart-rps", "chart-users"] {
        let seen = wait_until(&format!("#{chart} to draw its data"), || async {
            let v = c.execute(CHART_PIXELS_JS, vec![json!(chart)]).await?;
            let n = v.get(0).and_then(Value::as_u64).unwrap_or(0);
            Ok(((n > 20).then_some(v.clone()), v.to_string()))
        })
        .await?;
        eprintln!("#{chart}: {seen} (line pixels, width, height)");
    }
    let png = c.screenshot().await.context("screenshot")?;
    eprintln!(
        "screenshot: {}",
        save(&png, "web-ui-e2e-charts.png")?.display()
    );
    c.set_window_size(1400, 1000).await?;
    click(c, "tab-button-stats").await?;

    // Edit the running test down to 2 users.
    click(c, "edit-button").await?;
    wait_until("the edit form to show", || async {
        let shown = shown(c, "start-form").await?;
        Ok((shown.then_some(()), format!("displayed={shown}")))
    })
    .await?;
    let title = text_of(c, "form-title").await?;
    ensure!(
        title.contains("Edit"),
        "the form title is {title:?} after clicking Edit"
    );
    set_field(c, "user_count", "2").await?;
    click(c, "start-button").await?;
    wait_until("the header to show 2 users", || async {
        let users = text_of(c, "status-users").await?;
        let state = text_of(c, "status-state").await?;
        Ok((
            (users == "2" && state == "running").then_some(()),
            format!("users={users} state={state}"),
        ))
    })
    .await?;

    // Locust samples the chart history every 5 s from process start, so a short run may end
    // between two samples with none. The second run below checks that a reloaded page seeds
    // its charts from this history, so the first run lasts until the server holds a sample.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    wait_until("the server to sample the chart history", || async {
        let page = http
            .get(format!("{}/", rig.web_url))
            .send()
            .await?
            .text()
            .await?;
        let sampled = page.contains("\"current_rps\"");
        Ok((
            sampled.then_some(()),
            "no history point in the page's templateArgs".to_string(),
        ))
    })
    .await?;

    // Stop.
    click(c, "stop-button").await?;
    // The page says "stopped" at once; the next poll brings the runner's own state and count.
    wait_until("state stopped with 0 users", || async {
        let state = text_of(c, "status-state").await?;
        let users = text_of(c, "status-users").await?;
        Ok((
            (state == "stopped" && users == "0").then_some(()),
            format!("state={state} users={users}"),
        ))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let state = text_of(c, "status-state").await?;
    ensure!(state == "stopped", "state went from stopped to {state}");

    // Downloads, through the links the page offers.
    click(c, "tab-button-download").await?;
    let png = c.screenshot().await.context("screenshot")?;
    eprintln!(
        "screenshot: {}",
        save(&png, "web-ui-e2e-stopped.png")?.display()
    );
    let csv_url = link(c, "download-requests-csv").await?;
    let r = http
        .get(&csv_url)
        .send()
        .await
        .with_context(|| format!("GET {csv_url}"))?;
    ensure!(r.status() == 200, "GET {csv_url}: {}", r.status());
    let csv = r.text().await?;
    let mut lines = csv.lines();
    ensure!(
        lines.next() == Some(LOCUST_STATS_HEADER),
        "the requests CSV header is not Locust's:\n{}",
        csv.lines().next().unwrap_or("")
    );
    let agg = csv
        .lines()
        .find(|l| l.starts_with(",Aggregated,"))
        .ok_or_else(|| anyhow!("no Aggregated row in the requests CSV:\n{csv}"))?;
    let agg_count: u64 = agg
        .split(',')
        .nth(2)
        .unwrap_or("")
        .parse()
        .context("Aggregated request count")?;
    ensure!(agg_count > 0, "the Aggregated request count is 0:\n{csv}");
    for name in &names {
        ensure!(
            csv.contains(&format!(",{name},")),
            "the requests CSV lacks {name:?}:\n{csv}"
        );
    }

    let report_url = link(c, "download-report").await?;
    let r = http
        .get(&report_url)
        .send()
        .await
        .with_context(|| format!("GET {report_url}"))?;
    ensure!(r.status() == 200, "GET {report_url}: {}", r.status());
    let disposition = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let report = r.text().await?;
    ensure!(
        report.contains("<html") || report.contains("<!DOCTYPE"),
        "the report is not HTML"
    );
    for name in &names {
        ensure!(
            report.contains(name.as_str()) || report.contains(&name.replace('/', "\\/")),
            "the report lacks the request name {name:?}"
        );
    }

    // The report also renders in the browser: its tables name the requests.
    let view_url = link(c, "view-report").await?;
    c.goto(&view_url)
        .await
        .with_context(|| format!("opening {view_url}"))?;
    wait_until("the report page to list the requests", || async {
        let text = c.find(Locator::Css("body")).await?.text().await?;
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !text.contains(n.as_str()))
            .collect();
        Ok((
            missing.is_empty().then_some(()),
            format!("missing {missing:?}"),
        ))
    })
    .await?;
    // Tall enough for the whole report, charts included.
    c.set_window_size(1400, 2600).await?;
    let png = c.screenshot().await.context("screenshot")?;
    eprintln!(
        "screenshot: {}",
        save(&png, "web-ui-e2e-report.png")?.display()
    );

    let n = no_failed_requests(c, "the report").await?;
    eprintln!("the report loaded {n} resources, none failed");
    let ratio = text_of(c, "report-tasks").await?;
    ensure!(
        ratio.contains("100.0% HighLoadUser") && !ratio.contains("ErrorTestingUser"),
        "the report's Final ratio is not the class that ran: {ratio:?}"
    );
    let head = c
        .find(Locator::Css("#report-requests thead"))
        .await?
        .text()
        .await?;
    ensure!(
        head.contains("RPS") && head.contains("Failures/s") && !head.contains("Current"),
        "the report's request table lacks Locust's report columns: {head:?}"
    );

    eprintln!(
        "requests CSV: {} lines, Aggregated count {agg_count}; report: {} bytes, content-disposition {disposition:?}",
        csv.lines().count(),
        report.len()
    );

    // A new test with the other class: the table loses HighLoadUser's rows.
    c.set_window_size(1400, 1000).await?;
    c.goto(&format!("{}/", rig.web_url)).await?;
    wait_shown(c, "new-button", true).await?;
    // The reloaded page seeds its charts from the first run's history; only then is there a
    // line for the new start to break.
    wait_until("the charts seeded with the first run's history", || async {
        let n = c
            .execute("return window.skeinCharts.rps.xs.length;", vec![])
            .await?
            .as_i64()
            .unwrap_or(0);
        Ok(((n > 0).then_some(()), format!("{n} points")))
    })
    .await?;
    click(c, "new-button").await?;
    wait_shown(c, "start-form", true).await?;
    choose_classes(c, &["ErrorTestingUser"]).await?;
    click(c, "start-button").await?;
    wait_shown(c, "start-form", false).await?;
    let rows: Vec<(String, String, f64)> =
        wait_until("only ErrorTestingUser's rows, with requests", || async {
            let rows: Vec<(String, String, f64)> =
                serde_json::from_value(c.execute(STATS_ROWS_JS, vec![]).await?).unwrap_or_default();
            let own: Vec<_> = rows.iter().filter(|r| r.1 != "Aggregated").collect();
            let old = own.iter().any(|r| names.contains(&r.1));
            let ok = !own.is_empty() && !old && own.iter().all(|r| r.1.contains('['));
            Ok((ok.then_some(rows.clone()), format!("rows={rows:?}")))
        })
        .await?;
    eprintln!("statistics table after the new start: {rows:?}");
    // The charts' lines break between the two runs: each series holds a null gap marker,
    // and points after it.
    let gaps = c
        .execute(
            r#"const ch = window.skeinCharts;
               return [ch.rps, ch.rt, ch.users].map(function (c) {
                 const i = c.ys[0].indexOf(null);
                 return [i, c.xs.length];
               });"#,
            vec![],
        )
        .await?;
    let gaps: Vec<(i64, i64)> = serde_json::from_value(gaps).unwrap_or_default();
    ensure!(
        gaps.len() == 3 && gaps.iter().all(|(i, _)| *i > 0),
        "the charts do not break their lines between the runs: {gaps:?}"
    );

    // The server goes away: banner, actions disabled; a server back on the port is picked up.
    terminate(&mut rig.skein, "skein").await;
    wait_shown(c, "offline-banner", true).await?;
    for id in ["stop-button", "reset-button", "edit-button"] {
        let enabled = c.find(Locator::Id(id)).await?.is_enabled().await?;
        ensure!(!enabled, "#{id} is enabled while the server is gone");
    }
    let png = c.screenshot().await.context("screenshot")?;
    eprintln!(
        "screenshot: {}",
        save(&png, "web-ui-e2e-offline.png")?.display()
    );
    let (skein, log, url) = start_skein(&host, rig.web_port).await?;
    rig.skein = skein;
    rig.skein_log = log;
    ensure!(
        url == rig.web_url,
        "the restarted server is at {url}, not {}",
        rig.web_url
    );
    wait_shown(c, "offline-banner", false).await?;
    let enabled = c
        .find(Locator::Id("reset-button"))
        .await?
        .is_enabled()
        .await?;
    ensure!(enabled, "#reset-button stays disabled after the reconnect");
    let state = text_of(c, "status-state").await?;
    ensure!(state == "ready", "state after the reconnect is {state:?}");
    Ok(())
}

/// The absolute URL a download link points at (its `href` property, resolved by the browser).
async fn link(c: &Client, id: &str) -> Result<String> {
    let href = c
        .find(Locator::Id(id))
        .await?
        .prop("href")
        .await?
        .ok_or_else(|| anyhow!("#{id} has no href"))?;
    ensure!(
        href.starts_with("http://127.0.0.1:"),
        "#{id} points at {href}"
    );
    Ok(href)
}
