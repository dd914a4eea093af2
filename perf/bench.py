#!/usr/bin/env python3
"""skein's load-generator benchmark (issue 11): wrk, skein, Goose 0.19 and Locust 2.47 side by side
against one nginx on loopback. perf/bench.sh installs what is missing, builds, and runs this; see
perf/README.md for what each figure means.

Phases, each generator pinned to GEN_CPU and nginx to SERVER_CPU:
1. throughput: ROUNDS interleaved rounds of every generator, 50 users with no wait, `GET /` (wrk, skein,
   Goose, Locust FastHttpUser) and the multipart classify POST (wrk with skein's own body, skein); CPU per
   request from the generator's rusage, paired ratios against wrk's run in the same round;
2. idle memory: peak RSS with 1 and N users that wait 1-3 s between `GET /`, per extra user;
3. 5,000 users at ~2,500 req/s offered: CPU % of a core over the steady window, peak RSS, req/s, p99;
4. spawning: the time from "Ramping to" to "All users spawned" for 10,000 users at -r 10000;
5. optionally (MASTER=1) perf/cluster/bench.py for the master with 500 and 1,000 workers.

Only the standard library is needed. Every process it starts is bounded in time and stopped by its PID.
"""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

from proc import CLK_TCK, cpu_ticks, free_port, status_kb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def env(name, default):
    return os.environ.get(name, default)


def env_int(name, default):
    v = env(name, str(default))
    try:
        return int(v)
    except ValueError:
        sys.exit(f"[bench] error: {name} must be a whole number, got {v!r}")


def env_list(name, default):
    return [x for x in env(name, default).split() if x]


DURATION = env_int("DURATION", 20)
ROUNDS = env_int("ROUNDS", 3)
USERS = env_int("USERS", 50)
GENERATORS = env_list("GENERATORS", "wrk skein goose locust")
MODES = env_list("MODES", "get post")
IDLE_USERS = [int(x) for x in env_list("IDLE_USERS", "1000 10000")]
PEER_IDLE_USERS = [int(x) for x in env_list("PEER_IDLE_USERS", "1000")]
IDLE_DURATION = env_int("IDLE_DURATION", 20)
IDLE_RAMP_SECS = env_int("IDLE_RAMP_SECS", 10)
BIG_USERS = env_int("BIG_USERS", 5000)
BIG_DURATION = env_int("BIG_DURATION", 40)
BIG_GENERATORS = env_list("BIG_GENERATORS", "skein goose locust")
SPAWN_USERS = env_int("SPAWN_USERS", 10000)
MASTER = env("MASTER", "0") == "1"
SERVER_CPU = env("SERVER_CPU", "0")
GEN_CPU = env("GEN_CPU", "1")
KEEP_TMP = env("KEEP_TMP", "0") == "1"
SKEIN = env("SKEIN_BIN", os.path.join(ROOT, "target/release/skein"))
GOOSE = env("GOOSE_BIN", os.path.join(ROOT, "perf/goose-bench/target/release/goose-bench"))
LOCUST = env("LOCUST_BIN", os.path.join(ROOT, "perf/.venv/bin/locust"))
LOCUSTFILE = os.path.join(HERE, "locust/locustfile.py")

# Targets of issue 11.
TARGET_RATIO = 1.15
TARGET_IDLE_KIB = 12
TARGET_BIG_CPU = 12.0
TARGET_BIG_MB = 80
TARGET_SPAWN_S = 1.5


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec="{:.2f}"):
    return "—" if x is None else spec.format(x)


