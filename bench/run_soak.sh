#!/usr/bin/env bash
# Soak (issue 15, docs/reliability.md): `ragline serve` under a steady query load
# at 80 % of the rate it can sustain, with documents re-ingested over HTTP at the
# same time, for SOAK_MINUTES. Passes when no request failed (queries and
# ingests) and the server's memory does not grow: its RSS, sampled every 5 s, has a
# median less than 5 % higher in the last fifth of the run than in the fifth after
# the warm-up (the first fifth). The windows' peaks are reported too. Windows, not
# two instants: each re-ingest, seal and merge lifts RSS by tens of MB for a few
# seconds, and two samples would measure where in that cycle they fell; the median
# is the level memory returns to, which a leak would lift. Not a CI test: it takes
# half an hour.
#
#   bench/run_soak.sh                       # 30 minutes; needs wrk (apt-get install wrk)
#   SOAK_MINUTES=3 bench/run_soak.sh        # a short check
#
# Environment [defaults]: SOAK_MINUTES [30], CONCURRENCY [4], THREADS server
# workers [8], MODE [hybrid], RAGLINE [build/release/ragline, else build/dev/ragline],
# MODEL [models/all-MiniLM-L6-v2], SOAK_OUT [bench/data/results/soak]. Writes report.json and
# rss.tsv (seconds since the soak began, RSS in kB).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SOAK_MINUTES=${SOAK_MINUTES:-30}
CONCURRENCY=${CONCURRENCY:-4}  # the server's query slots (threads/2): more would be refused by admission control
THREADS=${THREADS:-8}
MODE=${MODE:-hybrid}
RAGLINE=${RAGLINE:-$( [ -x build/release/ragline ] && echo build/release/ragline || echo build/dev/ragline )}
MODEL=${MODEL:-$ROOT/models/all-MiniLM-L6-v2}
OUT=${SOAK_OUT:-$ROOT/bench/data/results/soak}
WORK=$(mktemp -d /tmp/ragline-soak.XXXXXX)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
mkdir -p "$OUT"

"$RAGLINE" serve --data "$WORK/data" --model "$MODEL" --port 0 --threads "$THREADS" --log-level warn \
  > "$WORK/serve.out" 2> "$WORK/serve.log" &
PID=$!
trap 'kill $PID ${INGEST_PID:-} ${RSS_PID:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
. scripts/serve_url.sh
URL=$(wait_for_url "$WORK/serve.out" $PID) || { cat "$WORK/serve.log" >&2; exit 1; }
"$RAGLINE" ingest examples/corpus --server "$URL" --collection docs --create > /dev/null
# Questions: the corpus's lines of 4-20 words.
cat examples/corpus/*/*.md | awk 'NF >= 4 && NF <= 20 && n++ < 500' > "$WORK/questions.txt"
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }

echo "== the rate it sustains (15 s at concurrency $CONCURRENCY, $MODE)" >&2
# Only answered (2xx) requests count: a refusal is fast, not throughput.
wrk -t 2 -c "$CONCURRENCY" -d 15s -s bench/query_wrk.lua "$URL" -- "$WORK/questions.txt" "$MODE" false docs > "$WORK/max.txt"
max=$(awk '/requests in/ {n = $1} /Non-2xx/ {bad = $NF} END {printf "%.1f", (n - bad) / 15}' "$WORK/max.txt")
rate=$(awk -v m="$max" 'BEGIN {printf "%.1f", m * 0.8}')
echo "max $max req/s; soaking at $rate req/s for $SOAK_MINUTES min with concurrent ingest" >&2

# Concurrent ingest: every 5 s one corpus file is re-ingested with a new line (a new version).
( i=0; while :; do
    f=$(ls examples/corpus/*/*.md | sed -n "$((i % 10 + 1))p"); i=$((i + 1))
    { cat "$f"; echo; echo "soak revision $i"; } > "$WORK/doc-$((i % 10)).md"
    if "$RAGLINE" ingest "$WORK/doc-$((i % 10)).md" --server "$URL" --collection docs > /dev/null 2>> "$WORK/ingest.err"; then
      echo ok >> "$WORK/ingest.log"
    else
      echo failed >> "$WORK/ingest.log"
    fi
    sleep 5
  done ) &
INGEST_PID=$!

seconds=$((SOAK_MINUTES * 60))
( start=$SECONDS; while :; do echo "$((SECONDS - start)) $(rss)"; sleep 5; done ) > "$OUT/rss.tsv" &
RSS_PID=$!
wrk -t 2 -c "$CONCURRENCY" -d "${seconds}s" --latency -s bench/soak_wrk.lua "$URL" -- \
  "$WORK/questions.txt" "$MODE" false docs "$rate" > "$WORK/wrk.txt"
kill $INGEST_PID $RSS_PID 2>/dev/null; wait $INGEST_PID $RSS_PID 2>/dev/null || true
# RSS of the fifth after the warm-up and of the last fifth: median and peak (kB).
window() { awk -v from="$1" -v to="$2" '$1 >= from && $1 < to {print $2}' "$OUT/rss.tsv" | sort -n; }
median() { window "$1" "$2" | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }
peak() { window "$1" "$2" | tail -1; }
rss_warm=$(median $((seconds / 5)) $((2 * seconds / 5)))
rss_end=$(median $((4 * seconds / 5)) $((seconds + 60)))
peak_warm=$(peak $((seconds / 5)) $((2 * seconds / 5)))
peak_end=$(peak $((4 * seconds / 5)) $((seconds + 60)))
rss_first=$(awk 'NR == 1 {print $2}' "$OUT/rss.tsv")
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
socket=$(awk '/Socket errors/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s}' "$WORK/wrk.txt"); socket=${socket:-0}
ingests=$(grep -c ok "$WORK/ingest.log" || true)
ingest_failed=$(grep -c failed "$WORK/ingest.log" || true)
p99=$(awk '/ 99%/ {print $2}' "$WORK/wrk.txt")
growth=$(awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN {printf "%.2f", (b - a) * 100 / a}')
cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); m = $2} /CPU family/ {gsub(/ /, "", $2); f = $2} /^Model:/ {gsub(/ /, "", $2); n = $2} END {print m " family " f " model " n}')
jq -n --arg cpu "$cpu" --argjson minutes "$SOAK_MINUTES" --argjson max "$max" --argjson rate "$rate" \
  --argjson requests "$requests" --argjson non2xx "$non2xx" --argjson socket "$socket" \
  --argjson ingests "$ingests" --argjson ingest_failed "$ingest_failed" --arg p99 "$p99" \
  --argjson rss_first "$rss_first" --argjson rss_warm "$rss_warm" --argjson rss_end "$rss_end" --argjson growth "$growth" \
  --argjson peak_warm "$peak_warm" --argjson peak_end "$peak_end" \
  '{cpu: $cpu, minutes: $minutes, max_rps: $max, soak_rps: $rate, requests: $requests, non_2xx: $non2xx,
    socket_errors: $socket, ingests: $ingests, ingest_failures: $ingest_failed, p99: $p99,
    rss_start_kb: $rss_first, rss_median_after_warmup_kb: $rss_warm, rss_median_last_fifth_kb: $rss_end,
    rss_growth_percent: $growth, rss_peak_after_warmup_kb: $peak_warm, rss_peak_last_fifth_kb: $peak_end,
    passed: ($non2xx == 0 and $socket == 0 and $ingest_failed == 0 and $growth < 5)}' | tee "$OUT/report.json"
jq -e .passed "$OUT/report.json" > /dev/null
