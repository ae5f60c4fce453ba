#!/usr/bin/env bash
# Distributed mode's scale-out on a backlog (issue 14): a corpus of COPIES copies of
# the sample corpus (about 10k chunks) is published to rag.documents.raw with no
# worker running; then a chunk worker, an index node and N embed workers (one
# encoder thread each) start, and the clock runs until the index holds every chunk.
# N = 1, then 2, on fresh topics and data. Reports seconds, chunks/s and the ratio.
#
#   bench/run_backlog.sh        # builds a Release binary; needs the model
#
# Environment [defaults]: COPIES [24], WORKERS ["1 2"], OUT [bench/data/results/backlog].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COPIES=${COPIES:-24}
WORKERS=${WORKERS:-1 2}
OUT=${OUT:-$ROOT/bench/data/results/backlog}
WORK=$ROOT/bench/data/backlog-work
MODEL=${RAGLINE_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
SAMPLE=$ROOT/examples/corpus/devils-dictionary
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK"

echo "== build ragline (Release)" >&2
cmake -S . -B build/dist-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build/dist-bench --target ragline >&2
R=$ROOT/build/dist-bench/ragline

# The corpus: COPIES directories, each the sample corpus (distinct document ids).
mkdir -p "$WORK/corpus"
for i in $(seq -w 1 "$COPIES"); do cp -r "$SAMPLE" "$WORK/corpus/copy-$i"; done
"$R" ingest "$SAMPLE" --data "$WORK/ref" --collection docs --create --model "$MODEL" >/dev/null 2>&1
per_copy=$("$R" stats docs --data "$WORK/ref" | jq -r .vector_count)
expected=$((per_copy * COPIES))
echo "== backlog: $COPIES copies x $per_copy chunks = $expected chunks" >&2

K=$WORK/kafka
"$ROOT/scripts/kafka.sh" start "$K" 2>/dev/null
B=$(cat "$K/bootstrap")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; "$ROOT/scripts/kafka.sh" stop "$K" >/dev/null 2>&1 || true' EXIT
now() { date +%s.%N; }
count() { local n; n=$("$R" stats docs --data "$1" 2>/dev/null | jq -r '.vector_count // 0' 2>/dev/null); echo "${n:-0}"; }

drain() {  # drain N -> seconds from starting the workers to the last chunk indexed
  local n=$1 prefix="backlog$n." t0 t1
  local common=(--kafka "$B" --topic-prefix "$prefix" --topic-partitions 4)
  "$R" ingest "$WORK/corpus" --kafka "$B" --topic-prefix "$prefix" >/dev/null 2>&1
  t0=$(now)
  "$R" worker chunk "${common[@]}" --model "$MODEL" >/dev/null 2>"$WORK/chunk-$n.log" &
  PIDS+=($!)
  for i in $(seq 1 "$n"); do
    "$R" worker embed "${common[@]}" --model "$MODEL" --instance "$i" >/dev/null 2>"$WORK/embed-$n-$i.log" &
    PIDS+=($!)
  done
  "$R" worker index "${common[@]}" --data "$WORK/dist-$n" --collection docs --create >/dev/null 2>"$WORK/index-$n.log" &
  PIDS+=($!)
  until [ "$(count "$WORK/dist-$n")" -ge "$expected" ]; do sleep 1; done
  t1=$(now)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  echo "$t1 - $t0" | bc
}

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
{
  echo "Backlog: $expected chunks ($COPIES copies of the sample corpus). CPU: $cpu, $(nproc) vCPUs. One run each."
  echo
  echo "| embed workers | seconds to drain | chunks/s | vs 1 worker |"
  echo "|---:|---:|---:|---:|"
  first=
  for n in $WORKERS; do
    s=$(drain "$n")
    first=${first:-$s}
    printf "| %s | %.0f | %.1f | %.2f× |\n" "$n" "$s" "$(echo "$expected / $s" | bc -l)" "$(echo "$first / $s" | bc -l)"
  done
} | tee "$OUT/report.md"