class Run:
    """One generator process pinned to GEN_CPU, bounded by `limit` seconds, measured by its rusage."""

    def __init__(self, name, argv, limit, tmp, extra_env=None):
        self.name = name
        self.out_path = os.path.join(tmp, f"{name}.out")
        self.out = open(self.out_path, "wb")
        e = dict(os.environ)
        e.update(extra_env or {})
        self.started = time.monotonic()
        # taskset execs the generator, so this PID is the generator's own.
        self.proc = subprocess.Popen(
            ["taskset", "-c", GEN_CPU] + argv, stdout=self.out, stderr=subprocess.STDOUT, env=e
        )
        self.limit = limit
        self.rusage = None
        self.status = None
        # Peak RSS from /proc (VmHWM, which exec resets): rusage's ru_maxrss also counts the
        # memory of this Python process, which the child was forked from.
        self.hwm_kb = 0

    def ticks(self):
        return cpu_ticks(self.proc.pid)

    def sample_hwm(self):
        self.hwm_kb = max(self.hwm_kb, status_kb(self.proc.pid, "VmHWM") or 0)

    def wait(self):
        deadline = self.started + self.limit
        while True:
            self.sample_hwm()
            pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                log(f"{self.name}: still running after {self.limit}s, stopping it")
                self.proc.send_signal(signal.SIGTERM)
                time.sleep(3)
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
                if not pid:
                    self.proc.kill()
                    pid, status, ru = os.wait4(self.proc.pid, 0)
                break
            time.sleep(0.1)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.status = self.proc.returncode
        self.rusage = ru
        self.elapsed = time.monotonic() - self.started
        self.out.close()
        return self

    def cpu_ms(self):
        return (self.rusage.ru_utime + self.rusage.ru_stime) * 1000.0

    def max_rss_kb(self):
        return self.hwm_kb

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tail(self):
        lines = self.output().strip().splitlines()
        return lines[-1] if lines else "(no output)"


# ---------------------------------------------------------------- nginx

NGINX_CONF = """# Generated by perf/bench.py; runs in the foreground as the benchmark's own process.
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 30000; }}
http {{
    access_log off;
    default_type application/json;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    client_max_body_size 16m;
    client_body_temp_path {tmp}/nginx-tmp/body;
    proxy_temp_path {tmp}/nginx-tmp/proxy;
    fastcgi_temp_path {tmp}/nginx-tmp/fastcgi;
    uwsgi_temp_path {tmp}/nginx-tmp/uwsgi;
    scgi_temp_path {tmp}/nginx-tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location = / {{ try_files /index.json =404; }}
        # The classify POST: nginx reads and discards the upload, then answers like the service.
        location = /api/v1/classify {{
            client_body_buffer_size 64k;
            return 200 '{{"predictions":[{{"class_name":"tabby","class_id":281,"probability":0.9}}]}}';
        }}
    }}
}}
"""

BODY = b'{"status":"ok","service":"skein-bench","items":[1,2,3,4,5],"message":"hello from nginx on loopback"}\n'


def nginx_binary():
    for c in ("/usr/sbin/nginx", shutil.which("nginx")):
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("[bench] error: nginx not found (perf/bench.sh installs it)")


def probe(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start_nginx(tmp):
    nginx = nginx_binary()
    os.makedirs(f"{tmp}/www", exist_ok=True)
    os.makedirs(f"{tmp}/nginx-tmp", exist_ok=True)
    with open(f"{tmp}/www/index.json", "wb") as f:
        f.write(BODY)
    # nginx's worker may drop to an unprivileged user: let it read the temp dir.
    for p in (tmp, f"{tmp}/www"):
        os.chmod(p, 0o755)
    os.chmod(f"{tmp}/www/index.json", 0o644)
    for attempt in range(10):
        port = free_port()
        with open(f"{tmp}/nginx.conf", "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=port))
        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, nginx, "-p", f"{tmp}/", "-e", f"{tmp}/nginx-error.log", "-c", f"{tmp}/nginx.conf"],
            stdout=subprocess.DEVNULL,
            stderr=open(f"{tmp}/nginx.out", "wb"),
        )
        for _ in range(50):
            if probe(port):
                version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
                log(f"nginx {version} pid {proc.pid} on 127.0.0.1:{port}, CPU {SERVER_CPU}")
                return proc, port, version
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        stop(proc)
        log(f"nginx did not come up on port {port} (attempt {attempt + 1})")
    sys.exit(f"[bench] error: could not start nginx (see {tmp}/nginx-error.log)")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- the POST body skein sends


