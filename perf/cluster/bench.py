#!/usr/bin/env python3
"""Master scale benchmark (issue 7 §6): how much CPU and memory a master spends on N workers.

For each worker count N (default 100, 500, 1000) it starts a master with `--headless -u N*10 -r N*10
--expect-workers N` on 127.0.0.1 and a free port, then perf/cluster/fakeworkers.py with N fake workers
against it, waits until all N are registered and running, lets it settle, and measures the master's CPU
(utime + stime from /proc/PID/stat over the window, as % of one core) and RSS (VmRSS, sampled every second).
Masters: real Locust 2.47.0 always, and skein's when SKEIN=/path/to/skein is given and `skein --help`
lists `--master`. Rounds interleave skein and Locust (skein, Locust, skein, Locust, ...) so a noisy
neighbour hurts both alike; the paired ratio is skein / Locust within one round, and the report gives
the medians. The master and the fake workers run on different CPUs (taskset). Results go to stdout as
markdown and to reports/cluster-<UTC time>.json and .md. See perf/cluster/README.md.

Only the standard library is needed; any python3 runs it. Every process it starts is bounded in time and
stopped by its own PID.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from proc import CLK_TCK, cpu_ticks, free_port, status_kb  # noqa: E402  (perf/proc.py)


def log(msg):
    print(f"[cluster-bench] {msg}", file=sys.stderr, flush=True)


def env(name, default):
    return os.environ.get(name, default)


def rss_kb(pid):
    return status_kb(pid, "VmRSS")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Proc:
    """A child we started; stopped by its PID only."""

    def __init__(self, argv, logpath):
        self.argv = argv
        self.logpath = logpath
        self.logf = open(logpath, "w")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  preexec_fn=raise_nofile)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, grace=15.0):
        """Signal, wait up to `grace` s, then SIGKILL. Returns the exit code."""
        if self.alive():
            try:
                self.p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"pid {self.pid} ({os.path.basename(self.argv[0])}) ignored signal {sig} for {grace}s: SIGKILL")
                self.p.kill()
                self.p.wait(5)
        self.logf.close()
        return self.p.returncode

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def tail(self, n=3):
        try:
            with open(self.logpath, errors="replace") as f:
                return " | ".join(line.strip() for line in f.readlines()[-n:])
        except OSError:
            return ""


def pinned(cpu, argv):
    return (["taskset", "-c", str(cpu)] + argv) if cpu != "" and shutil.which("taskset") else argv


def skein_supports_master(skein):
    if not skein:
        return "SKEIN not given"
    if not (os.path.isfile(skein) and os.access(skein, os.X_OK)):
        return f"no executable at {skein}"
    try:
        out = subprocess.run([skein, "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`skein --help` failed: {e}"
    # `--master` itself, not `--master-host`/`--master-port` (which a worker-only skein has too).
    if not re.search(r"--master(?![-\w])", out.stdout + out.stderr):
        return "`skein --help` does not list --master"
    return None


def master_argv(impl, args, n, port, run_time):
    common = ["--master", "--headless", "-u", str(n * args.users_per_worker), "-r", str(n * args.users_per_worker),
              "--expect-workers", str(n), "--expect-workers-max-wait", str(int(args.register_timeout(n))),
              "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "-t", f"{run_time}s",
              "-H", args.target_host]
    if impl == "locust":
        return [args.locust] + common + ["-f", os.path.join(HERE, "locustfile.py")]
    return [args.skein] + common


def one_run(impl, n, rnd, args, tmp):
    name = f"{impl}-n{n}-r{rnd}"
    port = free_port()
    run_time = int(args.register_timeout(n) + args.settle + args.window + 60)
    status_file = os.path.join(tmp, f"{name}.status.json")
    result = {"impl": impl, "workers": n, "round": rnd, "users": n * args.users_per_worker,
              "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    master = Proc(pinned(args.master_cpu, master_argv(impl, args, n, port, run_time)),
                  os.path.join(tmp, f"{name}.master.log"))
    result["master_pid"] = master.pid
    fakes = None
    try:
        # The master binds first; the fake workers would retry anyway, but a master that dies at start is
        # reported as such rather than as "workers never registered".
        time.sleep(1.0)
        if not master.alive():
            raise RuntimeError(f"master exited {master.p.returncode} at start: {master.tail()}")
        lifetime = run_time + 60
        fakes = Proc(pinned(args.harness_cpu, [args.python, os.path.join(HERE, "fakeworkers.py"), "--port", str(port),
                                               "-n", str(n), "--report-users", str(args.users_per_worker),
                                               "--status-file", status_file, "--status-interval", "1",
                                               "--lifetime", str(lifetime)]),
                     os.path.join(tmp, f"{name}.fakeworkers.log"))
        t_start = time.time()
        deadline = t_start + args.register_timeout(n) + 30
        st = None
        while True:
            st = read_json(status_file)
            running = (st or {}).get("states", {}).get("running", 0)
            if st and st["registered"] == n and running == n and st["users"] == n * args.users_per_worker:
                break
            if not master.alive():
                raise RuntimeError(f"master exited {master.p.returncode} before all workers ran: {master.tail()}")
            if not fakes.alive():
                raise RuntimeError(f"fakeworkers exited {fakes.p.returncode}: {fakes.tail()}")
            if time.time() > deadline:
                raise RuntimeError(f"not all running after {deadline - t_start:.0f}s: registered "
                                   f"{(st or {}).get('registered')}, states {(st or {}).get('states')}")
            time.sleep(0.25)
        result["seconds_to_running"] = round(time.time() - t_start, 1)
        log(f"{name}: {n} workers registered and running after {result['seconds_to_running']}s; "
            f"settling {args.settle}s, then measuring {args.window}s")
        time.sleep(args.settle)
        st0 = read_json(status_file)
        c0, f0, t0 = cpu_ticks(master.pid), cpu_ticks(fakes.pid), time.monotonic()
        rss, lags = [], []
        while time.monotonic() - t0 < args.window:
            time.sleep(min(1.0, max(0.0, args.window - (time.monotonic() - t0))))
            r = rss_kb(master.pid)
            if r is None:
                raise RuntimeError(f"master exited {master.p.poll()} during the window: {master.tail()}")
            rss.append(r)
            lags.append((read_json(status_file) or {}).get("lag_ms_window"))
        c1, f1, t1 = cpu_ticks(master.pid), cpu_ticks(fakes.pid), time.monotonic()
        st1 = read_json(status_file)
        if c0 is None or c1 is None:
            raise RuntimeError("master exited during the window")
        result["cpu_pct"] = round((c1 - c0) / CLK_TCK / (t1 - t0) * 100, 1)
        result["rss_mb"] = round(rss[-1] / 1024, 1)
        result["rss_peak_mb"] = round(max(rss) / 1024, 1)
        result["window_s"] = round(t1 - t0, 1)
        # The load source's own CPU: near 100 % it could not keep its schedule, and the master is under-loaded.
        result["fakeworkers_cpu_pct"] = round((f1 - f0) / CLK_TCK / (t1 - t0) * 100, 1) if f0 and f1 else None
        result["report_bytes"] = (st1 or {}).get("report_bytes")

        def delta(section, key):
            return (st1 or {}).get(section, {}).get(key, 0) - (st0 or {}).get(section, {}).get(key, 0)

        hb_sent = delta("sent", "heartbeat")
        result["heartbeats_sent"] = hb_sent
        result["heartbeat_replies_pct"] = round(100 * delta("recv", "heartbeat") / hb_sent, 1) if hb_sent else None
        result["reports_sent"] = delta("sent", "stats")
        # Worst lateness of a scheduled heartbeat or report inside the window (each status covers 1 s).
        result["fake_lag_ms_max"] = max((x for x in lags if x is not None), default=None)
        result["fake_dropped_sends"] = (st1 or {}).get("dropped_sends")
        result["workers_alive_end"] = (st1 or {}).get("alive")
        result["status"] = "ok"
        log(f"{name}: master CPU {result['cpu_pct']}% of one core, RSS {result['rss_mb']} MB "
            f"(peak {result['rss_peak_mb']}), heartbeat replies {result['heartbeat_replies_pct']}%")
    except RuntimeError as e:
        result["status"] = f"failed: {e}"
        log(f"{name}: {result['status']}")
    finally:
        code = master.stop(signal.SIGTERM, grace=20.0)
        result["master_exit"] = code
        if fakes is not None:
            # They quit when the master sends quit; a master that died leaves them to the signal.
            if fakes.wait(10) is None:
                fakes.stop(signal.SIGTERM, grace=10.0)
            else:
                fakes.stop()
            result["fakeworkers_final"] = fakes.tail(1)
        try:
            with open(master.logpath, errors="replace") as f:
                text = f.read()
            result["master_log_missing_lines"] = text.count("setting state to missing")
            result["master_log_tracebacks"] = text.count("Traceback")
        except OSError:
            pass
    return result


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec="{:.1f}"):
    return "—" if x is None else spec.format(x)


def report(results, args, skein_note, started):
    out = []
    out.append(f"# Master scale benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}")
    out.append("")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    out.append(f"commit {commit}; {os.cpu_count()} cores; load average at end "
               f"{' '.join(open('/proc/loadavg').read().split()[:3])}; master on CPU {args.master_cpu}, fake workers "
               f"on CPU {args.harness_cpu}; {args.users_per_worker} users per worker; {args.settle}s settle + "
               f"{args.window}s window; {args.rounds} round(s). skein: {skein_note or 'measured'}.")
    out.append("")
    out.append("| workers | master | CPU % of one core (median) | RSS MB (median) | peak RSS MB | heartbeat replies % | runs ok |")
    out.append("|---|---|---|---|---|---|---|")
    impls = [i for i in ("skein", "locust") if any(r["impl"] == i for r in results)]
    for n in args.sizes:
        for impl in impls:
            rs = [r for r in results if r["impl"] == impl and r["workers"] == n]
            ok = [r for r in rs if r["status"] == "ok"]
            if not ok:
                reason = rs[-1]["status"] if rs else "not run"
                out.append(f"| {n} | {impl} | — | — | — | — | 0 of {len(rs)}: {reason} |")
                continue
            out.append(f"| {n} | {impl} | {fmt(median(r['cpu_pct'] for r in ok))} | "
                       f"{fmt(median(r['rss_mb'] for r in ok))} | {fmt(max(r['rss_peak_mb'] for r in ok))} | "
                       f"{fmt(median(r['heartbeat_replies_pct'] for r in ok))} | {len(ok)} of {len(rs)} |")
    if "skein" in impls:
        out.append("")
        out.append("Paired ratios skein / Locust (same round, median over rounds; below 1 means skein uses less):")
        out.append("")
        out.append("| workers | CPU ratio | RSS ratio | pairs |")
        out.append("|---|---|---|---|")
        for n in args.sizes:
            cpu_r, rss_r = [], []
            for rnd in range(1, args.rounds + 1):
                pair = {r["impl"]: r for r in results if r["workers"] == n and r["round"] == rnd and r["status"] == "ok"}
                if "skein" in pair and "locust" in pair and pair["locust"]["cpu_pct"] > 0:
                    cpu_r.append(pair["skein"]["cpu_pct"] / pair["locust"]["cpu_pct"])
                    rss_r.append(pair["skein"]["rss_mb"] / pair["locust"]["rss_mb"])
            out.append(f"| {n} | {fmt(median(cpu_r), '{:.2f}')} | {fmt(median(rss_r), '{:.2f}')} | {len(cpu_r)} |")
    out.append("")
    out.append("Per run:")
    out.append("")
    out.append("| round | workers | master | CPU % | RSS MB | s to running | heartbeat replies % | fake workers' CPU % | fake-worker lag ms (max in window) | missing-worker log lines | status |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        out.append(f"| {r['round']} | {r['workers']} | {r['impl']} | {fmt(r.get('cpu_pct'))} | {fmt(r.get('rss_mb'))} | "
                   f"{fmt(r.get('seconds_to_running'))} | {fmt(r.get('heartbeat_replies_pct'))} | {fmt(r.get('fakeworkers_cpu_pct'))} | "
                   f"{fmt(r.get('fake_lag_ms_max'))} | {r.get('master_log_missing_lines', '—')} | {r['status']} |")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=env("SIZES", "100 500 1000"), help="worker counts [SIZES]")
    p.add_argument("--rounds", type=int, default=int(env("ROUNDS", "1")), help="interleaved rounds [ROUNDS]")
    p.add_argument("--window", type=float, default=float(env("WINDOW", "25")), help="measuring seconds [WINDOW]")
    p.add_argument("--settle", type=float, default=float(env("SETTLE", "5")),
                   help="seconds between all-running and the window [SETTLE]")
    p.add_argument("--users-per-worker", type=int, default=int(env("USERS_PER_WORKER", "10")))
    p.add_argument("--skein", default=env("SKEIN", ""), help="skein binary with --master [SKEIN]")
    p.add_argument("--locust", default=env("LOCUST", os.path.join(ROOT, ".venv/bin/locust")), help="[LOCUST]")
    p.add_argument("--python", default=env("VENV_PYTHON", os.path.join(ROOT, ".venv/bin/python")),
                   help="python with pyzmq and msgpack, for fakeworkers.py [VENV_PYTHON]")
    p.add_argument("--master-cpu", default=env("MASTER_CPU", "1"), help="'' disables pinning [MASTER_CPU]")
    p.add_argument("--harness-cpu", default=env("HARNESS_CPU", "0"), help="[HARNESS_CPU]")
    p.add_argument("--target-host", default=env("TARGET_HOST", "http://127.0.0.1:9"),
                   help="-H for the masters (nothing is requested from it) [TARGET_HOST]")
    p.add_argument("--only", default=env("ONLY", ""), help="'locust' or 'skein': measure one master only [ONLY]")
    p.add_argument("--keep-tmp", action="store_true", default=env("KEEP_TMP", "0") == "1")
    args = p.parse_args()
    args.sizes = [int(x) for x in args.sizes.split()]
    # Registration plus the master's own --expect-workers wait: Locust takes ~1 s per 100 workers here.
    args.register_timeout = lambda n: 30 + n * 0.06

    raise_nofile()
    skein_note = skein_supports_master(args.skein)
    impls = []
    if skein_note is None and args.only != "locust":
        impls.append("skein")
    elif skein_note:
        log(f"skein not measured: {skein_note}")
    if args.only != "skein":
        impls.append("locust")
    if args.only == "skein" and "skein" not in impls:
        log("ONLY=skein but skein cannot be measured")
        return 1
    for tool in (args.python, args.locust if "locust" in impls else args.python):
        if not os.access(tool, os.X_OK):
            log(f"not executable: {tool}")
            return 1

    # SIGTERM takes the same way out as Ctrl-C: each run's `finally` stops its master and fake workers.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="skein-cluster-bench.")
    results = []
    interrupted = False
    try:
        for rnd in range(1, args.rounds + 1):
            for n in args.sizes:
                for impl in impls:
                    log(f"round {rnd}: {impl} master, {n} workers")
                    results.append(one_run(impl, n, rnd, args, tmp))
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting what was measured")
    text = report(results, args, skein_note, started)
    print(text, end="")
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    base = os.path.join(ROOT, "reports", f"cluster-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"started": started, "args": {k: v for k, v in vars(args).items() if k != "register_timeout"},
                   "skein": skein_note or "measured", "cpus": os.cpu_count(), "results": results}, f, indent=2)
    with open(base + ".md", "w") as f:
        f.write(text)
    log(f"results written to {base}.json and .md")
    if args.keep_tmp:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
