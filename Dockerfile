# syntax=docker/dockerfile:1
#
# Build backup-creator from source:
#
#   docker build -t backup-creator .
#   docker run --rm --env-file .env backup-creator run --dest s3://my-bucket/sfmc
#   docker run --rm --env-file .env -v sfmc-backups:/home/nonroot/backups backup-creator run
#
# The release images are built by GoReleaser from the release binaries instead
# (Dockerfile.release). Never bake secrets into the image: pass them with
# --env-file or mount a secret file and set SFMC_CLIENT_SECRET_FILE.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/backup-creator .

# distroless/static: CA certificates and tzdata, no shell, user nonroot
# (65532) whose home is the working directory, so ./backups is writable.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/backup-creator /usr/local/bin/backup-creator
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["backup-creator"]
CMD ["--help"]
