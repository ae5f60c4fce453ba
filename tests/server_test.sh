#!/usr/bin/env bash
# `ragline serve` end to end over HTTP with curl: collections, vectors embedded
# by `ragline embed`, search, dense/lexical/hybrid queries (extractive answers:
# no LLM here), SSE, `ragline query` both ways, /metrics judged by promtool,
# client mistakes as 4xx JSON errors, and a clean SIGTERM shutdown.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
command -v promtool >/dev/null || { echo "FAIL: promtool not found (Debian package prometheus)" >&2; exit 1; }

# --- start on a free port; the first stdout line names the address
trap 'stop_pids ${PID:-}; rm -rf "$WORK"' EXIT
start_serve serve --data "$DATA" --model "$MODEL" --host 127.0.0.1 --port 0 --threads 4 --max-body-bytes 1048576
check_contains "listening line" "$(cat "$WORK/serve.out")" "ragline serving on http://127.0.0.1:"

# call METHOD PATH [BODY]: prints "STATUS BODY"
call() {
  local method=$1 path=$2 body=${3:-}
  if [ -n "$body" ]; then
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' --data-binary "$body" "$URL$path"
  else
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "$URL$path"
  fi
}
body() { cat "$WORK/body"; }

check "healthz" "$(call GET /healthz)" "200"
check "readyz (model loaded)" "$(call GET /readyz)" "200"
check "readyz names the model" "$(body | jq -r .model)" "all-MiniLM-L6-v2"

# --- collections
check "create with defaults" "$(call POST /v1/collections '{"name":"kb"}')" "201"
check "defaults from the model" "$(body | jq -c '[.dim, .metric, .index.kind]')" '[384,"cosine","hnsw"]'
check "duplicate is 409" "$(call POST /v1/collections '{"name":"kb"}')" "409"
check "duplicate error code" "$(body | jq -r .error.code)" "already_exists"
check "list" "$(call GET /v1/collections >/dev/null; body | jq -c .collections)" '["kb"]'

# --- vectors: texts embedded by `ragline embed`, payloads carry text/doc_id/metadata
cat > "$WORK/texts.jsonl" <<'JSONL'
{"id":"eiffel#0","text":"The Eiffel Tower is a wrought-iron lattice tower in Paris, France."}
{"id":"photo#0","text":"Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar."}
{"id":"market#0","text":"Stock markets fell sharply on Monday as investors sold technology shares."}
{"id":"python#0","text":"Python is a programming language that emphasises readable code."}
JSONL
"$RAGLINE" embed --model "$MODEL" --input jsonl --file "$WORK/texts.jsonl" > "$WORK/emb.jsonl" 2>/dev/null
jq -s -c --slurpfile t "$WORK/texts.jsonl" '{vectors: [range(0; length) as $i | {
    id: .[$i].id, version: 1, vector: .[$i].embedding,
    payload: {text: $t[$i].text, doc_id: ($t[$i].id | split("#")[0]), offsets: [0, ($t[$i].text | length)],
              metadata: {source: "server_test"}}}]}' "$WORK/emb.jsonl" > "$WORK/upsert.json"
check "upsert" "$(call POST /v1/collections/kb/vectors @"$WORK/upsert.json")" "200"
check "upsert summary" "$(body | jq -c '[.upserted, .inserted]')" "[4,4]"
check "stats vector_count" "$(call GET /v1/collections/kb/stats >/dev/null; body | jq .vector_count)" "4"
check "get vector" "$(call GET /v1/collections/kb/vectors/python%230 >/dev/null; body | jq -r .payload.doc_id)" "python"

jq -c '{vector: .vectors[1].vector, k: 2}' "$WORK/upsert.json" > "$WORK/search.json"
check "vector search" "$(call POST /v1/collections/kb/vectors/search @"$WORK/search.json")" "200"
check "nearest is itself" "$(body | jq -r '.hits[0].id')" "photo#0"

