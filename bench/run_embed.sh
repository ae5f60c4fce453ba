#!/usr/bin/env bash
# Encoder benchmark: builds the release harness, fetches the model, runs
# bench/embed_bench.py (ragline vs sentence-transformers vs onnxruntime) and
# updates docs/BENCHMARKS.md. Extra arguments go to embed_bench.py.
#   VENV=/path/to/venv bench/run_embed.sh --threads 1,2
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv-bench}"
./scripts/fetch_model.sh
cmake --preset release >/dev/null
cmake --build --preset release --target embed_bench -j"$(nproc)"
exec "$VENV/bin/python" bench/embed_bench.py "$@"
