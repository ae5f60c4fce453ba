#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs ragline's main job on its embedded
# default: install packages, fetch the embedding model, build, start
# `ragline serve`, ingest the bundled sample corpus (Ambrose Bierce's "The
# Devil's Dictionary", public domain: examples/corpus/) through the HTTP API,
# and ask questions, printing each cited answer.
#
#   ./scripts/quickstart.sh                  # data in ./demo-data (recreated each run)
#   ./scripts/quickstart.sh --llm            # answers from a real local LLM (scripts/setup_llm.sh:
#                                            # Gemma 3 270M; builds llama.cpp once, ~15-25 min on 2 cores)
#   RAGLINE_LLM_URL=http://127.0.0.1:8081/v1 RAGLINE_LLM_MODEL=m ./scripts/quickstart.sh
#                                            # answers from your OpenAI-compatible LLM
#                                            # (without one: extractive answers, marked)
set -euo pipefail
cd "$(dirname "$0")/.."
LLM=0
for arg in "$@"; do
  case $arg in
    --llm) LLM=1 ;;
    *) echo "usage: scripts/quickstart.sh [--llm]" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
./scripts/fetch_model.sh
cmake --preset release >/dev/null
cmake --build --preset release --target ragline -j"$(nproc)"
RAGLINE=build/release/ragline
DATA=${RAGLINE_DEMO_DATA:-demo-data}
WORK=$(mktemp -d)
rm -rf "$DATA"

LLM_PID=
if [ "$LLM" = 1 ]; then
  echo "== a local LLM (scripts/setup_llm.sh; the first run builds llama.cpp: ~15-25 minutes on 2 cores)"
  ./scripts/setup_llm.sh
  LLM_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ./scripts/setup_llm.sh --serve "$LLM_PORT" > "$WORK/llm.log" 2>&1 &
  LLM_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$LLM_PORT/v1/models" > /dev/null && break
    kill -0 $LLM_PID 2>/dev/null || { cat "$WORK/llm.log" >&2; exit 1; }
    sleep 0.2
  done
  export RAGLINE_LLM_URL=http://127.0.0.1:$LLM_PORT/v1 RAGLINE_LLM_MODEL=gemma-3-270m
  echo "   Gemma 3 270M at $RAGLINE_LLM_URL"
fi

echo "== start the server (data in $DATA)"
$RAGLINE serve --data "$DATA" --port 0 > "$WORK/serve.out" 2> "$WORK/serve.log" &
PID=$!
# (wait reports the LLM server's SIGTERM as 143: not the quick start's failure.)
trap 'kill $PID $LLM_PID 2>/dev/null; wait $PID $LLM_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
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
