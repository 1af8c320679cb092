#!/usr/bin/env bash
# Issue 9's long run: a real discord.js 14 bot, 3,000 messages/s through discord.js's own
# handlers, caches unlimited, under memvisord with the prod profile (384 MiB, kernel limit
# 480 MiB in the cgroup memvisord creates), for 10 minutes. Prints peak RSS, seconds above
# the limit (1 s samples from /proc), crashes, restarts, OOM kills, entries kept after each
# action, and memvisord's freed figures (its own samples) against the bot's.
#   bash bench/discord_long_run.sh [BUILD_DIR] [SECONDS] [RATE]
# Needs: a built memvisord, `npm ci` in bot/node (bash .ci/bootstrap does), a writable v1
# memory cgroup (else the bot runs without a kernel limit: said on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/ci}
seconds=${2:-600}
rate=${3:-3000}
memvisord="$build/supervisor/memvisord/memvisord"
[ -x "$memvisord" ] || { echo "no $memvisord: build it first (cmake --build $build --target memvisord)" >&2; exit 2; }
[ -f bot/node/node_modules/discord.js/package.json ] || { echo "discord.js missing: npm ci --prefix bot/node" >&2; exit 2; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
node bench/discord_scenario.js --memvisord "$memvisord" --seconds "$seconds" --rate "$rate" \
  --caches unlimited --json "${TMPDIR:-/tmp}/discord_long_run.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
