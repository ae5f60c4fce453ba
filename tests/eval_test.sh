#!/usr/bin/env bash
# `ragline eval` end to end with the real all-MiniLM-L6-v2 weights on a tiny
# BEIR dataset: 30 documents, 3 exact-keyword queries (lexical should win) and
# 3 paraphrase queries sharing no content word with their answer (dense should
# win); all three modes, the JSON report, reuse of the scratch collection, and
# errors for bad datasets.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
DS="$WORK/tiny"
mkdir -p "$DS/qrels"
ev() { "$RAGLINE" eval --model "$MODEL" --threads 2 --data "$DATA" "$@"; }

doc() { jq -cn --arg id "$1" --arg title "$2" --arg text "$3" '{_id: $id, title: $title, text: $text}'; }
{
  doc d01 "French press" "A French press steeps coarse ground coffee in hot water for about four minutes before the plunger is pressed."
  doc d02 "Espresso" "Espresso is made by forcing pressurized hot water through finely ground coffee beans."
  doc d03 "Green tea" "Green tea leaves are steamed or pan-fired shortly after harvest to prevent oxidation."
  doc d04 "Chain care" "Lubricate the bicycle chain every few hundred kilometres and wipe off the excess oil."
  doc d05 "Punctures" "To repair a punctured inner tube, locate the hole, roughen the rubber and apply a patch with vulcanising glue."
  doc d06 "Running" "Beginners should alternate walking and jogging intervals to build endurance without injury."
  doc d07 "Sleep" "Adults need seven to nine hours of sleep per night; irregular schedules disturb the circadian rhythm."
  doc d08 "Photosynthesis" "Plants convert sunlight, water and carbon dioxide into glucose and oxygen in their chloroplasts."
  doc d09 "Volcanoes" "Magma that reaches the surface erupts as lava, ash and volcanic gases."
  doc d10 "Earthquakes" "Seismographs record the ground motion produced when tectonic plates slip along a fault."
  doc d11 "Tides" "Ocean tides are caused mainly by the gravitational pull of the moon on the rotating earth."
  doc d12 "Compression" "The zstd library compresses data quickly and offers dictionary training for small records."
  doc d13 "Checksums" "CRC32C detects accidental corruption in storage blocks and is accelerated by the SSE4.2 instruction set."
  doc d14 "Durability" "Calling fsync forces buffered file data to stable storage before the write is acknowledged."
  doc d15 "Rebasing" "git rebase replays local commits on top of another branch to keep history linear."
  doc d16 "Virtual environments" "A Python virtual environment isolates the packages installed for one project from the rest of the system."
  doc d17 "Deployments" "A Kubernetes Deployment keeps the requested number of pod replicas running and rolls out new versions gradually."
  doc d18 "DNS" "The domain name system translates human-readable host names into IP addresses."
  doc d19 "Certificates" "TLS certificates let a browser verify that it is talking to the genuine server and encrypt the connection."
  doc d20 "Passwords" "Store passwords with a slow salted hash such as argon2 or bcrypt, never in plain text."
  doc d21 "Sourdough" "Sourdough bread rises thanks to wild yeast and lactic acid bacteria living in the starter."
  doc d22 "Pasta" "Cook dried pasta in plenty of salted boiling water and stop while it is still al dente."
  doc d23 "Puppies" "Puppies learn basic commands fastest with short, frequent training sessions and rewards."
  doc d24 "Cats" "Cats spend much of the day asleep and are most active at dawn and dusk."
  doc d25 "Tomatoes" "Tomato plants need full sun, regular watering and support from stakes or cages as they grow."
  doc d26 "Diversification" "Diversifying investments across asset classes reduces the risk of a large loss."
  doc d27 "Compound interest" "Compound interest means that earned interest is added to the principal and itself earns interest."
  doc d28 "Light-years" "A light-year is the distance light travels in one year, about 9.46 trillion kilometres."
  doc d29 "Language" "Children acquire their native language by hearing it spoken long before they can read."
  doc d30 "Pianos" "A piano has 88 keys spanning just over seven octaves."
} > "$DS/corpus.jsonl"
q() { jq -cn --arg id "$1" --arg text "$2" '{_id: $id, text: $text}'; }
{
  q k1 "zstd dictionary"
  q k2 "CRC32C SSE4.2"
  q k3 "argon2 bcrypt"
  q p1 "how do I fix a leaking bike wheel"
  q p2 "why does the sea rise and fall twice a day"
  q p3 "what stops eavesdroppers from snooping on my web traffic"
  q unjudged "a query without judgments is not run"
} > "$DS/queries.jsonl"
printf 'query-id\tcorpus-id\tscore\n' > "$DS/qrels/test.tsv"
printf '%s\t%s\t%s\n' k1 d12 2  k2 d13 2  k3 d20 2  p1 d05 2  p1 d04 1  p2 d11 2  p3 d19 2  p3 ghost 1 >> "$DS/qrels/test.tsv"

