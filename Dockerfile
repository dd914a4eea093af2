# skein's image: `skein` (standalone, --master or --worker, by flags and LOCUST_* variables) and
# `skein-classifier` (the reference service), run as a non-root user with a HEALTHCHECK.
#
# From source (needs a registry for the Rust image), the default target:
#   docker build -t skein:latest .
# From binaries already built on this machine (no Rust image needed; what CI uses, with debug binaries):
#   cargo build --release --bins
#   docker build --target runtime-prebuilt --build-arg RUNTIME_IMAGE=skein-base:bookworm -t skein:latest .
#   (BIN_DIR=target/debug for a debug build; the binaries must be built against bookworm's glibc or older.)
# Where no registry can be reached, make the runtime base first: scripts/docker/make-base-image.sh
#
# Stage order matters to the classic builder (no BuildKit), which builds every stage before the
# target: the prebuilt target comes before the Rust stage, so it never needs the Rust image; and the
# from-source target builds the prebuilt stage too, so that stage must not fail without binaries.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUNTIME_IMAGE} AS runtime-base
# ca-certificates for TLS targets; the local base already has them, a public slim image gets them here.
RUN if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update && apt-get install -y --no-install-recommends ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid 10001 skein \
 && useradd --system --uid 10001 --gid skein --home-dir /home/skein --create-home --shell /usr/sbin/nologin skein \
 && mkdir -p /reports && chown skein:skein /reports
COPY scripts/docker/skein-probe /usr/local/bin/skein-probe
WORKDIR /home/skein
USER skein:skein
# 8089 the web UI, 5557 a master's worker port, 8000 skein-classifier (--bind 0.0.0.0:8000).
EXPOSE 8089 5557 8000
# What the probe checks: the web UI by default; SKEIN_HEALTHCHECK_URL for a classifier
# (http://127.0.0.1:8000/api/v1/health) or a headless master (tcp://127.0.0.1:5557).
ENV SKEIN_HEALTHCHECK_URL=http://127.0.0.1:8089/
HEALTHCHECK --interval=5s --timeout=6s --start-period=5s --retries=3 CMD ["skein-probe"]
ENTRYPOINT ["skein"]

FROM runtime-base AS runtime-prebuilt
ARG BIN_DIR=target/release
# Globs that match the exact names, plus one file that is always there: COPY accepts a glob matching
# nothing, so `--target runtime` passes through here with no binaries built (the names are checked
# at `docker run`: skein is the entrypoint).
COPY scripts/docker/skein-probe ${BIN_DIR}/skei[n] ${BIN_DIR}/skein-classifie[r] /usr/local/bin/

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
 && cp target/release/skein target/release/skein-classifier /usr/local/bin/

FROM runtime-base AS runtime
COPY --from=build /usr/local/bin/skein /usr/local/bin/skein-classifier /usr/local/bin/
