#!/usr/bin/env bash
# Makes a minimal Debian base image without an image registry: debootstrap (variant minbase) from the Debian
# mirror apt already uses, then `docker import`. Idempotent: an existing image is kept (FORCE=1 remakes it).
#
#   scripts/docker/make-base-image.sh [IMAGE]        # default skein-base:bookworm
#
# Environment: SUITE (bookworm), DEBIAN_MIRROR (default: the first .../debian URI in apt's sources), FORCE=1.
set -euo pipefail

image="${1:-${SKEIN_BASE_IMAGE:-skein-base:bookworm}}"
suite="${SUITE:-bookworm}"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base-image: $image exists (FORCE=1 remakes it)"
  exit 0
fi

# The mirror apt uses (deb822 .sources or one-line .list), so this works where only that mirror is reachable.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' \
    | tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
    | grep -E '/debian/?$' | head -n1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

if ! command -v debootstrap >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "make-base-image: debootstrap is not installed (apt-get install debootstrap, as root)" >&2
    exit 1
  fi
  echo "make-base-image: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }
fi

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/skein-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

started=$(date +%s)
echo "make-base-image: debootstrap --variant=minbase $suite from $mirror"
# ca-certificates: skein verifies TLS against the system store; the image needs no curl (health checks use
# bash's /dev/tcp).
debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"
# What an image does not need: the package cache, lists, docs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $suite $mirror" - "$image" >/dev/null
echo "make-base-image: $image made in $(( $(date +%s) - started ))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