def capture_post(tmp):
    """Runs skein's ThroughputPostUser for a moment against a loopback server that keeps the first
    upload, so wrk and Locust send exactly skein's bytes."""
    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            seen.setdefault("body", body)
            seen.setdefault("type", self.headers.get("Content-Type", ""))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = Run(
            "capture",
            [SKEIN, "--headless", "-H", f"http://127.0.0.1:{srv.server_port}", "-u", "1", "-r", "1", "-t", "1s",
             "--only-summary", "ThroughputPostUser"],
            30,
            tmp,
        ).wait()
    finally:
        srv.shutdown()
    if "body" not in seen:
        return None, f"skein sent no upload ({r.tail()})"
    path = os.path.join(tmp, "post-body.bin")
    with open(path, "wb") as f:
        f.write(seen["body"])
    lua = os.path.join(tmp, "post.lua")
    with open(lua, "w") as f:
        f.write(
            f'local f = assert(io.open("{path}", "rb"))\nwrk.body = f:read("*a")\nf:close()\n'
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{seen["type"]}"\n'
        )
    log(f"POST body: {len(seen['body'])} bytes, {seen['type'].split(';')[0]}")
    return {"body": path, "type": seen["type"], "lua": lua, "size": len(seen["body"])}, None


# ---------------------------------------------------------------- generators


def csv_aggregated(prefix):
    """(requests, failures, p99 ms) from a Locust-format <prefix>_stats.csv's Aggregated row."""
    import csv

    path = f"{prefix}_stats.csv"
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                p99 = row.get("99%", "N/A")
                return (
                    int(row["Request Count"]),
                    int(row["Failure Count"]),
                    None if p99 in ("N/A", "") else float(p99),
                )
    return None


def locust_argv(host, users, rate, secs, prefix, cls):
    return [LOCUST, "-f", LOCUSTFILE, "--headless", "-H", host, "-u", str(users), "-r", str(rate),
            "-t", f"{secs}s", "--csv", prefix, "--only-summary", "--loglevel", "WARNING", cls]


def skein_argv(host, users, rate, secs, prefix, cls):
    return [SKEIN, "--headless", "-H", host, "-u", str(users), "-r", str(rate), "-t", f"{secs}s",
            "--csv", prefix, "--only-summary", cls]


def goose_argv(host, users, rate, secs):
    # --no-reset-metrics: count the ramp-up's requests too, since its CPU is counted as well.
    return [GOOSE, "--host", host, "-u", str(users), "-r", str(rate), "-t", f"{secs}s", "--no-reset-metrics",
            "--no-telnet", "--no-websocket"]


def throughput(g, mode, name, host, tmp, post):
    """Returns (requests, run) or raises RuntimeError with the reason."""
    prefix = os.path.join(tmp, name)
    limit = DURATION + 60
    if g == "wrk":
        argv = ["wrk", "-t1", f"-c{USERS}", f"-d{DURATION}s"]
        argv += ["-s", post["lua"], f"{host}/api/v1/classify"] if mode == "post" else [f"{host}/"]
        r = Run(name, argv, limit, tmp).wait()
        m = re.search(r"(\d+) requests in", r.output())
        if r.status != 0 or not m:
            raise RuntimeError(f"wrk exited {r.status}: {r.tail()}")
        if "Non-2xx" in r.output():
            log(f"warning: wrk saw non-2xx answers ({name})")
        return int(m.group(1)), r
    if g == "goose":
        r = Run(name, goose_argv(host, USERS, USERS, DURATION), limit, tmp).wait()
        m = re.search(r"goose-bench: requests=(\d+) failures=(\d+)", r.output())
        if not m:
            raise RuntimeError(f"goose-bench exited {r.status}: {r.tail()}")
        if int(m.group(2)):
            log(f"warning: goose counted {m.group(2)} failures ({name})")
        return int(m.group(1)), r
    if g == "skein":
        cls = "ThroughputPostUser" if mode == "post" else "ThroughputUser"
        r = Run(name, skein_argv(host, USERS, USERS, DURATION, prefix, cls), limit, tmp).wait()
    elif g == "locust":
        cls = "FastPostUser" if mode == "post" else "FastGetUser"
        extra = {"BENCH_POST_BODY": post["body"], "BENCH_POST_TYPE": post["type"]} if mode == "post" else {}
        r = Run(name, locust_argv(host, USERS, USERS, DURATION, prefix, cls), limit, tmp, extra).wait()
    else:
        raise RuntimeError(f"unknown generator {g}")
    agg = csv_aggregated(prefix)
    # Locust exits 1 when a request failed: still a measurement, the CSV decides.
    if agg is None or r.status not in (0, 1):
        raise RuntimeError(f"{g} exited {r.status}, no statistics: {r.tail()}")
    if agg[1]:
        log(f"warning: {g} counted {agg[1]} failures ({name})")
    return agg[0], r


