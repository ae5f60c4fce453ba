# Shared helpers for ragline's shell integration tests. Source it; set RAGLINE.
set -euo pipefail

: "${RAGLINE:?set RAGLINE to the ragline binary}"
WORK=$(mktemp -d /tmp/ragline-it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DATA="$WORK/data"
PASSED=0
FAILED=0

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

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
