# Multi-stage build ending in a minimal image: one static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces hap's SRP dependency with vakt's copy (third_party/go-pkgs/VAKT.md).
COPY third_party ./third_party
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /vakt .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /vakt /vakt
VOLUME /data
ENTRYPOINT ["/vakt", "--data", "/data"]
