#!/usr/bin/env bash
# Opt-in (not in CI: see the README's "Run a swarm" for the numbers): builds skein's image from source
# with the Dockerfile's default path (`--target runtime`, cargo inside the Rust stage) where no registry
# can be reached, then checks the image: `skein --version`, a headless run against skein-classifier in
# another container on a private network, and both HEALTHCHECKs (the classifier's and a web UI's).
#
#   scripts/docker/build-from-source.sh [IMAGE]      # default skein:source
#
# The Rust image is made from this host's toolchain (make-rust-image.sh); crates come from crates.io
# during the build. With a registry, the same build is `docker build -t skein:latest .`.
# Environment: RUST_IMAGE (skein-rust:local), RUNTIME_IMAGE (skein-base:bookworm), SKIP_BUILD=1 (only
# check an image built before). Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."
image="${1:-skein:source}"
rust_image="${RUST_IMAGE:-skein-rust:local}"
runtime_image="${RUNTIME_IMAGE:-skein-base:bookworm}"
say() { echo "from-source: $*"; }
fail() {
  echo "from-source: FAILED: $*" >&2
  exit 1
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  scripts/docker/make-base-image.sh "$runtime_image"
  [ "$rust_image" != skein-rust:local ] || SKEIN_BASE_IMAGE="$runtime_image" scripts/docker/make-rust-image.sh "$rust_image"
  t=$(date +%s)
  docker build --build-arg RUST_IMAGE="$rust_image" --build-arg RUNTIME_IMAGE="$runtime_image" \
    --target runtime -t "$image" . >"${TMPDIR:-/tmp}/skein-from-source-build.log" 2>&1 \
    || { tail -n 30 "${TMPDIR:-/tmp}/skein-from-source-build.log" >&2; fail "docker build (log above)"; }
  say "built $image in $(($(date +%s) - t))s"
fi
say "$image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"

version="$(docker run --rm "$image" --version)" || fail "skein --version"
say "skein --version: $version"

suffix="$$"
net="skein-from-source-$suffix"
classifier="skein-from-source-classifier-$suffix"
web="skein-from-source-web-$suffix"
cleanup() {
  docker rm -f "$classifier" "$web" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker network create --internal "$net" >/dev/null

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]; }
wait_healthy() {
  local deadline=$(($(date +%s) + 60))
  until healthy "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$1 is not healthy within 60 s: $(docker inspect -f '{{json .State.Health}}' "$1")"
    sleep 1
  done
}

docker run -d --name "$classifier" --network "$net" --network-alias classifier \
  -e SKEIN_HEALTHCHECK_URL=http://127.0.0.1:8000/api/v1/health \
  --entrypoint skein-classifier "$image" --bind 0.0.0.0:8000 >/dev/null
wait_healthy "$classifier"
say "skein-classifier: HEALTHCHECK healthy"

set +e
out="$(timeout 120 docker run --rm --network "$net" "$image" --headless -u 2 -r 2 -t 5s \
  -H http://classifier:8000 ThroughputUser 2>&1)"
rc=$?
set -e
[ "$rc" = 0 ] || { echo "$out" >&2; fail "the headless run exited $rc"; }
# The last request-statistics table's total (its fails column reads like `0(0.00%)`).
requests="$(awk '$1 == "Aggregated" && $3 ~ /\(/ { n = $2 } END { print n }' <<<"$out")"
[ "${requests:-0}" -gt 0 ] 2>/dev/null || { echo "$out" >&2; fail "the headless run counted no requests"; }
say "headless run against the classifier container: exit 0, $requests requests"

docker run -d --name "$web" --network "$net" "$image" -H http://classifier:8000 >/dev/null
wait_healthy "$web"
say "web UI: HEALTHCHECK healthy"
