#!/usr/bin/env bash
# 8 real skein worker processes, 1,000 users each, on loopback against the reference classifier (issue 7 §6):
# throughput, the master's CPU and RSS, and every worker's CPU and RSS over a steady-state window.
# Needs a skein with --worker (and --master unless MASTER=locust). See perf/cluster/README.md.
#
# Environment overrides (defaults in brackets):
#   SKEIN [target/release/skein]  CLASSIFIER [target/release/skein-classifier]
#   MASTER [skein]       skein or locust (Locust 2.47.0's master with perf/cluster/locustfile.py)
#   LOCUST [.venv/bin/locust]
#   WORKERS [8]  USERS [8000]  RATE [800] (users/s; the ramp takes USERS/RATE s)
#   CLASSES [ImageClassifierUser]  the user classes, named on the master's command line ("" = all)
#   SETTLE [10]  seconds after "All users spawned" before the window;  WINDOW [30]  measuring seconds
#   CLASSIFIER_CPU [""]  pin the classifier (taskset -c) to keep it off the generators' core; "" = no pinning
#   KEEP_TMP [0]         1: keep the temp dir with every process's log and the master's CSVs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/perf/cluster"
SKEIN=${SKEIN:-"$ROOT/target/release/skein"}
CLASSIFIER=${CLASSIFIER:-"$ROOT/target/release/skein-classifier"}
MASTER=${MASTER:-skein}
LOCUST=${LOCUST:-"$ROOT/.venv/bin/locust"}
WORKERS=${WORKERS:-8}
USERS=${USERS:-8000}
RATE=${RATE:-800}
CLASSES=${CLASSES-ImageClassifierUser}
SETTLE=${SETTLE:-10}
WINDOW=${WINDOW:-30}
CLASSIFIER_CPU=${CLASSIFIER_CPU:-}
KEEP_TMP=${KEEP_TMP:-0}
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[workers8] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
# Exit 2: this machine's skein cannot run the benchmark yet (not a benchmark failure).
cannot() {
	log "cannot run: $*"
	exit 2
}

[[ -x "$SKEIN" ]] || cannot "no skein binary at $SKEIN (cargo build --release)"
[[ -x "$CLASSIFIER" ]] || cannot "no skein-classifier binary at $CLASSIFIER (cargo build --release)"
HELP=$("$SKEIN" --help 2>&1 || true)
# The options themselves, not --master-host/--master-port.
has_opt() { grep -Eq -- "$1([^-[:alnum:]_]|\$)" <<<"$HELP"; }
has_opt --worker || cannot "'$SKEIN --help' does not list --worker"
case "$MASTER" in
skein) has_opt --master || cannot "'$SKEIN --help' does not list --master (MASTER=locust uses Locust's)" ;;
locust) [[ -x "$LOCUST" ]] || cannot "no locust at $LOCUST" ;;
*) die "MASTER must be skein or locust, got '$MASTER'" ;;
esac
for v in WORKERS USERS RATE SETTLE WINDOW; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"; done
((WORKERS > 0 && RATE > 0)) || die "WORKERS and RATE must be positive"

