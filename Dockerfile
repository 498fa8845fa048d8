# Build: a release binary with migrations embedded (SQLite is bundled, no libpq needed).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

# Run: a slim image as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
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
