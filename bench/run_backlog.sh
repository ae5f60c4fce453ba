#!/usr/bin/env bash
# Distributed mode's scale-out on a backlog of chunks (issue 14): a corpus of COPIES
# copies of the sample corpus (about 10k chunks) is published to rag.documents.raw and
# chunked by one chunk worker, which then stops: the chunks wait in
# rag.documents.chunks. Then an index node and N embed workers (one encoder thread
# each) start, and the clock runs until the index holds every chunk. N = 1, then 2, on
# fresh topics and data. Reports seconds, chunks/s and the ratio, and the whole path
# (chunking included, the chunk worker running beside the embed workers) as before.
#
#   bench/run_backlog.sh        # builds a Release binary; needs the model
#
# Environment [defaults]: COPIES [24], WORKERS ["1 2"], MODES ["chunks raw"],
# OUT [bench/data/results/backlog].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COPIES=${COPIES:-24}
WORKERS=${WORKERS:-1 2}
MODES=${MODES:-chunks raw}
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
INDEX_PORT=${INDEX_PORT:-28932}
# The index node's count over its HTTP stats: cheap. (Opening the data directory with
# `ragline stats` every second took about 0.15 of a core from the embed workers.)
count() {
  local n
  n=$(curl -fsS "http://127.0.0.1:$INDEX_PORT/v1/collections/docs/stats" 2>/dev/null | jq -r '.vector_count // 0')
  echo "${n:-0}"
}

CHUNK_PORT=${CHUNK_PORT:-28931}
raw_lag() {  # the chunk worker's summed lag on the raw topic ("" until it reports)
  curl -fsS "http://127.0.0.1:$CHUNK_PORT/metrics" 2>/dev/null |
    awk '/^rag_kafka_lag\{/ && /documents.raw/ {s += $NF; n++} END {if (n >= 4) print s}'
}

drain() {  # drain N MODE -> seconds from starting the embed workers to the last chunk indexed
  # MODE chunks: the documents are chunked first (the clock starts on a chunk backlog);
  # MODE raw: the chunk worker runs beside the embed workers, on the clock.
  local n=$1 mode=$2 prefix="backlog$n$2." t0 t1
  local common=(--kafka "$B" --topic-prefix "$prefix" --topic-partitions 4)
  "$R" ingest "$WORK/corpus" --collection docs --kafka "$B" --topic-prefix "$prefix" >/dev/null 2>&1
  [ "$mode" = raw ] && t0=$(now)
  "$R" worker chunk "${common[@]}" --model "$MODEL" --port "$CHUNK_PORT" >/dev/null 2>"$WORK/chunk-$n$mode.log" &
  local chunker=$!
  PIDS+=($chunker)
  if [ "$mode" = chunks ]; then
    until [ "$(raw_lag)" = 0 ]; do sleep 1; done
    sleep 3  # its last transaction commits (batches linger 100 ms)
    kill -TERM "$chunker"
    wait "$chunker" 2>/dev/null || true
    t0=$(now)
  fi
  for i in $(seq 1 "$n"); do
    "$R" worker embed "${common[@]}" --model "$MODEL" --instance "$i" >/dev/null 2>"$WORK/embed-$n$mode-$i.log" &
    PIDS+=($!)
  done
  "$R" worker index "${common[@]}" --data "$WORK/dist-$n$mode" --collection docs --create \
    --port "$INDEX_PORT" >/dev/null 2>"$WORK/index-$n$mode.log" &
  PIDS+=($!)
  until [ "$(count)" -ge "$expected" ]; do sleep 1; done
  t1=$(now)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  echo "$t1 - $t0" | bc
}

cpu="$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') (family $(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | tr -d " "), model $(grep -m1 "^model\s*:" /proc/cpuinfo | cut -d: -f2 | tr -d " "))"
{
  echo "Backlog: $expected chunks ($COPIES copies of the sample corpus). CPU: $cpu, $(nproc) vCPUs. One run each."
  echo
  echo "| backlog | embed workers | seconds to drain | chunks/s | vs 1 worker |"
  echo "|---|---:|---:|---:|---:|"
  for mode in $MODES; do
    first=
    for n in $WORKERS; do
      s=$(drain "$n" "$mode")
      first=${first:-$s}
      printf "| %s | %s | %.0f | %.1f | %.2f× |\n" "$mode" "$n" "$s" "$(echo "$expected / $s" | bc -l)" \
        "$(echo "$first / $s" | bc -l)"
    done
  done
} | tee "$OUT/report.md"
