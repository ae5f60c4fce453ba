#!/usr/bin/env bash
# The Python client (clients/python, built and installed as its wheel), its LangChain
# retriever and vector store (with LangChain's own standard suites from langchain-tests)
# and its LlamaIndex vector store and embedding against a real `ragline serve`,
# and the official `openai` and `pinecone` packages against its OpenAI- and
# Pinecone-compatible routes. Makes its own venv (.venv-client) with langchain-core,
# langchain-tests, llama-index-core, openai and pinecone from PyPI.
set -euo pipefail
RAGLINE=${1:-$RAGLINE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="$ROOT/.venv-client"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import langchain_core, langchain_tests, llama_index.core, openai, pinecone' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "langchain-core>=1.4,<2" "langchain-tests>=1.1,<2" \
    "openai>=1.40,<4" "pinecone>=10,<11" "llama-index-core>=0.12,<0.15"
fi
# The package as it ships: a wheel built from clients/python, installed into the venv,
# its version the project's (CMakeLists.txt).
WHEELS=$(mktemp -d)
trap 'rm -rf "$WHEELS"' EXIT
"$VENV/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$WHEELS" "$ROOT/clients/python"
project=$(sed -n 's/^project(ragline VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
wheel=$(ls "$WHEELS"/ragline_client-*.whl)
case "$wheel" in
  */ragline_client-"$project"-py3-none-any.whl) ;;
  *) echo "FAIL: the client's wheel $wheel is not version $project (CMakeLists.txt)" >&2; exit 1 ;;
esac
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$wheel"
export RAGLINE_BIN="$RAGLINE"
cd "$ROOT/clients/python/tests"
"$VENV/bin/python" -m pytest . -v -p no:cacheprovider -c "$ROOT/clients/python/pyproject.toml" --rootdir .
