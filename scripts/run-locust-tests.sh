#!/usr/bin/env bash
# The performance suite's Locust runner, on skein: a thin wrapper that prints the skein command it runs.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/run-locust-tests.sh [options] [-- extra skein flags]

Runs skein (Locust-compatible) against the service: headless by default, with the web UI on
http://localhost:8089 with --web-ui. Results: reports/locust_stats.csv, locust_failures.csv,
locust_exceptions.csv, locust_stats_history.csv and reports/locust_stats.html.

Options:
  --web-ui            start the web UI instead of a headless run (--users/--spawn-rate/--run-time
                      become the form's defaults)
  --users N           peak number of users (default 10)
  --spawn-rate R      users started per second (default 2)
  --run-time T        stop after T, e.g. 300s, 5m (default 60s headless; none with --web-ui)
  --workers N         a master with N local worker processes (skein --processes N)
  --host URL          the service (default: $TARGET_HOST, else skein's embedded reference service)
  -h, --help          this text

Environment: SKEIN_BIN (default target/release/skein, else target/debug/skein), REPORTS_DIR (reports).
Exit codes: skein's own (0 ok, 1 failures were recorded or startup failed, 2 bad skein flags); 1 when
skein is not built; 2 for a bad option of this script.
EOF
}

bad() {
  echo "run-locust-tests.sh: $*" >&2
  echo "Try 'scripts/run-locust-tests.sh --help'." >&2
  exit 2
}

web_ui=0 users=10 spawn_rate=2 run_time="" workers="" host="${TARGET_HOST:-}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --web-ui) web_ui=1 ;;
    --users | --spawn-rate | --run-time | --workers | --host)
      [ $# -ge 2 ] && [ -n "$2" ] || bad "$1 needs a value"
      case "$1" in
        --users) users="$2" ;;
        --spawn-rate) spawn_rate="$2" ;;
        --run-time) run_time="$2" ;;
        --workers) workers="$2" ;;
        --host) host="$2" ;;
      esac
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    --)
      shift
      extra=("$@")
      break
      ;;
    *) bad "unknown option $1" ;;
  esac
  shift
done

root="$(cd "$(dirname "$0")/.." && pwd)"
skein="${SKEIN_BIN:-}"
if [ -z "$skein" ]; then
  for candidate in "$root/target/release/skein" "$root/target/debug/skein"; do
    if [ -x "$candidate" ]; then
      skein="$candidate"
      break
    fi
  done
fi
if [ -z "$skein" ] || [ ! -x "$skein" ]; then
  echo "run-locust-tests.sh: skein is not built: looked for ${SKEIN_BIN:-$root/target/release/skein and $root/target/debug/skein}" >&2
  echo "Build it with: cargo build --release   (or set SKEIN_BIN to a skein binary)" >&2
  exit 1
fi

reports="${REPORTS_DIR:-reports}"
cmd=("$skein" -u "$users" -r "$spawn_rate" --csv "$reports/locust" --html "$reports/locust_stats.html")
if [ "$web_ui" = 1 ]; then
  [ -z "$run_time" ] || cmd+=(-t "$run_time")
else
  cmd+=(--headless -t "${run_time:-60s}")
fi
[ -z "$host" ] || cmd+=(-H "$host")
[ -z "$workers" ] || cmd+=(--processes "$workers")
cmd+=("${extra[@]}")

printf '+' >&2
printf ' %q' "${cmd[@]}" >&2
printf '\n' >&2
exec "${cmd[@]}"
