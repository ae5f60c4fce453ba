#!/usr/bin/env bash
# `ragline ingest` end to end with the real all-MiniLM-L6-v2 model: a small
# tree of txt/md/html files, reruns (unchanged / replaced / deleted), search
# over what was ingested, failure isolation, JSONL input, and a kill -9 in
# the middle of a 100-file ingest followed by a rerun that must leave exactly
# the right chunks.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
ingest() { "$RAGLINE" ingest --data "$DATA" --model "$MODEL" --threads 2 "$@"; }
search() { "$RAGLINE" search --data "$DATA" --model "$MODEL" "$@"; }
field() { jq -r "$1" "$WORK/out.json"; }

SRC="$WORK/src"
mkdir -p "$SRC/sub"
cat > "$SRC/a.txt" <<'EOF'
Sourdough bread needs a lively starter, flour, water and salt.
Let the dough rise slowly overnight in a cool kitchen, then bake it in a hot oven.
EOF
cat > "$SRC/b.md" <<'EOF'
# Bicycles

## Maintenance

Keep the chain clean and lubricated. Check tyre pressure every week and
replace worn brake pads before long rides.
EOF
cat > "$SRC/sub/c.html" <<'EOF'
<html><head><title>Volcanoes</title></head><body><nav>menu</nav>
<main><h1>Volcanoes</h1><p>Magma rises through the crust and erupts as lava, ash and gas.</p></main>
</body></html>
EOF
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > "$SRC/logo.png"  # binary: skipped with its reason

# --- first run: everything is added
rc=0
ingest "$SRC" --collection docs --create > "$WORK/out.json" 2> "$WORK/err" || rc=$?
check "first run exits 0" "$rc" "0"
check "3 added" "$(field .documents_added)" "3"
check "none failed" "$(field .documents_failed)" "0"
check "collection created with the model's dim" \
  "$("$RAGLINE" stats docs --data "$DATA" | jq .dimension)" "384"
chunks=$(field .chunks_upserted)
check "vector_count = chunks upserted" "$("$RAGLINE" stats docs --data "$DATA" | jq .vector_count)" "$chunks"
check_contains "progress on stderr" "$(cat "$WORK/err")" "ingest: 3/3 docs"
check "binary file skipped" "$(jq -c '[.files_skipped, .skipped[0].id]' "$WORK/out.json")" '[1,"logo.png"]'
check_contains "skip said on stderr" "$(cat "$WORK/err")" "skipped: logo.png: binary data (NUL byte at offset 8)"
"$RAGLINE" get docs "b.md#0" --data "$DATA" > "$WORK/b0.json"
check "payload doc_id" "$(jq -r .payload.doc_id "$WORK/b0.json")" "b.md"
check "payload title" "$(jq -r .payload.title "$WORK/b0.json")" "Bicycles"
check "payload heading_path" "$(jq -r .payload.heading_path "$WORK/b0.json")" "Bicycles"
check "payload content_hash is 16 hex digits" "$(jq -r '.payload.content_hash | test("^[0-9a-f]{16}$")' "$WORK/b0.json")" "true"
check "payload offsets" "$(jq -c '.payload.offsets | length' "$WORK/b0.json")" "2"
check "payload chunk_count" "$(jq -r .payload.chunk_count "$WORK/b0.json")" "1"
check "payload source" "$(jq -r .payload.source "$WORK/b0.json")" "$(cd "$SRC" && pwd -P)/b.md"

# --- rerun: nothing changed, nothing embedded
ingest "$SRC" --collection docs > "$WORK/out.json" 2>/dev/null
check "rerun: 3 unchanged" "$(field .documents_unchanged)" "3"
check "rerun: no chunks written" "$(field .chunks_upserted)" "0"

