#!/usr/bin/env bash
# Container end-to-end test of the docker-compose deployment, run for real:
#   sudo bash deploy/e2e/run.sh            (about 10 minutes; the first run adds ~3 min of debootstrap)
# Needs root and Debian's docker.io, docker-compose and debootstrap (bash .ci/bootstrap
# installs them), the network to Debian's archive (apt inside `docker build`), cgroup v1
# or v2. It is not part of ctest: it takes minutes and a Docker engine of its own.
#
# What it does, all in a temp dir it removes at the end:
#  - starts its own dockerd (own data root, exec root, socket; no iptables, no default
#    bridge; cgroupfs driver with a cgroup parent under this shell's own memory cgroup);
#  - makes the base images locally (debootstrap a minimal bookworm, cached in
#    $MEMVISOR_E2E_CACHE, `docker import` as debian:12 and debian:12-slim), builds the real
#    Dockerfile and, in place of prom/prometheus, deploy/e2e/prometheus.Dockerfile
#    (Debian's prometheus); Grafana cannot run here, deploy/grafana is checked by ctest;
#  - brings the real docker-compose.yml up (with deploy/e2e/compose.e2e.yml) and checks:
#    the bot is supervised and kept under its limit (trim -> sweep -> compact, peak below
#    384 MiB, no OOM kill), memvisord sees the bot's cgroup, Prometheus scrapes the bot's
#    series, `kill -s KILL bot` and `stop`/`start bot` leave memvisord running and
#    re-attached, memvisord's own restarts leave the bot running and re-adopted with its
#    counters kept, and a kernel OOM kill of the bot is journalled and counted;
#  - tears everything down: containers, networks, volumes, images, the engine, its mounts
#    and its cgroups, and says so.
# Exit 0 when every check passed; the first failing check exits 1 with what it saw.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD

[ "$(id -u)" -eq 0 ] || { echo "e2e: needs root (it starts a Docker engine)" >&2; exit 2; }
for tool in dockerd docker-compose debootstrap containerd; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool not found (apt-get install docker.io docker-compose debootstrap)" >&2; exit 2; }
done
# Debian's docker client (the engine's own version) first: docker-compose exec runs `docker`
# from PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
docker=/usr/bin/docker

t0=$(date +%s)
say() { printf '[e2e %4ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }
pass() { say "ok: $*"; }

work=$(mktemp -d /var/tmp/memvisor-e2e.XXXXXX)
# MEMVISOR_E2E_DATA_ROOT=DIR keeps the engine's images (and build cache) in DIR between runs;
# containers, networks and volumes are still removed. Default: a data root in $work.
data_root=${MEMVISOR_E2E_DATA_ROOT:-$work/data}
name=$(basename "$work" | tr 'A-Z.' 'a-z-')
sock=$work/docker.sock
export DOCKER_HOST=unix://$sock
mycg=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
[ -n "$mycg" ] || mycg=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
cgparent=${mycg%/}/$name
project=$name
compose=(docker-compose -p "$project" -f "$src/docker-compose.yml" -f "$src/deploy/e2e/compose.e2e.yml")
dockerd_pid=""

teardown() {
  local rc=$?
  set +e
  say "teardown"
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    if [ "${rc}" -ne 0 ]; then
      say "memvisord's last journal lines:"
      "${compose[@]}" logs --no-color --tail 40 memvisord 2>&1 | sed 's/^/    /'
    fi
    "${compose[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1
    [ -n "${MEMVISOR_E2E_DATA_ROOT:-}" ] || $docker system prune --all --force --volumes >/dev/null 2>&1
    kill "$dockerd_pid"
    for _ in $(seq 1 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$dockerd_pid" 2>/dev/null && kill -9 "$dockerd_pid"
  fi
  # Whatever the engine left mounted under its roots, deepest first.
  awk -v w="$work" -v d="$data_root" 'index($2, w) == 1 || index($2, d) == 1 {print $2}' /proc/self/mounts \
    | sort -r | xargs -r -n1 umount -l
  local left=0
  for hier in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    local d=${hier%/}$cgparent
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] && { say "could not remove cgroup $d"; left=1; }
  done
  rm -rf "$work"
  local mounts
  mounts=$(awk -v w="$work" -v d="$data_root" 'index($2, w) == 1 || index($2, d) == 1' /proc/self/mounts | wc -l)
  say "teardown done: containers, networks, volumes, images and engine gone; mounts left: $mounts; cgroups left: $left; $work removed"
  exit "$rc"
}
trap teardown EXIT
trap 'exit 143' TERM INT

# ---- the engine ------------------------------------------------------------------------------
say "starting dockerd in $work (cgroup parent $cgparent)"
dockerd --data-root "$data_root" --exec-root "$work/exec" --host "unix://$sock" \
  --pidfile "$work/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$cgparent" \
  >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 1 100); do $docker version >/dev/null 2>&1 && break; sleep 0.2; done
