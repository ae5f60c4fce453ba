#!/usr/bin/env bash
# The Python client (clients/python) and its LangChain retriever against a real
# `ragline serve`, and the official `openai` package against its OpenAI-compatible
# routes. Makes its own venv (.venv-client) with langchain-core and openai from PyPI.
set -euo pipefail
RAGLINE=${1:-$RAGLINE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv-client"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import langchain_core, openai' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "langchain-core>=0.2,<2" "openai>=1.40,<4"
fi
export RAGLINE_BIN="$RAGLINE"
export PYTHONPATH="$ROOT/clients/python"
cd "$ROOT/clients/python"
exec "$VENV/bin/python" -m unittest discover -s tests -v
