#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs ragline's main job on its embedded
# default: build, fetch the embedding model, embed documentation passages with
# the native encoder, load them into a collection, and answer questions by
# dense (all-MiniLM-L6-v2) and lexical (BM25) search.
#
#   ./scripts/quickstart.sh            # data in ./demo-data (recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/fetch_model.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ragline -j"$(nproc)"
RAGLINE=build/release/ragline
DATA=${RAGLINE_DEMO_DATA:-demo-data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

rm -rf "$DATA"
echo "== create a collection (384-d cosine, HNSW; BM25 over payload.text)"
$RAGLINE collection create docs --dim 384 --metric cosine --index hnsw --param M=16 --data "$DATA"
echo "== embed 400 documentation passages with the native all-MiniLM-L6-v2 encoder"
jq -c '{id, text: .payload.text}' examples/sample_records.jsonl > "$WORK/passages.jsonl"
$RAGLINE embed --input jsonl --file "$WORK/passages.jsonl" > "$WORK/embeddings.jsonl"
# Records = passage id + text payload + the vector ragline just computed.
jq -c --slurpfile e "$WORK/embeddings.jsonl" \
  '($e | map({(.id): .embedding}) | add) as $v | {id, version: 1, vector: $v[.id], payload: {text}}' \
  "$WORK/passages.jsonl" > "$WORK/records.jsonl"
echo "== load them"
$RAGLINE upsert docs --data "$DATA" --file "$WORK/records.jsonl" --batch-size 100 | tail -n 1
$RAGLINE compact docs --data "$DATA" | jq -c '{vector_count, segment_count, unindexed, index: .index.kind}'
echo "== ask: the 3 nearest passages to each question (question embedded by ragline)"
while IFS= read -r question; do
  echo
  echo "Q: $question"
  echo "$question" | $RAGLINE embed 2>/dev/null | jq -c '{vector: .embedding}' \
    | $RAGLINE search docs --data "$DATA" --k 3 \
    | jq -r '.hits[] | "  dense   \(.score | tostring | .[0:5])  \(.id)  \(.payload.text | .[0:100])"'
  jq -cn --arg q "$question" '{text: $q}' | $RAGLINE search docs --data "$DATA" --k 1 --mode lexical \
    | jq -r '.hits[] | "  lexical \(.score | tostring | .[0:5])  \(.id)  \(.payload.text | .[0:100])"'
done < <(jq -r .text examples/sample_queries.jsonl)