# --- queries (no LLM configured: extractive, degraded)
q() { call POST /v1/collections/kb/query "{\"query\":\"$1\",\"mode\":\"$2\",\"k\":2}"; }
check "dense query" "$(q 'How do plants make food from light?' dense)" "200"
check "dense top hit" "$(body | jq -r '.hits[0].id')" "photo#0"
check "hit shape" "$(body | jq -c '.hits[0] | keys')" '["doc_id","id","metadata","offsets","score","similarity","text","title","version"]'
check "dense similarity is the score" "$(body | jq '.hits[0].similarity == .hits[0].score')" "true"
check "degraded without LLM" "$(body | jq -c '[.degraded, .degraded_reason, .degraded_detail]')" '[true,"no_llm","no LLM configured"]'
check "citation names the chunk" "$(body | jq -r '.citations[0].id')" "photo#0"
check "lexical query" "$(q 'Eiffel tower' lexical)" "200"
check "lexical top hit" "$(body | jq -r '.hits[0].doc_id')" "eiffel"
check "hybrid query" "$(q 'programming language with readable code' hybrid)" "200"
check "hybrid top hit" "$(body | jq -r '.hits[0].id')" "python#0"

# --- concurrent questions share encoder passes (question_batching, on by default) and each
# gets exactly the hits it gets alone; every question goes through the batcher
batched_texts() { curl -s "$URL/metrics" | sed -n 's/^rag_embed_batch_texts_sum //p'; }
# (three at once: what admission control lets --threads 4 run or queue)
questions=("How do plants make food from light?" "Where is the Eiffel Tower?" "stock markets fell")
ask() { curl -s -X POST -H 'Content-Type: application/json' --data "{\"query\":\"$1\",\"mode\":\"dense\",\"k\":4}" \
          "$URL/v1/collections/kb/query" | jq -c '[.hits[] | [.id, .score]]'; }
before=$(batched_texts)
for i in "${!questions[@]}"; do ask "${questions[$i]}" > "$WORK/alone$i"; done
asking=()
for i in "${!questions[@]}"; do ask "${questions[$i]}" > "$WORK/together$i" & asking+=($!); done
wait "${asking[@]}"
same=0
for i in "${!questions[@]}"; do
  [ -s "$WORK/alone$i" ] && cmp -s "$WORK/alone$i" "$WORK/together$i" && same=$((same + 1))
done
check "concurrent questions get exactly their own hits and scores" "$same" "${#questions[@]}"
check "every question went through the batcher" "$(( $(batched_texts) - before ))" "$(( 2 * ${#questions[@]} ))"

# --- streaming: server-sent events hits, delta..., done
curl -s -N -X POST -H 'Content-Type: application/json' \
  --data '{"query":"Where is the Eiffel Tower?","mode":"hybrid","stream":true}' "$URL/v1/collections/kb/query" > "$WORK/sse.txt"
check "sse event order" "$(grep '^event:' "$WORK/sse.txt" | sort -u | tr '\n' ' ')" "event: delta event: done event: hits "
check "sse first event is hits" "$(grep -m1 '^event:' "$WORK/sse.txt")" "event: hits"
check "sse done carries citations" "$(grep '^data:' "$WORK/sse.txt" | tail -1 | cut -c7- | jq -r '.citations[0].doc_id')" "eiffel"

# --- ragline query: over HTTP and directly on the data dir (read-only while served)
out=$("$RAGLINE" query "Where is the Eiffel Tower?" --collection kb --server "$URL" 2>/dev/null)
check_contains "query --server answer" "$out" "Eiffel Tower"
check_contains "query --server sources" "$out" "[1] eiffel (eiffel#0)"
# The text output is streamed (SSE) and says what the whole JSON reply says.
answer=$("$RAGLINE" query "Where is the Eiffel Tower?" --collection kb --server "$URL" --json 2>/dev/null | jq -r .answer)
check "query --server streams the reply's answer" "$(printf '%s\n' "$out" | sed '/^$/,$d')" "$answer"
out=$("$RAGLINE" query "stock market" --collection kb --data "$DATA" --mode lexical --json 2>/dev/null)
check "query --data json" "$(echo "$out" | jq -r '.hits[0].doc_id')" "market"
expect_fail "query needs --data or --server" "give either --data DIR or --server URL" "$RAGLINE" query x --collection kb
expect_fail "query --server unknown collection" "server answered 404" "$RAGLINE" query x --collection nope --server "$URL"

