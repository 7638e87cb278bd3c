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
ENTRYPOINT ["/zoombroker"]
CMD ["serve"]
