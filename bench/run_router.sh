#!/usr/bin/env bash
# Router query latency (issue 14): the same corpus served by one embedded node
# (`ragline serve --data`) and by a router over 2 index shards (scripts/cluster.sh,
# 1 chunk and 1 embed worker), queried with wrk in alternating rounds: p50/p99 and
# requests/s per mode (lexical, hybrid) at 1 and 8 connections, no generation.
#
#   bench/run_router.sh        # builds a Release binary; needs the model
#
# Environment [defaults]: CORPUS [examples/corpus/devils-dictionary], ROUNDS [3],
# DURATION [8] seconds per run, OUT [bench/data/results/router]. Prints (and keeps in
# OUT/report.md) medians over rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CORPUS=${CORPUS:-$ROOT/examples/corpus/devils-dictionary}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
OUT=${OUT:-$ROOT/bench/data/results/router}
WORK=$ROOT/bench/data/router-work
MODEL=${RAGLINE_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK"

echo "== build ragline (Release)" >&2
cmake -S . -B build/dist-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build/dist-bench --target ragline >&2
export RAGLINE=$ROOT/build/dist-bench/ragline RAGLINE_MODEL_DIR=$MODEL
C=$WORK/cluster
PORT=${PORT:-28090}  # the router; the next ports: index nodes and workers
EMB_PID=
trap '[ -n "$EMB_PID" ] && kill "$EMB_PID" 2>/dev/null; scripts/cluster.sh down "$C" >/dev/null 2>&1 || true' EXIT

echo "== cluster: 2 shards, ingest over Kafka" >&2
scripts/cluster.sh up "$C" --shards 2 --replicas 1 --chunkers 1 --embedders 1 --port "$PORT" >&2
ROUTER=$(cat "$C/router.url")
"$RAGLINE" ingest "$CORPUS" --data "$WORK/emb" --collection docs --create --model "$MODEL" >/dev/null 2>&1
expected=$("$RAGLINE" stats docs --data "$WORK/emb" | jq -r .vector_count)
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$(cat "$C/bootstrap")" >/dev/null 2>&1
until [ "$(curl -fsS "$ROUTER/v1/collections/docs/stats" | jq -r .vector_count)" = "$expected" ]; do sleep 0.5; done
"$RAGLINE" serve --data "$WORK/emb" --port 0 --model "$MODEL" --log-level warn >"$WORK/emb.out" 2>"$WORK/emb.log" &
EMB_PID=$!
. scripts/serve_url.sh
EMBEDDED=$(wait_for_url "$WORK/emb.out" "$EMB_PID")
printf '%s\n' "what is a cynic" "define marriage" "the lawyer and the law" "what does a bore do" \
  "a politician's promise" "religion and faith" "money and wealth" "what is happiness" >"$WORK/questions.txt"

run() {  # run NAME URL MODE CONNECTIONS -> one JSON line
  wrk -t 1 -c "$4" -d "${DURATION}s" --timeout 10s --latency -s bench/query_wrk.lua "$2" \
    -- "$WORK/questions.txt" "$3" false docs >"$WORK/wrk.txt"
  python3 - "$1" "$3" "$4" "$WORK/wrk.txt" <<'PY'
import json, re, sys
name, mode, c, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(path).read()
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(json.dumps({"server": name, "mode": mode, "connections": c, "requests_per_s": rps,
                  "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "non_2xx": int(non2xx.group(1)) if non2xx else 0}))
PY
}

: >"$OUT/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for mode in lexical hybrid; do
    for c in 1 8; do
      for name in embedded router; do
        url=$EMBEDDED
        [ $name = router ] && url=$ROUTER
        run "$name" "$url" "$mode" "$c" | tee -a "$OUT/results.jsonl" >&2
      done
    done
  done
done

python3 - "$OUT/results.jsonl" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)" "$expected" >"$OUT/report.md" <<'PY'
import json, statistics, sys
from collections import defaultdict
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(r["non_2xx"] == 0 for r in rows), "a query failed"
by = defaultdict(list)
for r in rows:
    by[(r["mode"], r["connections"], r["server"])].append(r)
med = lambda rs, k: statistics.median(r[k] for r in rs)
print(f"CPU: {sys.argv[2]}; {sys.argv[3]} chunks; medians of {len(by[next(iter(by))])} rounds\n")
print("| mode | conns | embedded p50 ms | router p50 ms | embedded p99 ms | router p99 ms | embedded req/s | router req/s | router/embedded req/s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("lexical", "hybrid"):
    for c in (1, 8):
        e, r = by[(mode, c, "embedded")], by[(mode, c, "router")]
        print(f"| {mode} | {c} | {med(e,'p50_ms'):.2f} | {med(r,'p50_ms'):.2f} | {med(e,'p99_ms'):.2f} | {med(r,'p99_ms'):.2f} "
              f"| {med(e,'requests_per_s'):.0f} | {med(r,'requests_per_s'):.0f} | {med(r,'requests_per_s')/med(e,'requests_per_s'):.2f}x |")
PY
cat "$OUT/report.md"
