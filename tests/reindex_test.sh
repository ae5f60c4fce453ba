#!/usr/bin/env bash
# Re-index with rollback through the public interface (docs/reliability.md):
#   - `ragline reindex --data` copies a collection into an HNSW one, verifies it,
#     flips an alias; a killed copy resumes; `ragline alias rollback` restores;
#   - through a running server (`--server`), queries issued continuously on the
#     alias during the re-index, the flip and a rollback all succeed, and writes
#     made during the copy reach the new collection;
#   - kill -9 during alias flips, ten times: the alias file is always whole.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
trap 'stop_pids ${QPID:-} ${PID:-}; rm -rf "$WORK"' EXIT

# --- a lexical-ready collection of 3000 records with text, from the JSONL upsert path
jq -nc '{id: "d\(range(0; 3000))"} | . + {vector: [1, (.id | ltrimstr("d") | tonumber % 7 + 1), 0.5, 2],
        payload: {text: "document \(.id) about topic \(.id | ltrimstr("d") | tonumber % 13)"}}' > "$WORK/records.jsonl"
"$RAGLINE" collection create kb_v1 --dim 4 --index flat --data "$DATA" > /dev/null
"$RAGLINE" upsert kb_v1 --data "$DATA" < "$WORK/records.jsonl" > /dev/null
"$RAGLINE" alias create kb kb_v1 --data "$DATA" > /dev/null

# --- offline, killed with SIGKILL ten times part-way, then resumed
# (--rate 300: a burst of 300, then 300 records/s, so each 0.3 s round copies a few hundred)
previous=0 grew=0
for round in $(seq 1 10); do
  timeout -s KILL 0.3 "$RAGLINE" reindex kb_v1 kb_v2 --data "$DATA" --index hnsw --rate 300 > /dev/null 2>&1 || true
  partial=$("$RAGLINE" stats kb_v2 --data "$DATA" | jq .vector_count)  # opens cleanly after every kill
  [ "$partial" -lt "$previous" ] && fail "round $round: the copy shrank from $previous to $partial"
  [ "$partial" -gt "$previous" ] && grew=$((grew + 1))
  previous=$partial
  [ "$partial" -ge 3000 ] && break
done
check "killed copies made progress round after round" "$([ "$grew" -ge 3 ] && echo yes || echo "no ($grew)")" "yes"
partial=$previous
"$RAGLINE" reindex kb_v1 kb_v2 --data "$DATA" --index hnsw --alias kb > "$WORK/r.json" 2> "$WORK/r.err"
check "resumed: copied the rest only" "$(jq '.copy.copied' "$WORK/r.json")" "$((3000 - partial))"
check "verified" "$(jq -c '[.verify.ok, .verify.target_count]' "$WORK/r.json")" "[true,3000]"
check "the alias points at the copy" "$("$RAGLINE" alias list --data "$DATA" | jq -r .aliases.kb)" "kb_v2"
check "the copy has the new index" "$("$RAGLINE" stats kb_v2 --data "$DATA" | jq -r '.index.kind // .index_kind // .config.index.kind' )" "hnsw"
check_contains "a progress line" "$(cat "$WORK/r.err")" "records"
check "history remembers kb_v1" "$("$RAGLINE" alias history kb --data "$DATA" | jq -c '[.history[].collection]')" '["kb_v1"]'
check "rollback" "$("$RAGLINE" alias rollback kb --data "$DATA" | jq -c '[.collection, .rolled_back_from]')" '["kb_v1","kb_v2"]'
expect_fail "nothing further back" "no earlier target" "$RAGLINE" alias rollback kb --data "$DATA"
expect_fail "a bad --param is named" "--param 'M=x'" "$RAGLINE" reindex kb_v1 kb_v3 --data "$DATA" --index hnsw --param M=x

# --- through a server, under continuous queries on the alias
start_serve serve --data "$DATA" --model "$MODEL" --port 0 --threads 4
: > "$WORK/statuses"
( while :; do
    curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
      --data '{"query": "topic 5", "mode": "lexical", "k": 3, "generate": false}' "$URL/v1/collections/kb/query" >> "$WORK/statuses"
  done ) &
QPID=$!
sleep 0.5
# a write during the copy: the rate keeps the copy going for ~2 s
( sleep 1; curl -s -o /dev/null -H 'Content-Type: application/json' \
    --data '{"vectors": [{"id": "late", "version": 1, "vector": [1, 1, 1, 1], "payload": {"text": "written during the copy"}}]}' \
    "$URL/v1/collections/kb_v1/vectors" ) &
"$RAGLINE" reindex kb v3 --server "$URL" --index hnsw --param M=8 --rate 1500 --alias kb > "$WORK/s.json" 2> "$WORK/s.err"
check "server re-index verified and flipped" "$(jq -c '[.verify.ok, .alias.collection]' "$WORK/s.json")" '[true,"v3"]'
check "the write made during the copy is in the copy" \
  "$(curl -s "$URL/v1/collections/v3/vectors/late" | jq -r .payload.text)" "written during the copy"
check "queries now answer from v3" "$(curl -s "$URL/v1/aliases/kb" | jq -r .collection)" "v3"
check "server rollback" "$("$RAGLINE" alias rollback kb --server "$URL" | jq -r .collection)" "kb_v1"
sleep 0.5
kill $QPID; wait $QPID 2>/dev/null || true
total=$(wc -l < "$WORK/statuses")
bad=$(grep -vc '^200$' "$WORK/statuses" || true)
check "queries during re-index, flip and rollback: none failed ($total sent)" "$bad" "0"
check "enough queries were sent to mean something" "$([ "$total" -ge 20 ] && echo yes || echo "no ($total)")" "yes"
check "re-index of a missing collection: 404" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data '{"target": "x"}' "$URL/v1/collections/nope/reindex")" "404"
check "re-index without a target: 400" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data '{}' "$URL/v1/collections/kb_v1/reindex")" "400"
kill $PID; wait $PID 2>/dev/null || true

# --- kill -9 during alias flips, ten times: the alias file is always whole
for i in $(seq 1 10); do
  ( for _ in $(seq 1 200); do
      "$RAGLINE" alias flip kb v3 --data "$DATA" > /dev/null 2>&1
      "$RAGLINE" alias flip kb kb_v2 --data "$DATA" > /dev/null 2>&1
    done ) &
  flipper=$!
  sleep 0.$((RANDOM % 4 + 1))
  pkill -KILL -P $flipper 2>/dev/null || true
  kill -KILL $flipper 2>/dev/null || true
  wait $flipper 2>/dev/null || true
  target=$("$RAGLINE" alias list --data "$DATA" | jq -r .aliases.kb)
  case "$target" in v3|kb_v2|kb_v1) pass ;; *) fail "kill -9 during flips ($i): alias kb -> '$target'" ;; esac
done
check "the alias file parses after the kills" "$(jq -r '.aliases.kb | length > 0' "$DATA/aliases.json")" "true"
finish
