#!/usr/bin/env bash
# Distributed mode's cost and scale-out, measured on this machine (issue 14):
#   embedded        ragline ingest --data, encoder on 1 thread (--threads 1)
#   cluster-1       ingest --kafka -> 1 chunk worker, 1 embed worker, 1 index node
#   cluster-2       the same with 2 embed workers (each encodes on 1 thread)
# Same corpus, same release binary, fresh data and topics per run, rounds
# alternating; a run ends when the collection holds every chunk. Also, for the
# stages refactor: embedded ingest at BASE (before it) vs this tree.
#
#   bench/run_distributed.sh      # builds Release binaries; needs the model
#
# Environment [defaults]: CORPUS [examples/corpus/devils-dictionary], ROUNDS [3],
# BASE [02e4751] or BASE_BIN (a ragline binary built at BASE), OUT
# [bench/data/results/distributed]. Prints (and keeps in OUT/report.md) medians.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CORPUS=${CORPUS:-$ROOT/examples/corpus/devils-dictionary}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-02e4751}
OUT=${OUT:-$ROOT/bench/data/results/distributed}
WORK=$ROOT/bench/data/distributed-work
MODEL=${RAGLINE_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
mkdir -p "$OUT" "$WORK"

echo "== build ragline from this tree (Release)" >&2
cmake -S . -B build/dist-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build/dist-bench --target ragline >&2
R=$ROOT/build/dist-bench/ragline
if [ -z "${BASE_BIN:-}" ]; then
  if [ ! -x "$WORK/base/build/ragline" ]; then
    echo "== build ragline at $BASE (before the stages refactor)" >&2
    rm -rf "$WORK/base"
    git worktree prune
    git worktree add --detach "$WORK/base" "$BASE" >/dev/null
    cmake -S "$WORK/base" -B "$WORK/base/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$WORK/base/build" --target ragline >&2
  fi
  BASE_BIN=$WORK/base/build/ragline
fi

K=$WORK/kafka
"$ROOT/scripts/kafka.sh" stop "$K" >/dev/null 2>&1 || true
rm -rf "$K"
"$ROOT/scripts/kafka.sh" start "$K" 2>/dev/null
B=$(cat "$K/bootstrap")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; "$ROOT/scripts/kafka.sh" stop "$K" >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
count() { "$R" stats docs --data "$1" 2>/dev/null | jq -r '.vector_count // 0'; }

embedded() {  # embedded BINARY -> seconds
  rm -rf "$WORK/emb"
  local t0 t1
  t0=$(now)
  "$1" ingest "$CORPUS" --data "$WORK/emb" --collection docs --create --model "$MODEL" --threads 1 >/dev/null 2>&1
  t1=$(now)
  echo "$t1 - $t0" | bc
}

cluster() {  # cluster EMBED_WORKERS EXPECTED -> seconds from publishing to the last chunk indexed
  local n=$1 expected=$2 prefix t0 t1
  prefix="bench$(date +%s%N)."  # fresh topics: this runs in a subshell, so no counter
  rm -rf "$WORK/dist"
  local common=(--kafka "$B" --topic-prefix "$prefix" --topic-partitions 4)
  "$R" worker chunk "${common[@]}" --model "$MODEL" >/dev/null 2>"$WORK/chunk.log" &
  PIDS+=($!)
  for i in $(seq 1 "$n"); do
    "$R" worker embed "${common[@]}" --model "$MODEL" --instance "$i" >/dev/null 2>"$WORK/embed-$i.log" &
    PIDS+=($!)
  done
  "$R" worker index "${common[@]}" --data "$WORK/dist" --collection docs --create >/dev/null 2>"$WORK/index.log" &
  PIDS+=($!)
  # Ready: every worker printed its "consuming" line.
  until [ "$(cat "$WORK"/chunk.log "$WORK"/embed-*.log "$WORK"/index.log 2>/dev/null | grep -c consuming)" -ge $((n + 2)) ]; do sleep 0.1; done
  sleep 2  # the embed workers' group settles its partitions
  t0=$(now)
  "$R" ingest "$CORPUS" --collection docs --kafka "$B" --topic-prefix "$prefix" >/dev/null 2>&1
  until [ "$(count "$WORK/dist")" -ge "$expected" ]; do sleep 0.2; done
  t1=$(now)
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  rm -f "$WORK"/embed-*.log
  echo "$t1 - $t0" | bc
}

"$R" ingest "$CORPUS" --data "$WORK/ref" --collection docs --create --model "$MODEL" >/dev/null 2>&1
expected=$(count "$WORK/ref")
docs=$("$R" stats docs --data "$WORK/ref" >/dev/null && find "$CORPUS" -type f \( -name '*.md' -o -name '*.txt' \) | wc -l)
declare -A times
for r in $(seq 1 "$ROUNDS"); do
  times[base]+="$(embedded "$BASE_BIN") "
  times[embedded]+="$(embedded "$R") "
  times[cluster1]+="$(cluster 1 "$expected") "
  times[cluster2]+="$(cluster 2 "$expected") "
  echo "round $r of $ROUNDS done" >&2
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
{
  echo "Corpus: $docs documents, $expected chunks. CPU: $cpu, $(nproc) vCPUs. Rounds: $ROUNDS (medians)."
  echo
  echo "| run | seconds | docs/s | vs embedded |"
  echo "|---|---:|---:|---:|"
  e=$(median "${times[embedded]}")
  for k in base embedded cluster1 cluster2; do
    m=$(median "${times[$k]}")
    printf "| %s | %.1f | %.2f | %.2f× |\n" "$k" "$m" "$(echo "$docs / $m" | bc -l)" "$(echo "$e / $m" | bc -l)"
  done
} | tee "$OUT/report.md"