# --- modify one, delete one
cat > "$SRC/a.txt" <<'EOF'
Zebras migrate across the Serengeti every year, following the rains to fresh grass.
EOF
rm "$SRC/sub/c.html"
ingest "$SRC" --collection docs > "$WORK/out.json" 2>/dev/null
check "changed: 1 replaced" "$(field .documents_replaced)" "1"
check "changed: 1 unchanged" "$(field .documents_unchanged)" "1"
check "deleted: 1 document" "$(field .documents_deleted)" "1"
expect_fail "deleted file's chunk is gone" "not found" "$RAGLINE" get docs "sub/c.html#0" --data "$DATA"
echo '{"text": "wild animals migrating on the savanna"}' | search docs --k 1 > "$WORK/hits.json"
check "dense search finds the new content" "$(jq -r '.hits[0].payload.doc_id' "$WORK/hits.json")" "a.txt"
check_contains "hit text is the new text" "$(jq -r '.hits[0].payload.text' "$WORK/hits.json")" "Zebras migrate"
echo '{"text": "zebras"}' | search docs --k 3 --mode lexical > "$WORK/hits.json"
check "lexical search finds the new content" "$(jq -r '[.hits[].payload.doc_id] | join(",")' "$WORK/hits.json")" "a.txt"
echo '{"text": "sourdough"}' | search docs --k 3 --mode lexical > "$WORK/hits.json"
check "old content is not found" "$(jq '.hits | length' "$WORK/hits.json")" "0"

# --- a broken file is reported, the rest still ingest, exit status 1
printf '%%PDF-1.4 this is not a pdf' > "$SRC/broken.pdf"
echo "A new note about lighthouses and their keepers." > "$SRC/new.txt"
rc=0
ingest "$SRC" --collection docs > "$WORK/out.json" 2> "$WORK/err" || rc=$?
check "broken file: exit 1" "$rc" "1"
check "broken file: 1 failed" "$(field .documents_failed)" "1"
check "broken file: named" "$(field '.failures[0].id')" "broken.pdf"
check "broken file: others ingest" "$(field .documents_added)" "1"
check_contains "failure on stderr" "$(cat "$WORK/err")" "failed: broken.pdf"
rm "$SRC/broken.pdf"

# --- JSONL documents: text, base64 HTML, metadata, a bad line
{
  echo '{"id": "j1", "text": "Penguins huddle together to survive the Antarctic winter.", "metadata": {"lang": "en"}}'
  printf '{"id": "j2", "content_base64": "%s", "content_type": "text/html", "version": 7}\n' \
    "$(printf '<p>Glaciers carve valleys over thousands of years.</p>' | base64 -w0)"
  echo '{"id": "j3"}'
} > "$WORK/docs.jsonl"
rc=0
ingest --jsonl - --collection docs < "$WORK/docs.jsonl" > "$WORK/out.json" 2>/dev/null || rc=$?
check "jsonl: bad line exits 1" "$rc" "1"
check "jsonl: 2 added" "$(field .documents_added)" "2"
check "jsonl: bad line named" "$(field '.failures[0].id')" "line 3"
check "jsonl: caller's version" "$("$RAGLINE" get docs "j2#0" --data "$DATA" | jq .version)" "7"
echo '{"text": "birds in the cold"}' | search docs --k 5 --filter '{"metadata.lang": "en"}' > "$WORK/hits.json"
check "filter on caller metadata" "$(jq -r '[.hits[].payload.doc_id] | join(",")' "$WORK/hits.json")" "j1"
"$RAGLINE" documents list docs --data "$DATA" > "$WORK/docs.jsonl"
check "documents list: every document once, in id order" "$(jq -r .id "$WORK/docs.jsonl" | paste -sd, -)" \
  "$(jq -r .id "$WORK/docs.jsonl" | sort | paste -sd, -)"
check "documents list: j2 with its version" "$(jq -r 'select(.id == "j2") | .version' "$WORK/docs.jsonl")" "7"
check "documents list --limit --after" \
  "$("$RAGLINE" documents list docs --data "$DATA" --limit 1 --after "$(head -1 "$WORK/docs.jsonl" | jq -r .id)" | jq -r .id)" \
  "$(sed -n 2p "$WORK/docs.jsonl" | jq -r .id)"
expect_fail "documents list needs --data or --server" "give either --data DIR or --server URL" \
  "$RAGLINE" documents list docs
expect_fail "PATH or --jsonl" "give either PATH or --jsonl" "$RAGLINE" ingest --data "$DATA" --collection docs
expect_fail "missing collection without --create" "--create" ingest "$SRC" --collection nope

# --- --watch: one report line per pass; SIGTERM ends it with status 0
W="$WORK/watched"
mkdir -p "$W"
echo "The first watched file." > "$W/a.txt"
"$RAGLINE" ingest "$W" --data "$DATA" --model "$MODEL" --threads 1 --collection w --create --watch \
  > "$WORK/watch.jsonl" 2>/dev/null &
