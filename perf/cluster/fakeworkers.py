#!/usr/bin/env python3
"""N fake Locust 2.47.0 workers in one process, for the master scale benchmark (perf/cluster/bench.py).

Each fake worker is a pyzmq DEALER whose identity and node_id are `fakehost{k % hosts}_{uuid hex}`, so the
master's dispatcher sees several hosts and interleaves them. It speaks the worker side of the protocol
(SPEC §1): client_ready "2.47.0" every 5 s until ack, a heartbeat every 1 s, spawning + spawning_complete
for every spawn (absolute counts, no users really run), a stats report every 3 s from process start
(SPEC §2.6: ~20 entries with int-keyed histograms and per-second maps while running, an empty report while
ready), stop -> client_stopped + client_ready, quit -> final stats + quit, reconnect -> a new socket.

It must stay cheaper than the master it loads, so nothing is encoded per message: a message is
`0x93 + packed type + packed data + packed node_id` (msgpack of a 3-tuple), the node_id part is packed once
per worker, the heartbeat data once per state, and the stats data once per second for a few report
variants shared by all workers (only each worker's user_classes_count/user_count tail is its own).
Heartbeats and reports are spread evenly over the second and over 3 s, from one heap and one epoll loop.

Runs from the Locust venv (pyzmq and msgpack come with locust):
    .venv/bin/python perf/cluster/fakeworkers.py --port 5557 -n 100
"""
import argparse
import hashlib
import heapq
import json
import os
import random
import select
import signal
import sys
import time
import uuid

import msgpack
import zmq

VERSION = "2.47.0"
HEARTBEAT_INTERVAL = 1.0
REPORT_INTERVAL = 3.0
CONNECT_RETRY = 5.0  # Locust's CONNECT_TIMEOUT: client_ready again when no ack came
CONNECT_RETRY_COUNT = 60
MASTER_HEARTBEAT_TIMEOUT = 60.0
COALESCE = 0.005  # s

EV_HEARTBEAT, EV_REPORT, EV_READY_RETRY = 0, 1, 2


def pk(obj):
    return msgpack.packb(obj)


MSG_HEAD = {t: b"\x93" + pk(t) for t in (
    "client_ready", "heartbeat", "stats", "spawning", "spawning_complete", "client_stopped", "quit")}
NIL = pk(None)


def bucket(rt):
    """Locust's bucket_response_time (SPEC §2.2); Python's round is the reference's own."""
    if rt < 100:
        return round(rt)
    if rt < 1000:
        return int(round(rt, -1))
    if rt < 10000:
        return int(round(rt, -2))
    return int(round(rt, -3))


def empty_entry(name, method, start_time):
    # Key order is StatsEntry.serialize()'s (SPEC §2.1).
    return {"name": name, "method": method, "last_request_timestamp": None, "start_time": start_time,
            "num_requests": 0, "num_none_requests": 0, "num_failures": 0, "total_response_time": 0,
            "max_response_time": 0, "min_response_time": None, "total_content_length": 0,
            "response_times": {}, "num_reqs_per_sec": {}, "num_fail_per_sec": {}}


def request_names(count):
    """The classifier workload's request names first, then more pages up to `count` entries."""
    base = [("GET", "/api/v1/health"), ("GET", "/api/v1/model/info"), ("POST", "/api/v1/classify"),
            ("POST", "/api/v1/classify [invalid image]"), ("POST", "/api/v1/classify [missing file]"),
            ("POST", "/api/v1/classify [invalid top_k]"), ("POST", "/api/v1/classify [large image]")]
    names = base[:count]
    k = 0
    while len(names) < count:
        names.append(("GET", f"/api/v1/catalog/{k}"))
        k += 1
    return names


ERROR_TEXTS = ["HTTPError('500 Server Error: Internal Server Error for url: {name}')",
               "CatchResponseError('unexpected status 422')",
               "ConnectionResetError(104, 'Connection reset by peer')"]


