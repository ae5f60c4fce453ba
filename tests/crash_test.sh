#!/usr/bin/env bash
# kill -9 during upserts: after every crash, each acknowledged record is present
# (at its acknowledged version or newer) and no record is stored twice. Segments
# are sealed and checkpoints written while the kills land (small seal threshold).
RAGLINE=${1:-$RAGLINE}
ROUNDS=${CRASH_ROUNDS:-8}
source "$(dirname "$0")/lib.sh"
r() { "$RAGLINE" "$@"; }

N=6000
r collection create crash --dim 8 --metric cosine --index hnsw --param M=8 --param ef_construction=40 \
  --seal-threshold 700 --data "$DATA" >/dev/null

# Input: N inserts, then new versions of every third record (replacements cross segments).
awk -v n=$N 'BEGIN {
  srand(42);
  for (i = 0; i < n; i++) printf("{\"id\":\"r%d\",\"version\":1,\"vector\":[%f,%f,%f,%f,%f,%f,%f,1],\"payload\":{\"i\":%d}}\n", i, rand(),rand(),rand(),rand(),rand(),rand(),rand(), i);
  for (i = 0; i < n; i += 3) printf("{\"id\":\"r%d\",\"version\":2,\"vector\":[%f,%f,%f,%f,%f,%f,%f,1],\"payload\":{\"i\":%d,\"v\":2}}\n", i, rand(),rand(),rand(),rand(),rand(),rand(),rand(), i);
}' > "$WORK/input.jsonl"
TOTAL=$(wc -l < "$WORK/input.jsonl")

# verify ACKED: the first ACKED input lines are stored, and nothing is duplicated.
verify() {
  local acked=$1
  head -n "$acked" "$WORK/input.jsonl" | jq -r '"\(.id) \(.version)"' | sort -k1,1 -k2,2nr | sort -u -k1,1 > "$WORK/expect"
  local ids
  ids=$(cut -d' ' -f1 "$WORK/expect" | tr '\n' ' ')
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    r get crash $ids --data "$DATA" 2>"$WORK/get.err" | jq -r '"\(.id) \(.version)"' | sort -k1,1 > "$WORK/got" || true
    local missing
    missing=$(grep -c "not found" "$WORK/get.err" || true)
    check "round $round: acked records missing" "$missing" "0"
    # every stored version is at least the acknowledged one
    local older
    older=$(join "$WORK/expect" "$WORK/got" | awk '$3 < $2' | wc -l)
    check "round $round: records older than acked" "$older" "0"
  fi
  local stats live_rows count
  stats=$(r stats crash --data "$DATA")
  count=$(echo "$stats" | jq .vector_count)
  live_rows=$(echo "$stats" | jq '[.segments[] | .rows - .deleted] | add // 0')
  check "round $round: live rows == distinct ids (no duplicates)" "$live_rows" "$count"
  # nothing beyond the input ever appears
  if [ "$count" -gt "$N" ]; then fail "round $round: $count records > $N"; fi
}

acked_total=0
killed_midway=0
for round in $(seq 1 "$ROUNDS"); do
  # Resume after the last acknowledged line, as a producer with an ack log would.
  # The producer streams 20-line chunks with short pauses, so the load lasts
  # well over a second whatever the disk, and the kill lands mid-load.
  rm -f "$WORK"/chunk.* "$WORK/fifo"
  tail -n +$((acked_total + 1)) "$WORK/input.jsonl" | split -l 20 - "$WORK/chunk."
  mkfifo "$WORK/fifo"
  (for chunk in "$WORK"/chunk.*; do cat "$chunk"; sleep 0.02; done > "$WORK/fifo") 2>/dev/null &
  producer=$!
  : > "$WORK/acks"
  "$RAGLINE" upsert crash --data "$DATA" --file "$WORK/fifo" --batch-size 13 > "$WORK/acks" 2>"$WORK/upsert.err" &
  pid=$!
  # Kill at a pseudo-random moment: during open + recovery or after some batches.
  sleep "0.$(( (round * 37) % 80 + 10 ))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  kill "$producer" 2>/dev/null || true
  wait "$producer" 2>/dev/null || true
  if grep -q '^error' "$WORK/upsert.err"; then fail "round $round: upsert failed: $(cat "$WORK/upsert.err")"; fi
  last=$(grep -o '[0-9]*' "$WORK/acks" | tail -n 1 || true)
  acked_total=$((acked_total + ${last:-0}))
  echo "round $round: killed after $acked_total of $TOTAL acknowledged" >&2
  verify "$acked_total"
  [ "$acked_total" -lt "$TOTAL" ] && killed_midway=$((killed_midway + 1))
  [ "$acked_total" -ge "$TOTAL" ] && break
