#!/usr/bin/env bash
# A newcomer's first hour, scripted (issue 18): ragline from the install
# target, run from another directory, the model found where a user's fetch
# puts it ($XDG_DATA_HOME/ragline/models), a fresh data directory, and a
# folder as /usr/share/doc has them: extension-less README and NEWS, a .gz,
# HTML with texinfo's navigation bar, a PDF, a binary file. Checks the
# progress on a terminal, the report of skipped files, the summary line
# (the same for --data and --server), titled citations with the section or
# page, and the "cannot answer" case.
#
# Usage: tests/newcomer_test.sh path/to/ragline
RAGLINE=${1:?usage: newcomer_test.sh path/to/ragline}
. "$(dirname "$0")/lib.sh"
require_model

# The install target, into a prefix of our own.
cmake --install "$(dirname "$RAGLINE")" --prefix "$WORK/prefix" > /dev/null
BIN=$WORK/prefix/bin/ragline
RAGLINE=$BIN  # start_serve runs it too
check "installed binary" "$([ -x "$BIN" ] && echo yes)" "yes"
check "installed fetch script" "$([ -x "$WORK/prefix/share/ragline/scripts/fetch_model.sh" ] && echo yes)" "yes"
unset RAGLINE_MODEL_DIR
export XDG_DATA_HOME=$WORK/xdg
mkdir -p "$XDG_DATA_HOME/ragline/models" "$WORK/elsewhere"
ln -s "$MODEL" "$XDG_DATA_HOME/ragline/models/all-MiniLM-L6-v2"
cd "$WORK/elsewhere"

