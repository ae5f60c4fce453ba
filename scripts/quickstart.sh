#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs ragline's main job on its embedded
# default: build, create a collection, load real embeddings, search.
#
#   ./scripts/quickstart.sh            # data in ./demo-data (recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ragline -j"$(nproc)"
RAGLINE=build/release/ragline
DATA=${RAGLINE_DEMO_DATA:-demo-data}

rm -rf "$DATA"
echo "== create a collection (384-d cosine, HNSW)"
$RAGLINE collection create docs --dim 384 --metric cosine --index hnsw --param M=16 --data "$DATA"
echo "== load 400 passages embedded with all-MiniLM-L6-v2 (examples/sample_records.jsonl)"
$RAGLINE upsert docs --data "$DATA" --file examples/sample_records.jsonl --batch-size 100 | tail -n 1
$RAGLINE compact docs --data "$DATA" | jq -c '{vector_count, segment_count, unindexed, index: .index.kind}'
echo "== search: the 3 nearest passages to each question"
while IFS= read -r query; do
  echo
  echo "Q: $(echo "$query" | jq -r .text)"
  echo "$query" | $RAGLINE search docs --data "$DATA" --k 3 \
    | jq -r '.hits[] | "  \(.score | tostring | .[0:5])  \(.id)  \(.payload.text | .[0:110])"'
done < examples/sample_queries.jsonl