# --- client mistakes: 4xx with a JSON error body
check "malformed JSON" "$(call POST /v1/collections/kb/query '{"query": ')" "400"
check "malformed JSON message" "$(body | jq -r .error.message | cut -c1-14)" "malformed JSON"
check "unknown collection" "$(call POST /v1/collections/nope/query '{"query":"x"}')" "404"
check "unknown collection code" "$(body | jq -r .error.code)" "not_found"
check "wrong dim" "$(call POST /v1/collections/kb/vectors/search '{"vector":[1,2,3]}')" "400"
check_contains "wrong dim message" "$(body | jq -r .error.message)" "vector has 3 dimensions, the collection expects 384"
check "wrong type" "$(call POST /v1/collections/kb/query '{"query": 42}')" "400"
check "unknown route" "$(call GET /v2/things)" "404"
head -c 2000000 /dev/zero | tr '\0' ' ' > "$WORK/big.json"
check "oversized body" "$(call POST /v1/collections/kb/vectors @"$WORK/big.json")" "413"
check "oversized code" "$(body | jq -r .error.code)" "payload_too_large"

# --- documents: ragline ingest --server posts files; the server chunks and embeds them
mkdir -p "$WORK/docs/sub"
printf '# Tides\n\nThe moon pulls the oceans, and the sea rises twice a day.\n' > "$WORK/docs/tides.md"
printf '<html><head><title>Bread</title></head><body><p>Knead the dough, let it rise, bake it hot.</p></body></html>' > "$WORK/docs/sub/bread.html"
"$RAGLINE" ingest "$WORK/docs" --server "$URL" --collection books --create > "$WORK/ing1.json" 2> "$WORK/ing1.err"
check "ingest --server: report" "$(jq -c '[.documents_added, .documents_failed, .chunks_upserted]' "$WORK/ing1.json")" '[2,0,2]'
call GET /v1/collections/books/documents/sub%2Fbread.html > /dev/null
check "ingest --server: ids relative to the root" "$(body | jq -c '[.chunk_count, .title]')" '[1,"Bread"]'
"$RAGLINE" ingest "$WORK/docs" --server "$URL" --collection books > "$WORK/ing2.json" 2>/dev/null
check "ingest --server again: unchanged" "$(jq -c '[.documents_unchanged, .chunks_upserted]' "$WORK/ing2.json")" '[2,0]'
check "query finds the ingested text" "$("$RAGLINE" query "why does the sea rise" --collection books --server "$URL" --json | jq -r '.hits[0].doc_id')" "tides.md"
check_contains "query names a titled source by its title" \
  "$("$RAGLINE" query "why does the sea rise" --collection books --server "$URL" --k 1 2>/dev/null)" "[1] Tides (tides.md#0)"
check "documents list --server: both, in id order, titled" \
  "$("$RAGLINE" documents list books --server "$URL" | jq -r '.id + "=" + .title' | paste -sd, -)" \
  "sub/bread.html=Bread,tides.md=Tides"
check "documents list --server --limit 1" "$("$RAGLINE" documents list books --server "$URL" --limit 1 | wc -l)" "1"
printf 'not a pdf' > "$WORK/docs/broken.pdf"
"$RAGLINE" ingest "$WORK/docs" --server "$URL" --collection books > "$WORK/ing3.json" 2> "$WORK/ing3.err" && rc=0 || rc=$?
check "ingest --server: a broken file fails the run" "$rc" "1"
check_contains "ingest --server: the broken file is named" "$(cat "$WORK/ing3.err")" "failed: broken.pdf"
check "ingest --server: the others are untouched" "$(jq -c '[.documents_unchanged, .documents_failed]' "$WORK/ing3.json")" '[2,1]'
expect_fail "ingest --server: unknown collection" "server answered 404" "$RAGLINE" ingest "$WORK/docs" --server "$URL" --collection nope
expect_fail "ingest: --data, --server or --kafka" "give either --data DIR, --server URL or --kafka BROKERS" "$RAGLINE" ingest "$WORK/docs" --collection books

# --- metrics: valid exposition with route counters and stage histograms
curl -s "$URL/metrics" > "$WORK/metrics.txt"
lint=$(promtool check metrics < "$WORK/metrics.txt" 2>&1) && rc=0 || rc=$?
check "promtool check metrics passes (output: $lint)" "$rc" "0"
check_contains "route counter" "$(cat "$WORK/metrics.txt")" 'rag_http_requests_total{route="/v1/collections/{name}/query",method="POST",code="200"}'
check_contains "stage histogram" "$(cat "$WORK/metrics.txt")" 'rag_pipeline_latency_seconds_count{stage="embed"}'
check_contains "vectorstore histogram" "$(cat "$WORK/metrics.txt")" 'rag_vectorstore_query_time_seconds_count{mode="hybrid"}'
check_contains "ingest stage histogram" "$(cat "$WORK/metrics.txt")" 'rag_pipeline_latency_seconds_count{stage="ingest_embed"}'

