#!/usr/bin/env bash
# Query latency over HTTP (issue #4): `ragline serve` holding N chunks (real
# documentation passages with their all-MiniLM-L6-v2 vectors, from the ANN
# benchmark's corpus), driven by wrk at concurrency 1 and 8, per query mode,
# retrieve only ("generate": false) and with the extractive answer. Questions
# (embedded by the server per request) are either the ANN benchmark's 1,000
# held-out passages (QUESTIONS=passages, 8-64 words) or the 1,000 queries of the
# debian-packages eval dataset (QUESTIONS=short, package synopses, ~6.5 words,
# the length people type). Each PRECISION x QUESTIONS run keeps its results in
# bench/data/results/query/<precision>-<questions>/; the report lists every run
# kept there, in docs/BENCHMARKS.md between <!-- query-bench:begin/end -->.
#
#   bench/run_query.sh                       # needs bench/data from bench/run_ann.sh, and wrk
#   PRECISION=int8 QUESTIONS=short bench/run_query.sh
#
# Environment [defaults]: N [200000], DURATION seconds per run [20], MODES
# [hybrid,dense,lexical], CONCURRENCY [1,8], THREADS server workers [16],
# PRECISION server encoder fp32|int8 [fp32], QUESTIONS passages|short [passages],
# RAGLINE [build/release/ragline], REPORT_OUT [docs/BENCHMARKS.md].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-200000}
DURATION=${DURATION:-20}
MODES=${MODES:-hybrid,dense,lexical}
CONCURRENCY=${CONCURRENCY:-1,8}
THREADS=${THREADS:-16}
PRECISION=${PRECISION:-fp32}
QUESTIONS=${QUESTIONS:-passages}
RAGLINE=${RAGLINE:-$ROOT/build/release/ragline}
REPORT_OUT=${REPORT_OUT:-$ROOT/docs/BENCHMARKS.md}
DATA=$ROOT/bench/data
WORK=$DATA/query-work
OUT=$DATA/results/query/$PRECISION-$QUESTIONS
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$RAGLINE" ] || { echo "no $RAGLINE: cmake --preset release && cmake --build --preset release --target ragline" >&2; exit 1; }
[ -f "$DATA/base.fvecs" ] || { echo "no $DATA/base.fvecs: run bench/run_ann.sh first" >&2; exit 1; }
mkdir -p "$WORK" "$OUT"

if [ ! -f "$WORK/loaded-$N" ]; then
  echo "== load $N chunks" >&2
  rm -rf "$WORK/data" "$WORK"/loaded-*
  "$RAGLINE" collection create chunks --dim 384 --metric cosine --index hnsw --data "$WORK/data" >/dev/null
  python3 bench/make_records.py --data "$DATA" --n "$N" \
    | "$RAGLINE" upsert chunks --data "$WORK/data" --batch-size 5000 | tail -n 1 >&2
  "$RAGLINE" compact chunks --data "$WORK/data" | jq -c '{vector_count, unindexed}' >&2
  touch "$WORK/loaded-$N"
fi

case "$QUESTIONS" in
  passages) QFILE=$DATA/corpus/queries.txt ;;
  short)
    QFILE=$WORK/short-questions.txt
    [ -f "$DATA/eval/debian-packages/queries.jsonl" ] || { echo "no eval dataset: run bench/run_eval.sh first" >&2; exit 1; }
    jq -r .text "$DATA/eval/debian-packages/queries.jsonl" > "$QFILE" ;;
  *) echo "QUESTIONS must be passages or short" >&2; exit 1 ;;
esac

"$RAGLINE" serve --data "$WORK/data" --port 0 --threads "$THREADS" --precision "$PRECISION" --log-level warn > "$WORK/serve.out" 2> "$WORK/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
. scripts/serve_url.sh
URL=$(wait_for_url "$WORK/serve.out" $PID) || { cat "$WORK/serve.log" >&2; exit 1; }
# Warm up (page in the index and the model).
wrk -t 1 -c 1 -d 5s -s bench/query_wrk.lua "$URL" -- "$QFILE" hybrid false >/dev/null

