#!/usr/bin/env bash
# A whole cluster through scripts/cluster.sh: a real broker, 2 chunk workers, 2 embed
# workers, 2 shards with a replica each, a router. The corpus ingested over Kafka must
# answer through the router as embedded mode answers from the same files; a shard
# whose replicas are all killed gives flagged partial answers within the deadline,
# and `cluster.sh up` brings it back; chunk and embed workers SIGKILLed over and over
# while a new version streams in lose nothing and duplicate nothing; nor does the
# broker SIGKILLed and restarted mid-stream, nor a worker joining (a rebalance).
# A collection and an alias made through the router exist on every index node and
# get their own documents, through all of that.
#   tests/cluster_test.sh RAGLINE
RAGLINE=${1:?usage: cluster_test.sh RAGLINE}
. "$(dirname "$0")/lib.sh"
require_model
export RAGLINE RAGLINE_MODEL_DIR=$MODEL
C=$WORK/cluster
CLUSTER=$ROOT/scripts/cluster.sh
KILLS=${RAGLINE_CLUSTER_KILLS:-20}
cleanup() {
  if [ "$FAILED" -gt 0 ]; then
    for log in "$C"/logs/*.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -15 "$log" >&2; }; done
  fi
  "$CLUSTER" down "$C" >/dev/null 2>&1 || true
  [ -n "${EMB_PID:-}" ] && kill "$EMB_PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
CORPUS=$ROOT/examples/corpus/devils-dictionary

# A free run of ports: the router takes the first, the index nodes and workers the next.
BASE=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 32000)  # below Linux's ephemeral range (the broker's ports)
    try:
        for p in range(base, base + 16):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(base); break
    except OSError:
        pass
PY
)
expect_fail "cluster.sh refuses fewer partitions than shards" "must be at least --shards" \
  "$CLUSTER" up "$WORK/bad" --shards 3 --partitions 2
"$CLUSTER" up "$C" --shards 2 --replicas 2 --chunkers 2 --embedders 2 --port "$BASE" >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log" >&2; tail -n 20 "$C"/logs/*.log >&2; exit 1; }
R=$(cat "$C/router.url")
B=$(cat "$C/bootstrap")
check "one pid file per process" "$(ls "$C/pids" | wc -l)" "9"

# Embedded mode from the same files: the reference, served for comparison.
"$RAGLINE" ingest "$CORPUS" --data "$WORK/emb" --collection docs --create --model "$MODEL" >/dev/null 2>&1
expected=$("$RAGLINE" stats docs --data "$WORK/emb" | jq -r .vector_count)
# Every chunk id embedded mode made (URL-encoded).
ids=()
for f in $(cd "$CORPUS" && find . -type f \( -name '*.md' -o -name '*.txt' \) | sed 's|^\./||' | sort); do
  n=$("$RAGLINE" get docs "$f#0" --data "$WORK/emb" | jq -r .payload.chunk_count)
  for ((k = 0; k < n; k++)); do ids+=("$(jq -rn --arg s "$f#$k" '$s | @uri')"); done
done
check "every embedded chunk is listed" "${#ids[@]}" "$expected"
start_serve emb --data "$WORK/emb" --port 0 --model "$MODEL"
EMB=$URL
EMB_PID=$PID

router_count() { curl -fsS "$R/v1/collections/docs/stats" 2>/dev/null | jq -r '.vector_count // 0'; }
# replica_counts: each index node's own count (one line per node).
replica_counts() { curl -fsS "$R/v1/cluster" | jq -r '[.shards[].replicas[].collections.docs.vector_count // 0] | join(" ")'; }
wait_for() {  # wait_for DESCRIPTION CMD EXPECTED: until CMD prints EXPECTED (300 s)
  local deadline=$((SECONDS + 300)) got
  while [ $SECONDS -lt $deadline ]; do
    got=$(eval "$2" 2>/dev/null || true)
    [ "$got" = "$3" ] && { pass; return 0; }
    sleep 0.5
  done
  fail "$1: expected '$3', last '$got'"
}

t0=$SECONDS
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
wait_for "the router counts every chunk once" router_count "$expected"
echo "cluster ingest ($expected chunks): $((SECONDS - t0)) s"
wait_for "both replicas of each shard hold the same records" \
  "replica_counts | awk '{print (\$1 == \$2 && \$3 == \$4 && \$1 + \$3 == $expected)}'" "1"

# Every worker reports its consumer lag; drained, it is 0 on every partition.
embed0=$((BASE + 1 + 4 + 2))
lag=$(curl -fsS "http://127.0.0.1:$embed0/metrics" | grep '^rag_kafka_lag{' || true)
check_contains "an embed worker exposes rag_kafka_lag" "$lag" 'topic="rag.documents.chunks"'
index00=$((BASE + 1))
wait_for "an embed worker's lag drains to 0 (reported while it idles)" \
  "curl -fsS http://127.0.0.1:$embed0/metrics | awk '/^rag_kafka_lag\\{/ {n++; s += \$2} END {print (n > 0 && s == 0)}'" "1"
wait_for "an index node's lag drains to 0" \
  "curl -fsS http://127.0.0.1:$index00/metrics | awk '/^rag_kafka_lag\\{/ {n++; s += \$2} END {print (n > 0 && s == 0)}'" "1"

# The router answers as the embedded node: same hits, same scores (dense: within the
# encoder's tolerance), in every mode, with a filter too.
query() {  # query URL MODE QUESTION [FILTER]
  local body
  body=$(jq -nc --arg q "$3" --arg m "$2" --argjson f "${4:-null}" '{query: $q, mode: $m, k: 5, generate: false, filter: $f}')
  curl -fsS -X POST "$1/v1/collections/docs/query" -H 'Content-Type: application/json' -d "$body"
}
for mode in lexical dense hybrid; do
  for q in "what is a cynic" "the definition of a lawyer" "marriage"; do
    a=$(query "$R" "$mode" "$q")
    b=$(query "$EMB" "$mode" "$q")
    check "router reply is not partial ($mode '$q')" "$(jq -r .partial <<<"$a")" "false"
    check "same scores ($mode '$q')" \
      "$(jq -n --argjson a "$a" --argjson b "$b" '($a.hits | length) == ($b.hits | length) and
         ([range(0; $a.hits | length) | ($a.hits[.].score - $b.hits[.].score) | fabs] | all(. < 1e-3))')" "true"
    check "same top hit ($mode '$q')" "$(jq -r '.hits[0].id' <<<"$a")" "$(jq -r '.hits[0].id' <<<"$b")"
  done
done
filter='{"doc_id": "a.md"}'
check "a filter applies on every shard" "$(query "$R" lexical "rubbish" "$filter" | jq -c '[.hits[].id]')" \
  "$(query "$EMB" lexical "rubbish" "$filter" | jq -c '[.hits[].id]')"
answer=$(curl -fsS -X POST "$R/v1/collections/docs/query" -H 'Content-Type: application/json' -d '{"query": "what is a bore"}')
check "the router answers with citations" "$(jq -r '(.answer | length > 0) and (.citations | length > 0)' <<<"$answer")" "true"
if "$RAGLINE" cluster status --router "$R" >"$WORK/status.json"; then pass; else fail "cluster status exit code"; fi
check "cluster status lists 2 shards x 2 replicas, all up" \
  "$(jq -r '[.shards[].replicas[] | select(.up)] | length' "$WORK/status.json")" "4"

# Documents through the router: ?wait=true answers once they are searchable.
post() {  # post QUERYSTRING BODY -> "STATUS BODY"
  curl -sS -o "$WORK/post.json" -w '%{http_code}' -X POST "$R/v1/collections/docs/documents$1" \
    -H 'Content-Type: application/json' -d "$2"
}
status=$(post "?wait=true" '{"documents": [{"id": "router-doc", "text": "A zeppelinograph measures airships over the harbour."}]}')
check "documents through the router with wait=true" "$status" "200"
check "a document is read through the router" \
  "$(curl -fsS "$R/v1/collections/docs/documents/router-doc" | jq -r .chunk_count)" "1"
check "the waited-for document is searchable at once" \
  "$(query "$R" lexical "zeppelinograph" | jq -r '.hits[0].doc_id')" "router-doc"
status=$(post "?wait=true&timeout_ms=1" '{"documents": [{"id": "router-doc-2", "text": "Another quixotic airship."}]}')
check "wait=true past its timeout is a 504" "$status" "504"
check_contains "the 504 names what is pending" "$(cat "$WORK/post.json")" "router-doc-2"
check "bad documents are a 400" "$(post "" '{"documents": [{"text": "no id"}]}')" "400"
check "without wait: 202" "$(post "" '{"documents": [{"id": "router-doc-3", "text": "Later."}]}')" "202"
total=$((expected + 3))
wait_for "the router counts the documents posted to it" router_count "$total"
check "a deletion through the router, waited for" \
  "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$R/v1/collections/docs/documents/router-doc-3?wait=true")" "200"
total=$((expected + 2))
check "the deleted document's chunk is gone" "$(router_count)" "$total"
check "and is not found" "$(curl -sS -o /dev/null -w '%{http_code}' "$R/v1/collections/docs/vectors/router-doc-3%230")" "404"
check "nor is the document" "$(curl -sS -o /dev/null -w '%{http_code}' "$R/v1/collections/docs/documents/router-doc-3")" "404"

# Collections and aliases through the router: made on every index node, fed by
# their own documents, which reach no other collection.
code() { curl -sS -o "$WORK/reply.json" -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }
notes_count() { curl -fsS "$R/v1/collections/notes/stats" 2>/dev/null | jq -r '.vector_count // 0'; }
check "a collection created through the router" \
  "$(code -X POST "$R/v1/collections" -d '{"name": "notes", "dim": 384}')" "201"
check "on every index node" "$(jq -r .index_nodes "$WORK/reply.json")" "4"
check "every replica lists it" \
  "$(curl -fsS "$R/v1/cluster" | jq -r '[.shards[].replicas[].collections | has("notes")] | all')" "true"
check "an alias through the router" "$(code -X PUT "$R/v1/aliases/kb" -d '{"collection": "notes"}')" "200"
check "documents to the alias, waited for" "$(code -X POST "$R/v1/collections/kb/documents?wait=true" \
  -d '{"documents": [{"id": "n1", "text": "The heliotrope clock chimes at dawn."},
                     {"id": "n2", "text": "Quarterly notes on dredging the harbour."}]}')" "200"
check "the new collection holds them" "$(notes_count)" "2"
check "a query through the alias finds them" "$(code -X POST "$R/v1/collections/kb/query" \
  -d '{"query": "heliotrope", "mode": "lexical", "generate": false}')" "200"
check "the hit is the note" "$(jq -r '.hits[0].doc_id' "$WORK/reply.json")" "n1"
check "docs did not get them" "$(router_count)" "$total"
check "documents for a collection no shard has: 404" \
  "$(code -X POST "$R/v1/collections/nope/documents" -d '{"documents": [{"id": "x", "text": "y"}]}')" "404"
check "a second create of it: 409" "$(code -X POST "$R/v1/collections" -d '{"name": "notes", "dim": 384}')" "409"

# Shard 1 down (both replicas SIGKILLed): partial answers, flagged, within the deadline.
for r in 0 1; do kill -KILL "$(cat "$C/pids/index-1-$r.pid")"; done
sleep 0.2
t=$(date +%s%N)
partial=$(query "$R" hybrid "what is a cynic")
ms=$((($(date +%s%N) - t) / 1000000))
check "shard down: partial" "$(jq -r .partial <<<"$partial")" "true"
check "shard down: the missing shard is named" "$(jq -c '[.missing_shards[].shard]' <<<"$partial")" "[1]"
[ "$ms" -lt 2500 ] && pass || fail "a partial answer took $ms ms (deadline 2000 ms)"
expect_fail "cluster status fails while a shard is down" "" "$RAGLINE" cluster status --router "$R"
"$CLUSTER" up "$C" >"$WORK/up2.log" 2>&1 || fail "cluster.sh up did not bring the shard back"
check "shard back: full answers again" "$(query "$R" hybrid "what is a cynic" | jq -r .partial)" "false"
check "shard back: nothing lost" "$(router_count)" "$total"

# Crash drill: a new version of every document streams in while chunk and embed
# workers are SIGKILLed, one at a time, and brought back with `cluster.sh up`.
first=$(query "$R" lexical "cynic" | jq '[.hits[].version] | max')
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
for ((i = 0; i < KILLS; i++)); do
  role=$([ $((i % 2)) -eq 0 ] && echo embed || echo chunk)-$((i / 2 % 2))
  kill -KILL "$(cat "$C/pids/$role.pid")" 2>/dev/null || true
  "$CLUSTER" up "$C" >>"$WORK/up3.log" 2>&1 || fail "cluster.sh up after killing $role"
  sleep 0.$((RANDOM % 8 + 2))
done
echo "killed chunk/embed workers $KILLS times"
# Every chunk, fetched through the router: all at a newer version.
newest() {
  for id in "${ids[@]}"; do curl -fsS "$R/v1/collections/docs/vectors/$id" || echo '{"version": 0}'; done |
    jq -s --argjson v "$first" '[.[] | select(.version > $v)] | length'
}
wait_for "every chunk at the new version after the kills" newest "$expected"
wait_for "no chunk twice, none lost after the kills" router_count "$total"
versions=$(query "$R" lexical "the" | jq -r --argjson v "$first" '[.hits[] | select(.version <= $v)] | length')
check "hits carry the new version" "$versions" "0"

# The broker SIGKILLed mid-stream and restarted, and a third embed worker joining
# (a rebalance) while a third version streams in: nothing lost, nothing twice.
first=$(query "$R" lexical "cynic" | jq '[.hits[].version] | max')
"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
sleep 2
broker=$(cat "$C/kafka/broker-1.pid")
kill -KILL "$broker"
while [ -e "/proc/$broker" ] && [ "$(awk '{print $3}' "/proc/$broker/stat" 2>/dev/null)" != Z ]; do sleep 0.1; done
"$CLUSTER" up "$C" --embedders 3 >"$WORK/up4.log" 2>&1 || { fail "cluster.sh up after the broker's SIGKILL"; cat "$WORK/up4.log" >&2; }
check "the third embed worker runs" "$([ -f "$C/pids/embed-2.pid" ] && kill -0 "$(cat "$C/pids/embed-2.pid")" && echo yes)" "yes"
wait_for "every chunk at the third version after the broker restart and the rebalance" newest "$expected"
wait_for "no chunk twice, none lost after the broker restart" router_count "$total"

# The collection made through the router came through the restarts: its index nodes
# read it again from its own positions.
check "the router's collection kept its documents" "$(notes_count)" "2"
check "and still takes new ones" "$(code -X POST "$R/v1/collections/notes/documents?wait=true" \
  -d '{"documents": [{"id": "n3", "text": "A third note."}]}')" "200"
check "three now" "$(notes_count)" "3"
check "the alias is dropped through the router" "$(code -X DELETE "$R/v1/aliases/kb")" "200"
check "the collection is dropped through the router" "$(code -X DELETE "$R/v1/collections/notes")" "200"
check "on every index node" \
  "$(curl -fsS "$R/v1/cluster" | jq -r '[.shards[].replicas[].collections | has("notes")] | any')" "false"
check "docs is untouched" "$(router_count)" "$total"
finish