$docker version >/dev/null 2>&1 || { tail -20 "$work/dockerd.log"; fail "dockerd did not come up"; }
pass "dockerd $($docker version -f '{{.Server.Version}}') up, storage $($docker info -f '{{.Driver}}')"

# ---- base images, made locally -----------------------------------------------------------------
cache=${MEMVISOR_E2E_CACHE:-/var/tmp/memvisor-e2e-cache}
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
if [ ! -s "$cache/bookworm-minbase.tar" ]; then
  say "debootstrap --variant=minbase bookworm from $mirror (cached in $cache)"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" -cf "$cache/bookworm-minbase.tar.tmp" . && mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
  rm -rf "$work/rootfs"
fi
# Imported once per data root: a new import is a new image, and would void the build cache
# that MEMVISOR_E2E_DATA_ROOT keeps.
$docker image inspect debian:12 >/dev/null 2>&1 || $docker import "$cache/bookworm-minbase.tar" debian:12 >/dev/null
# debian:12-slim as Debian makes it: the same minbase without documentation, man pages,
# locales and apt's caches.
if ! $docker image inspect debian:12-slim >/dev/null 2>&1; then
  mkdir "$work/slim"
  tar -C "$work/slim" -xf "$cache/bookworm-minbase.tar"
  rm -rf "$work"/slim/usr/share/{doc,man,info,locale}/* "$work"/slim/var/cache/apt/* "$work"/slim/var/lib/apt/lists/*
  tar -C "$work/slim" -c . | $docker import - debian:12-slim >/dev/null
  rm -rf "$work/slim"
fi
pass "base images imported from a local debootstrap: debian:12 $(( $($docker image inspect -f '{{.Size}}' debian:12) / 1000000 )) MB, debian:12-slim $(( $($docker image inspect -f '{{.Size}}' debian:12-slim) / 1000000 )) MB"

# ---- images ------------------------------------------------------------------------------------
say "docker build memvisor:latest from the real Dockerfile"
b0=$(date +%s)
DOCKER_BUILDKIT=0 $docker build --network host -t memvisor:latest "$src" >"$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log"; fail "docker build"; }
size=$($docker image inspect -f '{{.Size}}' memvisor:latest)
base=$($docker image inspect -f '{{.Size}}' debian:12-slim)
pass "memvisor:latest built in $(( $(date +%s) - b0 )) s: $(( size / 1000000 )) MB, of which $(( (size - base) / 1000000 )) MB over debian:12-slim (runtime libraries and the stripped binaries)"
$docker run --rm memvisor:latest sh -c 'ls -l /usr/local/sbin/memvisord /usr/local/bin/memvisorctl /usr/local/bin/memvisor-bot' | sed 's/^/    /'
DOCKER_BUILDKIT=0 $docker build --network host -t memvisor-e2e/prometheus:local \
  -f "$src/deploy/e2e/prometheus.Dockerfile" "$src/deploy/e2e" >"$work/build-prom.log" 2>&1 \
  || { tail -30 "$work/build-prom.log"; fail "docker build prometheus"; }
pass "Prometheus stand-in built from Debian's prometheus package"

# ---- up ----------------------------------------------------------------------------------------
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PROMETHEUS_PORT=$prom_port GRAFANA_PORT=0
"${compose[@]}" config -q || fail "docker-compose config"
"${compose[@]}" up -d --no-build pidns bot memvisord prometheus >"$work/up.log" 2>&1 \
  || { cat "$work/up.log"; fail "docker-compose up"; }
pass "docker-compose up: pidns, bot, memvisord, prometheus (Prometheus on 127.0.0.1:$prom_port)"

cid() { "${compose[@]}" ps -q "$1"; }
inspect() { $docker inspect -f "$2" "$(cid "$1")"; }
ctl() { timeout 20 "${compose[@]}" exec -T memvisord memvisorctl "$@"; }
# A field of refbot in `memvisorctl status --json`, or "" while memvisord cannot answer.
status_field() {
  ctl status refbot --json 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
bots = d.get("bots", [d]) if isinstance(d, dict) else d
for b in bots:
    if b.get("name") == "refbot":
        v = b.get(sys.argv[1])
        print("" if v is None else v)
' "$1" || true
}
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
  local secs=$1 what=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within ${secs}s"
    sleep 1
  done
}
connected_to() {  # memvisord has refbot connected, with pid $1 if given
  [ "$(status_field connected)" = True ] || return 1
  [ -z "${1:-}" ] || [ "$(status_field pid)" = "$1" ]
}
promq() {  # promq EXPR: the instant query's result as "labels value" lines
  python3 - "$prom_port" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = "http://127.0.0.1:%s/api/v1/query?query=%s" % (sys.argv[1], urllib.parse.quote(sys.argv[2]))
try:
    d = json.load(urllib.request.urlopen(url, timeout=5))
except Exception as e:
    sys.exit(0)
for r in d["data"]["result"]:
    labels = ",".join("%s=%s" % kv for kv in sorted(r["metric"].items()))
    print(labels or "{}", r["value"][1])   # the value is always the last field
PY
}
bot_pid_in_ns() { status_field pid; }
# The whole log first: `grep -q` quitting early would SIGPIPE docker-compose and, with
# pipefail, fail the check although it matched.
journal_has() { local log; log=$("${compose[@]}" logs --no-color memvisord 2>/dev/null); grep -q -- "$1" <<<"$log"; }

wait_for 60 "refbot connected to memvisord" connected_to
botpid=$(bot_pid_in_ns)
pass "memvisord attached to refbot (pid $botpid in the shared PID namespace; host pid $(inspect bot '{{.State.Pid}}'))"
say "memvisord's detection line:"
"${compose[@]}" logs --no-color memvisord | grep 'kind=detection' | tail -1 | sed 's/^[^|]*| /    /'

# ---- the bot supervised and kept under its limit --------------------------------------------------
compacts() { promq 'sum(memvisor_actions_total{bot="refbot",action="compact",result="ok"})' | awk '{print $NF}'; }
has_compacted() { local v; v=$(compacts); [ -n "$v" ] && awk -v v="$v" 'BEGIN {exit !(v >= 2)}'; }
say "waiting for two trim -> sweep -> compact cycles (the bot grows ~7 MB/s)"
wait_for 420 "two compacts through Prometheus" has_compacted
hostcg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$(inspect bot '{{.State.Pid}}')/cgroup")
cgdir=/sys/fs/cgroup/memory$hostcg
hwm_kib=$("${compose[@]}" exec -T memvisord awk '/VmHWM/ {print $2}' "/proc/$botpid/status")
max_usage=$(cat "$cgdir/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
oom=$(awk '$1 == "oom_kill" {print $2}' "$cgdir/memory.oom_control" 2>/dev/null || echo 0)
say "bot: VmHWM $((hwm_kib / 1024)) MiB, cgroup max usage $((max_usage / 1048576)) MiB, oom_kill $oom"
ctl status | sed 's/^/    /'
[ "$hwm_kib" -lt $((384 * 1024)) ] || fail "peak RSS $((hwm_kib / 1024)) MiB is not under the 384 MiB limit"
[ "${oom:-0}" -eq 0 ] || fail "the kernel OOM-killed in the bot's cgroup"
for a in trim sweep compact; do
  journal_has "kind=action msg=\"$a freed" || fail "no successful $a journalled"
done
pass "bot kept under 384 MiB by trim -> sweep -> compact, 0 OOM kills"

# ---- metrics through Prometheus -----------------------------------------------------------------
say "Prometheus: memvisor_bot_memory_bytes{bot=\"refbot\"}"
promq 'memvisor_bot_memory_bytes{bot="refbot"}' | sed 's/^/    /'
promq 'memvisor_bot_memory_bytes{bot="refbot",figure="rss"}' | grep -q . || fail "no rss series through Prometheus"
promq 'memvisor_bot_memory_bytes{bot="refbot",figure="cgroup"}' | grep -q . \
  || fail "no cgroup series: memvisord does not see the bot's cgroup"
promq 'memvisor_bot_oom_kills_total{bot="refbot"}' | grep -q . || fail "memvisor_bot_oom_kills_total absent (must exist at 0)"
[ "$(promq 'memvisor_bot_limit_bytes{bot="refbot"}' | awk '{print $NF}')" = 402653184 ] || fail "limit series"
pass "Prometheus scrapes memvisord on the compose network: the bot's rss, cgroup, limit and counters"

# ---- the bot killed, stopped, started: memvisord stays --------------------------------------------
mv_started=$(inspect memvisord '{{.State.StartedAt}}')
mv_alive() {
  [ "$(inspect memvisord '{{.State.Running}}')" = true ] && [ "$(inspect memvisord '{{.State.StartedAt}}')" = "$mv_started" ]
}
bot_up_again() {  # Docker's restart policy, or we start it (docker kill counts as a manual stop)
  [ "$(inspect bot '{{.State.Running}}')" = true ] || "${compose[@]}" start bot >/dev/null 2>&1
  local p; p=$(status_field pid)
  [ "$(status_field connected)" = True ] && [ -n "$p" ] && [ "$p" != "$botpid" ]
}
say "docker-compose kill -s KILL bot"
"${compose[@]}" kill -s KILL bot >/dev/null 2>&1
sleep 2
mv_alive || fail "memvisord did not survive the bot's SIGKILL"
wait_for 60 "refbot back and re-attached after SIGKILL" bot_up_again
botpid=$(status_field pid)
mv_alive || fail "memvisord restarted"
pass "bot SIGKILLed: memvisord kept running (same container start) and re-attached to the new bot (pid $botpid)"

say "docker-compose stop bot; start bot"
"${compose[@]}" stop -t 10 bot >/dev/null 2>&1
sleep 2
mv_alive || fail "memvisord did not survive stop bot"
[ "$(status_field state)" != RUNNING ] || fail "memvisord still shows the stopped bot RUNNING"
"${compose[@]}" start bot >/dev/null 2>&1
wait_for 60 "refbot re-attached after stop/start" bot_up_again
botpid=$(status_field pid)
mv_alive || fail "memvisord restarted"
pass "bot stopped and started: memvisord kept running and re-attached (pid $botpid)"

# ---- memvisord restarted: the bot stays, is re-adopted, counters kept ------------------------------
bot_started=$(inspect bot '{{.State.StartedAt}}')
actions_before=$(promq 'sum(memvisor_actions_total{bot="refbot"})' | awk '{print $NF}')
say "docker-compose restart memvisord; then kill -s KILL memvisord (actions so far: $actions_before)"
for how in restart kill; do
  if [ $how = restart ]; then
    "${compose[@]}" restart -t 10 memvisord >/dev/null 2>&1
  else
    "${compose[@]}" kill -s KILL memvisord >/dev/null 2>&1
    sleep 1
    [ "$(inspect memvisord '{{.State.Running}}')" = true ] || "${compose[@]}" start memvisord >/dev/null 2>&1
  fi
  wait_for 60 "memvisord re-adopted refbot (pid $botpid) after $how" connected_to "$botpid"
  [ "$(inspect bot '{{.State.StartedAt}}')" = "$bot_started" ] || fail "the bot restarted with memvisord ($how)"
  [ "$(inspect bot '{{.State.Running}}')" = true ] || fail "the bot is down after memvisord's $how"
done
metrics_back() {
  local v; v=$(promq 'sum(memvisor_actions_total{bot="refbot"})' | awk '{print $NF}')
  [ -n "$v" ] && awk -v v="$v" -v b="$actions_before" 'BEGIN {exit !(v >= b)}'
}
wait_for 30 "memvisor_actions_total kept across memvisord's restarts (was $actions_before)" metrics_back
pass "memvisord restarted and SIGKILLed: the bot kept running (pid $botpid, same container start), re-adopted, actions_total $(promq 'sum(memvisor_actions_total{bot="refbot"})' | awk '{print $NF}') >= $actions_before"

# ---- a kernel OOM kill of the bot is journalled and counted ---------------------------------------
say "memvisorctl limit refbot 4GiB: memvisord stands back, the kernel's 480 MiB limit kills the bot"
ctl limit refbot 4GiB | sed 's/^/    /'
bot_oom_killed() { [ "$(inspect bot '{{.State.OOMKilled}}')" = true ] || [ "$(inspect bot '{{.RestartCount}}')" != 0 ]; }
wait_for 120 "the kernel OOM-kills the bot" bot_oom_killed
wait_for 30 "kind=oom_kill journalled" journal_has "kind=oom_kill"
"${compose[@]}" logs --no-color memvisord | grep 'kind=oom_kill' | tail -1 | sed 's/^[^|]*| /    /'
oom_counted() { local v; v=$(promq 'memvisor_bot_oom_kills_total{bot="refbot"}' | awk '{print $NF}'); [ -n "$v" ] && [ "${v%.*}" -ge 1 ]; }
wait_for 30 "memvisor_bot_oom_kills_total >= 1 through Prometheus" oom_counted
pass "the bot's OOM kill (Docker: OOMKilled=$(inspect bot '{{.State.OOMKilled}}')) journalled as kind=oom_kill and counted"
ctl limit refbot 384MiB >/dev/null
mv_alive_now=$(inspect memvisord '{{.State.Running}}')
[ "$mv_alive_now" = true ] || fail "memvisord down after the bot's OOM kill"

say "ALL CHECKS PASSED in $(( $(date +%s) - t0 )) s"
