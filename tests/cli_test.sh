#!/usr/bin/env bash
# The CLI contract of issue #2, end to end through the ragline binary.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
r() { "$RAGLINE" "$@"; }

# --- usage: `ragline` alone prints what it can do; usage errors exit 2
rc=0; "$RAGLINE" > /dev/null 2> "$WORK/usage" || rc=$?
check "ragline alone exits 2" "$rc" "2"
check_contains "ragline alone prints help" "$(cat "$WORK/usage")" "retrieval-augmented generation engine"
rc=0; r collection list --no-such-flag > /dev/null 2>&1 || rc=$?
check "an unknown flag exits 2" "$rc" "2"
rc=0; r collection > /dev/null 2>&1 || rc=$?
check "a missing subcommand exits 2" "$rc" "2"
check "--help exits 0" "$(r --help > /dev/null 2>&1; echo $?)" "0"
# Each flag's help shows its default, and a range reads as one.
help=$(r ingest --help 2>&1)
check_contains "help shows defaults" "$help" "--chunk-tokens UINT=256"
check_contains "help shows ranges plainly" "$help" "--batch-docs UINT in [1, 1000000]=64"
check_contains "help shows string defaults" "$(r collection create --help 2>&1)" "--metric TEXT=cosine"
expect_fail "an unreachable server: the reason in words" "connection refused or failed" \
  r query "hello" --collection docs --server http://127.0.0.1:9

# --- collections
r collection create docs --dim 4 --metric cosine --index hnsw --param M=8 --param ef_construction=64 \
  --seal-threshold 4 --data "$DATA" >/dev/null
check "describe shows the index params" "$(r collection describe docs --data "$DATA" | jq -c '.index.params.M')" "8"
expect_fail "duplicate create" "already exists" r collection create docs --dim 4 --data "$DATA"
expect_fail "bad metric" "unknown metric 'hamming'" r collection create x --dim 4 --metric hamming --data "$DATA"
expect_fail "bad index" "unknown index kind" r collection create x --dim 4 --index lsh --data "$DATA"
expect_fail "bad param" "unknown index parameter 'Q'" r collection create x --dim 4 --param Q=1 --data "$DATA"
expect_fail "bad name" "is invalid" r collection create "a/b" --dim 4 --data "$DATA"
r collection create flat2 --dim 2 --metric l2 --index flat --data "$DATA" >/dev/null
# without --dim: the embedding model's (the model is found beside the build tree, as ingest finds it)
check "create takes the model's dimension" \
  "$(r collection create bydefault --data "$DATA" > /dev/null && r collection describe bydefault --data "$DATA" | jq .dim)" "384"
expect_fail "no --dim and no model" "give --dim" r collection create nomodel --model "$WORK/none" --data "$DATA"
r collection drop bydefault --data "$DATA" > /dev/null
check "list" "$(r collection list --data "$DATA" | jq -c '.collections')" '["docs","flat2"]'

# --- upsert: one {"acked": N} line per durable batch, cumulative
cat > "$WORK/in.jsonl" <<'JSONL'
{"id":"a","version":1,"vector":[1,0,0,0],"payload":{"lang":"en","year":2001}}
{"id":"b","version":1,"vector":[0,1,0,0],"payload":{"lang":"de","year":2005}}
{"id":"c","version":1,"vector":[0,0,1,0],"payload":{"lang":"en","year":2010}}

{"id":"d","version":1,"vector":[0.9,0.1,0,0],"payload":{"lang":"fr","year":2020}}
{"id":"e","version":1,"vector":[0,0,0.2,1]}
JSONL
out=$(r upsert docs --data "$DATA" --file "$WORK/in.jsonl" --batch-size 2)
check "acked lines" "$(echo "$out" | jq -c .acked | tr '\n' ' ')" "2 4 5 "
check "stats vector_count" "$(r stats docs --data "$DATA" | jq .vector_count)" "5"

# versions: older discarded, equal is a no-op, newer replaces
printf '%s\n' '{"id":"a","version":0,"vector":[0,0,0,1],"payload":{"old":true}}' \
  '{"id":"b","version":1,"vector":[0,0,0,1]}' \
  '{"id":"c","version":2,"vector":[0,0,1,0],"payload":{"lang":"en","year":2011}}' \
  | r upsert docs --data "$DATA" 2>"$WORK/err" >/dev/null
check_contains "upsert summary" "$(cat "$WORK/err")" "1 replaced, 1 stale discarded, 1 unchanged"
check "stale upsert discarded" "$(r get docs a --data "$DATA" | jq -c '[.version, .payload]')" '[1,{"lang":"en","year":2001}]'
check "newer replaces" "$(r get docs c --data "$DATA" | jq .version)" "2"

# --- search
hits=$(echo '{"vector":[1,0.05,0,0]}' | r search docs --data "$DATA" --k 2)
check "nearest first" "$(echo "$hits" | jq -c '[.hits[].id]')" '["a","d"]'
check "hit fields" "$(echo "$hits" | jq -c '.hits[0] | keys')" '["id","payload","score","version"]'
check "one line per query" "$(printf '%s\n%s\n' '{"vector":[1,0,0,0]}' '{"vector":[0,1,0,0]}' | r search docs --data "$DATA" --k 1 | wc -l)" "2"
check "equality filter" "$(echo '{"vector":[1,0,0,0]}' | r search docs --data "$DATA" --k 5 --filter '{"lang":"en"}' | jq -c '[.hits[].id]')" '["a","c"]'
check "range filter" "$(echo '{"vector":[1,0,0,0]}' | r search docs --data "$DATA" --k 5 --filter '{"year":{"$gte":2005,"$lt":2020}}' | jq -c '[.hits[].id] | sort')" '["b","c"]'
check "set filter" "$(echo '{"vector":[1,0,0,0]}' | r search docs --data "$DATA" --k 5 --filter '{"lang":{"$in":["de","fr"]}}' | jq -c '[.hits[].id] | sort')" '["b","d"]'
check "l2 score is squared distance" "$(echo '{"id":"p","version":1,"vector":[3,4]}' | r upsert flat2 --data "$DATA" >/dev/null; echo '{"vector":[0,0]}' | r search flat2 --data "$DATA" --k 1 | jq '.hits[0].score')" "25"

