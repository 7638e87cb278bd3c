# syntax=docker/dockerfile:1

# Build a static binary. .ci/run checks that this target builds.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/zoombroker ./cmd/zoombroker \
 && mkdir /out/data

# distroless/static carries CA certificates and a nonroot user (UID 65532),
# and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zoombroker /zoombroker
# The volume starts owned by the nonroot user, so the broker can write it.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ZOOMBROKER_DATA_DIR=/data \
    ZOOMBROKER_LISTEN=0.0.0.0:8080
VOLUME /data
EXPOSE 8080
# The image has no shell or curl, so the binary checks itself: healthcheck
# sends GET /healthz to the listen address and exits 0 or 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/zoombroker", "healthcheck"]
# docker stop waits 10s by default; serve's shutdown grace is 30s, so stop
# with --time 35 (or set ZOOMBROKER_SHUTDOWN_GRACE below the wait).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/zoombroker"]
CMD ["serve"]
