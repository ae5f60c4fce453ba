#!/usr/bin/env bash
# Three brokers, replication factor 3, min.insync.replicas 2 (scripts/kafka.sh
# --brokers 3): a broker SIGKILLed mid-stream, and not brought back, loses nothing.
# The corpus goes through a chunk worker, an embed worker and an index node while
# broker 2 dies; the index ends with every chunk embedded mode makes, once.
# Label "soak" (scripts/test.sh --soak): three JVMs on 2 cores take a few minutes.
#   tests/kafka_rf3_test.sh RAGLINE
RAGLINE=${1:?usage: kafka_rf3_test.sh RAGLINE}
. "$(dirname "$0")/lib.sh"
require_model
KAFKA=$ROOT/scripts/kafka.sh
K=$WORK/kafka
PIDS=()
cleanup() {
  if [ "$FAILED" -gt 0 ]; then
    for log in "$WORK"/{chunk,embed,index}.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$KAFKA" stop "$K" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
t_start=$SECONDS
"$KAFKA" start "$K" --brokers 3 2>"$WORK/kafka-start.log" || { cat "$WORK/kafka-start.log" >&2; exit 1; }
B=$(cat "$K/bootstrap")
CORPUS=$ROOT/examples/corpus/devils-dictionary
common=(--kafka "$B" --topic-partitions 4 --replication 3)

"$RAGLINE" ingest "$CORPUS" --data "$WORK/emb" --collection docs --create --model "$MODEL" >/dev/null 2>&1
expected=$("$RAGLINE" stats docs --data "$WORK/emb" | jq -r .vector_count)

start_role() {
  local name=$1
  shift
  "$RAGLINE" worker "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=($!)
}
start_role chunk chunk "${common[@]}" --model "$MODEL"
start_role embed embed "${common[@]}" --model "$MODEL"
start_role index index "${common[@]}" --data "$WORK/dist" --collection docs --create --port 0
until grep -q "serving" "$WORK/index.log" 2>/dev/null; do sleep 0.2; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/index.log" | head -1)
count() { curl -fsS "$URL/v1/collections/docs/stats" 2>/dev/null | jq -r '.vector_count // 0'; }

"$RAGLINE" ingest "$CORPUS" --collection docs --kafka "$B" >/dev/null 2>&1
deadline=$((SECONDS + 120))
until [ "$(count)" -gt 0 ] || [ $SECONDS -ge $deadline ]; do sleep 0.2; done  # mid-stream: some indexed
before=$(count)
kill -KILL "$(cat "$K/broker-2.pid")"
echo "broker 2 SIGKILLed with $before of $expected chunks indexed"
[ "$before" -gt 0 ] && [ "$before" -lt "$expected" ] && pass ||
  fail "the broker did not die mid-stream ($before of $expected chunks indexed)"
deadline=$((SECONDS + 600))
until [ "$(count)" -ge "$expected" ] || [ $SECONDS -ge $deadline ]; do sleep 1; done
check "every chunk indexed, once, with a broker down" "$(count)" "$expected"
n=$("$RAGLINE" get docs "a.md#0" --data "$WORK/emb" | jq -r .payload.chunk_count)
got=$(curl -fsS "$URL/v1/collections/docs/vectors/a.md%23$((n - 1))" | jq -r .id)
check "a document's last chunk is there" "$got" "a.md#$((n - 1))"
echo "three-broker drill: $((SECONDS - t_start)) s"
finish
