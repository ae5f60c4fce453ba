#!/usr/bin/env bash
# The web page (/ui) in a real headless Chromium (Debian's chromium and
# chromium-driver), driven by Selenium (PyPI, in its own venv .venv-ui):
# tests/ui_test.py. Keeps a screenshot of a cited answer in
# $RAGLINE_ARTIFACTS (default build/test-artifacts) as ui-answer.png.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
VENV="$ROOT/.venv-ui"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "selenium>=4.20,<5"
fi
ARTIFACTS=${RAGLINE_ARTIFACTS:-$ROOT/build/test-artifacts}
mkdir -p "$ARTIFACTS"

echo '{"api_keys": [{"key": "ui-key", "scope": "write", "collections": ["*"]}]}' > "$WORK/config.json"
start_serve serve --config "$WORK/config.json" --data "$DATA" --model "$MODEL" --port 0 --log-level warn
RAGLINE_API_KEY=ui-key "$RAGLINE" ingest "$ROOT/examples/corpus/devils-dictionary" --collection kb --create \
  --server "$URL" > /dev/null 2>&1
check "the sample corpus is in" \
  "$(curl -s -H 'Authorization: Bearer ui-key' "$URL/v1/collections/kb/stats" | jq '.vector_count > 50')" "true"
rc=0
"$VENV/bin/python" "$ROOT/tests/ui_test.py" "$URL" ui-key "$ARTIFACTS/ui-answer.png" || rc=$?
check "the page works in Chromium (tests/ui_test.py)" "$rc" "0"
check "a screenshot was kept" "$([ -s "$ARTIFACTS/ui-answer.png" ] && echo yes)" "yes"
finish