TMP=$(mktemp -d /tmp/skein-workers8.XXXXXX)
PIDS=()             # every process this script started, stopped by PID on exit
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true; done
	for _ in $(seq 1 50); do
		local left=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
		((left)) || break
		sleep 0.2
	done
	for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true; done
	if [[ "$KEEP_TMP" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# cpu_ticks PID: utime + stime of the whole process (all threads); the comm field may hold spaces.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
counts_total() { curl -fsS --max-time 5 "http://127.0.0.1:$CPORT/_skein/counts" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'; }
pct() { awk -v a="$1" -v b="$2" -v t="$CLK_TCK" -v s="$3" 'BEGIN { printf "%.1f", (b - a) / t / s * 100 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------- classifier
CPORT=$(free_port)
pin=()
[[ -n "$CLASSIFIER_CPU" ]] && pin=(taskset -c "$CLASSIFIER_CPU")
"${pin[@]}" "$CLASSIFIER" --bind "127.0.0.1:$CPORT" >"$TMP/classifier.log" 2>&1 &
CLASSIFIER_PID=$!
PIDS+=("$CLASSIFIER_PID")
for _ in $(seq 1 100); do
	curl -fsS --max-time 1 "http://127.0.0.1:$CPORT/api/v1/health" >/dev/null 2>&1 && break
	kill -0 "$CLASSIFIER_PID" 2>/dev/null || die "classifier exited: $(tail -1 "$TMP/classifier.log")"
	sleep 0.1
done
curl -fsS --max-time 1 "http://127.0.0.1:$CPORT/api/v1/health" >/dev/null || die "classifier not answering on $CPORT"
log "classifier pid $CLASSIFIER_PID on 127.0.0.1:$CPORT"

# ---------------------------------------------------------------- master and workers
MPORT=$(free_port)
RAMP=$(((USERS + RATE - 1) / RATE))
RUN_TIME=$((RAMP + SETTLE + WINDOW + 60))
read -r -a CLASS_ARGS <<<"$CLASSES"
master_args=(--master --headless -u "$USERS" -r "$RATE" --expect-workers "$WORKERS" --expect-workers-max-wait 60
	--master-bind-host 127.0.0.1 --master-bind-port "$MPORT" -H "http://127.0.0.1:$CPORT" -t "${RUN_TIME}s"
	--csv "$TMP/run")
if [[ "$MASTER" == skein ]]; then
	"$SKEIN" "${master_args[@]}" "${CLASS_ARGS[@]}" >"$TMP/master.log" 2>&1 &
else
	"$LOCUST" "${master_args[@]}" -f "$HERE/locustfile.py" "${CLASS_ARGS[@]}" >"$TMP/master.log" 2>&1 &
fi
MASTER_PID=$!
PIDS+=("$MASTER_PID")
sleep 1
kill -0 "$MASTER_PID" 2>/dev/null || die "master exited at start: $(tail -2 "$TMP/master.log")"
log "$MASTER master pid $MASTER_PID on 127.0.0.1:$MPORT, -u $USERS -r $RATE, classes: ${CLASSES:-all}"

WORKER_PIDS=()
for i in $(seq 1 "$WORKERS"); do
	"$SKEIN" --worker --master-host 127.0.0.1 --master-port "$MPORT" >"$TMP/worker$i.log" 2>&1 &
	WORKER_PIDS+=($!)
	PIDS+=($!)
done
log "$WORKERS skein workers: pids ${WORKER_PIDS[*]}"

# The master's run_stats_history.csv gets a row every second whose "User Count" is the sum the workers report:
# wait for USERS there. The log line alone is not enough: when the workers' reports are late Locust logs
# "Spawning is complete and report waittime is expired" with users still starting.
users_now() { tail -n 1 "$TMP/run_stats_history.csv" 2>/dev/null | cut -d, -f2; }
SPAWNED='All users spawned|Spawning is complete'
limit=$((60 + RAMP + 30))
deadline=$((SECONDS + limit))
until [[ "$(users_now)" == "$USERS" ]]; do
	kill -0 "$MASTER_PID" 2>/dev/null || die "master exited before all users ran: $(tail -2 "$TMP/master.log")"
	for i in "${!WORKER_PIDS[@]}"; do
		kill -0 "${WORKER_PIDS[$i]}" 2>/dev/null ||
			die "worker $((i + 1)) (pid ${WORKER_PIDS[$i]}) exited: $(tail -2 "$TMP/worker$((i + 1)).log" 2>/dev/null)"
	done
	if ((SECONDS >= deadline)); then
		# A master without the history CSV: fall back on its log line.
		if [[ ! -e "$TMP/run_stats_history.csv" ]] && grep -Eq "$SPAWNED" "$TMP/master.log"; then
			log "warning: no run_stats_history.csv; going by the master's log line"
			break
		fi
		die "the workers did not report $USERS users within ${limit}s (last: '$(users_now)')"
	fi
	sleep 0.5
done
log "spawned: $(grep -Em1 "$SPAWNED" "$TMP/master.log" | sed 's/^.*locust.runners: //'); users reported: $(users_now)"
sleep "$SETTLE"

# ---------------------------------------------------------------- window
ALL=("$MASTER_PID" "${WORKER_PIDS[@]}" "$CLASSIFIER_PID")
declare -A C0 C1 RSS PEAK
for p in "${ALL[@]}"; do C0[$p]=$(cpu_ticks "$p"); PEAK[$p]=0; done
N0=$(counts_total) || die "cannot read the classifier's counts"
T0=$(date +%s.%N)
log "measuring ${WINDOW}s"
for _ in $(seq 1 "$WINDOW"); do
	sleep 1
	for p in "${ALL[@]}"; do
		r=$(rss_kb "$p")
		[[ -n "$r" ]] || die "pid $p exited during the window (see KEEP_TMP=1 logs)"
		((r > PEAK[$p])) && PEAK[$p]=$r
	done
done
for p in "${ALL[@]}"; do C1[$p]=$(cpu_ticks "$p"); RSS[$p]=$(rss_kb "$p"); done
N1=$(counts_total) || die "cannot read the classifier's counts"
T1=$(date +%s.%N)
ELAPSED=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
RPS=$(awk -v a="$N0" -v b="$N1" -v s="$ELAPSED" 'BEGIN { printf "%.0f", (b - a) / s }')

# ---------------------------------------------------------------- stop (headless quit: master tells the workers)
kill "$MASTER_PID" 2>/dev/null || true
for _ in $(seq 1 100); do
	left=0
	for p in "$MASTER_PID" "${WORKER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
	((left)) || break
	sleep 0.2
done
STRAGGLERS=()
for p in "$MASTER_PID" "${WORKER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && STRAGGLERS+=("$p"); done
((${#STRAGGLERS[@]} == 0)) || log "warning: still running 20 s after the master's SIGTERM: ${STRAGGLERS[*]} (killed on exit)"
AGG=$(awk -F, '$2 == "Aggregated" || $2 == "\"Aggregated\"" { gsub(/"/, ""); print $3 " " $4; exit }' "$TMP/run_stats.csv" 2>/dev/null || true)

# ---------------------------------------------------------------- report
row() { # name pid
	echo "| $1 | $2 | $(pct "${C0[$2]}" "${C1[$2]}" "$ELAPSED") | $(mb "${RSS[$2]}") | $(mb "${PEAK[$2]}") |"
}
report() {
	echo "# $WORKERS skein workers x $((USERS / WORKERS)) users, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) cores; load average at end" \
		"$(cut -d' ' -f1-3 /proc/loadavg); $MASTER master; $WORKERS workers; -u $USERS -r $RATE; classes ${CLASSES:-all};" \
		"${SETTLE}s settle after all users spawned, ${ELAPSED}s window."
	echo
	echo "Throughput (the classifier's own count over the window): **$RPS req/s** ($((N1 - N0)) requests)."
	if [[ -n "$AGG" ]]; then
		echo "Master's Aggregated row at the end: $(cut -d' ' -f1 <<<"$AGG") requests, $(cut -d' ' -f2 <<<"$AGG") failures."
	fi
	echo
	echo "| process | pid | CPU % of one core | RSS MB (end) | peak RSS MB |"
	echo "|---|---|---|---|---|"
	row "master ($MASTER)" "$MASTER_PID"
	local i=1
	for p in "${WORKER_PIDS[@]}"; do
		row "worker $i" "$p"
		i=$((i + 1))
	done
	row classifier "$CLASSIFIER_PID"
	local wsum
	wsum=$(for p in "${WORKER_PIDS[@]}"; do echo "${C0[$p]} ${C1[$p]}"; done |
		awk -v t="$CLK_TCK" -v s="$ELAPSED" '{ d += $2 - $1 } END { printf "%.1f", d / t / s * 100 }')
	echo
	echo "All workers together: $wsum % of one core; $(awk -v c="$wsum" -v r="$RPS" 'BEGIN { if (r > 0) printf "%.1f", c * 10000 / r; else printf "—" }') ms CPU per 1k requests."
}
mkdir -p "$ROOT/reports"
OUT="$ROOT/reports/workers8-$(date -u +%Y%m%dT%H%M%SZ).md"
report | tee "$OUT"
log "report written to $OUT"