def available(g):
    path = {"wrk": shutil.which("wrk"), "skein": SKEIN, "goose": GOOSE, "locust": LOCUST}.get(g)
    if not path or not os.access(path, os.X_OK):
        return f"no binary at {path}" if path else "not installed"
    return None


# ---------------------------------------------------------------- phases


def phase_throughput(host, tmp, post, post_err):
    # results[(g, mode)] = list per round of dict(requests, cpu_ms, per_k) or {"error": ...}
    results = {}
    plan = []
    for mode in MODES:
        for g in GENERATORS:
            if mode == "post" and g in ("goose",):
                continue  # goose-bench has only the GET scenario
            plan.append((g, mode))
    log(f"throughput: {ROUNDS} round(s) x {len(plan)} runs, {USERS} users, {DURATION}s, generator on CPU {GEN_CPU}")
    for rnd in range(1, ROUNDS + 1):
        for g, mode in plan:
            name = f"{g}-{mode}-r{rnd}"
            why = available(g) or (post_err if mode == "post" and post is None else None)
            if why:
                results.setdefault((g, mode), []).append({"error": why})
                continue
            try:
                n, r = throughput(g, mode, name, host, tmp, post)
            except RuntimeError as e:
                log(f"{name}: failed: {e}")
                results.setdefault((g, mode), []).append({"error": str(e)})
                continue
            if n == 0:
                results.setdefault((g, mode), []).append({"error": "completed no requests"})
                continue
            cpu = r.cpu_ms()
            entry = {"requests": n, "rps": n / DURATION, "cpu_ms": cpu, "per_k": cpu * 1000.0 / n}
            log(f"{name}: {n} requests, {entry['rps']:.0f} req/s, CPU {cpu:.0f} ms, {entry['per_k']:.2f} ms/1k")
            results.setdefault((g, mode), []).append(entry)
    return results


def paired(results, g, mode):
    """Per round: g's CPU per request / wrk's in the same round (None where either failed)."""
    out = []
    for a, b in zip(results.get((g, mode), []), results.get(("wrk", mode), [])):
        out.append(a["per_k"] / b["per_k"] if "per_k" in a and "per_k" in b else None)
    return out


def paced_argv(g, host, users, rate, secs, prefix):
    if g == "skein":
        return skein_argv(host, users, rate, secs, prefix, "PacedUser"), {}
    if g == "locust":
        return locust_argv(host, users, rate, secs, prefix, "PacedUser"), {}
    return goose_argv(host, users, rate, secs), {"GOOSE_BENCH_PACED": "1"}


