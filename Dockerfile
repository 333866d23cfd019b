# syntax=docker/dockerfile:1
#
# The hub's container image: a static binary on distroless, running as the
# unprivileged user 65532 (nonroot).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t carrierhub/hub:dev .
#   docker run --rm -p 8080:8080 -v hub-data:/data carrierhub/hub:dev
#
# Base images are pinned to a release tag; release pipelines should add the
# digest as well (FROM image:tag@sha256:...). Distroless has no shell, so there
# is no HEALTHCHECK: on Kubernetes the chart in deploy/helm/hub probes
# GET /healthz (liveness) and GET /readyz (readiness) on port 8080; elsewhere
# point the orchestrator's HTTP check at the same paths.

# build compiles a static, stripped hub binary stamped with VERSION.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# The data directory is made here because the final stage has no shell; it is
# copied with the nonroot owner so the hub can create its store and key in it.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/hub ./cmd/hub \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="hub" \
      org.opencontainers.image.description="Carrier integration hub for a transportation management system" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/hub /hub
COPY --from=build --chown=65532:65532 /out/data /data
ENV HUB_DATA_DIR=/data HUB_LOG_FORMAT=json
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/hub"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
