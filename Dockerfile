# Partner Portal: a small runtime image (Debian slim, a non-root user, /data as a volume, a
# health check on /readyz) built in two stages.
#
#   podman build -t partner-portal .        (or docker build)
#   podman run -p 8080:8080 -v portal-data:/data partner-portal
#
# compose.yaml runs PostgreSQL, two instances and Caddy in front. The runtime stage is built and
# started by the API tests (crates/server/tests/api/container.rs) with the binary and web app of
# the tested build put in as the `build` stage.

ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---------------------------------------------------------------- build
FROM ${RUST_IMAGE} AS build
# The C libraries the server links (xmlsec for SAML) and Node.js for the web app's build.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libxmlsec1-dev libxml2-dev libssl-dev libclang-dev pkg-config nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make web \
    && cargo build --release --locked -p portal-server --bin partner-portal \
    && mkdir -p /out \
    && cp target/release/partner-portal /out/partner-portal \
    && cp -r frontend/dist /out/web

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libxmlsec1 libxmlsec1-openssl libxml2 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin portal \
    && mkdir -p /data \
    && chown portal:portal /data
COPY --from=build /out/partner-portal /usr/local/bin/partner-portal
COPY --from=build /out/web /usr/share/partner-portal/web
ENV PORTAL_BIND=0.0.0.0:8080 \
    PORTAL_DATA_DIR=/data \
    PORTAL_WEB_DIR=/usr/share/partner-portal/web \
    PORTAL_LOG_FORMAT=json
USER portal
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["partner-portal", "ready"]
ENTRYPOINT ["partner-portal"]
CMD ["serve"]