done
# The test means something only if kills landed mid-load.
if [ "$killed_midway" -lt 3 ]; then fail "only $killed_midway kills landed mid-load"; else pass; fi

# Finish the load without a crash; everything is there exactly once.
tail -n +$((acked_total + 1)) "$WORK/input.jsonl" | r upsert crash --data "$DATA" >/dev/null 2>&1
round=final
verify "$TOTAL"
check "final count" "$(r stats crash --data "$DATA" | jq .vector_count)" "$N"
check "replacements won" "$(r get crash r3 --data "$DATA" | jq .version)" "2"

# kill -9 during compaction, ten times (issue 15): before each, 700 new versions make
# a segment and dead rows to merge; after each kill the collection opens, checks
# clean, holds every record once at its newest version, and compacts fine next time.
compact_killed=0
for round in $(seq 1 10); do
  awk -v round=$round 'BEGIN { srand(round);
    for (i = 0; i < 700; i++) { id = int(rand() * 6000);
      printf("{\"id\":\"r%d\",\"version\":%d,\"vector\":[%f,%f,%f,%f,%f,%f,%f,1]}\n", id, 10 + round, rand(),rand(),rand(),rand(),rand(),rand(),rand()) } }' \
    | r upsert crash --data "$DATA" > /dev/null 2>&1
  "$RAGLINE" compact crash --data "$DATA" > /dev/null 2>&1 &
  pid=$!
  sleep "0.0$(( (round * 7) % 8 + 2 ))"  # the whole compaction takes ~0.1 s
  kill -9 "$pid" 2>/dev/null && compact_killed=$((compact_killed + 1))
  wait "$pid" 2>/dev/null || true
  r check crash --data "$DATA" > "$WORK/check.json" 2>&1 || fail "round $round: ragline check after a kill during compaction: $(cat "$WORK/check.json")"
  stats=$(r stats crash --data "$DATA")
  check "compaction kill $round: every record once" "$(echo "$stats" | jq '[.vector_count, ([.segments[] | .rows - .deleted] | add)] | .[0] == .[1] and .[0] == 6000')" "true"
done
check "compaction after the kills" "$(r compact crash --data "$DATA" > /dev/null 2>&1 && r stats crash --data "$DATA" | jq .vector_count)" "6000"
check "newest versions won" "$(r get crash r0 r1 r2 --data "$DATA" | jq -s '[.[].version] | min >= 2')" "true"
if [ "$compact_killed" -lt 3 ]; then fail "only $compact_killed of 10 kills landed during a compaction"; else pass; fi

# A torn WAL tail (a crash mid-write) is cut back and reported, never a crash.
wal=$(ls "$DATA/collections/crash/wal/"*.log | tail -n 1)
printf 'torn' >> "$wal"
check "torn tail reported" "$(r stats crash --data "$DATA" | jq -c '.wal_recovery.tail_cut | [.reason, .bytes_dropped]')" '["truncated header (4 of 17 bytes)",4]'
echo '{"id":"after-tear","version":1,"vector":[1,0,0,0,0,0,0,1]}' | r upsert crash --data "$DATA" >/dev/null 2>&1
check "writes go on after the cut" "$(r get crash after-tear --data "$DATA" | jq .version)" "1"
check "no loss after the cut" "$(r stats crash --data "$DATA" | jq .vector_count)" "$((N + 1))"
finish
