#!/usr/bin/env bash
# Makes a Prometheus image without an image registry, for the compose file's monitoring profile
# (PROMETHEUS_IMAGE=skein-prometheus:local): the local Debian base (make-base-image.sh) plus Debian's
# `prometheus` package, laid out as the official image (working directory and data in /prometheus, user
# nobody, the binary as entrypoint). Grafana is not packaged by Debian: there is no such script for it.
# Idempotent: an existing image is kept (FORCE=1 remakes it).
#
#   scripts/docker/make-prometheus-image.sh [IMAGE]     # default skein-prometheus:local
set -euo pipefail

image="${1:-skein-prometheus:local}"
base="${SKEIN_BASE_IMAGE:-skein-base:bookworm}"
here="$(cd "$(dirname "$0")" && pwd)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-prometheus-image: $image exists (FORCE=1 remakes it)"
  exit 0
fi
"$here/make-base-image.sh" "$base"

started=$(date +%s)
# No build context: the Dockerfile comes on stdin. --no-install-recommends leaves out the web UI's
# JavaScript packages; the HTTP API (what the checks use) and the scraping do not need them.
docker build -q -t "$image" - >/dev/null <<EOF
FROM $base
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
echo "make-prometheus-image: $image made in $(( $(date +%s) - started ))s ($(docker run --rm "$image" --version 2>&1 | head -n1))"
