#!/usr/bin/env bash
# docs/openapi.yaml says what the server does (issue #13 item 12): schemathesis (PyPI,
# in its own venv .venv-schemathesis) runs every check it has (status codes, response
# schemas and content types, schema-valid requests accepted, schema-violating ones
# refused, auth ignored or not, unsupported methods and their Allow headers, SSE
# events) against a live `ragline serve` with an API key, for two seeds. Zero failures
# pass. The few rules no schema can state are listed in tests/schemathesis.toml. One
# check is left out: "created resource not found" (ensure_resource_availability) takes
# the query's fixed collection ("docs") for one the stateful phase created, or asks
# for it after that phase dropped it.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
VENV="$ROOT/.venv-schemathesis"
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
EXAMPLES=${OPENAPI_EXAMPLES:-40}

echo '{"api_keys": [{"key": "writer-key", "scope": "write", "collections": ["*"]}]}' > "$WORK/config.json"
start_serve serve --config "$WORK/config.json" --data "$DATA" --model "$MODEL" --port 0 --log-level warn
auth=(-H 'Authorization: Bearer writer-key' -H 'Content-Type: application/json')
check "collection docs" "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$URL/v1/collections" \
  --data '{"name": "docs"}')" "201"
check "document known" "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$URL/v1/collections/docs/documents" \
  --data '{"documents": [{"id": "known", "text": "Tides follow the moon."}]}')" "200"
check "vector v1" "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$URL/v1/collections/docs/vectors" \
  --data "$(jq -cn '{vectors: [{id: "v1", vector: [range(384) | 0.05]}]}')")" "200"

# The server serves the document it was built with, and /openapi.json is that YAML as
# PyYAML (schemathesis's parser) reads it.
check "GET /openapi.yaml is docs/openapi.yaml" "$(curl -s "$URL/openapi.yaml" | cmp - "$ROOT/docs/openapi.yaml" && echo same)" "same"
curl -s "$URL/openapi.json" | jq -S . > "$WORK/served.json"
"$VENV/bin/python" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
  "$ROOT/docs/openapi.yaml" | jq -S . > "$WORK/pyyaml.json"
check "GET /openapi.json is the same document" "$(cmp "$WORK/served.json" "$WORK/pyyaml.json" && echo same)" "same"
check "GET /docs is the API page" "$(curl -s "$URL/docs" | grep -c 'fetch("/openapi.json")')" "1"

for seed in 1 2; do
  rc=0
  (cd "$WORK" && "$VENV/bin/st" --config-file "$ROOT/tests/schemathesis.toml" run "$ROOT/docs/openapi.yaml" \
    --url "$URL" -H 'Authorization: Bearer writer-key' --checks all --exclude-checks ensure_resource_availability \
    --max-examples "$EXAMPLES" --seed "$seed" \
    --workers 1 --generation-codec ascii --no-color) > "$WORK/st-$seed.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    sed -n '/FAILURES/,$p' "$WORK/st-$seed.log" | head -120 >&2
  fi
  check "schemathesis (all checks, seed $seed, $EXAMPLES examples per operation) finds nothing" "$rc" "0"
  grep -E "^ +[0-9]+ generated" "$WORK/st-$seed.log" >&2 || true
done
check "the server is still up" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" "200"
finish