# --- all three modes: table on stdout, JSON report, progress on stderr
rc=0
ev --dataset "$DS" --json "$WORK/r.json" --k 20 > "$WORK/out" 2> "$WORK/err" || rc=$?
check "eval exits 0" "$rc" "0"
[ "$rc" -eq 0 ] || cat "$WORK/err" >&2
cat "$WORK/out"
check_contains "table header" "$(cat "$WORK/out")" "nDCG@10"
check "one table row per mode" "$(grep -cE '^(dense|lexical|hybrid) ' "$WORK/out")" "3"
check_contains "progress on stderr" "$(cat "$WORK/err")" "ingest: 30/30 docs"
check_contains "unknown qrels document warned" "$(cat "$WORK/err")" "document 'ghost' is not in corpus.jsonl"
R="$WORK/r.json"
check "json: counts" "$(jq -c '[.documents, .queries, .qrels_dropped.unknown_documents, .collection, .ingest.reused]' "$R")" '[30,6,1,"eval_tiny",false]'
check "json: three modes" "$(jq -c '.modes | keys' "$R")" '["dense","hybrid","lexical"]'
check "json: every metric in [0,1]" "$(jq '[.modes[] | .["recall@1","recall@10","recall@100","ndcg@10","mrr@10"] | select(. < 0 or . > 1)] | length' "$R")" "0"
check "json: latencies positive" "$(jq '[.modes[].latency_ms | select(.p50 <= 0 or .p99 < .p50)] | length' "$R")" "0"
check "json: default fusion" "$(jq -c '.fusion | [.method, .alpha, .candidates]' "$R")" '["convex",0.5,100]'
pq() { jq -r --arg m "$1" --arg q "$2" --arg f "$3" '.modes[$m].per_query[] | select(.id == $q) | .[$f]' "$R"; }
for k in k1 k2 k3; do
  check "lexical ranks the exact keyword match first ($k)" "$(jq -n "$(pq lexical $k 'rr@10') == 1")" "true"
done
for p in p1 p2 p3; do
  check "dense finds the paraphrase ($p, recall@10)" "$(jq -n "$(pq dense $p 'recall@10') == 1")" "true"
  check "dense beats lexical on the paraphrase ($p)" \
    "$(jq -n "$(pq dense $p 'ndcg@10') > $(pq lexical $p 'ndcg@10')")" "true"
done
check "hybrid nDCG@10 >= min(dense, lexical)" \
  "$(jq '.modes | .hybrid["ndcg@10"] >= ([.dense["ndcg@10"], .lexical["ndcg@10"]] | min)' "$R")" "true"
check "hybrid recall@10 is 1" "$(jq '.modes.hybrid["recall@10"] == 1' "$R")" "true"

