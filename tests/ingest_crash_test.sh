#!/usr/bin/env bash
# Issue #13 items 5 and 9, end to end over HTTP with the real model.
#   1. kill -9 of `ragline serve` at pseudo-random moments while it ingests
#      multi-chunk documents, many rounds, each round a new version (of another
#      length) of the same documents: after every crash each document is whole
#      at one version, in search, get and stats alike (never chunks of two
#      versions, never chunks without the document).
#   2. A long ingest does not hold up a one-document ingest into the same
#      collection (no writer lock across embedding).
#   3. SIGTERM with an ingest in flight: the server stops within its grace
#      period plus one batch, exit 0, and what it committed is whole.
RAGLINE=${1:-$RAGLINE}
ROUNDS=${INGEST_CRASH_ROUNDS:-8}
source "$(dirname "$0")/lib.sh"
require_model
trap 'kill -9 ${PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Version A of a document has 3x the sentences of version B: a crash between
# them must not leave B's chunks with A's tail, or A's chunks beside B's.
doc_json() {  # doc_json ID SENTENCES TAG
  local text=""
  for i in $(seq 1 "$2"); do text+="$3 sentence $i explains tides, moons and the sea in plain words. "; done
  jq -cn --arg id "$1" --arg t "$text" --arg tag "$3" '{id: $id, text: $t, metadata: {tag: $tag}}'
}
make_body() {  # make_body TAG SENTENCES -> $WORK/body-TAG.json
  { echo '{"documents": ['
    for d in 1 2 3 4; do
      [ "$d" -gt 1 ] && echo ','
      doc_json "big$d" "$2" "$1"
    done
    echo ']}'; } > "$WORK/body-$1.json"
}
make_body A 600
make_body B 200

serve() { start_serve "$1" --data "$DATA" --model "$MODEL" --port 0 --threads 4 "${@:2}"; }
post_docs() { curl -s -o "$WORK/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$1" "$URL/v1/collections/kb/documents"; }

# verify ROUND: each bigN is absent everywhere, or whole at one version.
verify() {
  local round=$1 total=0
  for d in 1 2 3 4; do
    local status count chunks versions tags
    status=$(curl -s -o "$WORK/doc.json" -w '%{http_code}' "$URL/v1/collections/kb/documents/big$d")
    # Every chunk of the document that search can see (lexical, filtered to it).
    curl -s -X POST -H 'Content-Type: application/json' "$URL/v1/collections/kb/query" \
      --data "{\"query\": \"tides moons sea\", \"mode\": \"lexical\", \"k\": 1000, \"generate\": false,
               \"filter\": {\"doc_id\": \"big$d\"}}" > "$WORK/hits.json"
    chunks=$(jq '.hits | length' "$WORK/hits.json")
    versions=$(jq '[.hits[].version] | unique | length' "$WORK/hits.json")
    tags=$(jq -r '[.hits[].metadata.tag] | unique | join(",")' "$WORK/hits.json")
    if [ "$status" = 404 ]; then
      check "round $round: big$d absent, and no chunk of it searchable" "$chunks" "0"
    else
      count=$(jq .chunk_count "$WORK/doc.json")
      check "round $round: big$d searchable chunks = its chunk_count" "$chunks" "$count"
      check "round $round: big$d chunks of one version" "$versions" "1"
      if [ "$tags" = "A" ] || [ "$tags" = "B" ]; then pass; else fail "round $round: big$d mixes texts: '$tags'"; fi
      total=$((total + count))
    fi
  done
  check "round $round: stats count = the whole documents' chunks" \
    "$(curl -s "$URL/v1/collections/kb/stats" | jq .vector_count)" "$total"
}

serve s0
curl -s -X POST -H 'Content-Type: application/json' --data '{"name":"kb"}' "$URL/v1/collections" >/dev/null
kills_midway=0
for round in $(seq 1 "$ROUNDS"); do
  tag=$([ $((round % 2)) = 1 ] && echo A || echo B)
  post_docs "$WORK/body-$tag.json" > "$WORK/post.code" &
  poster=$!
  # A pseudo-random moment: before, during or after the embedding.
  sleep "$(( (round * 7) % 4 )).$(( (round * 37) % 10 ))"
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  wait "$poster" 2>/dev/null || true
  [ "$(cat "$WORK/post.code")" != 200 ] && kills_midway=$((kills_midway + 1))
  serve "s$round"
  verify "$round"
done
# The test means something only if kills landed mid-ingest.
if [ "$kills_midway" -lt 2 ]; then fail "only $kills_midway of $ROUNDS kills landed mid-ingest"; else pass; fi
echo "ingest_crash_test: $kills_midway of $ROUNDS kills landed mid-ingest" >&2

# --- 2. a one-document ingest does not wait for a long one
post_docs "$WORK/body-A.json" > "$WORK/long.code" &
long=$!
sleep 0.5
start=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data '{"documents": [{"id": "small", "text": "Zebras sleep standing up."}]}' "$URL/v1/collections/kb/documents")
small_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "small ingest beside a long one" "$code" "200"
if kill -0 "$long" 2>/dev/null; then pass; else fail "the long ingest ended before the small one was measured"; fi
echo "ingest_crash_test: a one-document ingest took ${small_ms} ms beside a long ingest" >&2
wait "$long" || true
check "small deleted again" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/collections/kb/documents/small")" "200"

# --- 2b. a client that goes away stops its ingest at the next batch
make_body C 2000
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/body-C.json" \
  "$URL/v1/collections/kb/documents" &
client=$!
sleep 1.5
kill "$client" 2>/dev/null || true
wait "$client" 2>/dev/null || true
stopped=""
for _ in $(seq 1 100); do  # an embedding batch (~1 s) at most, then the request's log line
  stopped=$(grep '"route":"/v1/collections/{name}/documents"' "$WORK/s$ROUNDS.log" | grep '"status":503' | tail -1 || true)
  [ -n "$stopped" ] && break
  sleep 0.1
done
check_contains "the abandoned ingest stopped (503, cancelled)" "$stopped" '"error_code":"cancelled"'
verify abandoned

# --- 3. SIGTERM with an ingest in flight: stops within the grace period
kill -TERM "$PID"; wait "$PID" || true
serve sterm --shutdown-grace-ms 500
post_docs "$WORK/body-C.json" > "$WORK/term.code" &
poster=$!
sleep 1
start=$(date +%s%N)
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
stop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$poster" || true
check "SIGTERM exit code" "$rc" "0"
if [ "$stop_ms" -lt 15000 ]; then pass; else fail "SIGTERM took ${stop_ms} ms with a 500 ms grace"; fi
echo "ingest_crash_test: SIGTERM with an ingest in flight stopped in ${stop_ms} ms (grace 500 ms)" >&2
check_contains "the cancelled ingest is logged" "$(cat "$WORK/sterm.log")" '"status":503'
serve after
verify sigterm
finish
