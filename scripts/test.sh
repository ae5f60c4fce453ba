#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what is
# missing, builds, runs unit + integration tests (dev preset), then the unit
# tests again under ASan+UBSan (asan preset). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

./scripts/install-deps.sh
./scripts/fetch_model.sh  # the embedding model: parity tests run on the real weights

echo "== dev build: unit + integration tests"
cmake --preset dev >/dev/null
cmake --build --preset dev -j"$jobs"
ctest --test-dir build/dev --output-on-failure -j"$jobs"

echo "== asan build: unit tests under ASan+UBSan"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs" -L unit
