#!/usr/bin/env bash
# The Python client (clients/python), its LangChain retriever and vector store (with
# LangChain's own standard suites from langchain-tests) against a real `ragline serve`,
# and the official `openai` and `pinecone` packages against its OpenAI- and
# Pinecone-compatible routes. Makes its own venv (.venv-client) with langchain-core,
# langchain-tests, openai and pinecone from PyPI.
set -euo pipefail
RAGLINE=${1:-$RAGLINE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv-client"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import langchain_core, langchain_tests, openai, pinecone' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "langchain-core>=1.4,<2" "langchain-tests>=1.1,<2" \
    "openai>=1.40,<4" "pinecone>=10,<11"
fi
export RAGLINE_BIN="$RAGLINE"
export PYTHONPATH="$ROOT/clients/python"
cd "$ROOT/clients/python"
exec "$VENV/bin/python" -m pytest tests -v -p no:cacheprovider