def build_report(rng, names, now, users):
    """One realistic `stats` data map for REPORT_INTERVAL seconds of `users` users (SPEC §2.6), minus the
    user_classes_count and user_count keys, which each worker appends."""
    start = now - REPORT_INTERVAL
    total = empty_entry("Aggregated", "", start)
    stats, errors = [], {}
    seconds = [int(start) + i for i in range(int(now) - int(start) + 1)]
    # ~1 request per user per 1.5 s, spread over the entries with a skew like a weighted task set.
    budget = max(len(names), int(users * REPORT_INTERVAL / 1.5))
    weights = [1.0 / (1 + i) for i in range(len(names))]
    wsum = sum(weights)
    for (method, name), w in zip(names, weights):
        n = max(1, int(budget * w / wsum * rng.uniform(0.6, 1.4)))
        e = empty_entry(name, method, start)
        fail_p = 0.3 if "[" in name else 0.02
        for _ in range(n):
            rt = rng.lognormvariate(3.3, 0.8)  # median ~27 ms, a long tail into the seconds
            t = rng.uniform(start, now)
            sec = int(t)
            length = rng.randint(80, 2400)
            for x in (e, total):
                x["num_requests"] += 1
                x["num_reqs_per_sec"][sec] = x["num_reqs_per_sec"].get(sec, 0) + 1
                x["total_response_time"] += rt
                x["min_response_time"] = rt if x["min_response_time"] is None else min(x["min_response_time"], rt)
                x["max_response_time"] = max(x["max_response_time"], rt)
                b = bucket(rt)
                x["response_times"][b] = x["response_times"].get(b, 0) + 1
                x["total_content_length"] += length
                if x["last_request_timestamp"] is None or t > x["last_request_timestamp"]:
                    x["last_request_timestamp"] = t
            if rng.random() < fail_p:
                err = rng.choice(ERROR_TEXTS).format(name=name)
                for x in (e, total):
                    x["num_failures"] += 1
                    x["num_fail_per_sec"][sec] = x["num_fail_per_sec"].get(sec, 0) + 1
                key = hashlib.sha256(f"{method}.{name}.{err!r}".encode()).hexdigest()
                er = errors.setdefault(key, {"name": name, "method": method, "error": err, "occurrences": 0,
                                             "first_seen": t, "last_seen": t})
                er["occurrences"] += 1
                er["first_seen"] = min(er["first_seen"], t)
                er["last_seen"] = max(er["last_seen"], t)
        # Keep the per-second maps in second order, like a real worker that logs in time order.
        for x in (e, total):
            x["num_reqs_per_sec"] = {s: x["num_reqs_per_sec"][s] for s in seconds if s in x["num_reqs_per_sec"]}
            x["num_fail_per_sec"] = {s: x["num_fail_per_sec"][s] for s in seconds if s in x["num_fail_per_sec"]}
        stats.append(e)
    return {"stats": stats, "stats_total": total, "errors": errors}


def report_body(data):
    """`0x85` (a 5-key map) + the first three keys packed; the worker adds its own last two."""
    return b"\x85" + b"".join(pk(k) + pk(data[k]) for k in ("stats", "stats_total", "errors"))


def counts_tail(counts):
    return pk("user_classes_count") + pk(counts) + pk("user_count") + pk(sum(counts.values()))


class Worker:
    __slots__ = ("k", "node_id", "nid", "sock", "state", "acked", "index", "ready_tries", "counts", "tail",
                 "last_spawn_ts", "last_master_hb", "alive")

    def __init__(self, k, node_id):
        self.k = k
        self.node_id = node_id
        self.nid = pk(node_id)
        self.sock = None
        self.state = "ready"
        self.acked = False
        self.index = None
        self.ready_tries = 0
        self.counts = {}
        self.tail = counts_tail({})
        self.last_spawn_ts = None
        self.last_master_hb = None
        self.alive = True