# --- the scratch collection is reused for the same corpus, rebuilt for another
ev --dataset "$DS" --modes lexical --json "$WORK/r2.json" > /dev/null 2> "$WORK/err2"
check "same corpus: reused" "$(jq .ingest.reused "$WORK/r2.json")" "true"
check "reused: no ingest" "$(grep -c 'ingest: 30/30' "$WORK/err2" || true)" "0"
check "modes subset" "$(jq -c '.modes | keys' "$WORK/r2.json")" '["lexical"]'
check "reused: same lexical nDCG" "$(jq '.modes.lexical["ndcg@10"]' "$WORK/r2.json")" "$(jq '.modes.lexical["ndcg@10"]' "$R")"
echo '{"_id": "d31", "title": "Extra", "text": "A late addition to the corpus."}' >> "$DS/corpus.jsonl"
ev --dataset "$DS" --modes dense --index flat --max-queries 2 --json "$WORK/r3.json" > /dev/null 2> "$WORK/err3"
check "changed corpus: rebuilt" "$(jq -c '[.ingest.reused, .documents, .queries, .index]' "$WORK/r3.json")" '[false,31,2,"flat"]'
check_contains "changed corpus: said so" "$(cat "$WORK/err3")" "rebuilding it"
check "collection holds the new corpus" "$("$RAGLINE" stats eval_tiny --data "$DATA" | jq .vector_count)" "31"
check "payload is title + text" "$("$RAGLINE" get eval_tiny d30 --data "$DATA" | jq -c '.payload')" \
  '{"text":"Pianos\nA piano has 88 keys spanning just over seven octaves.","title":"Pianos"}'

