# latch: one static binary on a distroless base.
#   docker build -t latch .
#   docker run -p 8080:8080 -v latch-data:/data latch
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: modernc.org/sqlite is pure Go, so the binary needs no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/latch ./cmd/latch && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latch /latch
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV LATCH_ADDR=0.0.0.0:8080 \
    LATCH_DATABASE_URL=sqlite:/data/latch.db \
    LATCH_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
USER nonroot
HEALTHCHECK --interval=10s --timeout=3s CMD ["/latch", "healthcheck", "--ready"]
ENTRYPOINT ["/latch"]
CMD ["serve"]
