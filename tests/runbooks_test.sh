#!/usr/bin/env bash
# docs/runbooks.md: every ```sh block of the page runs, in order, against a real server
# set up so that each runbook has something to fix: a bad re-index behind the alias
# "live" (docs_v2 lost a document that docs_v1 has), a store to fall back from, and a
# node to restart. A block that fails (its verification is `jq -e`, `test`, a probe)
# fails this test, so the page keeps commands that work.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
DOC="$(cd "$(dirname "$0")/.." && pwd)/docs/runbooks.md"
mkdir -p "$WORK/bin" "$WORK/blocks"
ln -s "$RAGLINE" "$WORK/bin/ragline"
export PATH="$WORK/bin:$PATH"

# The blocks, in page order: block_0.sh, block_1.sh, ...
awk -v dir="$WORK/blocks" '/^```sh$/ {f = sprintf("%s/block_%d.sh", dir, n++); next}
                           /^```$/ {f = ""; next} f {print > f}' "$DOC"
blocks=$(ls "$WORK/blocks" | wc -l)
check "the page has its 7 command blocks" "$blocks" "7"
run_block() {  # run_block N DESCRIPTION
  local out rc
  out=$(cd "$WORK" && bash -euo pipefail "$WORK/blocks/block_$1.sh" 2>&1) && rc=0 || rc=$?
  check "runbook step $1: $2 (output: $out)" "$rc" "0"
}

trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
serve() { start_serve serve --data "$DATA" --model "$MODEL" --port 0 --threads 4; }
serve
export RAGLINE_URL=$URL RAGLINE_DATA=$DATA
mkdir -p "$WORK/v1" "$WORK/v2"
printf 'The tide rises twice a day, pulled by the moon.\n' > "$WORK/v1/tides.txt"
printf 'Knead the dough, let it rise, then bake the bread.\n' | tee "$WORK/v1/bread.txt" > "$WORK/v2/bread.txt"
ragline ingest "$WORK/v1" --server "$URL" --collection docs_v1 --create > /dev/null 2>&1
ragline ingest "$WORK/v2" --server "$URL" --collection docs_v2 --create > /dev/null 2>&1
put_alias() { curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
                -d "{\"collection\":\"$1\"}" "$URL/v1/aliases/live"; }
check "alias to docs_v1" "$(put_alias docs_v1)" "200"
check "the bad flip to docs_v2" "$(put_alias docs_v2)" "200"
probe() { ragline probe --server "$URL" --collection live --question "when does the tide rise" --expect-doc tides.txt; }
probe > /dev/null && rc=0 || rc=$?
check "before the rollback the probe fails (the symptom)" "$rc" "1"

run_block 0 "alias history and rollback"
run_block 1 "the alias serves docs_v1 again and the probe passes"
for _ in 1 2 3; do probe > /dev/null || true; done  # hits for the hot cache
run_block 2 "fallback on"
run_block 3 "queries come from the fallback index"
run_block 4 "fallback off, answers from the store"
run_block 5 "SIGTERM, and the node exits"
wait "$PID" && rc=0 || rc=$?
check "the node exited 0 after SIGTERM" "$rc" "0"
serve
export RAGLINE_URL=$URL
run_block 6 "after the restart: ready, both documents there"
finish