# --- bad input: clear error naming the line, non-zero exit, nothing acked is lost
printf '%s\n' '{"id":"ok1","version":1,"vector":[1,1,0,0]}' '{"id":"x","version":1,"vector":[1,2,3]}' \
  > "$WORK/bad_dim.jsonl"
expect_fail "wrong dimension" "line 2 (id 'x'): vector has 3 dimensions, the collection expects 4" \
  r upsert docs --data "$DATA" --file "$WORK/bad_dim.jsonl"
check "records before a bad line are kept" "$(r get docs ok1 --data "$DATA" | jq .version)" "1"
expect_fail "malformed JSON" "line 1: malformed JSON" bash -c "echo '{\"id\": ' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "missing id" "line 1: missing \"id\"" bash -c "echo '{\"vector\":[1,0,0,0]}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "non-finite" "is not a finite float" bash -c "echo '{\"id\":\"n\",\"vector\":[4e38,0,0,0]}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "non-number" "vector[1] is not a number" bash -c "echo '{\"id\":\"n\",\"vector\":[1,\"x\",0,0]}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "bad payload" "\"payload\" must be a JSON object" bash -c "echo '{\"id\":\"n\",\"vector\":[1,0,0,0],\"payload\":3}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "negative version" "\"version\" must be a non-negative integer" bash -c "echo '{\"id\":\"n\",\"version\":-1,\"vector\":[1,0,0,0]}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "zero vector under cosine" "zero vector" bash -c "echo '{\"id\":\"z\",\"vector\":[0,0,0,0]}' | '$RAGLINE' upsert docs --data '$DATA'"
expect_fail "unknown collection" "collection 'nope' does not exist" bash -c "echo '{\"id\":\"n\",\"vector\":[1]}' | '$RAGLINE' upsert nope --data '$DATA'"
expect_fail "search unknown collection" "collection 'nope' does not exist" bash -c "echo '{\"vector\":[1]}' | '$RAGLINE' search nope --data '$DATA' --k 1"
expect_fail "search wrong dimension" "line 1: vector has 2 dimensions" bash -c "echo '{\"vector\":[1,0]}' | '$RAGLINE' search docs --data '$DATA' --k 1"
expect_fail "bad filter" "unknown operator" bash -c "echo '{\"vector\":[1,0,0,0]}' | '$RAGLINE' search docs --data '$DATA' --k 1 --filter '{\"a\":{\"\$regex\":1}}'"
expect_fail "get absent" "record 'zz' not found" r get docs zz --data "$DATA"
check "nothing lost after all the bad input" "$(r stats docs --data "$DATA" | jq .vector_count)" "6"

# --- delete by id and by filter
check "delete by id" "$(r delete docs --id e --id nope --data "$DATA" | jq -c .)" '{"deleted":1,"not_found":1}'
check "delete by filter" "$(r delete docs --filter '{"lang":"fr"}' --data "$DATA" | jq .deleted)" "1"
check "deleted records are gone" "$(echo '{"vector":[0.9,0.1,0,0]}' | r search docs --data "$DATA" --k 10 | jq -c '[.hits[].id] | sort')" '["a","b","c","ok1"]'
expect_fail "an empty filter deletes nothing" "empty filter" r delete docs --filter '{}' --data "$DATA"
expect_fail "one way to delete at a time" "give exactly one of" r delete docs --all --filter '{"lang":"en"}' --data "$DATA"
check "nothing was deleted by them" "$(r stats docs --data "$DATA" | jq .vector_count)" "4"

# --- compaction drops dead rows
stats=$(r compact docs --data "$DATA")
check "compact leaves no dead rows" "$(echo "$stats" | jq .deleted)" "0"
check "compact indexes everything" "$(echo "$stats" | jq .unindexed)" "0"
check "compact keeps live records" "$(echo "$stats" | jq .vector_count)" "4"

# --- aliases flip atomically
r collection create docs_v2 --dim 4 --index flat --data "$DATA" >/dev/null
echo '{"id":"v2only","version":1,"vector":[1,0,0,0]}' | r upsert docs_v2 --data "$DATA" >/dev/null
r alias create live docs --data "$DATA" >/dev/null
check "alias resolves" "$(echo '{"vector":[1,0,0,0]}' | r search live --data "$DATA" --k 1 | jq -r '.hits[0].id')" "a"
r alias flip live docs_v2 --data "$DATA" >/dev/null
check "alias flipped" "$(echo '{"vector":[1,0,0,0]}' | r search live --data "$DATA" --k 1 | jq -r '.hits[0].id')" "v2only"
expect_fail "drop aliased collection" "target of alias 'live'" r collection drop docs_v2 --data "$DATA"
r alias delete live --data "$DATA" >/dev/null
r collection drop docs_v2 --data "$DATA" >/dev/null
check "dropped" "$(r collection list --data "$DATA" | jq -c '.collections')" '["docs","flat2"]'

# --- data survives a restart (every command is its own process) and a second writer is refused
check "persisted" "$(r get docs c --data "$DATA" | jq -c '.payload')" '{"lang":"en","year":2011}'
finish
