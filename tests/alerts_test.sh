#!/usr/bin/env bash
# deploy/prometheus/rules.yml: promtool accepts it, its unit tests pass (each alert
# fires on a series that should fire it and stays silent on one that should not),
# and every metric it names is one ragline exports: the families a node exports are
# read from a running `ragline serve`'s /metrics; the workers' (rag_kafka_lag) are
# checked on running workers by tests/cluster_test.sh.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
command -v promtool >/dev/null || { echo "FAIL: promtool not found (Debian package prometheus)" >&2; exit 1; }
RULES_DIR="$(cd "$(dirname "$0")/../deploy/prometheus" && pwd)"
WORKER_METRICS="rag_kafka_lag"

out=$(promtool check rules "$RULES_DIR/rules.yml" 2>&1) && rc=0 || rc=$?
check "promtool check rules ($out)" "$rc" "0"
out=$(cd "$RULES_DIR" && promtool test rules rules_test.yml 2>&1) && rc=0 || rc=$?
check "promtool test rules ($out)" "$rc" "0"
alerts=$(grep -c '^ *- alert:' "$RULES_DIR/rules.yml")
tested=$(grep -o 'alertname: [A-Za-z]*' "$RULES_DIR/rules_test.yml" | sort -u | wc -l)
check "every alert has a unit test" "$tested" "$alerts"

# A node with a collection, a breaker (an LLM that is not there) and one query of each
# kind, so that labelled families have children.
trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
start_serve serve --data "$DATA" --model "$MODEL" --port 0 --threads 2 \
  --llm-url http://127.0.0.1:9/v1 --llm-model none
curl -s -X POST -H 'Content-Type: application/json' -d '{"name":"kb"}' "$URL/v1/collections" > /dev/null
printf 'The tide rises twice a day.\n' > "$WORK/tides.txt"
"$RAGLINE" ingest "$WORK/tides.txt" --server "$URL" --collection kb > /dev/null 2>&1
curl -s -X POST -H 'Content-Type: application/json' -d '{"query":"tide","mode":"hybrid"}' \
  "$URL/v1/collections/kb/query" > /dev/null
curl -s "$URL/metrics" > "$WORK/metrics.txt"

families=$(grep -o 'rag_[a-z_0-9]*' "$RULES_DIR/rules.yml" | sed -E 's/_(bucket|sum|count)$//' | sort -u)
[ -n "$families" ] || fail "no metric names found in rules.yml"
for f in $families; do
  if [[ " $WORKER_METRICS " == *" $f "* ]]; then pass; continue; fi
  if grep -q "^# TYPE $f " "$WORK/metrics.txt"; then pass; else fail "rules.yml uses $f, which the server's /metrics does not export"; fi
done
check "vector count per collection" "$(sed -n 's/^rag_collection_vectors{collection="kb"} //p' "$WORK/metrics.txt")" "1"
finish
