# The one binary, every role: `docker build -t stellar-monitor:dev .`
# Build stage: the release binary (Lua is vendored; no system libraries beyond libc).
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
# The image's toolchain is the pinned one; the file would only make rustup fetch
# clippy and rustfmt, which a build does not need.
RUN rm -f rust-toolchain.toml \
 && cargo build --release --locked --bin stellar-monitor \
 && cp target/release/stellar-monitor /stellar-monitor

# Run stage: Debian slim with CA certificates (RPC endpoints, webhooks and SMTP over TLS),
# a non-root user, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 stellar \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin stellar \
 && mkdir -p /var/lib/stellar-monitor && chown 10001:10001 /var/lib/stellar-monitor
COPY --from=build /stellar-monitor /usr/local/bin/stellar-monitor
USER 10001:10001
# Roles listen on LISTEN_ADDR (the API; /healthz, /readyz and /metrics for every role).
# `serve` without DATABASE_URL keeps its SQLite database in DATA_DIR (a volume).
ENV LISTEN_ADDR=0.0.0.0:8080 LOG_FORMAT=json DATA_DIR=/var/lib/stellar-monitor
VOLUME ["/var/lib/stellar-monitor"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/stellar-monitor"]
CMD ["serve"]
