#!/usr/bin/env bash
# The compose swarm for real: makes the base image (no registry needed), builds skein's image from the
# binaries `cargo test` built, brings docker-compose.performance.yml up with 3 workers and the reference
# service under a unique project, and checks:
#   1. the 3 workers register with the master (its /stats/requests);
#   2. a test started through the web API spreads its users over them; /metrics passes `promtool check
#      metrics` and counts the workers;
#   3. `docker kill` of one worker moves its users to the others within SWARM_MOVE_LIMIT_S (5) seconds;
#   4. the CSV in the mounted reports folder shows the requests;
#   5. the master recreated (`up -d --force-recreate skein-master`): the 2 live workers register with it;
#      then killed and recreated at another address: they re-register too;
#   6. the master recreated headless: the same 2 workers register, it writes its CSV and HTML and exits 0;
#   7. `docker compose down -v` leaves no container, network or volume of the project;
#   and that the monitoring profile (Prometheus, Grafana: their images cannot be pulled here) is valid.
# Also: scripts/run-locust-tests.sh's --help and missing-binary error.
#
# Without a Docker engine it skips (exit 0), or fails when CI is set. Every wait is bounded.
# Environment: BIN_DIR (target/debug), SWARM_MOVE_LIMIT_S (5), KEEP_IMAGE=1 keeps skein's image,
# SWARM_PROJECT_PREFIX (prepended to the compose project's name).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
started=$(date +%s)

say() { echo "swarm: $*"; }
fail() {
  echo "swarm: FAILED: $*" >&2
  exit 1
}

# --- the wrapper script's own checks (no Docker needed) ---------------------------------------------
wrapper=scripts/run-locust-tests.sh
"$wrapper" --help | grep -q -- '--workers N' || fail "$wrapper --help does not list --workers"
set +e
missing_out="$(SKEIN_BIN=/nonexistent/skein "$wrapper" --users 1 2>&1)"
missing_rc=$?
set -e
[ "$missing_rc" = 1 ] || fail "$wrapper with a missing binary exited $missing_rc, not 1"
grep -q "not built" <<<"$missing_out" || fail "$wrapper missing-binary message: $missing_out"
set +e
"$wrapper" --users 2>/dev/null
[ $? = 2 ] || fail "$wrapper --users without a value must exit 2"
set -e
say "run-locust-tests.sh: --help, missing binary (exit 1), bad option (exit 2) ok"

# --- Docker -----------------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then
    fail "no Docker engine (docker info fails); CI needs one for the compose swarm test"
  fi
  say "SKIPPED: no Docker engine (docker info fails); CI=1 makes this a failure"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  compose_bin=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_bin=(docker-compose)
else
  fail "neither 'docker compose' nor docker-compose is installed"
fi

bin_dir="${BIN_DIR:-target/debug}"
for b in skein skein-classifier; do
  [ -x "$bin_dir/$b" ] || fail "$bin_dir/$b is not built (cargo build --bins, or BIN_DIR=target/release)"
done

project="${SWARM_PROJECT_PREFIX:-}skeinswarm$$$(date +%s | tail -c 5)"
image="skein:ci-$project"
reports="$(mktemp -d "${TMPDIR:-/tmp}/skein-swarm-reports.XXXXXX")"
# The containers run as uid 10001 (the image's user) and write here.
chmod 0777 "$reports"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
api="http://127.0.0.1:$port"

export COMPOSE_PROJECT_NAME="$project" SKEIN_IMAGE="$image" SKEIN_WEB_BIND=127.0.0.1 SKEIN_WEB_PORT="$port" \
  SKEIN_REPORTS_DIR="$reports" SKEIN_WORKERS=3 PROMETHEUS_PORT=0 GRAFANA_PORT=0
compose() { "${compose_bin[@]}" -f docker-compose.performance.yml "$@"; }

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    echo "swarm: --- logs (last 40 lines per service) ---" >&2
    compose logs --no-color --tail 40 >&2 2>/dev/null || true
  fi
  docker ps -aq --filter "name=${project}-ip-squat-" | xargs -r docker rm -f >/dev/null 2>&1 || true
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  [ "${KEEP_IMAGE:-0}" = 1 ] || docker image rm -f "$image" >/dev/null 2>&1 || true
  rm -rf "$reports"
  exit "$rc"
}
trap cleanup EXIT

# `wait_until SECONDS DESCRIPTION COMMAND...`: polls COMMAND every 0.25 s until it succeeds.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + limit))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 0.25
  done
}

stats() { curl -fsS --max-time 5 "$api/stats/requests" 2>/dev/null; }
# `stats_check PYTHON_EXPR`: the expression over the /stats/requests JSON (`s`) is true.
stats_check() {
  local body
  body="$(stats)" || return 1
  python3 -c 'import json, sys; s = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$body" "$1"
}