wpid=$!
wait_lines() {  # wait_lines N: until watch.jsonl has N lines (at most 60 s)
  for _ in $(seq 1 600); do
    [ "$(wc -l < "$WORK/watch.jsonl")" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_lines 1 || fail "watch: no first pass"
echo "A second watched file about comets." > "$W/b.txt"
wait_lines 2 || fail "watch: new file not picked up"
rm "$W/a.txt"
wait_lines 3 || fail "watch: deletion not picked up"
kill -TERM "$wpid"
rc=0
wait "$wpid" || rc=$?
check "watch: SIGTERM exits 0" "$rc" "0"
check "watch: passes (added, added, deleted)" \
  "$(jq -r '"\(.documents_added)\(.documents_deleted)"' "$WORK/watch.jsonl" | tr '\n' ' ')" "10 10 01 "
check "watch: one record left" "$("$RAGLINE" stats w --data "$DATA" | jq .vector_count)" "1"

# --- kill -9 in the middle of a 100-file ingest, then rerun
MANY="$WORK/many"
mkdir -p "$MANY"
for i in $(seq -w 0 99); do
  for p in 1 2 3; do
    echo "File $i paragraph $p talks about topic $((10#$i * 7 + p)) in some detail, with enough words to fill a chunk."
    echo "It continues with another sentence about item $i and paragraph $p so that chunks overlap."
    echo
  done > "$MANY/f$i.txt"
done
# Not through the ingest() function: $! must be ragline itself, not a subshell.
"$RAGLINE" ingest "$MANY" --data "$DATA" --model "$MODEL" --threads 2 --collection many --create \
  --chunk-tokens 32 --overlap 4 --embed-batch 16 > /dev/null 2>&1 &
pid=$!
killed=no
for _ in $(seq 1 600); do
  n=$("$RAGLINE" stats many --data "$DATA" 2>/dev/null | jq -r '.vector_count // 0' 2>/dev/null || echo 0)
  if [ "${n:-0}" -ge 40 ]; then
    if kill -9 "$pid" 2>/dev/null; then killed=yes; fi
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
wait "$pid" 2>/dev/null || true
check "ingest was killed midway" "$killed" "yes"
rc=0
ingest "$MANY" --collection many --chunk-tokens 32 --overlap 4 --embed-batch 16 > "$WORK/out.json" 2>"$WORK/err" || rc=$?
[ "$rc" -eq 0 ] || cat "$WORK/err" >&2
check "rerun after kill exits 0" "$rc" "0"
check "rerun accounts for all 100" \
  "$(field '.documents_added + .documents_replaced + .documents_unchanged')" "100"
ids0=$(for i in $(seq -w 0 99); do echo "f$i.txt#0"; done)
# shellcheck disable=SC2086
"$RAGLINE" get many $ids0 --data "$DATA" > "$WORK/heads.jsonl"
check "every document committed" "$(wc -l < "$WORK/heads.jsonl")" "100"
expected=$(jq -s '[.[].payload.chunk_count] | add' "$WORK/heads.jsonl")
check "vector_count = sum of chunk_count (no duplicates, no leftovers)" \
  "$("$RAGLINE" stats many --data "$DATA" | jq .vector_count)" "$expected"
all_ids=$(jq -r '.payload.doc_id as $d | range(0; .payload.chunk_count) | "\($d)#\(.)"' "$WORK/heads.jsonl")
# shellcheck disable=SC2086
n_found=$("$RAGLINE" get many $all_ids --data "$DATA" 2>/dev/null | wc -l)
check "every expected chunk id exists" "$n_found" "$expected"
beyond=$(jq -r '"\(.payload.doc_id)#\(.payload.chunk_count)"' "$WORK/heads.jsonl")
# shellcheck disable=SC2086
check "no chunk beyond chunk_count" "$("$RAGLINE" get many $beyond --data "$DATA" 2>/dev/null | wc -l)" "0"
ingest "$MANY" --collection many --chunk-tokens 32 --overlap 4 > "$WORK/out.json" 2>/dev/null
check "third run: all unchanged" "$(field .documents_unchanged)" "100"

expect_fail "ingest: bad precision named" "precision must be auto, fp32 or int8" "$RAGLINE" ingest "$WORK" --collection x --data "$WORK/p" --precision int4
finish
