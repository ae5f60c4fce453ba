#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what is
# missing, builds, runs unit + integration tests (dev preset), then the unit
# tests again under ASan+UBSan (asan preset), then each fuzz target for a
# short time (fuzz preset, scripts/fuzz.sh). Exits non-zero on any failure.
#
#   scripts/test.sh          # the default suite (what .ci/run runs)
#   scripts/test.sh --llm    # also generation against a real local LLM (label "llm":
#                            # builds llama-cpp-python from its sdist first, ~20 min)
#   scripts/test.sh --soak   # also the long drills (label "soak": three Kafka brokers
#                            # losing one mid-stream)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
llm=0
soak=0
for arg in "$@"; do
  case "$arg" in
    --llm) llm=1 ;;
    --soak) soak=1 ;;
    *) echo "usage: scripts/test.sh [--llm] [--soak]" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
./scripts/fetch_model.sh  # the embedding model: parity tests run on the real weights

echo "== dev build: unit + integration tests"
cmake --preset dev >/dev/null
cmake --build --preset dev -j"$jobs"
ctest --test-dir build/dev --output-on-failure -j"$jobs" -LE 'llm|soak'
if [ "$soak" = 1 ]; then
  echo "== soak drills"
  ctest --test-dir build/dev --output-on-failure -L soak
fi
if [ "$llm" = 1 ]; then
  echo "== real-LLM test (llama-cpp-python + Gemma 3 270M)"
  ctest --test-dir build/dev --output-on-failure -L llm
fi

echo "== asan build: unit tests under ASan+UBSan"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs" -L unit

echo "== fuzz build: every libFuzzer target for 20 s (scripts/fuzz.sh runs them longer)"
./scripts/fuzz.sh --seconds 20