# --- the encoder's kernel: `--version`, the start-up log and /metrics name the same one
# (precision auto: int8 where the CPU has a SIMD int8 kernel, else fp32)
kernels=$("$RAGLINE" --version | sed -n 's/^encoder kernels on this CPU: fp32 \([a-z0-9_]*\), int8 \([a-z0-9_]*\) .*/\1 \2/p')
read -r fp32_kernel int8_kernel <<< "$kernels"
check "--version names an fp32 kernel ($fp32_kernel)" "$(echo "$fp32_kernel" | grep -cxE 'avx512|avx2|scalar')" "1"
check_contains "RAGLINE_SIMD=scalar lowers it" "$(RAGLINE_SIMD=scalar "$RAGLINE" --version)" "fp32 scalar, int8 scalar"
serving="int8 $int8_kernel"
[ "$int8_kernel" = scalar ] && serving="fp32 $fp32_kernel"
check_contains "kernel on /metrics" "$(cat "$WORK/metrics.txt")" "rag_encoder_info{model=\"all-MiniLM-L6-v2\",kernel=\"$serving\"} 1"
check_contains "kernel in the start-up log" "$(grep 'embedding model loaded' "$WORK/serve.log")" "\"kernel\":\"$serving\""
check_contains "the log says why auto chose it" "$(grep 'embedding model loaded' "$WORK/serve.log")" "\"precision_choice\":\"${serving%% *} (auto: "

# --- logs: one JSON line per request with request_id, route, status
curl -s -H 'X-Request-Id: it-req-1' "$URL/v1/collections/kb" >/dev/null
for _ in $(seq 1 100); do  # the line is written just after the response
  grep -q '"it-req-1"' "$WORK/serve.log" && break
  sleep 0.05
done
line=$(grep '"it-req-1"' "$WORK/serve.log" | head -1)
check "request log line" "$(echo "$line" | jq -c '[.route, .status, (.duration_ms >= 0)]')" '["/v1/collections/{name}",200,true]'

# --- SIGTERM: clean shutdown, exit 0, data stays readable
kill -TERM $PID
rc=0
wait $PID || rc=$?
check "clean exit on SIGTERM" "$rc" "0"
check_contains "stopped logged" "$(cat "$WORK/serve.log")" '"msg":"stopped"'
check "data readable after shutdown" "$("$RAGLINE" stats kb --data "$DATA" | jq .vector_count)" "4"

# --- a second server from a config file: API keys, and flags > env > file for the LLM
cat > "$WORK/config.json" <<'JSON'
{"host": "127.0.0.1", "port": 0, "threads": 2, "precision": "int8",
 "llm": {"url": "http://127.0.0.1:1/v1", "model": "file-model", "timeout_ms": 2000,
         "breaker": {"fail_max": 2, "reset_timeout_ms": 600000}, "retry": {"max_attempts": 1}},
 "api_keys": [{"key": "reader-key", "scope": "read", "collections": ["kb"]},
              {"key": "writer-key", "scope": "write", "collections": ["*"]},
              {"key": "slow-key", "scope": "read", "collections": ["*"], "rate_per_s": 0.01, "burst": 1}],
 "compaction": {"interval_ms": 100}}
JSON
RAGLINE_LLM_URL=http://127.0.0.1:2/v1 start_serve serve2 --config "$WORK/config.json" --data "$DATA" --model "$MODEL" \
  --llm-url http://127.0.0.1:9/v1
check "flag beats env beats file" "$(call GET /readyz >/dev/null; body | jq -r .llm)" "http://127.0.0.1:9/v1/chat/completions"
check "no key: 401" "$(call GET /v1/collections/kb)" "401"
check "401 code" "$(body | jq -r .error.code)" "unauthenticated"
auth() { curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
  -X "$2" ${4:+--data "$4"} "$URL$3"; }
