#!/usr/bin/env bash
# The HTTP transport, measured against the one it replaced (issue #13):
# ragline serve on Boost.Beast (this tree) vs on cpp-httplib 0.11.4 (commit
# BASE, the last one before the change), same data, same flags, back to back,
# driven by wrk. Requests need no embedding, so the transport is what differs:
#   healthz   GET /healthz (the smallest request: parsing, routing, writing)
#   lexical   POST .../query {"mode": "lexical", "generate": false} over the
#             bundled sample corpus (a JSON body in, ~10 hits out)
# at concurrency 8 (= the server's worker threads) and 64 (more connections
# than workers: keep-alive connections that wait between requests).
#
#   bench/run_http.sh                 # needs wrk; builds both binaries (Release)
#
# Environment [defaults]: BASE [f9e8638], DURATION seconds per run [15],
# ROUNDS [3], THREADS server workers [8], OUT [bench/data/results/http].
# Prints (and keeps in OUT/report.md) the medians as a table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE=${BASE:-f9e8638}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-8}
OUT=${OUT:-$ROOT/bench/data/results/http}
WORK=$ROOT/bench/data/http-work
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
mkdir -p "$OUT" "$WORK"

# --- the two binaries
if [ ! -x "$WORK/base/build/ragline" ]; then
  echo "== build ragline at $BASE (cpp-httplib)" >&2
  rm -rf "$WORK/base"
  git worktree prune
  git worktree add --detach "$WORK/base" "$BASE" >/dev/null
  cmake -S "$WORK/base" -B "$WORK/base/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$WORK/base/build" --target ragline >&2
fi
echo "== build ragline from this tree (Boost.Beast)" >&2
cmake -S . -B build/http-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_TESTS=OFF >/dev/null
cmake --build build/http-bench --target ragline >&2
declare -A BIN=([httplib]="$WORK/base/build/ragline" [beast]="$ROOT/build/http-bench/ragline")

# --- data: the sample corpus, ingested by the older binary (the newer reads its files)
./scripts/fetch_model.sh >&2
if [ ! -f "$WORK/loaded" ]; then
  rm -rf "$WORK/data"
  "${BIN[httplib]}" ingest examples/corpus --collection kb --create --data "$WORK/data" >/dev/null
  "${BIN[httplib]}" compact kb --data "$WORK/data" >/dev/null
  touch "$WORK/loaded"
fi
cat > "$WORK/lexical.lua" <<'LUA'
local words = {"sin", "love", "money", "war", "lawyer", "marriage", "church", "friend", "doctor", "king"}
local n = 0
request = function()
  n = n % #words + 1
  return wrk.format("POST", "/v1/collections/kb/query", {["Content-Type"] = "application/json"},
    '{"query": "what is ' .. words[n] .. '", "k": 10, "mode": "lexical", "generate": false}')
end
LUA

# run NAME URL WORKLOAD CONNECTIONS -> one JSON line
run() {
  local name=$1 url=$2 workload=$3 c=$4 script=()
  [ "$workload" = lexical ] && script=(-s "$WORK/lexical.lua")
  local path=/healthz
  [ "$workload" = lexical ] && path=/
  wrk -t 2 -c "$c" -d "${DURATION}s" --timeout 10s --latency "${script[@]}" "$url$path" > "$WORK/wrk.txt"
  python3 - "$name" "$workload" "$c" "$WORK/wrk.txt" <<'PY'
import json, re, sys
name, workload, c, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(path).read()
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Socket errors: (.*)", text)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(json.dumps({"server": name, "workload": workload, "connections": c, "requests_per_s": rps,
                  "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
                  "socket_errors": errors.group(1) if errors else "", "non_2xx": int(non2xx.group(1)) if non2xx else 0}))
PY
}

: > "$OUT/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do  # alternate the servers, so drift on a shared machine hits both
  for name in httplib beast; do
    "${BIN[$name]}" serve --data "$WORK/data" --port 0 --threads "$THREADS" --log-level warn > "$WORK/serve.out" 2> "$WORK/serve.log" &
    pid=$!
    . scripts/serve_url.sh
    url=$(wait_for_url "$WORK/serve.out" $pid)
    for workload in healthz lexical; do
      for c in 8 64; do
        wrk -t 2 -c "$c" -d 2s "$url/healthz" >/dev/null  # warm up
        run "$name" "$url" "$workload" "$c" | tee -a "$OUT/results.jsonl" >&2
      done
    done
    kill "$pid"; wait "$pid" || true
  done
done
lscpu | sed -n 's/^Model name:\s*//p' > "$OUT/cpu.txt"
# The median of the rounds, Beast against cpp-httplib.
python3 - "$OUT/results.jsonl" "$(cat "$OUT/cpu.txt")" <<'PY' | tee "$OUT/report.md"
import collections, json, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[(r["server"], r["workload"], r["connections"])].append(r)
def med(server, workload, c, key):
    return statistics.median(r[key] for r in runs[(server, workload, c)])
print(f"CPU: {sys.argv[2]}; median of {len(runs[('beast', 'healthz', 8)])} rounds\n")
print("| workload | connections | cpp-httplib req/s | Beast req/s | ratio | cpp-httplib p99 | Beast p99 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for workload in ("healthz", "lexical"):
    for c in (8, 64):
        h, b = med("httplib", workload, c, "requests_per_s"), med("beast", workload, c, "requests_per_s")
        print(f"| {workload} | {c} | {h:,.0f} | {b:,.0f} | {b / h:.2f}x | "
              f"{med('httplib', workload, c, 'p99_ms'):.1f} ms | {med('beast', workload, c, 'p99_ms'):.1f} ms |")
PY
