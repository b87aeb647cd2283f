# syntax=docker/dockerfile:1
#
# One image for every cardiowatch process: the four services (cw-ingest, cw-api,
# cw-alert-engine, cw-notifier) and the `cardiowatch` command (gateway simulator, demo,
# detect, token). The container's command picks which one runs; see docker-compose.yml.
#
# No secret is baked in: the bus key, JWT secret and store credentials come from the
# environment at run time (deploy/README.md), TLS certificates from a mounted volume.

########################################################################################
# build: the five release binaries
########################################################################################
FROM rust:1-bookworm AS build
WORKDIR /src
# Only what the build reads, so an edit to docs/, deploy/ or the tests does not rebuild
# the image: the workspace manifest and lock, every member's sources, and the files
# `include_bytes!` embeds (console assets sit in services/api; record 100 and the vitals
# record in the cardiowatch binary for `cardiowatch demo`).
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY services services
COPY cli cli
COPY tools tools
COPY testdata/mitdb/100.hea testdata/mitdb/100.dat testdata/mitdb/100.atr testdata/mitdb/
COPY testdata/vitals/s00001-2896-10-10-00-31n.hea testdata/vitals/3975656n.dat testdata/vitals/
# tests/ (the cw-e2e package) is a workspace member that is not built here: cargo needs
# its manifest to load the workspace and the lock, and a library target to find.
COPY tests/Cargo.toml tests/
RUN mkdir -p tests/src && touch tests/src/lib.rs
# Cache mounts keep the crates.io download and the target dir between builds; the
# binaries are copied out of the cache so the next stage can see them.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p cw-ingest -p cw-api -p cw-alert-engine -p cw-notifier -p cardiowatch --bins \
 && mkdir -p /out \
 && cp target/release/cw-ingest target/release/cw-api target/release/cw-alert-engine \
       target/release/cw-notifier target/release/cardiowatch /out/

########################################################################################
# runtime: debian slim and CA roots (Twilio, SES, TLS to the stores), and OpenSSL's
# libcrypto for the embedded store's SQLCipher (the build stage's image has its headers,
# libssl-dev; TLS itself is rustls); healthchecks run `cardiowatch health` (no HTTP
# client package needed)
########################################################################################
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cardiowatch \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/cardiowatch \
        --shell /usr/sbin/nologin cardiowatch \
 && mkdir -p /var/lib/cardiowatch/audit /etc/cardiowatch /usr/share/cardiowatch/testdata/mitdb \
 && chown cardiowatch:cardiowatch /var/lib/cardiowatch /var/lib/cardiowatch/audit

COPY --from=build /out/ /usr/local/bin/
# MIT-BIH record 100 for the gateway simulator, with the attribution its licence
# (ODC-By 1.0) requires of every copy.
COPY testdata/mitdb/100.hea testdata/mitdb/100.dat testdata/mitdb/100.atr \
     /usr/share/cardiowatch/testdata/mitdb/
COPY deploy/testdata-ATTRIBUTION.md /usr/share/cardiowatch/testdata/ATTRIBUTION.md

WORKDIR /var/lib/cardiowatch
USER 10001:10001
# No HEALTHCHECK here: one image runs four services on four ports (and one-shot
# commands), so each deployment declares its own probe per service — compose runs
# `cardiowatch health --ca … https://localhost:PORT/readyz` (readiness: stores and bus;
# docs/architecture.md, "Health"); Kubernetes probes /readyz and /healthz.
# ingest 8443, api 8444, alert-engine admin 9102, notifier admin 9103;
# bus: samples PUB 5550, alerts PUSH 5560, config PUB 5570.
EXPOSE 8443 8444 9102 9103 5550 5560 5570
CMD ["cardiowatch", "--help"]
