#!/usr/bin/env bash
# `ragline embed` end to end with the real all-MiniLM-L6-v2 weights
# (scripts/fetch_model.sh). The reference is examples/sample_records.jsonl,
# whose vectors sentence-transformers made for the same texts.
RAGLINE=${1:-$RAGLINE}
source "$(dirname "$0")/lib.sh"
require_model
r() { "$RAGLINE" embed --model "$MODEL" --threads 2 "$@"; }
N=40

# Texts and their sentence-transformers vectors from the committed sample.
head -n $N "$ROOT/examples/sample_records.jsonl" > "$WORK/ref.jsonl"
jq -r '.payload.text' "$WORK/ref.jsonl" > "$WORK/texts.txt"
jq -c '{id: .id, text: .payload.text}' "$WORK/ref.jsonl" > "$WORK/texts.jsonl"

# cosine_min A B: the smallest cosine between row i of two JSONL files of
# {"embedding"} / {"vector"} objects.
cosine_min() {
  jq -n --slurpfile a "$1" --slurpfile b "$2" '
    [range(0; $a | length) as $i
     | ($a[$i] | .embedding // .vector) as $x | ($b[$i] | .embedding // .vector) as $y
     | ([range(0; $x | length) as $d | $x[$d] * $y[$d]] | add)
       / ((([$x[] | . * .] | add) | sqrt) * (([$y[] | . * .] | add) | sqrt))] | min'
}

# --- text lines: one {"embedding"} line per input line (default precision: auto)
r < "$WORK/texts.txt" > "$WORK/out.jsonl" 2>"$WORK/err"
check "one line per text" "$(wc -l < "$WORK/out.jsonl")" "$N"
check "384 dimensions" "$(head -1 "$WORK/out.jsonl" | jq '.embedding | length')" "384"
check_contains "summary on stderr" "$(cat "$WORK/err")" "embed: $N texts with all-MiniLM-L6-v2 ("
norm=$(head -1 "$WORK/out.jsonl" | jq '[.embedding[] | . * .] | add | sqrt')
check "unit norm" "$(jq -n "($norm - 1) | fabs < 1e-4")" "true"

# --- fp32: the same vectors as sentence-transformers
r --precision fp32 < "$WORK/texts.txt" > "$WORK/fp32.jsonl" 2>"$WORK/fp32.err"
check_contains "fp32 summary names the fp32 kernel" "$(cat "$WORK/fp32.err")" "(fp32 "
min=$(cosine_min "$WORK/fp32.jsonl" "$WORK/ref.jsonl")
check "cosine to sentence-transformers >= 0.9999 (min $min)" "$(jq -n "$min >= 0.9999")" "true"

# --- reduced precision: int8 dense layers stay within cosine 0.99 of the reference
r --precision int8 < "$WORK/texts.txt" > "$WORK/int8.jsonl" 2>/dev/null
min8=$(cosine_min "$WORK/int8.jsonl" "$WORK/ref.jsonl")
check "int8 cosine to sentence-transformers >= 0.99 (min $min8)" "$(jq -n "$min8 >= 0.99 and $min8 < 0.999999")" "true"

# --- auto is exactly int8 where `--version` names a SIMD int8 kernel, else exactly fp32
int8_kernel=$("$RAGLINE" --version | sed -n 's/^encoder kernels on this CPU: .*, int8 \([a-z0-9_]*\) .*/\1/p')
want=int8
[ "$int8_kernel" = scalar ] && want=fp32
check_contains "auto chose $want (int8 kernel: $int8_kernel)" "$(cat "$WORK/err")" "($want "
mina=$(cosine_min "$WORK/out.jsonl" "$WORK/$want.jsonl")
check "auto gives the $want vectors (min cosine $mina)" "$(jq -n "$mina >= 0.999999")" "true"

# --- JSONL input echoes ids; same vectors as text input
r --input jsonl --file "$WORK/texts.jsonl" > "$WORK/out2.jsonl"
check "ids echoed in order" "$(jq -r .id "$WORK/out2.jsonl" | head -3 | tr '\n' ' ')" \
  "$(jq -r .id "$WORK/ref.jsonl" | head -3 | tr '\n' ' ')"
min2=$(cosine_min "$WORK/out2.jsonl" "$WORK/out.jsonl")
check "jsonl and text input agree" "$(jq -n "$min2 >= 0.999999")" "true"

# --- semantics: a paraphrase is nearer than an unrelated sentence
printf '%s\n' "How do I install a package?" "What is the way to install software packages?" \
  "The cat sat on the warm windowsill." | r > "$WORK/sem.jsonl"
sim() { jq -n --slurpfile e "$WORK/sem.jsonl" "[range(0;384) as \$d | \$e[$1].embedding[\$d] * \$e[$2].embedding[\$d]] | add"; }
check "paraphrase nearer than unrelated" "$(jq -n "$(sim 0 1) > $(sim 0 2) + 0.3")" "true"

# --- bulk formats
r --format npy --out "$WORK/e.npy" < "$WORK/texts.txt" 2>/dev/null
check "npy magic" "$(head -c 6 "$WORK/e.npy" | tail -c 5)" "NUMPY"
check "npy shape" "$(head -c 128 "$WORK/e.npy" | tr -d '\0' | grep -o "'shape': ([0-9]*, [0-9]*)")" "'shape': ($N, 384)"
check "npy size" "$(stat -c %s "$WORK/e.npy")" "$((128 + N * 384 * 4))"
r --format fvecs --out "$WORK/e.fvecs" < "$WORK/texts.txt" 2>/dev/null
check "fvecs size" "$(stat -c %s "$WORK/e.fvecs")" "$((N * (4 + 384 * 4)))"
check "fvecs row header is dim 384" "$(od -An -t d4 -N 4 "$WORK/e.fvecs" | tr -d ' ')" "384"
expect_fail "npy needs --out" "needs --out FILE" r --format npy < "$WORK/texts.txt"

# --- bad input: error names the line; rows before it are still written
{ head -3 "$WORK/texts.jsonl"; echo '{"text": 42}'; head -1 "$WORK/texts.jsonl"; } > "$WORK/bad.jsonl"
rc=0
r --file "$WORK/bad.jsonl" > "$WORK/bad.out" 2> "$WORK/bad.err" || rc=$?
check "bad line exits 1" "$rc" "1"
check_contains "bad line named" "$(cat "$WORK/bad.err")" 'line 4: "text" must be a string'
check "rows before the bad line kept" "$(wc -l < "$WORK/bad.out")" "3"
expect_fail "missing model dir" "no-such-model" "$RAGLINE" embed --model "$WORK/no-such-model" < /dev/null
expect_fail "bad precision" "--precision must be auto, fp32 or int8" r --precision fp16 < /dev/null
expect_fail "remote needs a model name" "--remote needs --remote-model" r --remote http://127.0.0.1:9/v1 < /dev/null
expect_fail "dead remote server" "127.0.0.1:9" r --remote http://127.0.0.1:9/v1 --remote-model m < /dev/null

# --- installed (cmake --install) and run from another directory: the model is
# found beside the binary, in ~/.local/share, or says where it looked
BUILD=$(dirname "$RAGLINE")
if [ -f "$BUILD/cmake_install.cmake" ]; then
  cmake --install "$BUILD" --prefix "$WORK/prefix" > /dev/null
  check "installed binary" "$([ -x "$WORK/prefix/bin/ragline" ] && echo yes)" "yes"
  check "installed fetch script" "$([ -x "$WORK/prefix/share/ragline/scripts/fetch_model.sh" ] && echo yes)" "yes"
  check "installed docs" "$([ -f "$WORK/prefix/share/doc/ragline/README.md" ] && echo yes)" "yes"
  mkdir -p "$WORK/elsewhere" "$WORK/home"
  cd "$WORK/elsewhere"
  # no model anywhere it looks: the error lists the places and the fix
  rc=0
  echo hi | env -u RAGLINE_MODEL_DIR HOME="$WORK/home" XDG_DATA_HOME= "$WORK/prefix/bin/ragline" embed \
    > /dev/null 2> "$WORK/nomodel.err" || rc=$?
  check "no model: exit 1" "$rc" "1"
  check_contains "no model: where it looked" "$(cat "$WORK/nomodel.err")" "$WORK/prefix/share/ragline/models/all-MiniLM-L6-v2"
  check_contains "no model: how to fix" "$(cat "$WORK/nomodel.err")" "scripts/fetch_model.sh"
  # the model in ~/.local/share/ragline/models
  mkdir -p "$WORK/home/.local/share/ragline/models"
  ln -s "$MODEL" "$WORK/home/.local/share/ragline/models/all-MiniLM-L6-v2"
  check "model from ~/.local/share" "$(echo hi | env -u RAGLINE_MODEL_DIR HOME="$WORK/home" XDG_DATA_HOME= \
    "$WORK/prefix/bin/ragline" embed 2> /dev/null | jq '.embedding | length')" "384"
  rm "$WORK/home/.local/share/ragline/models/all-MiniLM-L6-v2"
  # the model beside the installed binary (where the installed fetch script puts it)
  mkdir -p "$WORK/prefix/share/ragline/models"
  ln -s "$MODEL" "$WORK/prefix/share/ragline/models/all-MiniLM-L6-v2"
  check "model beside the binary" "$(echo hi | env -u RAGLINE_MODEL_DIR HOME="$WORK/home" XDG_DATA_HOME= \
    "$WORK/prefix/bin/ragline" embed 2> /dev/null | jq '.embedding | length')" "384"
  cd - > /dev/null
fi

finish
