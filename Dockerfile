# hookflow: one image for every role (`serve`, `serve --api`, `serve --worker`, `migrate`).
# Builds with a plain `docker build .`.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /hookflow ./cmd/hookflow

# Debian slim rather than distroless: the health checks need curl, and outbound HTTPS to
# webhook endpoints needs the CA bundle.
FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hookflow
COPY --from=build /hookflow /usr/local/bin/hookflow
USER 10001:10001
# The default 127.0.0.1 would be unreachable from outside the container.
ENV HOOKFLOW_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
	CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/hookflow"]
CMD ["serve"]
