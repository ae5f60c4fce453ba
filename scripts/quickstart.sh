#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs ragline's main job on its embedded
# default: install packages, fetch the embedding model, build, start
# `ragline serve`, ingest the bundled sample corpus (Ambrose Bierce's "The
# Devil's Dictionary", public domain: examples/corpus/) through the HTTP API,
# and ask questions, printing each cited answer.
#
#   ./scripts/quickstart.sh                  # data in ./demo-data (recreated each run)
#   RAGLINE_LLM_URL=http://127.0.0.1:8081/v1 RAGLINE_LLM_MODEL=m ./scripts/quickstart.sh
#                                            # answers from an OpenAI-compatible LLM
#                                            # (without one: extractive answers, marked)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
./scripts/fetch_model.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ragline -j"$(nproc)"
RAGLINE=build/release/ragline
DATA=${RAGLINE_DEMO_DATA:-demo-data}
WORK=$(mktemp -d)
rm -rf "$DATA"

echo "== start the server (data in $DATA)"
$RAGLINE serve --data "$DATA" --port 0 > "$WORK/serve.out" 2> "$WORK/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
. scripts/serve_url.sh
URL=$(wait_for_url "$WORK/serve.out" $PID) || { cat "$WORK/serve.log" >&2; exit 1; }
echo "   $URL (logs: JSON lines on its stderr; metrics: $URL/metrics)"

echo "== ingest examples/corpus/devils-dictionary (27 files: extract, chunk, embed, upsert)"
$RAGLINE ingest examples/corpus/devils-dictionary --server "$URL" --collection devils --create \
  | jq -c '{documents_added, chunks_upserted, documents_failed}'

for question in "What is a cynic?" "What is happiness?" "What is a politician?"; do
  echo
  echo "Q: $question"
  $RAGLINE query "$question" --collection devils --server "$URL" --k 3
done

echo
echo "== done. This server stops now; the collection stays in $DATA. To go on:"
echo "   $RAGLINE serve --data $DATA --port 8080 &"
echo "   $RAGLINE query \"your question\" --collection devils --server http://127.0.0.1:8080"
echo "   or open http://127.0.0.1:8080/ui in a browser"
echo "   $RAGLINE ingest YOUR_FOLDER --collection mine --create --server http://127.0.0.1:8080"
echo "   cmake --install build/release --prefix ~/.local   # puts ragline on your PATH (README)"
