#!/usr/bin/env bash
# The service's performance-test wrapper, on skein: runs `skein bench`.
#
#   ./scripts/run-performance-tests.sh                      # the comprehensive benchmark
#   ./scripts/run-performance-tests.sh --test classification --duration 120 --rps 20
#
# Options: --test NAME, --duration SECONDS, --rps RATE; any other option (--url, --workers,
# --iterations, --output-dir, --pid, --check) is passed to `skein bench` as given.
# The binary: $SKEIN_BIN, else target/release/skein, else target/debug/skein.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: run-performance-tests.sh [--test NAME] [--duration SECONDS] [--rps RATE] [skein bench options]

Runs skein's benchmark suite (the service's performance tests). Without --test, runs the
comprehensive benchmark (every test, then a Markdown, JSON and HTML report in reports/).

  --test NAME          health, model_info, classification, stress, latency, memory, comprehensive
  --duration SECONDS   how long each rate-driven or stress test runs
  --rps RATE           iterations started per second (open model)
  -h, --help           this help

Other options (--url, --workers, --iterations, --output-dir, --pid, --check RULE) go to
`skein bench` unchanged; see `skein bench --help`. The skein binary is $SKEIN_BIN, else
target/release/skein, else target/debug/skein (build it with `cargo build --release`).
Exit codes are skein bench's: 0 passed, 1 could not run, 2 bad arguments, 3 a check failed.
USAGE
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
args=()
test_name="comprehensive"
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --test|--duration|--rps)
            if [ $# -lt 2 ]; then
                echo "run-performance-tests.sh: $1 needs a value" >&2
                exit 2
            fi
            [ "$1" = "--test" ] && test_name="$2"
            args+=("$1" "$2"); shift 2 ;;
        --test=*) test_name="${1#--test=}"; args+=("$1"); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
case " ${args[*]-} " in
    *" --test "*|*" --test="*) ;;
    *) args=(--test comprehensive "${args[@]+"${args[@]}"}") ;;
esac

bin="${SKEIN_BIN:-}"
if [ -n "$bin" ]; then
    if [ ! -x "$bin" ]; then
        echo "run-performance-tests.sh: SKEIN_BIN=$bin is not an executable file" >&2
        exit 1
    fi
else
    for candidate in "$root/target/release/skein" "$root/target/debug/skein"; do
        if [ -x "$candidate" ]; then
            bin="$candidate"
            break
        fi
    done
fi
if [ -z "$bin" ]; then
    echo "run-performance-tests.sh: skein is not built (no target/release/skein or target/debug/skein under $root)." >&2
    echo "Build it with: cargo build --release   (or point SKEIN_BIN at a skein binary)" >&2
    exit 1
fi

echo "Running the $test_name benchmark: $bin bench ${args[*]}"
exec "$bin" bench "${args[@]}"