# --- an existing collection: --collection uses it as is
ev --dataset "$DS" --collection eval_tiny --modes hybrid --fusion convex --alpha 0.3 --json "$WORK/r4.json" > /dev/null 2>&1
check "--collection: convex fusion" "$(jq -c '[.collection, .ingest.reused, .fusion.method, .fusion.alpha]' "$WORK/r4.json")" '["eval_tiny",true,"convex",0.3]'
ev --dataset "$DS" --collection eval_tiny --modes hybrid --fusion rrf --json "$WORK/r5.json" > /dev/null 2>&1
check "--fusion rrf" "$(jq -c '.fusion | [.method, .k, .weights.dense, .weights.lexical]' "$WORK/r5.json")" '["rrf",60,1,1]'
expect_fail "--collection must exist" "collection 'nope' does not exist" ev --dataset "$DS" --collection nope
"$RAGLINE" collection create eval_mine --dim 384 --data "$DATA" > /dev/null
mkdir -p "$WORK/mine" && cp -r "$DS"/* "$WORK/mine/"
expect_fail "foreign collection with the scratch name" "exists but ragline eval did not make it" ev --dataset "$WORK/mine"

# --- ragline search on the same collection: text queries in every mode
s() { "$RAGLINE" search eval_tiny --data "$DATA" --model "$MODEL" "$@"; }
check "dense mode embeds text" "$(echo '{"text":"why does the sea rise and fall twice a day"}' | s --k 1 --mode dense | jq -r '.hits[0].id')" "d11"
check "lexical mode" "$(echo '{"text":"zstd"}' | s --k 1 --mode lexical | jq -r '.hits[0].id')" "d12"
hy=$(echo '{"text":"CRC32C corruption"}' | s --k 3 --mode hybrid)
check "hybrid mode" "$(echo "$hy" | jq -r '.hits[0].id')" "d13"
# Default convex fusion: the top hit of both lists scores alpha·1 + (1 - alpha)·1 = 1.
check "hybrid score is the convex score" "$(echo "$hy" | jq '.hits[0].score | . > 0.9999 and . <= 1.0001')" "true"
hy=$(echo '{"text":"CRC32C corruption"}' | s --k 3 --mode hybrid --fusion rrf)
check "hybrid score is the RRF score" "$(echo "$hy" | jq '.hits[0].score * 61 | . > 1.9 and . <= 2.0001')" "true"
check "hybrid output format" "$(echo "$hy" | jq -c '.hits[0] | keys')" '["id","payload","score","version"]'
check "hybrid honours the filter" "$(echo '{"text":"coffee"}' | s --k 5 --mode hybrid --filter '{"title":"Espresso"}' | jq -c '[.hits[].id]')" '["d02"]'
check "hybrid convex" "$(echo '{"text":"zstd dictionary"}' | s --k 1 --mode hybrid --fusion convex --alpha 0.2 | jq -r '.hits[0].id')" "d12"
check "hybrid weights" "$(echo '{"text":"zstd dictionary"}' | s --k 2 --mode hybrid --weights dense=0,lexical=1 | jq -r '.hits[0].id')" "d12"
check "per-query mode" "$(echo '{"text":"zstd","mode":"lexical"}' | s --k 5 | jq '.hits | length')" "1"
vec=$(echo '{"text":"tides of the ocean"}' | "$RAGLINE" embed --model "$MODEL" --input jsonl | jq -c .embedding)
check "hybrid uses a given vector" "$(echo "{\"text\":\"moon\",\"vector\":$vec}" | "$RAGLINE" search eval_tiny --data "$DATA" --k 1 --mode hybrid --model "$WORK/no-model" | jq -r '.hits[0].id')" "d11"
expect_fail "hybrid needs text" "line 2: missing \"text\" (hybrid mode)" bash -c "printf '%s\n%s\n' '{\"text\":\"x\"}' '{\"vector\":$vec}' | '$RAGLINE' search eval_tiny --data '$DATA' --model '$MODEL' --mode hybrid"
expect_fail "dense text without a model" "line 1: missing \"vector\" (dense mode) and \"text\" cannot be embedded" bash -c "echo '{\"text\":\"x\"}' | '$RAGLINE' search eval_tiny --data '$DATA' --model '$WORK/no-model' --mode dense"
expect_fail "hybrid text without a model" "line 1: \"text\" cannot be embedded for hybrid mode" bash -c "echo '{\"text\":\"x\"}' | '$RAGLINE' search eval_tiny --data '$DATA' --model '$WORK/no-model' --mode hybrid"
expect_fail "bad fusion option" "--fusion: unknown fusion method 'borda'" bash -c "echo '{\"text\":\"x\"}' | '$RAGLINE' search eval_tiny --data '$DATA' --mode hybrid --fusion borda"
expect_fail "bad weights" "--weights: 'sparse=1'" bash -c "echo '{\"text\":\"x\"}' | '$RAGLINE' search eval_tiny --data '$DATA' --mode hybrid --weights sparse=1"
expect_fail "bad alpha" "alpha=2 must be in [0, 1]" bash -c "echo '{\"text\":\"x\"}' | '$RAGLINE' search eval_tiny --data '$DATA' --mode hybrid --fusion convex --alpha 2"

# --- bad datasets and options
BAD="$WORK/bad"
reset_bad() { rm -rf "$BAD"; cp -r "$DS" "$BAD"; }
reset_bad; rm "$BAD/corpus.jsonl"
expect_fail "missing corpus" "bad/corpus.jsonl" ev --dataset "$BAD"
reset_bad; sed -i '3s/.*/{"_id": "d03", "text": /' "$BAD/corpus.jsonl"
expect_fail "malformed corpus line" "corpus.jsonl line 3: malformed JSON" ev --dataset "$BAD"
reset_bad; echo '{"_id": "q9"}' >> "$BAD/queries.jsonl"
expect_fail "query without text" "queries.jsonl line 8: missing \"text\"" ev --dataset "$BAD"
reset_bad; printf 'k1\td12\n' >> "$BAD/qrels/test.tsv"
expect_fail "short qrels line" "test.tsv line 10: expected 'query-id<TAB>corpus-id<TAB>integer score'" ev --dataset "$BAD"
reset_bad; rm -r "$BAD/qrels"
expect_fail "missing qrels" "expected qrels/test.tsv or qrels.tsv" ev --dataset "$BAD"
expect_fail "missing dataset" "dataset directory $WORK/none not found" ev --dataset "$WORK/none"
expect_fail "unknown mode" "unknown mode 'sparse'" ev --dataset "$DS" --modes dense,sparse
expect_fail "bad fusion" "unknown fusion method 'borda'" ev --dataset "$DS" --fusion borda
expect_fail "bad index" "--index must be hnsw or flat" ev --dataset "$DS" --index ivf_pq

finish
