#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: clang-14, ASan+UBSan) and runs each on
# its seed corpus (fuzz/corpus/<target>) for a fixed time. Exits non-zero on
# the first crash, leak, timeout or FUZZ_CHECK breach; the input that did it
# is kept under build/fuzz/crashes/<target>/ and the command that replays it
# is printed.
#
#   scripts/fuzz.sh                       # every target, 60 s each
#   scripts/fuzz.sh --seconds 20          # what scripts/test.sh runs
#   scripts/fuzz.sh --seconds 3600 wal    # one target, an hour
#   scripts/fuzz.sh --merge               # then add the inputs that grew coverage to fuzz/corpus
#
# Inputs found along the way collect in build/fuzz/corpus/<target> (kept
# between runs). Needs the model (scripts/fetch_model.sh): the tokenizer and
# routes targets use it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "usage: scripts/fuzz.sh [--seconds N] [--merge] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(tokenizer filter html pdf wal segment routes)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
total_cpu=0
printf '%-10s %8s %10s %8s %8s\n' target seconds executions cover corpus
for t in "${targets[@]}"; do
  bin=build/fuzz/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz.sh: no target '$t'" >&2; exit 2; }
  mkdir -p "build/fuzz/corpus/$t" "build/fuzz/crashes/$t" "fuzz/corpus/$t"
  # The text module's test documents seed the extraction targets too.
  seeds=("fuzz/corpus/$t")
  case "$t" in html|pdf) seeds+=(src/text/testdata) ;; esac
  log="build/fuzz/$t.log"
  start=$(date +%s)
  if ! "$bin" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/crashes/$t/" "build/fuzz/corpus/$t" "${seeds[@]}" > "$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz.sh: $t failed; the input is in build/fuzz/crashes/$t/ (replay: $bin FILE)" >&2
    exit 1
  fi
  elapsed=$(( $(date +%s) - start ))
  total_cpu=$((total_cpu + elapsed))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cover=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "build/fuzz/corpus/$t" "${seeds[@]}" -type f | wc -l)
  printf '%-10s %8s %10s %8s %8s\n' "$t" "$elapsed" "${runs:-?}" "${cover:-?}" "$corpus"
  if [ "$merge" = 1 ]; then
    "$bin" -merge=1 "fuzz/corpus/$t" "build/fuzz/corpus/$t" >> "$log" 2>&1
  fi
done
echo "fuzz.sh: ${#targets[@]} targets, ${total_cpu} s of one core, no crash"