check "read key reads" "$(auth reader-key GET /v1/collections/kb/stats)" "200"
check "read key cannot write: 403" "$(auth reader-key POST /v1/collections/kb/vectors/delete '{"ids":["x"]}')" "403"
check "403 code" "$(body | jq -r .error.code)" "permission_denied"
check "write key writes" "$(auth writer-key POST /v1/collections/kb/vectors/delete '{"ids":["x"]}')" "200"
check "health stays open" "$(call GET /healthz)" "200"
check "query with a dead LLM" "$(auth reader-key POST /v1/collections/kb/query '{"query":"Eiffel tower","mode":"lexical"}')" "200"
check "dead LLM: extractive, degraded" "$(body | jq -c '[.degraded, (.citations | length > 0)]')" "[true,true]"
check "degraded reason code" "$(body | jq -r .degraded_reason)" "llm_unavailable"
check_contains "degraded detail names the LLM" "$(body | jq -r .degraded_detail)" "127.0.0.1:9"
# --- reliability (docs/reliability.md): the LLM's breaker opens after fail_max (2) failed
# queries and then answers without trying; deadlines; a key's rate limit
auth reader-key POST /v1/collections/kb/query '{"query":"Eiffel tower","mode":"lexical"}' > /dev/null
auth reader-key POST /v1/collections/kb/query '{"query":"Eiffel tower","mode":"lexical"}' > /dev/null
check_contains "open breaker: degraded at once" "$(body | jq -r .degraded_detail)" "circuit breaker is open"
check_contains "breaker state on /metrics" "$(curl -s "$URL/metrics")" 'rag_circuit_breaker_state{dependency="llm"} 1'
check "breaker in /readyz" "$(curl -s "$URL/readyz" | jq -c '[.breakers.llm.state, .breakers.llm.consecutive_failures]')" '["open",2]'
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer reader-key" -H 'X-Request-Timeout-Ms: soon' \
  --data '{"query":"Eiffel tower","mode":"lexical"}' "$URL/v1/collections/kb/query")
check "a malformed deadline header is a 400" "$code" "400"
check_contains "the 400 names the header" "$(body | jq -r .error.message)" "X-Request-Timeout-Ms"
check "a body deadline is accepted" \
  "$(auth reader-key POST /v1/collections/kb/query '{"query":"Eiffel tower","mode":"lexical","timeout_ms":5000}')" "200"
check "rate-limited key: first request" "$(auth slow-key GET /v1/collections/kb/stats)" "200"
rl_headers=$(curl -s -D - -o "$WORK/body" -H "Authorization: Bearer slow-key" "$URL/v1/collections/kb/stats")
check_contains "rate-limited key: 429" "$rl_headers" "HTTP/1.1 429"
check_contains "rate-limited key: Retry-After" "$(tr -d '\r' <<<"$rl_headers")" "Retry-After: 100"
check "429 code" "$(body | jq -r .error.code)" "resource_exhausted"
# the fallback index, switched by an operator (docs/reliability.md "Fallback retrieval")
check "admin fallback on" "$(RAGLINE_API_KEY=writer-key "$RAGLINE" admin fallback on --server "$URL" | jq -r .enabled)" "true"
auth reader-key POST /v1/collections/kb/query '{"query":"Eiffel tower","mode":"lexical"}' > /dev/null
check "answered from the fallback index" "$(body | jq -r .degraded_reason)" "fallback_index"
check "the cache had the hot record" "$(body | jq -r '.hits[0].doc_id')" "eiffel"
check "admin fallback status" "$(RAGLINE_API_KEY=reader-key "$RAGLINE" admin fallback status --server "$URL" | jq -c '[.enabled, .cached.kb > 0]')" "[true,true]"
check "a read key cannot switch it" "$(auth reader-key PUT /v1/admin/fallback '{"enabled":false}')" "403"
check "admin fallback off" "$(RAGLINE_API_KEY=writer-key "$RAGLINE" admin fallback off --server "$URL" | jq -r .enabled)" "false"
out=$(RAGLINE_API_KEY=reader-key "$RAGLINE" query "Eiffel tower" --collection kb --server "$URL" --mode lexical --json 2>/dev/null)
check "query --server sends RAGLINE_API_KEY" "$(echo "$out" | jq -r '.hits[0].doc_id')" "eiffel"
out=$(RAGLINE_API_KEY=reader-key "$RAGLINE" query "a tall iron tower in France" --collection kb --server "$URL" --mode dense --json 2>/dev/null)
check "int8 encoder (config \"precision\") embeds queries" "$(echo "$out" | jq -r '.hits[0].doc_id')" "eiffel"
# --- background compaction: 23 rows with seal_threshold 5 leave 4 sealed segments; the
# server merges them (config "compaction") and says so in its log and metrics
check "create small-segment collection" "$(auth writer-key POST /v1/collections '{"name":"small","seal_threshold":5}')" "201"
jq -c '{vectors: [range(0; 23) as $i | .vectors[$i % 4] | .id = "s\($i)"]}' "$WORK/upsert.json" > "$WORK/small.json"
check "upsert 23 rows" "$(auth writer-key POST /v1/collections/small/vectors @"$WORK/small.json")" "200"
sealed=""
for _ in $(seq 1 100); do
  sealed=$(auth writer-key GET /v1/collections/small/stats >/dev/null; body | jq '[.segments[] | select(.sealed)] | length')
  grep -q '"msg":"compacted"' "$WORK/serve2.log" && [ "$sealed" = 1 ] && break
  sleep 0.1
