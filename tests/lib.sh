# Shared helpers for ragline's shell integration tests. Source it; set RAGLINE.
set -euo pipefail

: "${RAGLINE:?set RAGLINE to the ragline binary}"
WORK=$(mktemp -d /tmp/ragline-it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DATA="$WORK/data"
PASSED=0
FAILED=0

# stop_pids PID...: SIGTERM, then wait until each has exited: a server writes
# its last files (manifests, hot_cache.json) on the way out, so removing WORK
# before that races with it.
stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
pass() { PASSED=$((PASSED + 1)); }

# check DESCRIPTION ACTUAL EXPECTED
check() {
  if [ "$2" == "$3" ]; then pass; else fail "$1: expected '$3', got '$2'"; fi
}

# check_contains DESCRIPTION HAYSTACK NEEDLE
check_contains() {
  if [[ "$2" == *"$3"* ]]; then pass; else fail "$1: '$2' does not contain '$3'"; fi
}

# expect_fail DESCRIPTION NEEDLE CMD...: CMD must exit non-zero and print NEEDLE on stderr.
expect_fail() {
  local desc=$1 needle=$2
  shift 2
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -eq 0 ]; then fail "$desc: exited 0"; return; fi
  check_contains "$desc" "$err" "$needle"
}

# ROOT: the repository. MODEL: the embedding model (scripts/fetch_model.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=${RAGLINE_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}
. "$ROOT/scripts/serve_url.sh"
# require_model: fail the test (not skip it) when the model was not fetched.
require_model() {
  if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "FAIL: no model at $MODEL; run scripts/fetch_model.sh" >&2
    exit 1
  fi
}

# start_serve NAME ARGS...: runs `ragline serve ARGS...` in the background with
# stdout in $WORK/NAME.out and stderr in $WORK/NAME.log; sets PID, and URL once
# it says where it listens. A server that exits first fails the test.
start_serve() {
  local name=$1
  shift
  "$RAGLINE" serve "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" &
  PID=$!
  URL=$(wait_for_url "$WORK/$name.out" $PID) && return
  cat "$WORK/$name.log" >&2
  echo "FAIL: ragline serve ($name) did not start" >&2
  exit 1
}

# wait_until DESCRIPTION CMD...: runs CMD every 0.1 s until it succeeds (pass) or
# 30 s pass (fail).
wait_until() {
  local desc=$1
  shift
  for _ in $(seq 1 300); do
    if "$@"; then pass; return; fi
    sleep 0.1
  done
  fail "$desc: not within 30 s"
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
