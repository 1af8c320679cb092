#!/bin/sh
# memvisord's idle memory: starts it with one idle bot (sleep) for a few seconds, then
# prints VmRSS, its anonymous and file-backed parts, PSS, and the resident KiB per mapping.
# Usage: bench/idle_rss.sh [path/to/memvisord] [runs]   (default build/release, 5 runs)
set -eu
bin=${1:-build/release/supervisor/memvisord/memvisord}
runs=${2:-5}
dir=$(mktemp -d "${TMPDIR:-/tmp}/memvisor-idle-rss.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cat >"$dir/cfg.yaml" <<EOC
daemon:
  bot_socket: $dir/bot.sock
  control_socket: $dir/ctl.sock
bots:
  - name: idle
    limit: 256MiB
    spawn: {command: [sleep, "600"]}
EOC
i=0
while [ "$i" -lt "$runs" ]; do
  "$bin" --config "$dir/cfg.yaml" >"$dir/log" 2>&1 &
  pid=$!
  sleep 3
  printf '%s %s %s %s\n' \
    "$(grep VmRSS /proc/$pid/status | tr -s ' \t' ' ')" \
    "$(grep RssAnon /proc/$pid/status | tr -s ' \t' ' ')" \
    "$(grep RssFile /proc/$pid/status | tr -s ' \t' ' ')" \
    "$(grep '^Pss:' /proc/$pid/smaps_rollup | tr -s ' ')"
  [ "$i" -eq 0 ] && awk '/^[0-9a-f]+-/{name=$6} /^Rss:/{rss[name]+=$2}
    END{for (n in rss) if (rss[n] >= 64) printf "  %6d kB %s\n", rss[n], n}' \
    /proc/$pid/smaps | sort -rn >"$dir/maps"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  i=$((i + 1))
done
echo "resident per mapping (first run):"
cat "$dir/maps"
