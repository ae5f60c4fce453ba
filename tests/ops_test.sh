#!/usr/bin/env bash
# Operations (docs/operations.md). The synthetic probe: `ragline probe` passes and
# fails as it should, and `ragline serve`'s built-in probe (config "probe") exports
# its result. deploy/prometheus/rules.yml: promtool accepts it, its unit tests pass (each alert
# fires on a series that should fire it and stays silent on one that should not),
# and every metric it and the Grafana dashboard (deploy/grafana/ragline.json, whose
# queries must also parse) name is one ragline exports: the families a node exports are
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

# A node with a collection, a breaker (an LLM that is not there), a built-in probe and
# one query, so that labelled families have children. The probe's collection does not
# exist at first: the probe fails, then passes once the document is in.
trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
cat > "$WORK/serve.json" <<'JSON'
{"probe": {"collection": "kb", "question": "when does the tide rise", "expect_docs": ["tides.txt"],
           "min_similarity": 0.3, "interval_ms": 200}}
JSON
start_serve serve --data "$DATA" --model "$MODEL" --port 0 --threads 2 --config "$WORK/serve.json" \
  --llm-url http://127.0.0.1:9/v1 --llm-model none
probe_metric() { curl -s "$URL/metrics" | sed -n "s/^$1 //p"; }
probe_has_failed() { [ "$(probe_metric 'rag_probe_runs_total{probe="builtin",result="fail"}')" -gt 0 ] 2>/dev/null; }
probe_passes() { [ "$(probe_metric 'rag_probe_success{probe="builtin"}')" = 1 ]; }
wait_until "the built-in probe fails while kb is missing" probe_has_failed
check "probe success gauge while failing" "$(probe_metric 'rag_probe_success{probe="builtin"}')" "0"
check_contains "the failure is logged with its reason" "$(cat "$WORK/serve.log")" "synthetic probe failed"
curl -s -X POST -H 'Content-Type: application/json' -d '{"name":"kb"}' "$URL/v1/collections" > /dev/null
mkdir -p "$WORK/docs"
printf 'The tide rises twice a day, pulled by the moon.\n' > "$WORK/docs/tides.txt"
printf 'Knead the dough, let it rise, then bake the bread.\n' > "$WORK/docs/bread.txt"
"$RAGLINE" ingest "$WORK/docs" --server "$URL" --collection kb > /dev/null
wait_until "the built-in probe passes once the document is in" probe_passes
check "probe similarity exported" "$(probe_metric 'rag_probe_similarity{probe="builtin"}' | awk '{print ($1 >= 0.3)}')" "1"

# ragline probe: one JSON line, exit 0 on pass, 1 with the reason on each kind of failure
out=$("$RAGLINE" probe --server "$URL" --collection kb --question "when does the tide rise" \
      --expect-doc tides.txt --min-similarity 0.3) && rc=0 || rc=$?
check "probe passes" "$rc $(jq -c '[.ok, (.similarity > 0.3)]' <<<"$out")" "0 [true,true]"
probe_fails() {  # probe_fails DESCRIPTION REASON ARGS...
  local desc=$1 reason=$2 out rc
  shift 2
  out=$("$RAGLINE" probe "$@" 2>/dev/null) && rc=0 || rc=$?
  check "$desc: exit code" "$rc" "1"
  check_contains "$desc: reason" "$(jq -r .reason <<<"$out")" "$reason"
}
probe_fails "probe: expected document missing" "expected document moon.txt is not among" \
  --server "$URL" --collection kb --question "when does the tide rise" --expect-doc moon.txt
probe_fails "probe: similarity too low" "is below 0.99" \
  --server "$URL" --collection kb --question "when does the tide rise" --min-similarity 0.99
probe_fails "probe: unknown collection" "server answered 404" --server "$URL" --collection nope --question x
probe_fails "probe: no server" "cannot reach http://127.0.0.1:9" --server http://127.0.0.1:9 --collection kb --question x
expect_fail "probe: bad mode" "mode" "$RAGLINE" probe --server "$URL" --collection kb --question x --mode fuzzy
curl -s -X POST -H 'Content-Type: application/json' -d '{"query":"tide","mode":"hybrid"}' \
  "$URL/v1/collections/kb/query" > /dev/null
curl -s "$URL/metrics" > "$WORK/metrics.txt"

# Every metric family the rules and the dashboard's queries name is exported.
families_of() { grep -o 'rag_[a-z_0-9]*' | sed -E 's/_(bucket|sum|count)$//' | sort -u; }
check_exported() {  # check_exported WHERE FAMILY...
  local where=$1 f
  shift
  [ $# -gt 0 ] || fail "no metric names found in $where"
  for f in "$@"; do
    if [[ " $WORKER_METRICS " == *" $f "* ]]; then pass; continue; fi
    if grep -q "^# TYPE $f " "$WORK/metrics.txt"; then pass; else fail "$where uses $f, which the server's /metrics does not export"; fi
  done
}
check_exported rules.yml $(families_of < "$RULES_DIR/rules.yml")
DASHBOARD="$RULES_DIR/../grafana/ragline.json"
check_exported "the Grafana dashboard" $(jq -r '.panels[].targets[].expr' "$DASHBOARD" | families_of)
# The dashboard's queries are valid PromQL: promtool checks them as recording rules.
jq -r '"groups:\n  - name: dashboard\n    rules:", (.panels[].targets[].expr | "      - record: dashboard_query\n        expr: " + tojson)' \
  "$DASHBOARD" > "$WORK/dashboard_rules.yml"
out=$(promtool check rules "$WORK/dashboard_rules.yml" 2>&1) && rc=0 || rc=$?
check "dashboard queries parse as PromQL ($out)" "$rc" "0"
check "dashboard panels have unique ids and a query each" \
  "$(jq '[.panels[].id] | (length == (unique | length)) and length > 0' "$DASHBOARD") $(jq '[.panels[] | select((.targets | length) == 0)] | length' "$DASHBOARD")" "true 0"
check "vector count per collection" "$(sed -n 's/^rag_collection_vectors{collection="kb"} //p' "$WORK/metrics.txt")" "2"
finish
