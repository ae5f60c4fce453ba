#!/usr/bin/env bash
# Distributed mode end to end through a real Kafka broker: `ragline ingest --kafka`
# publishes a corpus, a chunk worker, an embed worker and an index node carry it into
# a collection, and the result equals what embedded mode builds from the same files
# (same chunk ids, texts and offsets; vectors equal within the encoder's tolerance).
# Then a malformed message of each kind lands in the dead-letter topic's way (the
# index node goes on), killing and restarting the index node loses nothing, and an
# embed worker whose embedder (another `ragline serve`, through --remote) goes down
# rolls its batches back and carries every document once it returns.
#   tests/distributed_test.sh RAGLINE
RAGLINE=${1:?usage: distributed_test.sh RAGLINE}
. "$(dirname "$0")/lib.sh"
require_model
KAFKA=$ROOT/scripts/kafka.sh
K=$WORK/kafka
PIDS=()
cleanup() {
  if [ "$FAILED" -gt 0 ]; then
    for log in "$WORK"/{chunk,embed,embed2,index,embedder}.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  fi
  for p in "${PIDS[@]}" ${EMBEDDER_PID:-}; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$KAFKA" stop "$K" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$KAFKA" start "$K" 2>"$WORK/kafka-start.log" || { cat "$WORK/kafka-start.log" >&2; exit 1; }
B=$(cat "$K/bootstrap")
CORPUS=$ROOT/examples/corpus/devils-dictionary
common=(--kafka "$B" --topic-partitions 4)

start_role() {  # start_role NAME ARGS...: a worker in the background, its pid in PIDS and $NAME_PID
  local name=$1
  shift
  "$RAGLINE" worker "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=($!)
  printf -v "${name}_PID" '%s' "$!"
}
vector_count() { "$RAGLINE" stats docs --data "$1" 2>/dev/null | jq -r '.vector_count // 0'; }
# wait_for_count DIR N: until the collection in DIR holds N records (300 s at most).
wait_for_count() {
  local deadline=$((SECONDS + 300)) n
  while [ $SECONDS -lt $deadline ]; do
    n=$(vector_count "$1")
    [ "${n:-0}" -eq "$2" ] && return 0
    sleep 0.5
  done
  echo "collection in $1 holds ${n:-0} records, not $2" >&2
  return 1
}

# The cluster config file (docs/distributed.md): the chunk worker and the index node
# take everything shared from it; the embed worker's --kafka overrides a wrong one.
jq -n --arg b "$B" --arg m "$MODEL" \
  '{kafka: $b, model: $m, workers: {topic_partitions: 4, collection: "docs", create: true}}' >"$WORK/cluster.json"
jq '.kafka = "127.0.0.1:1"' "$WORK/cluster.json" >"$WORK/cluster-bad.json"
echo '{"workers": {"chunk_token": 5}}' >"$WORK/typo.json"
expect_fail "a typo in the cluster config is refused" 'unknown key "workers.chunk_token"' \
  "$RAGLINE" worker chunk --config "$WORK/typo.json"
start_role chunk chunk --config "$WORK/cluster.json"
start_role embed embed --config "$WORK/cluster-bad.json" --kafka "$B"
start_role index index --config "$WORK/cluster.json" --data "$WORK/dist"

# Embedded mode from the same files: the reference.
documents=$("$RAGLINE" ingest "$CORPUS" --data "$WORK/emb" --collection docs --create --model "$MODEL" 2>/dev/null |
  jq -r .documents_added)
expected=$(vector_count "$WORK/emb")
[ "$expected" -gt 100 ] && pass || fail "embedded ingest made only $expected chunks"

expect_fail "--kafka with --data is refused" "give either --data DIR, --server URL or --kafka BROKERS" "$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" --data "$WORK/x"
expect_fail "--kafka needs --collection" "--collection is required" "$RAGLINE" ingest "$CORPUS" --kafka "$B"
expect_fail "a worker needs --kafka" "--kafka is required" "$RAGLINE" worker chunk
expect_fail "a shard's partitions are numbers" "not a partition number" \
  "$RAGLINE" worker index --kafka "$B" --data "$WORK/x" --collection docs --partitions-of-shard 0,x

t0=$SECONDS
published=$("$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" 2>/dev/null | jq -r .documents_published)
check "every document is published" "$published" "$documents"
if wait_for_count "$WORK/dist" "$expected"; then pass; else fail "the cluster did not index the corpus"; fi
echo "distributed ingest of $published documents ($expected chunks): $((SECONDS - t0)) s"

# Same chunks, texts, offsets; vectors within 1e-4 of each other.
ids=()
for f in $(cd "$CORPUS" && find . -type f \( -name '*.md' -o -name '*.txt' \) | sed 's|^\./||' | sort); do
  n=$("$RAGLINE" get docs "$f#0" --data "$WORK/emb" | jq -r .payload.chunk_count)
  for ((k = 0; k < n; k++)); do ids+=("$f#$k"); done
done
check "every embedded chunk is listed" "${#ids[@]}" "$expected"
"$RAGLINE" get docs "${ids[@]}" --data "$WORK/emb" >"$WORK/emb.jsonl"
if "$RAGLINE" get docs "${ids[@]}" --data "$WORK/dist" >"$WORK/dist.jsonl"; then pass; else fail "a chunk is missing in distributed mode"; fi
diff_report=$(jq -rs '
  (.[0:length/2]) as $a | (.[length/2:]) as $b |
  [range(0; $a|length) | . as $i | $a[$i] as $x | $b[$i] as $y |
   select($x.id != $y.id or $x.payload.text != $y.payload.text or $x.payload.offsets != $y.payload.offsets
          or $x.payload.chunk_count != $y.payload.chunk_count
          or ([range(0; $x.vector|length) | ($x.vector[.] - $y.vector[.]) | fabs] | max) > 1e-4) | $x.id] | length' \
  "$WORK/emb.jsonl" "$WORK/dist.jsonl")
check "distributed chunks equal embedded ones" "$diff_report" "0"

# SIGKILL the index node while a new version of every document streams in, restart it:
# every document ends whole at its new version, nothing lost, nothing twice.
first_versions=$(jq -s '[.[] | .version] | max' "$WORK/dist.jsonl")
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
deadline=$((SECONDS + 60))
until [ "$("$RAGLINE" get docs a.md#0 --data "$WORK/dist" 2>/dev/null | jq -r .version)" -gt "$first_versions" ] ||
  [ $SECONDS -ge $deadline ]; do sleep 0.2; done
kill -KILL "$index_PID"
wait "$index_PID" 2>/dev/null || true
start_role index index "${common[@]}" --data "$WORK/dist" --collection docs
deadline=$((SECONDS + 300))
newest() { "$RAGLINE" get docs "${ids[@]}" --data "$WORK/dist" 2>/dev/null | jq -s --argjson v "$first_versions" '[.[] | select(.version > $v)] | length'; }
until [ "$(newest)" -eq "$expected" ] || [ $SECONDS -ge $deadline ]; do sleep 0.5; done
check "every chunk at the new version after the index node's SIGKILL" "$(newest)" "$expected"
check "no record twice, none left over" "$(vector_count "$WORK/dist")" "$expected"
"$RAGLINE" get docs "${ids[@]}" --data "$WORK/dist" >"$WORK/dist2.jsonl"
mixed=$(jq -rs 'group_by(.payload.doc_id) | map(select(([.[].version] | unique | length) > 1)) | length' "$WORK/dist2.jsonl")
check "each document's chunks share one version" "$mixed" "0"

# The embed worker's embedder fails: an embed worker using another ragline's
# /v1/embeddings (--remote) takes over the group; its server stops while a new version
# of every document streams in. Batches roll back (nothing dead-lettered, no document
# failed, nothing indexed at the new version) until the server is back on the same
# port; then every chunk arrives at the new version.
. "$ROOT/scripts/serve_url.sh"
start_embedder() {  # start_embedder PORT: sets EMBEDDER_PID and EMBEDDER_URL
  "$RAGLINE" serve --data "$WORK/embedder-data" --model "$MODEL" --port "$1" --log-level warn \
    >"$WORK/embedder.out" 2>>"$WORK/embedder.log" &
  EMBEDDER_PID=$!
  EMBEDDER_URL=$(wait_for_url "$WORK/embedder.out" "$EMBEDDER_PID")
}
start_embedder 0 || fail "the embeddings server did not start"
kill -TERM "$embed_PID"
wait "$embed_PID" 2>/dev/null || true
start_role embed2 embed "${common[@]}" --remote "$EMBEDDER_URL/v1" --remote-model all-MiniLM-L6-v2
kill -TERM "$EMBEDDER_PID"
wait "$EMBEDDER_PID" 2>/dev/null || true
second_versions=$(jq -s '[.[] | .version] | max' "$WORK/dist2.jsonl")
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
deadline=$((SECONDS + 60))
until grep -q "batch rolled back" "$WORK/embed2.log" || [ $SECONDS -ge $deadline ]; do sleep 0.5; done
sleep 3  # a few more rolled-back tries
rolled=$(grep -c "batch rolled back" "$WORK/embed2.log" || true)
[ "${rolled:-0}" -ge 1 ] && pass || fail "the embed worker did not roll a batch back while its embedder was down"
newer() { "$RAGLINE" get docs "${ids[@]}" --data "$WORK/dist" 2>/dev/null | jq -s --argjson v "$1" '[.[] | select(.version > $v)] | length'; }
check "nothing reaches the index while the embedder is down" "$(newer "$second_versions")" "0"
check "no document failed for the embedder's outage" "$(grep -c "document '.*' failed" "$WORK/embed2.log" || true)" "0"
start_embedder "${EMBEDDER_URL##*:}" || fail "the embeddings server did not come back on its port"
deadline=$((SECONDS + 300))
until [ "$(newer "$second_versions")" -eq "$expected" ] || [ $SECONDS -ge $deadline ]; do sleep 0.5; done
check "every chunk at the new version once the embedder is back" "$(newer "$second_versions")" "$expected"
check "still no record twice" "$(vector_count "$WORK/dist")" "$expected"
echo "embed worker rolled back $rolled batches while its embedder was down"
finish
