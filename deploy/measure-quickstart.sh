#!/usr/bin/env bash
# Reproduces the numbers in deploy/README.md: the quick start (memvisord + the reference bot
# in --bloat, prod profile) for DURATION seconds, then the same bot under the same kernel
# limit without memvisord until the kernel OOM-kills it. Needs root and a cgroup v1 memory
# controller (as on the project's machines). Run from the repository root after a build:
#   bash deploy/measure-quickstart.sh [BUILD_DIR=build/release] [DURATION=300]
set -euo pipefail
build=${1:-build/release}
duration=${2:-300}
memvisord=$build/supervisor/memvisord/memvisord
memvisorctl=$build/supervisor/memvisorctl/memvisorctl
bot=$build/bot/reference/memvisor-bot
out=$(mktemp -d /tmp/memvisor-measure-XXXXXX)
self=$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' /proc/self/cgroup | cut -d: -f3)
[ -n "$self" ] || { echo "no cgroup v1 memory controller" >&2; exit 1; }
echo "results in $out"

echo "== with memvisord (deploy/quickstart.yaml), ${duration}s"
# The quick start's config names the release build's bot: run the bot of BUILD_DIR instead.
sed "s#build/release/#$build/#g" deploy/quickstart.yaml >"$out/quickstart.yaml"
"$memvisord" --config "$out/quickstart.yaml" >"$out/with.out" 2>"$out/with.err" &
daemon=$!
# A failed step must not leave memvisord (and its bot) running: the next run's would find
# the quick start's sockets in use.
trap 'kill -INT "$daemon" 2>/dev/null || true' EXIT
sleep "$duration"
botpid=$(grep -o 'kind=spawn msg="started pid [0-9]*' "$out/with.err" | tail -1 | grep -o '[0-9]*$')
cg=$(grep -o 'cgroup=[^ ]*memvisor-refbot-[0-9a-f]*' "$out/with.err" | head -1 | cut -d= -f2)
grep VmHWM "/proc/$botpid/status"
echo "cgroup max_usage_in_bytes: $(cat "$cg/memory.max_usage_in_bytes")"
echo "cgroup failcnt: $(cat "$cg/memory.failcnt")"
grep oom_kill "$cg/memory.oom_control"
"$memvisorctl" --socket /tmp/memvisor/ctl.sock status || true
kill -INT "$daemon"
wait "$daemon" || true
trap - EXIT
grep 'kind=summary' "$out/with.err"

echo "== without memvisord, same bot and kernel limit (480 MiB)"
cg=/sys/fs/cgroup/memory$self/memvisor-measure-$$
mkdir "$cg"
echo $((480 * 1024 * 1024)) >"$cg/memory.limit_in_bytes"
start=$(date +%s.%N)
set +e
(echo 0 >"$cg/cgroup.procs"
 exec env CACHE_MESSAGES_LIMIT=50 CACHE_MEMBERS_LIMIT=100 SWEEP_MESSAGES_INTERVAL_SECONDS=300 \
   SWEEP_MESSAGES_LIFETIME_SECONDS=900 MEMORY_LOG_INTERVAL_SECONDS=120 \
   ENABLE_MEMORY_OPTIMIZER=false MEMORY_LIMIT_MB=384 \
   "$bot" --bloat --rate 3000 --progress-interval 30) >"$out/without.log" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
echo "exit status: $rc after $(echo "$end - $start" | bc) s"
echo "cgroup max_usage_in_bytes: $(cat "$cg/memory.max_usage_in_bytes")"
grep oom_kill "$cg/memory.oom_control"
rmdir "$cg"