class Swarm:
    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context(io_threads=args.io_threads)
        self.ctx.set(zmq.MAX_SOCKETS, args.workers + 64)
        # epoll on each socket's ZMQ_FD, not zmq.Poller: zmq_poll costs ~10 us per socket per call, so a
        # 1,000-socket poll at ~1,000 wake-ups a second would eat the whole core.
        self.epoll = select.epoll()
        self.by_fd = {}
        self.to_check = set()  # sockets sent on since the last drain (see drain_checked)
        self.sent = {}
        self.recv = {}
        self.dropped = 0
        self.bad_frames = 0
        self.lag_max = 0.0       # how late a scheduled heartbeat/report went out, worst since start
        self.lag_max_window = 0.0
        self.t0 = time.time()
        self.names = request_names(args.entries)
        self.rng = random.Random(args.seed)
        self.variants = []
        self.idle_body = b""
        self.refresh_reports(self.t0)
        self.hb_data = {s: pk({"state": s, "current_cpu_usage": args.cpu, "current_memory_usage": args.memory})
                        for s in ("ready", "spawning", "running", "stopped")}
        self.workers = [Worker(k, f"fakehost{k % args.hosts}_{uuid.uuid4().hex}") for k in range(args.workers)]
        self.heap = []
        self.stopping = False
        self.quit_reasons = {}
        self.alive_count = len(self.workers)
        for w in self.workers:
            self.open(w)

    # ---------------------------------------------------------------- sockets and sending
    def open(self, w):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, w.node_id.encode())
        s.setsockopt(zmq.TCP_KEEPALIVE, 1)
        s.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 30)
        s.setsockopt(zmq.LINGER, 2000)  # let the final stats and quit out on close
        s.connect(f"tcp://{self.args.host}:{self.args.port}")
        w.sock = s
        fd = s.getsockopt(zmq.FD)
        self.by_fd[fd] = w
        self.epoll.register(fd, select.EPOLLIN)

    def close(self, w):
        if w.sock is not None:
            fd = w.sock.getsockopt(zmq.FD)
            self.epoll.unregister(fd)
            del self.by_fd[fd]
            self.to_check.discard(w)
            w.sock.close()
            w.sock = None

    def send(self, w, mtype, data_bytes):
        try:
            w.sock.send(MSG_HEAD[mtype] + data_bytes + w.nid, zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            return
        self.to_check.add(w)
        self.sent[mtype] = self.sent.get(mtype, 0) + 1

    def send_report(self, w):
        body = self.variants[w.k % len(self.variants)] if w.state in ("spawning", "running") else self.idle_body
        self.send(w, "stats", body + w.tail)

    def refresh_reports(self, now):
        users = self.args.report_users
        self.variants = [report_body(build_report(self.rng, self.names, now, users))
                         for _ in range(self.args.variants)]
        self.idle_body = report_body({"stats": [], "stats_total": empty_entry("Aggregated", "", now),
                                      "errors": {}})
        self.refreshed = now

    # ---------------------------------------------------------------- schedule
    def start(self):
        n = len(self.workers)
        now = time.time()
        for w in self.workers:
            self.send(w, "client_ready", pk(VERSION))
            w.ready_tries = 1
            phase = w.k / n
            heapq.heappush(self.heap, (now + phase * HEARTBEAT_INTERVAL, w.k, EV_HEARTBEAT))
            # The first report goes out right after connect (SPEC §2.6), then every 3 s.
            heapq.heappush(self.heap, (now + phase * HEARTBEAT_INTERVAL, w.k, EV_REPORT))
            heapq.heappush(self.heap, (now + CONNECT_RETRY, w.k, EV_READY_RETRY))

    def run_due(self, now):
        heap = self.heap
        while heap and heap[0][0] <= now:
            due, k, ev = heapq.heappop(heap)
            w = self.workers[k]
            if not w.alive:
                continue
            lag = now - due
            if lag > self.lag_max_window:
                self.lag_max_window = lag
            if ev == EV_HEARTBEAT:
                self.send(w, "heartbeat", self.hb_data[w.state])
                if w.last_master_hb is not None and now - w.last_master_hb > MASTER_HEARTBEAT_TIMEOUT:
                    self.quit_worker(w, "no heartbeat from master in over 60 s")
                    continue
                heapq.heappush(heap, (due + HEARTBEAT_INTERVAL, k, EV_HEARTBEAT))
            elif ev == EV_REPORT:
                self.send_report(w)
                heapq.heappush(heap, (due + REPORT_INTERVAL, k, EV_REPORT))
            elif ev == EV_READY_RETRY and not w.acked:
                if w.ready_tries >= CONNECT_RETRY_COUNT:
                    self.quit_worker(w, "no ack from master")
                    continue
                self.send(w, "client_ready", pk(VERSION))
                w.ready_tries += 1
                heapq.heappush(heap, (now + CONNECT_RETRY, k, EV_READY_RETRY))

    # ---------------------------------------------------------------- receiving
    def handle(self, w, raw, now):
        try:
            mtype, data, _nid = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception:  # a bad frame is counted, never fatal: this is a benchmark load source
            self.bad_frames += 1
            return
        self.recv[mtype] = self.recv.get(mtype, 0) + 1
        try:
            self.react(w, mtype, data, now)
        except (AttributeError, TypeError, ValueError, KeyError):  # a master sending odd shapes: count it
            self.bad_frames += 1

    def react(self, w, mtype, data, now):
        if mtype == "heartbeat":
            w.last_master_hb = now
        elif mtype == "ack":
            w.acked = True
            w.index = data.get("index") if isinstance(data, dict) else None
        elif mtype == "spawn":
            self.send(w, "spawning", NIL)
            ts = data.get("timestamp")
            if w.last_spawn_ts is not None and ts is not None and ts <= w.last_spawn_ts:
                return  # Locust discards a spawn with an older or equal timestamp, after `spawning`
            w.last_spawn_ts = ts
            w.counts = {str(c): int(n) for c, n in data.get("user_classes_count", {}).items()}
            w.tail = counts_tail(w.counts)
            w.state = "running"
            self.send(w, "spawning_complete", pk({"user_classes_count": w.counts,
                                                  "user_count": sum(w.counts.values())}))
        elif mtype == "stop":
            w.counts = {c: 0 for c in w.counts}
            w.tail = counts_tail(w.counts)
            w.state = "ready"
            w.acked = False
            w.last_spawn_ts = None
            self.send(w, "client_stopped", NIL)
            self.send(w, "client_ready", pk(VERSION))
            w.ready_tries = 1
            heapq.heappush(self.heap, (now + CONNECT_RETRY, w.k, EV_READY_RETRY))
        elif mtype == "quit":
            self.quit_worker(w, None)
        elif mtype == "reconnect":
            self.close(w)
            self.open(w)

    def quit_worker(self, w, reason):
        if not w.alive:
            return
        w.counts = {c: 0 for c in w.counts}
        w.tail = counts_tail(w.counts)
        w.state = "stopped"
        if w.sock is not None:
            self.send_report(w)
            self.send(w, "quit", NIL)
        w.alive = False
        self.alive_count -= 1
        self.close(w)
        if reason:
            self.quit_reasons[reason] = self.quit_reasons.get(reason, 0) + 1

    def drain(self, w):
        """Receive everything queued on w's socket. ZMQ_FD only signals an edge, so read until EAGAIN."""
        sock = w.sock
        while w.sock is sock and sock is not None:
            if not sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return
            try:
                raw = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.handle(w, raw, time.time())

    def drain_checked(self):
        # A send can take in the socket's pending commands, and with them the edge that would have woken
        # epoll for a message already queued: look at every socket sent on since the last time.
        while self.to_check:
            self.drain(self.to_check.pop())

    # ---------------------------------------------------------------- status
    def status(self, now):
        alive = [w for w in self.workers if w.alive]
        states = {}
        for w in alive:
            states[w.state] = states.get(w.state, 0) + 1
        self.lag_max = max(self.lag_max, self.lag_max_window)
        st = {"t": round(now - self.t0, 1), "workers": len(self.workers), "alive": len(alive),
              "registered": sum(1 for w in alive if w.acked), "states": states,
              "users": sum(sum(w.counts.values()) for w in alive),
              "sent": dict(sorted(self.sent.items())), "recv": dict(sorted(self.recv.items())),
              "dropped_sends": self.dropped, "bad_frames": self.bad_frames,
              "lag_ms_window": round(self.lag_max_window * 1000, 1), "lag_ms_max": round(self.lag_max * 1000, 1),
              "quit_reasons": dict(self.quit_reasons),
              "report_bytes": len(self.variants[0]) if self.variants else 0}
        self.lag_max_window = 0.0
        return st

    def print_status(self, now):
        st = self.status(now)
        line = (f"fakeworkers t={st['t']}s registered={st['registered']}/{st['workers']} alive={st['alive']} "
                f"states={st['states']} users={st['users']} sent={st['sent']} recv={st['recv']} "
                f"dropped={st['dropped_sends']} lag_ms={st['lag_ms_window']} (max {st['lag_ms_max']})")
        print(line, flush=True)
        if self.args.status_file:
            tmp = self.args.status_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, self.args.status_file)

    # ---------------------------------------------------------------- main loop
    def loop(self):
        args = self.args
        self.start()
        next_status = time.time()
        deadline = self.t0 + args.lifetime
        last_sweep = time.time()
        while True:
            now = time.time()
            if self.stopping or now >= deadline:
                for w in self.workers:
                    self.quit_worker(w, "lifetime over" if now >= deadline else "signal")
                break
            if self.alive_count == 0:
                break
            if now - self.refreshed >= 1.0:
                self.refresh_reports(now)
            self.run_due(now)
            if now >= next_status:
                self.print_status(now)
                next_status += args.status_interval
            # Run whatever falls due within the next few ms in one go: fewer wake-ups, same spread.
            wait = min(next_status, self.heap[0][0] if self.heap else now + 0.1, now + 0.1) - time.time() + COALESCE
            for fd, _ev in self.epoll.poll(max(0.0, wait)):
                w = self.by_fd.get(fd)
                if w is not None:
                    self.drain(w)
            self.drain_checked()
            if now - last_sweep >= 2.0:  # belt and braces for a missed edge
                last_sweep = now
                for w in self.workers:
                    if w.sock is not None:
                        self.drain(w)
        self.print_status(time.time())
        self.ctx.term()


