# Build: a release binary with migrations embedded (SQLite is bundled, no libpq needed).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: rebuilt only when the manifests change. The
# stubs stand in for the real targets (cargo refuses a manifest whose targets are missing).
COPY Cargo.toml Cargo.lock ./
# SQLX_OFFLINE: apalis-sqlite's checked queries must not look for a database while building.
COPY .cargo .cargo
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/request_path.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY src src
COPY migrations migrations
# The email templates and GraphiQL's files are compiled into the binary.
COPY templates templates
COPY assets assets
COPY benches benches
# COPY keeps the sources' old timestamps; without the touch cargo would keep the stub binary.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# Run: a slim image as an unprivileged user. The database servers' client tools are what
# `clinicgraph backup` and `restore` run (pg_dump/pg_restore 15, mariadb-dump/mariadb 10.11).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl postgresql-client \
       mariadb-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home clinicgraph \
    && mkdir -p /app/data && chown clinicgraph:clinicgraph /app/data
COPY --from=build /src/target/release/clinicgraph /usr/local/bin/clinicgraph
WORKDIR /app
USER clinicgraph
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["clinicgraph"]
CMD ["serve"]
