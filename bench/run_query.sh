#!/usr/bin/env bash
# Query latency over HTTP (issues #4, #19): `ragline serve` holding N chunks
# (real documentation passages with their all-MiniLM-L6-v2 vectors, from the
# ANN benchmark's corpus), driven by wrk at each concurrency, per query mode,
# retrieve only ("generate": false) and with the extractive answer. Questions
# (embedded by the server per request) are either the ANN benchmark's 1,000
# held-out passages (QUESTIONS=passages, 8-64 words) or the 1,000 queries of the
# debian-packages eval dataset (QUESTIONS=short, package synopses, ~6.5 words,
# the length people type).
#
# A/B in the same run: one server per BATCHING setting ("on": concurrent
# questions share encoder passes, the default; "off": one pass per question,
# the path before issue #19), both up at once on copies of the same data, and
# every row runs against each in turn. Admission control is off (the point is
# the encoder under load, not the 503s that protect it).
#
# Each PRECISION x QUESTIONS run keeps its results in
# bench/data/results/query/<precision>-<questions>/; the report lists every run
# kept there, in docs/BENCHMARKS.md between <!-- query-bench:begin/end -->.
#
#   bench/run_query.sh                       # needs bench/data from bench/run_ann.sh, and wrk
#   N=50000 MODES=hybrid GENERATE=false QUESTIONS=short bench/run_query.sh
#
# Environment [defaults]: N [200000], DURATION seconds per run [20], MODES
# [hybrid,dense,lexical], GENERATE [false,true], CONCURRENCY [1,8,32], BATCHING
# [on,off], THREADS server HTTP workers [32], PRECISION server encoder
# auto|fp32|int8 [auto], QUESTIONS passages|short [passages], RAGLINE
# [build/release/ragline], REPORT_OUT [docs/BENCHMARKS.md].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N=${N:-200000}
DURATION=${DURATION:-20}
MODES=${MODES:-hybrid,dense,lexical}
GENERATE=${GENERATE:-false,true}
CONCURRENCY=${CONCURRENCY:-1,8,32}
BATCHING=${BATCHING:-on,off}
THREADS=${THREADS:-32}
PRECISION=${PRECISION:-auto}
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

IFS=',' read -r -a batchings <<< "$BATCHING"
declare -A URLS
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null || true' EXIT
. scripts/serve_url.sh
for b in "${batchings[@]}"; do
  case "$b" in on) enabled=true ;; off) enabled=false ;; *) echo "BATCHING takes on and/or off" >&2; exit 1 ;; esac
  rm -rf "$WORK/serve-$b" && mkdir -p "$WORK/serve-$b" && cp -r "$WORK/data" "$WORK/serve-$b/data"
  echo "{\"admission\": {\"max_in_flight\": 0}, \"question_batching\": {\"enabled\": $enabled}}" > "$WORK/serve-$b/config.json"
  "$RAGLINE" serve --data "$WORK/serve-$b/data" --config "$WORK/serve-$b/config.json" --port 0 --threads "$THREADS" \
    --precision "$PRECISION" --log-level warn > "$WORK/serve-$b/out" 2> "$WORK/serve-$b/log" &
  PIDS+=($!)
  URLS[$b]=$(wait_for_url "$WORK/serve-$b/out" $!) || { cat "$WORK/serve-$b/log" >&2; exit 1; }
  # Warm up (page in the index and the model).
  wrk -t 1 -c 1 -d 5s -s bench/query_wrk.lua "${URLS[$b]}" -- "$QFILE" hybrid false >/dev/null
done
KERNEL=$(curl -s "${URLS[${batchings[0]}]}/metrics" | sed -n 's/^rag_encoder_info{model="[^"]*",kernel="\([^"]*\)"} 1$/\1/p')

