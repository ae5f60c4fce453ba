#!/usr/bin/env bash
# Lexical (BM25) search through the ragline binary: create options, --mode
# lexical, filters, versions and deletes, restart, compaction, bad input.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
r() { "$RAGLINE" "$@"; }
lex() { r search "$@" --data "$DATA" --mode lexical; }

r collection create kb --dim 2 --index flat --seal-threshold 3 --data "$DATA" >/dev/null
check "default lexical config" "$(r collection describe kb --data "$DATA" | jq -c '[.lexical.text_field, .lexical.analyzer.stemmer, .lexical.analyzer.stop_words, .lexical.bm25.k1, .lexical.bm25.b]')" '["text","english","english",1.2,0.75]'
r collection create kb2 --dim 2 --text-field body --analyzer stemmer=porter,stop_words=none --bm25 k1=1.2,b=0.75 --data "$DATA" >/dev/null
check "custom lexical config" "$(r collection describe kb2 --data "$DATA" | jq -c '[.lexical.text_field, .lexical.analyzer.stemmer, .lexical.analyzer.stop_words, .lexical.bm25.k1, .lexical.bm25.b]')" '["body","porter","none",1.2,0.75]'
expect_fail "unknown stemmer" "unknown stemmer language 'klingon'" r collection create x --dim 2 --analyzer stemmer=klingon --data "$DATA"
expect_fail "bad analyzer option" "unknown analyzer option 'colour'" r collection create x --dim 2 --analyzer colour=red --data "$DATA"
expect_fail "bad bm25" "b=2 must be in [0, 1]" r collection create x --dim 2 --bm25 b=2 --data "$DATA"
expect_fail "empty text field" "text field must not be empty" r collection create x --dim 2 --text-field "" --data "$DATA"

cat > "$WORK/docs.jsonl" <<'JSONL'
{"id":"a","version":1,"vector":[1,0],"payload":{"text":"The quick brown fox jumps over the lazy dog","lang":"en"}}
{"id":"b","version":1,"vector":[0,1],"payload":{"text":"Foxes are running through the forest","lang":"en"}}
{"id":"c","version":1,"vector":[1,1],"payload":{"text":"Der schnelle braune Fuchs","lang":"de"}}
{"id":"d","version":1,"vector":[1,2],"payload":{"text":"A dog and a cat","lang":"en"}}
{"id":"e","version":1,"vector":[2,1],"payload":{"title":"no text field here"}}
JSONL
r upsert kb --data "$DATA" --file "$WORK/docs.jsonl" >/dev/null 2>&1

hits=$(echo '{"text":"fox running"}' | lex kb --k 10)
check "stemmed query matches" "$(echo "$hits" | jq -c '[.hits[].id]')" '["b","a"]'
check "hit fields as dense search" "$(echo "$hits" | jq -c '.hits[0] | keys')" '["id","payload","score","version"]'
check "scores are positive, best first" "$(echo "$hits" | jq '.hits[0].score > .hits[1].score and .hits[1].score > 0')" "true"
check "k limits hits" "$(echo '{"text":"fox dog"}' | lex kb --k 1 | jq '.hits | length')" "1"
check "per-query k" "$(echo '{"text":"fox dog","k":2}' | lex kb --k 1 | jq '.hits | length')" "2"
check "stop words only" "$(echo '{"text":"the and a"}' | lex kb --k 5 | jq -c '.hits')" '[]'
check "filter in lexical mode" "$(echo '{"text":"dog fox"}' | lex kb --k 5 --filter '{"lang":"en"}' | jq -c '[.hits[].id] | sort')" '["a","b","d"]'
check "per-query filter" "$(echo '{"text":"fuchs fox","filter":{"lang":"de"}}' | lex kb --k 5 | jq -c '[.hits[].id]')" '["c"]'
check "one line per query" "$(printf '%s\n%s\n' '{"text":"fox"}' '{"text":"cat"}' | lex kb --k 1 | jq -r '.hits[0].id' | tr '\n' ' ')" "b d "
check "dense mode is still the default" "$(echo '{"vector":[1,0]}' | r search kb --data "$DATA" --k 1 | jq -r '.hits[0].id')" "a"

expect_fail "lexical query without text" "line 2: missing \"text\" (lexical mode)" bash -c "printf '%s\n%s\n' '{\"text\":\"fox\"}' '{\"vector\":[1,0]}' | '$RAGLINE' search kb --data '$DATA' --mode lexical"
expect_fail "dense query without vector" "line 1: missing \"vector\" (dense mode)" bash -c "echo '{\"text\":\"fox\"}' | '$RAGLINE' search kb --data '$DATA' --mode dense"
expect_fail "a text query defaults to hybrid" "\"text\" cannot be embedded for hybrid mode" bash -c "echo '{\"text\":\"fox\"}' | '$RAGLINE' search kb --data '$DATA'"
expect_fail "text must be a string" "line 1: \"text\" must be a string" bash -c "echo '{\"text\":3}' | '$RAGLINE' search kb --data '$DATA' --mode lexical"
expect_fail "unknown mode" "--mode: unknown mode 'fuzzy' (expected dense, lexical or hybrid)" bash -c "echo '{\"text\":\"fox\"}' | '$RAGLINE' search kb --data '$DATA' --mode fuzzy"

# replaced and deleted documents never match
echo '{"id":"a","version":2,"vector":[1,0],"payload":{"text":"A slow green turtle","lang":"en"}}' | r upsert kb --data "$DATA" >/dev/null 2>&1
r delete kb --id b --data "$DATA" >/dev/null
check "replaced and deleted never match" "$(echo '{"text":"fox"}' | lex kb --k 10 | jq -c '[.hits[].id]')" '[]'
check "replacement matches" "$(echo '{"text":"turtles"}' | lex kb --k 10 | jq -c '[.hits[] | [.id, .version]]')" '[["a",2]]'

stats=$(r stats kb --data "$DATA")
check "stats: live documents with text (a, c, d)" "$(echo "$stats" | jq .lexical.documents)" "3"
check "stats: dead rows still count in BM25's N" "$(echo "$stats" | jq .lexical.bm25_documents)" "5"
check "stats: lexical memory" "$(echo "$stats" | jq '.lexical.memory_bytes > 0')" "true"
before=$(echo '{"text":"dog turtle cat"}' | lex kb --k 10 | jq -c '[.hits[].id]')
stats=$(r compact kb --data "$DATA")
check "compaction drops dead rows from the statistics" "$(echo "$stats" | jq .lexical.bm25_documents)" "3"
check "compaction keeps answers" "$(echo '{"text":"dog turtle cat"}' | lex kb --k 10 | jq -c '[.hits[].id]')" "$before"

# custom text field, array of strings
echo '{"id":"p","version":1,"vector":[1,0],"payload":{"body":["Searching the index","Stemmed with Porter"]}}' | r upsert kb2 --data "$DATA" >/dev/null 2>&1
check "custom text field, array of strings" "$(echo '{"text":"search porter"}' | lex kb2 --k 5 | jq -r '.hits[0].id')" "p"
finish
