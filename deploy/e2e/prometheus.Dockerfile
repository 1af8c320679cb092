# Stand-in for prom/prometheus where no registry can be reached: Debian's Prometheus with the
# upstream image's entrypoint, user and data directory, so docker-compose.yml's `command:`
# and volumes work unchanged. Used by deploy/e2e/compose.e2e.yml.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o nobody -g nogroup /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
