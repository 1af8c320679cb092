#!/bin/sh
# Bounded run of one libFuzzer target for ctest (protocol, parsers, config loader): fresh
# copy of the seed corpus in a private temp dir, fails on any crash, sanitizer report, leak,
# timeout or RSS blow-up.
# Usage: run_fuzz.sh FUZZER SEED_DIR DICT|- SECONDS
set -eu
fuzzer=$1 seeds=$2 dict=$3 seconds=$4
if [ ! -x "$fuzzer" ]; then
  echo "fuzz: $fuzzer is missing: build the fuzz preset first (cmake --build --preset fuzz)" >&2
  exit 1
fi
if [ ! -d "$seeds" ]; then
  echo "fuzz: seed corpus $seeds is missing: build the fuzz preset first" >&2
  exit 1
fi
name=$(basename "$fuzzer")
dict_arg=""
[ "$dict" = "-" ] || dict_arg="-dict=$dict"
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
status=0
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=1024 -timeout=10 \
  $dict_arg -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" \
  >"$work/log" 2>&1 || status=$?
grep -E "INITED|DONE|^stat::|ERROR|invariant broken|SUMMARY" "$work/log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$work/log"
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -e "$a" ] || continue
    keep="${TMPDIR:-/tmp}/$name-$(basename "$a")"
    cp "$a" "$keep"
    echo "fuzz: reproducer kept at $keep (run: $fuzzer $keep)"
  done
  echo "fuzz: FAILED (exit $status)"
  exit 1
fi
echo "fuzz: no crash in ${seconds}s"