rm -f "$OUT"/*.txt
IFS=',' read -r -a modes <<< "$MODES"
IFS=',' read -r -a generates <<< "$GENERATE"
IFS=',' read -r -a concs <<< "$CONCURRENCY"
for mode in "${modes[@]}"; do
  for generate in "${generates[@]}"; do
    for c in "${concs[@]}"; do
      for b in "${batchings[@]}"; do
        t=$(( c < 2 ? 1 : 2 ))
        echo "== $mode generate=$generate concurrency=$c batching=$b" >&2
        wrk -t "$t" -c "$c" -d "${DURATION}s" --latency -s bench/query_wrk.lua "${URLS[$b]}" -- "$QFILE" "$mode" "$generate" \
          | tee "$OUT/$mode-gen_$generate-c$c-batch_$b.txt" >&2
      done
    done
  done
done
for b in "${batchings[@]}"; do curl -s "${URLS[$b]}/metrics" | grep '^rag_embed_batch_texts_\(sum\|count\)' > "$OUT/metrics-batch_$b.prom" || true; done

rev=$(git rev-parse --short HEAD)
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1); FAMILY_MODEL=$(lscpu | awk -F: '/^CPU family/ {f=$2} /^Model:/ {m=$2} END {gsub(/ /, "", f); gsub(/ /, "", m); print f "/" m}')
jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M') UTC" --arg git "$rev" --argjson duration "$DURATION" --argjson n "$N" \
  --arg cpu "$CPU (family/model $FAMILY_MODEL, $(nproc) vCPUs)" --arg kernel "$KERNEL" --argjson threads "$THREADS" \
  '{date: $date, git: $git, duration: $duration, n: $n, cpu: $cpu, kernel: $kernel, threads: $threads}' > "$OUT/run.json"

python3 - "$(dirname "$OUT")" "$REPORT_OUT" <<'PY'
import glob, json, os, re, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
from bench_doc import markers, splice_section
results, report = sys.argv[1], sys.argv[2]

def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

rows, runs, per_pass = {}, {}, {}
for path in sorted(glob.glob(os.path.join(results, "*-*", "*-batch_*.txt"))):
    config = os.path.basename(os.path.dirname(path))
    runs.setdefault(config, json.load(open(os.path.join(os.path.dirname(path), "run.json"))))
    mode, gen, c, b = re.match(r"(\w+)-gen_(\w+)-c(\d+)-batch_(on|off)\.txt", os.path.basename(path)).groups()
    text = open(path).read()
    pct = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    precision, questions = config.split("-", 1)
    rows[(questions, precision, mode, gen == "true", int(c), b)] = (pct.get("50"), pct.get("99"), rps,
                                                                  int(bad.group(1)) if bad else 0)
for path in glob.glob(os.path.join(results, "*-*", "metrics-batch_on.prom")):
    m = dict(line.split() for line in open(path) if line.strip())
    if float(m.get("rag_embed_batch_texts_count", 0)) > 0:
        per_pass[os.path.basename(os.path.dirname(path))] = (float(m["rag_embed_batch_texts_sum"]) /
                                                             float(m["rag_embed_batch_texts_count"]))
order = {"passages": 0, "short": 1, "auto": 0, "fp32": 1, "int8": 2, "hybrid": 0, "dense": 1, "lexical": 2,
         "on": 0, "off": 1}
keys = sorted(rows, key=lambda r: tuple(order.get(x, x) for x in r))
n = {r["n"] for r in runs.values()}.pop()
begin, end = markers("query-bench")
L = [begin, "## Query latency over HTTP: `ragline serve` under wrk, question batching on and off\n",
     "_Generated by `bench/run_query.sh`; do not edit by hand._\n",
     f"- {n:,} chunks (documentation passages with their all-MiniLM-L6-v2 vectors, HNSW M 16), k = 10; "
     "each question embedded by the server with the encoder precision shown; wrk on the same machine as the "
     "server; one row = one wrk run after a warm-up; admission control off.",
     "- batching *on*: concurrent questions share encoder passes (`question_batching`, the default); *off*: one "
     "pass per question (the path before issue 19). Both servers run at once on copies of the same data, and "
     "every row runs against each in turn.",
     "- questions: *passages* = the ANN benchmark's 1,000 held-out passages (8-64 words); *short* = the "
     "1,000 queries of the debian-packages eval dataset (package synopses, mean 6.5 words).",
     "- runs: " + "; ".join(f"{k}: {v['date']}, git {v['git']}, {v.get('cpu', '?')}, encoder {v.get('kernel', '?')}, "
                            f"{v.get('threads', '?')} HTTP threads, {v['duration']} s per row"
                            + (f", {per_pass[k]:.1f} questions per batched pass" if k in per_pass else "")
                            + f", `N={v['n']} PRECISION={k.split('-')[0]} QUESTIONS={k.split('-', 1)[1]} "
                            "bench/run_query.sh`" for k, v in sorted(runs.items())) +
     " (after `bench/run_ann.sh` made the corpus)\n",
     "| questions | encoder | mode | answer | concurrency | batching | p50 ms | p99 ms | p99/p50 | requests/s | non-2xx |",
     "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
for k in keys:
    questions, precision, mode, gen, c, b = k
    p50, p99, rps, bad = rows[k]
    L.append(f"| {questions} | {precision} | {mode} | {'extractive' if gen else 'retrieve only'} | {c} | {b} | "
             f"{p50:.2f} | {p99:.2f} | {p99 / p50:.1f} | {rps:,.0f} | {bad} |")
L.append("\nIssue 19's targets for hybrid, retrieve only, batching on against off:")
for k in keys:
    questions, precision, mode, gen, c, b = k
    off = rows.get(k[:5] + ("off",))
    if mode != "hybrid" or gen or b != "on" or off is None:
        continue
    p50, p99, rps, _ = rows[k]
    line = f"- {questions} questions, {precision}, concurrency {c}: throughput {rps / off[2]:.2f}× the unbatched path"
    if c == 8:
        line += f" (target ≥ 1.5×: **{'met' if rps / off[2] >= 1.5 else 'not met'}**)"
    line += f"; p99 = {p99 / p50:.1f}× p50 (target ≤ 3×: **{'met' if p99 <= 3 * p50 else 'not met'}**)"
    L.append(line)
L.append(end)
splice_section(report, "query-bench", "\n".join(L) + "\n")
PY