done
check "merged into one sealed segment" "$sealed" "1"
check "nothing lost" "$(auth writer-key GET /v1/collections/small/stats >/dev/null; body | jq -c '[.vector_count, .deleted]')" "[23,0]"
check "compaction log line" "$(grep '"msg":"compacted"' "$WORK/serve2.log" | head -1 | jq -c '[.collection, .sealed_segments]')" '["small",4]'
check_contains "compaction counter" "$(curl -s "$URL/metrics")" 'rag_compactions_total{collection="small",result="ok"} 1'
expect_fail "bad precision named" "precision must be auto, fp32 or int8, not 'int4'" "$RAGLINE" serve --data "$DATA" --precision int4
kill -INT $PID
rc=0
wait $PID || rc=$?
check "clean exit on SIGINT" "$rc" "0"

# --- damage (issue #13 item 8): a corrupt segment is quarantined, the rest served,
# and said everywhere an operator looks; ragline check / repair
seg=$(ls "$DATA/collections/small/segments/"*.seg | head -n 1)
printf '\x5a' | dd of="$seg" bs=1 seek=200 conv=notrunc status=none
start_serve serve3 --data "$DATA" --model "$MODEL" --port 0
check "readyz still 200" "$(call GET /readyz)" "200"
check "readyz names the degraded collection" "$(body | jq -c '[.degraded, .collections.small.status]')" '[true,"degraded"]'
check "readyz names no path" "$(body | grep -c "$DATA" || true)" "0"
check "stats: degraded" "$(call GET /v1/collections/small/stats >/dev/null; body | jq -c '[.degraded, .quarantined_segments[0].reason]')" '[true,"segment file segments/'"$(basename "$seg")"': checksum mismatch"]'
check "the rest is served" "$(call GET /v1/collections/kb/stats)" "200"
check_contains "degraded metric" "$(curl -s "$URL/metrics")" 'rag_collection_degraded{collection="small"} 1'
check "degraded log line" "$(grep '"msg":"collection degraded"' "$WORK/serve3.log" | head -1 | jq -c '[.collection, .error_code]')" '["small","data_loss"]'
rc=0; "$RAGLINE" check small --data "$DATA" > "$WORK/check.json" 2>/dev/null || rc=$?
check "check beside the server: exit 1" "$rc" "1"
check "check names the segment" "$(jq -r '.quarantined_segments[0].file' "$WORK/check.json")" "segments/$(basename "$seg")"
expect_fail "repair needs the server stopped" "open for writing by another process" "$RAGLINE" repair small --data "$DATA"
echo "a note" > "$WORK/note.txt"
expect_fail "ingest --data beside a server: use --server" "--server URL instead of --data" \
  "$RAGLINE" ingest "$WORK/note.txt" --collection kb --data "$DATA"
kill -TERM $PID; wait $PID || true
"$RAGLINE" repair small --data "$DATA" > "$WORK/repair.json" 2>/dev/null
check "repair moves the segment aside" "$(jq -c '[.removed_segments[0].file, .removed_segments_moved_to]' "$WORK/repair.json")" '["segments/'"$(basename "$seg")"'","quarantine/"]'
check "the file is kept for inspection" "$(ls "$DATA/collections/small/quarantine/")" "$(basename "$seg")"
rc=0; "$RAGLINE" check small --data "$DATA" > "$WORK/check.json" 2>/dev/null || rc=$?
check "check after repair: healthy" "$rc:$(jq .healthy "$WORK/check.json")" "0:true"
finish
