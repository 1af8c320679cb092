# memvisor image: memvisord, memvisorctl and the reference bot (memvisor-bot) on Debian 12.
#   docker build -t memvisor .
# Used by docker-compose.yml (memvisord as a sidecar of the bot) and
# deploy/kubernetes-sidecar.yaml. memvisord works as PID 1: it reaps every child and
# forwards SIGTERM/SIGINT to the bots it started as a graceful stop.
# Small on purpose: a Release build, stripped binaries, and only the runtime libraries
# (deploy/e2e/run.sh reports the size it measures).

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libboost-dev prometheus-cpp-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libedit-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DCMAKE_BUILD_TYPE=Release -DMEMVISOR_BUILD_TESTS=OFF -DMEMVISOR_BUILD_BENCH=OFF \
 && cmake --build --preset release --target memvisord memvisorctl memvisor-bot \
 && install -D -s -m 0755 build/release/supervisor/memvisord/memvisord /out/usr/local/sbin/memvisord \
 && install -D -s -m 0755 build/release/supervisor/memvisorctl/memvisorctl /out/usr/local/bin/memvisorctl \
 && install -D -s -m 0755 build/release/bot/reference/memvisor-bot /out/usr/local/bin/memvisor-bot \
 && install -D -m 0644 deploy/compose/memvisord.yaml /out/etc/memvisor/memvisord.yaml

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaml-cpp0.7 libedit2 libprometheus-cpp-pull1.0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && useradd --uid 1000 --user-group --no-create-home --shell /usr/sbin/nologin bot \
 && install -d -o 1000 -g 1000 -m 0755 /run/memvisor /var/lib/memvisor
COPY --from=build /out/ /
USER 1000:1000
# The sidecar config: supervise the bot that connects as uid 1000, metrics on :9464
# (deploy/compose/memvisord.yaml; deploy/README.md). /run/memvisor and /var/lib/memvisor are
# owned by uid 1000 so that the volumes mounted there start out writable for it.
CMD ["memvisord", "--config", "/etc/memvisor/memvisord.yaml"]
