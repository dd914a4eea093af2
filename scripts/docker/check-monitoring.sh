#!/usr/bin/env bash
# Opt-in (not in CI): runs the compose file's monitoring profile for real where no registry can be
# reached, and checks that Prometheus scrapes the master (its target `up`, a skein metric queryable).
# Prometheus comes from Debian's package (make-prometheus-image.sh); Grafana is not packaged by Debian,
# so its service is not started here (the CI swarm test validates its config only).
#
#   scripts/docker/check-monitoring.sh      # skein's image from BIN_DIR (target/debug) unless SKEIN_IMAGE exists
#
# Environment: SKEIN_IMAGE (skein:monitoring-check, built from BIN_DIR when absent), BIN_DIR,
# PROMETHEUS_IMAGE (skein-prometheus:local), KEEP=1 leaves the project up. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "monitoring: $*"; }
fail() {
  echo "monitoring: FAILED: $*" >&2
  exit 1
}

export SKEIN_IMAGE="${SKEIN_IMAGE:-skein:monitoring-check}"
export PROMETHEUS_IMAGE="${PROMETHEUS_IMAGE:-skein-prometheus:local}"
bin_dir="${BIN_DIR:-target/debug}"
scripts/docker/make-base-image.sh skein-base:bookworm
if ! docker image inspect "$SKEIN_IMAGE" >/dev/null 2>&1; then
  docker build -q --target runtime-prebuilt --build-arg RUNTIME_IMAGE=skein-base:bookworm \
    --build-arg BIN_DIR="$bin_dir" -t "$SKEIN_IMAGE" . >/dev/null
fi
scripts/docker/make-prometheus-image.sh "$PROMETHEUS_IMAGE"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
reports="$(mktemp -d "${TMPDIR:-/tmp}/skein-monitoring.XXXXXX")"
chmod 0777 "$reports"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-dockermonitoring$$}" SKEIN_WEB_BIND=127.0.0.1 \
  SKEIN_WEB_PORT="$(free_port)" PROMETHEUS_PORT="$(free_port)" GRAFANA_PORT=0 SKEIN_REPORTS_DIR="$reports" \
  SKEIN_WORKERS=1
compose() { docker-compose -f docker-compose.performance.yml --profile monitoring "$@"; }
cleanup() {
  local rc=$?
  [ "$rc" = 0 ] || compose logs --no-color --tail 30 prometheus skein-master >&2 2>/dev/null || true
  [ "${KEEP:-0}" = 1 ] || compose down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$reports"
  exit "$rc"
}
trap cleanup EXIT

t=$(date +%s)
timeout 180 docker-compose -f docker-compose.performance.yml --profile monitoring up -d skein-worker prometheus \
  >/dev/null 2>&1 || fail "compose up (target, master, 1 worker, prometheus)"
prom="http://127.0.0.1:$PROMETHEUS_PORT"
target_up() {
  curl -fsS --max-time 5 "$prom/api/v1/targets" 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if any(x["labels"]["job"] == "skein" and x["health"] == "up" for x in t) else 1)'
}
deadline=$(($(date +%s) + 90))
until target_up; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "Prometheus's skein target is not up within 90 s"
  sleep 1
done
workers="$(curl -fsS --max-time 5 "$prom/api/v1/query" --data-urlencode 'query=sum(skein_workers)' \
  | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')"
[ "$workers" != none ] || fail "Prometheus has no skein_workers series"
say "Prometheus ($(docker run --rm --entrypoint /usr/bin/prometheus "$PROMETHEUS_IMAGE" --version 2>&1 | head -n1 | cut -d' ' -f3)) scrapes skein-master:8089/metrics: target up, sum(skein_workers) = $workers, $(($(date +%s) - t))s after up"