def self_check():
    """The concatenated frames must decode to what msgpack.packb((type, data, node_id)) gives."""
    nid = "fakehost0_" + "0" * 32
    data = build_report(random.Random(1), request_names(20), 1_800_000_000.5, 10)
    body = report_body(data) + counts_tail({"A": 3, "B": 7})
    frame = MSG_HEAD["stats"] + body + pk(nid)
    full = dict(data, user_classes_count={"A": 3, "B": 7}, user_count=10)
    assert frame == msgpack.packb(("stats", full, nid)), "stats frame differs from msgpack's own encoding"
    decoded = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    assert all(isinstance(k, int) for e in decoded[1]["stats"] for k in e["response_times"])
    assert MSG_HEAD["heartbeat"] + NIL + pk(nid) == msgpack.packb(("heartbeat", None, nid))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="master host")
    p.add_argument("--port", type=int, default=5557, help="master port")
    p.add_argument("-n", "--workers", type=int, default=100)
    p.add_argument("--hosts", type=int, default=10, help="distinct host parts in the node ids")
    p.add_argument("--entries", type=int, default=20, help="stats entries per report while running")
    p.add_argument("--report-users", type=int, default=10, help="users one report pretends to have run")
    p.add_argument("--variants", type=int, default=8, help="distinct reports, rebuilt every second")
    p.add_argument("--cpu", type=float, default=3.5, help="current_cpu_usage in heartbeats")
    p.add_argument("--memory", type=int, default=52_428_800, help="current_memory_usage in heartbeats")
    p.add_argument("--lifetime", type=float, default=600.0, help="hard bound: quit all after this many s")
    p.add_argument("--status-interval", type=float, default=2.0)
    p.add_argument("--status-file", help="rewrite this JSON file with the status every interval")
    p.add_argument("--io-threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--self-check", action="store_true", help="check the frame encoding and exit")
    args = p.parse_args()
    self_check()
    if args.self_check:
        print("fakeworkers: self-check ok")
        return
    swarm = Swarm(args)

    def on_signal(_sig, _frm):
        swarm.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    swarm.loop()


if __name__ == "__main__":
    sys.exit(main())