rm -f "$OUT"/*.txt
IFS=',' read -r -a modes <<< "$MODES"
IFS=',' read -r -a concs <<< "$CONCURRENCY"
for mode in "${modes[@]}"; do
  for generate in false true; do
    for c in "${concs[@]}"; do
      t=$(( c < 2 ? 1 : 2 ))
      echo "== $mode generate=$generate concurrency=$c" >&2
      wrk -t "$t" -c "$c" -d "${DURATION}s" --latency -s bench/query_wrk.lua "$URL" -- "$QFILE" "$mode" "$generate" \
        | tee "$OUT/$mode-gen_$generate-c$c.txt" >&2
    done
  done
done

rev=$(git rev-parse --short HEAD)
echo "{\"date\": \"$(date -u '+%Y-%m-%d %H:%M') UTC\", \"git\": \"$rev\", \"duration\": $DURATION, \"n\": $N}" > "$OUT/run.json"

python3 - "$(dirname "$OUT")" "$REPORT_OUT" <<'PY'
import glob, json, os, re, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
from bench_doc import markers, splice_section
results, report = sys.argv[1], sys.argv[2]

def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

rows, runs = [], {}
for path in sorted(glob.glob(os.path.join(results, "*-*", "*.txt"))):
    config = os.path.basename(os.path.dirname(path))
    runs.setdefault(config, json.load(open(os.path.join(os.path.dirname(path), "run.json"))))
    mode, gen, c = re.match(r"(\w+)-gen_(\w+)-c(\d+)\.txt", os.path.basename(path)).groups()
    text = open(path).read()
    pct = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    precision, questions = config.split("-", 1)
    rows.append((questions, precision, mode, gen == "true", int(c), pct.get("50"), pct.get("99"), rps,
                 int(bad.group(1)) if bad else 0))
order = {"passages": 0, "short": 1, "fp32": 0, "int8": 1, "hybrid": 0, "dense": 1, "lexical": 2}
rows.sort(key=lambda r: tuple(order.get(x, x) for x in r[:5]))
n = {r["n"] for r in runs.values()}.pop()
begin, end = markers("query-bench")
L = [begin, "## Query latency over HTTP: `ragline serve` under wrk\n",
     "_Generated by `bench/run_query.sh`; do not edit by hand._\n",
     f"- {n:,} chunks (documentation passages with their all-MiniLM-L6-v2 vectors, HNSW M 16), k = 10; "
     "each question embedded by the server per request with the encoder precision shown; wrk on the same "
     "2-vCPU machine as the server; one row = one wrk run after a warm-up.",
     "- questions: *passages* = the ANN benchmark's 1,000 held-out passages (8-64 words); *short* = the "
     "1,000 queries of the debian-packages eval dataset (package synopses, mean 6.5 words).",
     "- runs: " + "; ".join(f"{k}: {v['date']}, git {v['git']}, {v['duration']} s per row, "
                            f"`PRECISION={k.split('-')[0]} QUESTIONS={k.split('-', 1)[1]} bench/run_query.sh`"
                            for k, v in sorted(runs.items())) + " (after `bench/run_ann.sh` made the corpus)\n",
     "| questions | encoder | mode | answer | concurrency | p50 ms | p99 ms | requests/s | non-2xx |",
     "|---|---|---|---|---:|---:|---:|---:|---:|"]
for questions, precision, mode, gen, c, p50, p99, rps, bad in rows:
    L.append(f"| {questions} | {precision} | {mode} | {'extractive' if gen else 'retrieve only'} | {c} | "
             f"{p50:.2f} | {p99:.2f} | {rps:,.0f} | {bad} |")
L.append("\nTarget \"retrieve p99 ≤ 15 ms at concurrency 8\" (default hybrid mode):")
for r in rows:
    if r[2] == "hybrid" and not r[3] and r[4] == 8:
        L.append(f"- {r[0]} questions, {r[1]}: **{'met' if r[6] <= 15 else 'not met'}** ({r[6]:.1f} ms)")
L.append(end)
splice_section(report, "query-bench", "\n".join(L) + "\n")
PY
