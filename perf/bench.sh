#!/usr/bin/env bash
# skein's load-generator benchmark (issue 11): installs what is missing (nginx, wrk, python3's venv,
# Locust 2.47.0 into perf/.venv), builds skein and the Goose baseline in release mode, then runs
# perf/bench.py, which measures wrk, skein, Goose and Locust side by side and prints the table.
# See perf/README.md for the knobs (environment variables) and what each figure means.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SKIP_BUILD=${SKIP_BUILD:-0}

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

ensure_packages() {
	local missing=()
	[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx)
	command -v wrk >/dev/null || missing+=(wrk)
	command -v python3 >/dev/null || missing+=(python3)
	python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
	command -v taskset >/dev/null || missing+=(util-linux)
	((${#missing[@]} == 0)) && return 0
	log "installing missing packages: ${missing[*]}"
	command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
	local sudo=""
	[[ $(id -u) == 0 ]] || sudo="sudo"
	$sudo apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# Locust: LOCUST_BIN if given, else the repository's CI venv (.venv), else perf/.venv, made here.
ensure_locust() {
	if [[ -n "${LOCUST_BIN:-}" ]]; then return 0; fi
	local v
	for v in "$ROOT/.venv" "$ROOT/perf/.venv"; do
		if [[ -x "$v/bin/locust" ]] && "$v/bin/locust" --version 2>/dev/null | grep -q ' 2\.47\.0'; then
			export LOCUST_BIN="$v/bin/locust"
			return 0
		fi
	done
	log "installing Locust 2.47.0 into perf/.venv"
	if python3 -m venv "$ROOT/perf/.venv" && "$ROOT/perf/.venv/bin/pip" install -q --disable-pip-version-check locust==2.47.0; then
		export LOCUST_BIN="$ROOT/perf/.venv/bin/locust"
	else
		log "warning: could not install Locust; its rows will say so"
	fi
}

build_all() {
	if [[ "$SKIP_BUILD" == 1 ]]; then
		log "SKIP_BUILD=1: using existing binaries"
		return 0
	fi
	log "building skein (cargo build --release)"
	(cd "$ROOT" && env -u CARGO_TARGET_DIR cargo build --release --bin skein) >&2 ||
		log "warning: skein's release build failed; its rows will say so"
	log "building goose-bench (release; several minutes on a fresh clone)"
	env -u CARGO_TARGET_DIR cargo build --release --manifest-path "$ROOT/perf/goose-bench/Cargo.toml" >&2 ||
		log "warning: goose-bench's release build failed; its rows will say so"
}

ensure_packages
ensure_locust
build_all
exec python3 "$ROOT/perf/bench.py"
