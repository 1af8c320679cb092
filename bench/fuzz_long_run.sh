#!/bin/sh
# A longer libFuzzer run of every target than ctest's (30 s / 15 s), for the numbers that go
# in a note: executions, edges covered (cov), features (ft), corpus kept, and whether anything
# crashed. Each target starts from a fresh copy of its seed corpus, one after the other on one
# core, with the same limits as tests/proto/run_fuzz.sh.
# Usage: bench/fuzz_long_run.sh FUZZ_BUILD_DIR SECONDS_PER_TARGET   (FUZZ_BUILD_DIR: build/fuzz)
set -eu
root=$1 seconds=$2
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/memvisor-fuzz-long.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
printf '%-24s %8s %12s %10s %7s %7s %8s %s\n' target seconds execs execs/s cov ft corpus result
for spec in "proto/fuzz/memvisor_proto_fuzz:$src/proto/fuzz/memvisor_proto.dict" \
            "supervisor/sampling/fuzz/memvisor_sampling_fuzz:-" \
            "supervisor/config/fuzz/memvisor_config_fuzz:-"; do
  bin=$root/${spec%%:*} dict=${spec#*:}
  name=$(basename "$bin")
  [ -x "$bin" ] || { echo "fuzz_long_run: $bin is missing: build the fuzz preset first" >&2; exit 1; }
  mkdir "$work/$name"
  cp "$(dirname "$bin")"/seed_corpus/* "$work/$name/"
  seeds=$(ls "$work/$name" | wc -l)
  dict_arg=""
  [ "$dict" = "-" ] || dict_arg="-dict=$dict"
  status=0
  "$bin" -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=1024 -timeout=10 $dict_arg \
    -artifact_prefix="$work/$name-" -print_final_stats=1 "$work/$name" >"$work/$name.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$name.log")
  last=$(grep -E '^#[0-9]+' "$work/$name.log" | tail -n 1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corpus=$(ls "$work/$name" | wc -l)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status)"; failed=1
    tail -n 40 "$work/$name.log"
    for a in "$work/$name"-*; do [ -e "$a" ] && cp "$a" "${TMPDIR:-/tmp}/" && echo "reproducer: ${TMPDIR:-/tmp}/$(basename "$a")"; done
  fi
  printf '%-24s %8s %12s %10s %7s %7s %8s %s\n' "$name" "$seconds" "$execs" "$rate" "$cov" "$ft" \
    "$seeds->$corpus" "$result"
done
exit $failed