# --- the monitoring profile (validated, not run: its images cannot be pulled here) ------------------
services="$(compose --profile monitoring config --services)"
for s in target skein-master skein-worker prometheus grafana; do
  grep -qx "$s" <<<"$services" || fail "the monitoring profile's config lacks $s"
done
compose --profile monitoring config -q
say "compose config (default and --profile monitoring) ok"

# promtool: the system's, else Debian's prometheus package unpacked (promtool alone: the package would
# also install and start a Prometheus server and a dozen JavaScript packages for its UI).
promtool="$(command -v promtool || true)"
if [ -z "$promtool" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/skein/promtool"
  if [ ! -x "$cache/promtool" ]; then
    say "fetching promtool from Debian's prometheus package (apt-get download)"
    tmp="$(mktemp -d)"
    (cd "$tmp" && { apt-get download -q prometheus >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; }) \
      || fail "cannot download Debian's prometheus package for promtool"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    mkdir -p "$cache" && cp "$tmp/x/usr/bin/promtool" "$cache/promtool"
    rm -rf "$tmp"
  fi
  promtool="$cache/promtool"
fi
"$promtool" check config deploy/prometheus/prometheus.yml >/dev/null || fail "promtool rejects deploy/prometheus/prometheus.yml"

# --- images -----------------------------------------------------------------------------------------
t=$(date +%s)
scripts/docker/make-base-image.sh skein-base:bookworm
docker build -q --target runtime-prebuilt --build-arg RUNTIME_IMAGE=skein-base:bookworm \
  --build-arg BIN_DIR="$bin_dir" -t "$image" . >/dev/null
say "image $image built from $bin_dir in $(($(date +%s) - t))s (base image included)"

# --- 1. up: target, master, 3 workers ---------------------------------------------------------------
t=$(date +%s)
# `up` waits for the target's and the master's health checks (depends_on: service_healthy).
timeout 180 "${compose_bin[@]}" -f docker-compose.performance.yml up -d --scale skein-worker=3 >/dev/null 2>&1 \
  || fail "compose up (see the logs below)"
wait_until 60 "3 workers registered" stats_check 's["worker_count"] == 3 and len(s["workers"]) == 3'
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project" \
  --filter label=com.docker.compose.service=prometheus; docker ps -aq --filter "label=com.docker.compose.project=$project" \
  --filter label=com.docker.compose.service=grafana)" ] || fail "prometheus/grafana started without --profile monitoring"
say "up, 3 workers registered in $(($(date +%s) - t))s"

# --- 2. a test through the web API; /metrics ----------------------------------------------------------
curl -fsS --max-time 10 -X POST -d "user_count=6&spawn_rate=6&host=http://target:8000" "$api/swarm" \
  | grep -q '"success": true' || fail "POST /swarm"
wait_until 60 "6 users, 2 on each worker" \
  stats_check 's["user_count"] == 6 and sorted(w["user_count"] for w in s["workers"]) == [2, 2, 2]'
wait_until 30 "requests counted" stats_check 's["total_rps"] > 0 or any(e["num_requests"] > 0 for e in s["stats"])'
metrics="$(curl -fsS --max-time 10 "$api/metrics")" || fail "GET /metrics"
"$promtool" check metrics <<<"$metrics" || fail "promtool check metrics: problems above"
grep -qx 'skein_workers{state="running"} 3' <<<"$metrics" || fail "/metrics: not 3 running workers"
grep -q '^skein_requests_total{method="[A-Z]*",name="[^"]*"} [1-9]' <<<"$metrics" || fail "/metrics: no requests"
say "6 users on 3 workers; /metrics passes promtool ($(grep -vc '^#' <<<"$metrics") series)"

# --- 3. docker kill of one worker --------------------------------------------------------------------
victim="$(compose ps -q skein-worker | sed -n 1p)"  # sed reads it all: no SIGPIPE under pipefail
short="${victim:0:12}"
# A worker's id is <hostname>_<uuid>; a container's hostname is its short id.
stats_check "any(w['id'].startswith('$short') for w in s['workers'])" || fail "no worker id starts with $short"
t0=$(date +%s.%N)
docker kill "$victim" >/dev/null
moved() {
  stats_check "s['user_count'] == 6 and sum(w['user_count'] for w in s['workers'] if not w['id'].startswith('$short') and w['state'] != 'missing') == 6"
}
wait_until 30 "the killed worker's users on the other two" moved
elapsed="$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")"
limit="${SWARM_MOVE_LIMIT_S:-5}"
python3 -c "import sys; sys.exit(0 if $elapsed <= $limit else 1)" \
  || fail "the killed worker's users moved after ${elapsed}s (limit ${limit}s)"
say "docker kill: its users were on the other workers ${elapsed}s later"