DOCS=$WORK/docs
mkdir -p "$DOCS/html" "$DOCS/dictionary"
cp "$ROOT"/examples/corpus/devils-dictionary/* "$DOCS/dictionary/"  # enough work to watch the progress
printf 'Zanzibar flux\n\nThe zanzibar flux capacitor stores forty-two joules of charge between lunar eclipses.\n' \
  > "$DOCS/README"
printf 'Release 2.0 renamed the quantum widget to the photon gadget.\n' | gzip > "$DOCS/NEWS.gz"
cat > "$DOCS/html/Closures.html" <<'HTML'
<!DOCTYPE html><html><head><title>The Closure API (libffi)</title></head><body>
<div class="header"><p>Next: <a href="Example.html">Closure Example</a>, Previous: <a href="ABIs.html">Multiple ABIs</a>, Up: <a href="Using.html">Using libffi</a> [<a href="Index.html">Index</a>]</p></div>
<h3 class="section">2.5 The Closure API</h3>
<p>libffi also provides a way to write a generic function, a closure, that can accept and decode any combination of arguments.</p>
<p>A closure is allocated with ffi_closure_alloc and released with ffi_closure_free.</p>
</body></html>
HTML
cp "$ROOT/src/text/testdata/sample.pdf" "$DOCS/manual.pdf"
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > "$DOCS/logo.png"

# 1. Ingest with --data on a terminal (script(1) gives it one): a progress
#    line redrawn about once a second, the JSON report, the summary.
script -qec "'$BIN' ingest '$DOCS' --data ./data --collection docs --create > report.json" typescript > /dev/null
report=$(cat report.json)
check "documents added" "$(jq .documents_added <<< "$report")" "31"
check "documents failed" "$(jq .documents_failed <<< "$report")" "0"
check "files skipped" "$(jq -c '[.files_skipped, .skipped]' <<< "$report")" \
  '[1,[{"id":"logo.png","reason":"binary data (NUL byte at offset 8)"}]]'
term=$(tr -d '\033' < typescript)
check_contains "skipped file said" "$term" "skipped: logo.png: binary data"
summary=$(grep -ao 'ingested [0-9]* documents in [0-9:]*: .*skipped' typescript | head -1)
check_contains "summary line" "$summary" "ingested 31 documents in "
check_contains "summary counts" "$summary" ": 31 added, 0 replaced, 0 unchanged, 0 failed; "
mm=$(sed -E 's/.* in ([0-9]+):([0-9]+):.*/\1/' <<< "$summary")
ss=$(sed -E 's/.* in ([0-9]+):([0-9]+):.*/\2/' <<< "$summary")
seconds=$((10#$mm * 60 + 10#$ss))
redraws=$(grep -ao $'\r''ingest: [0-9/]* docs  [0-9]* chunks' typescript | wc -l)
if [ "$seconds" -ge 3 ] && [ "$redraws" -ge $((seconds - 1)) ]; then pass; else
  fail "progress moved $redraws times in $seconds s (want about once a second)"; fi
check_contains "progress shows an ETA" "$term" "ETA "

# 2. A file without an extension alone is read by its content; a binary one
#    says why not, and how to override.
single=$("$BIN" ingest "$DOCS/README" --data ./data --collection docs 2>/dev/null | jq .documents_unchanged)
check "README alone" "$single" "1"
expect_fail "a binary file alone" "logo.png: skipped: binary data (NUL byte at offset 8); not a txt, md, html or pdf document (--content-type" \
  "$BIN" ingest "$DOCS/logo.png" --data ./data --collection docs

# 3. Serve from here (the model from XDG_DATA_HOME), ask, read the sources.
start_serve serve --data ./data --port 0
check "ready" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" "200"
out=$("$BIN" query "What does the zanzibar flux capacitor store?" --server "$URL" --collection docs 2>&1)
check_contains "answer from the README" "$out" "forty-two joules"
check_contains "README cited" "$out" "(README#0)"
out=$("$BIN" query "How is a libffi closure allocated and released?" --server "$URL" --collection docs 2>&1)
check_contains "HTML title and section cited" "$out" "The Closure API (libffi), 2.5 The Closure API (html/Closures.html#0)"
if [[ "$out" == *"Previous: Multiple ABIs"* ]]; then fail "the navigation bar reached the answer: $out"; else pass; fi
out=$("$BIN" query "What does Ragline extract text from PDF files with?" --server "$URL" --collection docs 2>&1)
check_contains "PDF title and page cited" "$out" "Ragline Sample PDF, page 1 (manual.pdf#0)"
out=$("$BIN" query "What was the quantum widget renamed to?" --server "$URL" --collection docs 2>&1)
check_contains "the .gz document answers" "$out" "photon gadget"
out=$("$BIN" query "How do I configure the GPU driver?" --server "$URL" --collection docs 2>&1)
check_contains "cannot answer says so" "$out" "Nothing in the collection is close enough to the question"
if [[ "$out" == *"Sources:"*"[1]"* ]]; then fail "an unanswerable question cited sources: $out"; else pass; fi
hit=$(curl -s "$URL/v1/collections/docs/query" -d '{"query": "ffi_closure_alloc", "k": 1, "generate": false}' | jq -c '.hits[0] | [.title, .heading_path, (.source | endswith("html/Closures.html"))]')
check "hit fields" "$hit" '["The Closure API (libffi)","2.5 The Closure API",true]'
listed=$("$BIN" documents list docs --server "$URL" 2>/dev/null | grep -c "Closure API")
check "documents list shows titles" "$listed" "1"

# 4. The same folder through the server: the same summary line, progress too.
script -qec "'$BIN' ingest '$DOCS' --server '$URL' --collection remote --create > remote.json" typescript2 > /dev/null
summary2=$(grep -ao 'ingested [0-9]* documents in [0-9:]*: .*skipped' typescript2 | head -1)
check "summary shape over HTTP" "$(sed -E 's/ in [0-9:]+:/ in T:/' <<< "$summary2")" "$(sed -E 's/ in [0-9:]+:/ in T:/' <<< "$summary")"
check "skipped over HTTP" "$(jq -c .skipped < remote.json)" '[{"id":"logo.png","reason":"binary data (NUL byte at offset 8)"}]'
redraws2=$(grep -ao $'\r''ingest: [0-9/]* docs  [0-9]* chunks' typescript2 | wc -l)
if [ "$redraws2" -ge 2 ]; then pass; else fail "no progress over HTTP ($redraws2 redraws)"; fi
stop_pids "$PID"

finish
