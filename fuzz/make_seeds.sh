#!/usr/bin/env bash
# Writes the wal and segment seeds (fuzz/corpus/{wal,segment}/seed) from the
# collection the targets build: run after a change to either file format.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
for t in wal segment; do
  RAGLINE_FUZZ_SEED_DIR="fuzz/corpus/$t" "build/fuzz/fuzz/fuzz_$t"
  echo "fuzz/corpus/$t/seed: $(stat -c %s "fuzz/corpus/$t/seed") bytes"
done