# --- 4. the CSV in the mounted reports ---------------------------------------------------------------
curl -fsS --max-time 10 -X POST "$api/stop" | grep -q '"success": true' || fail "POST /stop"
csv_requests() {
  python3 - "$1" <<'EOF'
import csv, sys
try:
    rows = list(csv.DictReader(open(sys.argv[1])))
except OSError:
    sys.exit(1)
total = [r for r in rows if r["Name"] == "Aggregated"]
sys.exit(0 if total and int(total[0]["Request Count"]) > 0 and len(rows) >= 2 else 1)
EOF
}
# The CSV is rewritten every 2 s.
wait_until 20 "requests in reports/skein_stats.csv" csv_requests "$reports/skein_stats.csv"
say "reports/skein_stats.csv: $(python3 -c "import csv,sys; print([r['Request Count'] for r in csv.DictReader(open(sys.argv[1])) if r['Name'] == 'Aggregated'][0])" "$reports/skein_stats.csv") requests"

# --- 5. the master recreated: the 2 live workers register with the new one ----------------------------
# The stopping master tells them to quit (exit 0, as Locust); `restart: unless-stopped` restarts them and
# they resolve skein-master again. The killed worker stays down (docker kill is a manual stop).
t=$(date +%s)
old_master="$(compose ps -q skein-master)"
timeout 90 "${compose_bin[@]}" -f docker-compose.performance.yml up -d --no-deps --force-recreate skein-master \
  >/dev/null 2>&1 || fail "compose up --force-recreate skein-master"
[ "$(compose ps -q skein-master)" != "$old_master" ] || fail "skein-master was not recreated"
wait_until 60 "the 2 live workers registered with the recreated master" \
  stats_check 's["worker_count"] == 2 and len(s["workers"]) == 2'
say "master recreated: the 2 live workers registered with it $(($(date +%s) - t))s after the recreate began"

# The master killed (no quit sent) and recreated at another address (a container holds the old one):
# the workers notice the silence and re-register, resolving skein-master again on every attempt.
t=$(date +%s)
old_master="$(compose ps -q skein-master)"
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
old_ip="$(ip_of "$old_master")"
docker kill "$old_master" >/dev/null
# Docker hands out the lowest free address, which may be a killed worker's: take addresses until the
# old master's is held (bounded).
held=""
for i in 1 2 3 4 5; do
  docker run -d --rm --network "${project}_default" --name "${project}-ip-squat-$i" skein-base:bookworm sleep 60 \
    >/dev/null || fail "a container to hold the old master's address"
  [ "$(ip_of "${project}-ip-squat-$i")" != "$old_ip" ] || { held=1; break; }
done
[ -n "$held" ] || fail "could not hold the old master's address $old_ip"
timeout 90 "${compose_bin[@]}" -f docker-compose.performance.yml up -d --no-deps --force-recreate skein-master \
  >/dev/null 2>&1 || fail "compose up --force-recreate skein-master after docker kill"
new_ip="$(ip_of "$(compose ps -q skein-master)")"
[ "$new_ip" != "$old_ip" ] || fail "the recreated master kept the address $old_ip"
wait_until 60 "the 2 workers registered with the master recreated after docker kill" \
  stats_check 's["worker_count"] == 2 and len(s["workers"]) == 2'
docker ps -aq --filter "name=${project}-ip-squat-" | xargs -r docker rm -f >/dev/null 2>&1 || true
say "master killed, recreated at $new_ip (was $old_ip): the 2 workers re-registered $(($(date +%s) - t))s after the kill"

# --- 6. a headless run: the master recreated headless, the same 2 workers register with it -------------
# (Recreating the workers as well would race: the old ones, restarted, may register first and then be
# stopped mid-run.)
SKEIN_MASTER_ARGS="--headless -u 4 -r 4 -t 6s --expect-workers 2 --expect-workers-max-wait 60" \
  SKEIN_REPORT_NAME=headless SKEIN_MASTER_HEALTHCHECK=tcp://127.0.0.1:5557 \
  timeout 120 "${compose_bin[@]}" -f docker-compose.performance.yml up -d --no-deps --force-recreate skein-master \
  >/dev/null 2>&1 || fail "compose up of the headless master"
master="$(compose ps -q skein-master)"
code="$(timeout 120 docker wait "$master")" || fail "the headless master did not end within 120 s"
[ "$code" = 0 ] || fail "the headless master exited $code"
csv_requests "$reports/headless_stats.csv" || fail "no requests in reports/headless_stats.csv"
[ -s "$reports/headless.html" ] || fail "no reports/headless.html"
say "headless master with the 2 workers: exit 0, reports/headless_stats.csv and headless.html written"

# --- 7. down leaves nothing --------------------------------------------------------------------------
compose down -v --remove-orphans >/dev/null 2>&1 || fail "compose down"
label="label=com.docker.compose.project=$project"
left="$(docker ps -aq --filter "$label"; docker network ls -q --filter "$label"; docker volume ls -q --filter "$label")"
[ -z "$left" ] || fail "left behind after down -v: $left"
say "down -v: no containers, networks or volumes of $project left"
say "ok in $(($(date +%s) - started))s"