def phase_idle(host, tmp):
    """{g: {"base_kb":…, "rows": [(n, rss_kb, kib_per_user)], "error":…}}"""
    out = {}
    for g in ("skein", "goose", "locust"):
        counts = IDLE_USERS if g == "skein" else PEER_IDLE_USERS
        if not counts or g not in GENERATORS:
            continue
        why = available(g)
        if why:
            out[g] = {"error": why, "rows": []}
            continue
        res = {"rows": []}
        for n in [1] + counts:
            rate = max(1, -(-n // IDLE_RAMP_SECS))
            name = f"idle-{g}-{n}"
            argv, extra = paced_argv(g, host, n, rate, IDLE_DURATION, os.path.join(tmp, name))
            log(f"memory: {g} with {n} paced user(s), -r {rate}, {IDLE_DURATION}s")
            r = Run(name, argv, IDLE_DURATION + 90, tmp, extra).wait()
            if r.status not in (0, 1):
                res["error"] = f"exited {r.status} with {n} users: {r.tail()}"
                break
            kb = r.max_rss_kb()
            if n == 1:
                res["base_kb"] = kb
                continue
            per = (kb - res["base_kb"]) / (n - 1)
            res["rows"].append((n, kb, per))
            log(f"memory: {g} {n} users: peak RSS {kb / 1024:.1f} MiB, {per:.1f} KiB per user above 1 user")
        out[g] = res
    return out


def phase_big(host, tmp):
    """5,000 paced users (~2,500 req/s offered): CPU % of a core over the steady window, RSS, req/s."""
    out = {}
    ramp = 5
    rate = -(-BIG_USERS // ramp)
    offered = BIG_USERS / 2.0
    for g in BIG_GENERATORS:
        if g not in GENERATORS:
            continue
        why = available(g)
        if why:
            out[g] = {"error": why}
            continue
        name = f"big-{g}"
        prefix = os.path.join(tmp, name)
        argv, extra = paced_argv(g, host, BIG_USERS, rate, BIG_DURATION, prefix)
        log(f"{BIG_USERS} users: {g}, -r {rate}, {BIG_DURATION}s")
        r = Run(name, argv, BIG_DURATION + 120, tmp, extra)
        # The window: from 10 s after the start (ramp plus a first round of waits) to 2 s before the end.
        t0 = r.started + ramp + 5
        t1 = r.started + BIG_DURATION - 2
        time.sleep(max(0.0, t0 - time.monotonic()))
        a = r.ticks()
        a_t = time.monotonic()
        time.sleep(max(0.0, t1 - time.monotonic()))
        b = r.ticks()
        b_t = time.monotonic()
        r.wait()
        if a is None or b is None or r.status not in (0, 1):
            out[g] = {"error": f"exited {r.status} before the window ended: {r.tail()}"}
            continue
        cpu = (b - a) / CLK_TCK / (b_t - a_t) * 100.0
        res = {"cpu": cpu, "rss_mb": r.max_rss_kb() / 1024.0, "offered": offered}
        if g == "goose":
            m = re.search(r"goose-bench: requests=(\d+)", r.output())
            res["rps"] = int(m.group(1)) / (BIG_DURATION - ramp / 2) if m else None
            res["p99"] = None
        else:
            agg = csv_aggregated(prefix)
            res["rps"] = agg[0] / (BIG_DURATION - ramp / 2) if agg else None
            res["p99"] = agg[2] if agg else None
        log(f"{BIG_USERS} users: {g}: {cpu:.1f} % of a core, peak RSS {res['rss_mb']:.0f} MiB, "
            f"{fmt(res['rps'], '{:.0f}')} req/s of ~{offered:.0f}, p99 {fmt(res['p99'], '{:.0f}')} ms")
        out[g] = res
    return out


STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]")


def stamp(line):
    m = STAMP.match(line)
    if not m:
        return None
    t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    return t.timestamp() + int(m.group(2)) / 1000.0


def phase_spawn(host, tmp):
    if not SPAWN_USERS or available("skein"):
        return None
    name = "spawn"
    argv = [SKEIN, "--headless", "-H", host, "-u", str(SPAWN_USERS), "-r", str(SPAWN_USERS), "-t", "6s",
            "--only-summary", "PacedUser"]
    log(f"spawning: skein -u {SPAWN_USERS} -r {SPAWN_USERS}")
    r = Run(name, argv, 90, tmp).wait()
    begin = end = None
    for line in r.output().splitlines():
        if "Ramping to" in line and begin is None:
            begin = stamp(line)
        if "All users spawned" in line and end is None:
            end = stamp(line)
    if begin is None or end is None:
        return {"error": f"no ramp lines in skein's log (exit {r.status}): {r.tail()}"}
    log(f"spawning: {SPAWN_USERS} users in {end - begin:.3f} s")
    return {"seconds": end - begin}


def phase_master(tmp):
    if not MASTER:
        return None
    log("master: perf/cluster/bench.py with 500 and 1000 simulated workers (several minutes)")
    e = dict(os.environ, SKEIN=SKEIN, ONLY="skein", SIZES=env("MASTER_SIZES", "500 1000"))
    p = subprocess.run([sys.executable, os.path.join(HERE, "cluster/bench.py")], env=e, capture_output=True,
                       text=True, timeout=3600)
    if p.returncode != 0:
        return f"perf/cluster/bench.py exited {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1]}"
    return p.stdout.strip()


# ---------------------------------------------------------------- report


def verdict(ok):
    return "PASS" if ok else "FAIL"


def report(meta, thr, idle, big, spawn, master):
    L = []
    w = L.append
    w(f"# skein load-generator benchmark, {meta['date']}")
    w("")
    w(f"commit {meta['commit']}; {os.cpu_count()} cores; load average at end {meta['load']}; nginx {meta['nginx']} "
      f"(1 worker, CPU {SERVER_CPU}); generators on CPU {GEN_CPU}; {USERS} users with no wait, {DURATION}s x "
      f"{ROUNDS} interleaved round(s); POST body {meta['post_size']} bytes (skein's own upload).")
    w("")
    names = {"wrk": "wrk 4.1", "skein": "skein", "goose": "Goose 0.19", "locust": "Locust 2.47 FastHttpUser"}

    def ratio_cell(g, mode):
        # Not in the plan (goose-bench has no POST) or not run.
        if (g, mode) not in thr:
            return "—"
        if g == "wrk":
            return "1.00"
        pr = [x for x in paired(thr, g, mode) if x is not None]
        if not pr:
            errs = [e.get("error") for e in thr.get((g, mode), []) if "error" in e]
            return f"failed: {errs[0]}" if errs else "—"
        return f"{statistics.median(pr):.2f} ({min(pr):.2f}–{max(pr):.2f})"

    def phase_cell(g, results, render):
        """A cell of a phase wrk takes no part in: its result, or why there is none."""
        if g == "wrk":
            return "—"
        v = results.get(g)
        if not v:
            return "not run"
        if v.get("error") and not v.get("rows"):
            return f"failed: {v['error']}"
        return render(v)

    def idle_cell(v):
        return ", ".join(f"{per:.1f} KiB ({n:,})" for n, _, per in v["rows"]) or "—"

    def big_cell(v):
        keeps = v["rps"] is not None and v["rps"] >= 0.9 * v["offered"] * (1 - 2.5 / BIG_DURATION)
        return (f"{'keeps up' if keeps else 'falls behind'}: {fmt(v['rps'], '{:,.0f}')} req/s, "
                f"{v['cpu']:.1f} % of a core, {v['rss_mb']:.0f} MiB, p99 {fmt(v['p99'], '{:.0f}')} ms")

    w(f"| generator | CPU per request ÷ wrk's, GET | ÷ wrk-with-the-body's, POST | idle memory per user (1–3 s waits) "
      f"| {BIG_USERS:,} users, ~{BIG_USERS // 2:,} req/s offered |")
    w("|---|---|---|---|---|")
    for g in ("wrk", "skein", "goose", "locust"):
        if g not in GENERATORS:
            continue
        w(f"| {names[g]} | {ratio_cell(g, 'get')} | {ratio_cell(g, 'post')} | {phase_cell(g, idle, idle_cell)} | "
          f"{phase_cell(g, big, big_cell)} |")
    w("")
    w("Ratios are medians of the per-round paired ratios (each generator's CPU per request over wrk's in the same "
      "round), with their range. Idle memory: (peak RSS with N users − with 1) / (N − 1).")
    w("")
    w("## Targets")
    w("")
    for mode in MODES:
        pr = [x for x in paired(thr, "skein", mode) if x is not None]
        m = statistics.median(pr) if pr else None
        w(f"- skein CPU per request ≤ {TARGET_RATIO}× wrk's, {mode.upper()}: "
          f"**{verdict(m is not None and m <= TARGET_RATIO) if m is not None else 'FAIL (not measured)'}** ({fmt(m)})")
    rows = (idle.get("skein") or {}).get("rows") or []
    worst = max((per for _, _, per in rows), default=None)
    w(f"- ≤ {TARGET_IDLE_KIB} KiB per idle user: "
      f"**{verdict(worst <= TARGET_IDLE_KIB) if worst is not None else 'FAIL (not measured)'}** ({fmt(worst, '{:.1f}')} KiB, worst count)")
    b = big.get("skein") or {}
    if "cpu" in b:
        ok = b["cpu"] <= TARGET_BIG_CPU and b["rss_mb"] <= TARGET_BIG_MB
        w(f"- {BIG_USERS:,} users: ≤ {TARGET_BIG_CPU:.0f} % of a core and ≤ {TARGET_BIG_MB} MB: **{verdict(ok)}** "
          f"({b['cpu']:.1f} %, {b['rss_mb']:.0f} MiB)")
    elif "skein" not in BIG_GENERATORS:
        w(f"- {BIG_USERS:,} users: not run")
    else:
        w(f"- {BIG_USERS:,} users: **FAIL (not measured: {b.get('error', 'not run')})**")
    if spawn is None:
        w("- spawning: not run")
    elif "error" in spawn:
        w(f"- spawning {SPAWN_USERS:,} users at -r {SPAWN_USERS:,}: **FAIL (not measured: {spawn['error']})**")
    else:
        w(f"- spawning {SPAWN_USERS:,} users at -r {SPAWN_USERS:,} in ≤ {TARGET_SPAWN_S} s: "
          f"**{verdict(spawn['seconds'] <= TARGET_SPAWN_S)}** ({spawn['seconds']:.2f} s)")
    w("")
    w("## Per round")
    w("")
    w("| round | mode | generator | requests | req/s | CPU ms | CPU ms / 1k req | ÷ wrk (paired) |")
    w("|---|---|---|---|---|---|---|---|")
    for mode in MODES:
        for rnd in range(ROUNDS):
            for g in GENERATORS:
                rs = thr.get((g, mode))
                if not rs or rnd >= len(rs):
                    continue
                e = rs[rnd]
                if "error" in e:
                    w(f"| {rnd + 1} | {mode} | {g} | — | — | — | failed: {e['error']} | — |")
                    continue
                pr = paired(thr, g, mode)
                p = pr[rnd] if rnd < len(pr) else None
                w(f"| {rnd + 1} | {mode} | {g} | {e['requests']} | {e['rps']:.0f} | {e['cpu_ms']:.0f} | "
                  f"{e['per_k']:.2f} | {fmt(p)} |")
    if idle:
        w("")
        w(f"## Idle memory (paced users, `GET /` every 1–3 s, {IDLE_DURATION}s, ramp ≤ {IDLE_RAMP_SECS}s)")
        w("")
        w("| generator | users | peak RSS (MiB) | KiB per user above 1 user |")
        w("|---|---|---|---|")
        for g, v in idle.items():
            if "base_kb" in v:
                w(f"| {g} | 1 | {v['base_kb'] / 1024:.1f} | — |")
            for n, kb, per in v["rows"]:
                w(f"| {g} | {n:,} | {kb / 1024:.1f} | {per:.1f} |")
            if v.get("error"):
                w(f"| {g} | — | — | failed: {v['error']} |")
    if master is not None:
        w("")
        w("## Master")
        w("")
        w(master)
    return "\n".join(L) + "\n"


def main():
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    tmp = tempfile.mkdtemp(prefix="skein-bench.")
    nginx = None
    try:
        nginx, port, version = start_nginx(tmp)
        host = f"http://127.0.0.1:{port}"
        post, post_err = (None, "skein not built")
        if "post" in MODES and not available("skein"):
            post, post_err = capture_post(tmp)
        thr = phase_throughput(host, tmp, post, post_err)
        idle = phase_idle(host, tmp)
        big = phase_big(host, tmp)
        spawn = phase_spawn(host, tmp)
        stop(nginx)
        master = phase_master(tmp)
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "?"
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit, "load": load,
                "nginx": version, "post_size": post["size"] if post else "—"}
        text = report(meta, thr, idle, big, spawn, master)
        os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
        out = os.path.join(ROOT, "reports", f"perf-{datetime.now(timezone.utc):%Y-%m-%d}.md")
        with open(out, "w") as f:
            f.write(text)
        with open(out[:-3] + ".json", "w") as f:
            json.dump({"throughput": {f"{g}/{m}": v for (g, m), v in thr.items()}, "idle": idle, "big": big,
                       "spawn": spawn}, f, indent=1)
        sys.stdout.write(text)
        log(f"report written to {out}")
    finally:
        if nginx is not None:
            stop(nginx)
        if KEEP_TMP:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
