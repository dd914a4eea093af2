#!/usr/bin/env bash
# Makes a Rust build image without an image registry, for the Dockerfile's from-source build
# (`--build-arg RUST_IMAGE=skein-rust:local`): the local Debian base (make-base-image.sh) plus gcc,
# libc6-dev and pkg-config from Debian, plus this host's rustup toolchain (rustup cannot fetch another
# here), committed as an image. Idempotent: an existing image is kept (FORCE=1 remakes it).
#
#   scripts/docker/make-rust-image.sh [IMAGE]        # default skein-rust:local
#
# Environment: SKEIN_BASE_IMAGE (skein-base:bookworm), TOOLCHAIN (the host's default toolchain's
# directory, e.g. ~/.rustup/toolchains/stable-x86_64-unknown-linux-gnu), FORCE=1.
set -euo pipefail

image="${1:-skein-rust:local}"
base="${SKEIN_BASE_IMAGE:-skein-base:bookworm}"
here="$(cd "$(dirname "$0")" && pwd)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-rust-image: $image exists (FORCE=1 remakes it)"
  exit 0
fi
"$here/make-base-image.sh" "$base"

# The toolchain rustc runs from (a symlinked name such as 1.95.0-... resolves to the real directory).
toolchain="${TOOLCHAIN:-$(rustc --print sysroot)}"
toolchain="$(readlink -f "$toolchain")"
[ -x "$toolchain/bin/cargo" ] || { echo "make-rust-image: no cargo in $toolchain" >&2; exit 1; }

started=$(date +%s)
name="docker-rust-image-$$"
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
# The toolchain goes in as a plain directory, without its HTML docs (no rustup proxies inside the image:
# one toolchain only).
# The host's extra CA certificates (SKEIN_EXTRA_CA_DIR, default /usr/local/share/ca-certificates): where
# HTTPS leaves through an inspecting proxy, cargo in the image must trust the proxy's CA to reach
# crates.io, as the host does. They go into this build image only, not into skein's runtime image.
extra_ca="${SKEIN_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"
docker create --name "$name" "$base" bash -c \
  'update-ca-certificates >/dev/null && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev pkg-config \
   && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb' >/dev/null
tc_name="$(basename "$toolchain")"
tar -C "$(dirname "$toolchain")" --exclude="$tc_name/share/doc" --transform "s,^$tc_name,rust," -c "$tc_name" \
  | docker cp - "$name:/usr/local"
if compgen -G "$extra_ca/*.crt" >/dev/null; then
  tar -C "$extra_ca" -c --transform 's,^\.,ca-certificates,' . | docker cp - "$name:/usr/local/share"
fi
docker start -a "$name" >/dev/null
docker commit \
  --change 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  --change 'CMD ["/bin/bash"]' \
  --message "$base + gcc libc6-dev pkg-config + $(basename "$toolchain")" "$name" "$image" >/dev/null
docker run --rm "$image" cargo --version
echo "make-rust-image: $image made in $(( $(date +%s) - started ))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
