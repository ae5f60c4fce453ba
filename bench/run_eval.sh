#!/usr/bin/env bash
# One command for the retrieval-quality benchmark (issue #5): datasets -> anchors ->
# ragline eval -> docs/BENCHMARKS.md. Resumable: a finished step leaves its file and is
# skipped next time (delete the file, or set FORCE=1, to redo it).
#
#   bench/run_eval.sh                          # both datasets, all steps
#   DATASETS=manpages SKIP_RAGLINE=1 bench/run_eval.sh
#
# Environment (defaults in brackets):
#   VENV      python venv with the tooling [<repo>/.venv-bench; made by bench/setup_venv.sh]
#   DATASETS  comma-separated [debian-packages,manpages]
#   DATA      bench/data                       RAGLINE  binary [build/release/ragline]
#   MODES     ragline eval modes [dense,lexical,hybrid]
#   THREADS   threads of the anchors (torch, tantivy indexing) [2]
#   FORCE=1, SKIP_ANCHORS=1, SKIP_RAGLINE=1, SKIP_REPORT=1, REPORT_OUT [docs/BENCHMARKS.md]
#
# Needs the English package descriptions in apt's lists for debian-packages:
#   apt-get update -o Acquire::Languages=en
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The reproduce line for the report: the parameters given in the environment, before defaults.
command_line="$(for v in DATASETS MODES THREADS; do [[ -n "${!v:-}" ]] && printf '%s=%q ' "$v" "${!v}"; done; true)bench/run_eval.sh"
VENV="${VENV:-$ROOT/.venv-bench}"
PY="$VENV/bin/python"
DATA="${DATA:-$ROOT/bench/data}"
DATASETS="${DATASETS:-debian-packages,manpages}"
RAGLINE="${RAGLINE:-$ROOT/build/release/ragline}"
MODES="${MODES:-dense,lexical,hybrid}"
THREADS="${THREADS:-2}"
FORCE="${FORCE:-0}"
REPORT_OUT="${REPORT_OUT:-$ROOT/docs/BENCHMARKS.md}"

[[ -x "$PY" ]] || { echo "no python at $PY: run bench/setup_venv.sh (or set VENV)" >&2; exit 1; }

IFS=',' read -r -a names <<< "$DATASETS"
for name in "${names[@]}"; do
  ds="$DATA/eval/$name"
  res="$DATA/results/eval/$name"
  mkdir -p "$res"
  if [[ "$FORCE" == 1 || ! -f "$ds/dataset.json" ]]; then
    echo "== dataset $name" >&2
    "$PY" bench/eval/make_datasets.py --out "$DATA/eval" --only "$name"
  fi
  if [[ "${SKIP_ANCHORS:-0}" != 1 ]] && [[ "$FORCE" == 1 || ! -f "$res/anchors.json" ]]; then
    echo "== anchors $name" >&2
    "$PY" bench/eval/anchors.py --dataset "$ds" --out "$res" --threads "$THREADS" \
      --cache "$DATA/eval-work/anchors"
  fi
  if [[ "${SKIP_RAGLINE:-0}" != 1 ]] && [[ "$FORCE" == 1 || ! -f "$res/ragline.json" ]]; then
    if [[ -x "$RAGLINE" ]] && "$RAGLINE" eval --help >/dev/null 2>&1; then
      echo "== ragline eval $name" >&2
      "$RAGLINE" eval --dataset "$ds" --data "$DATA/eval-work/ragline" --modes "$MODES" \
        --json "$res/ragline.json" | tee "$res/ragline.txt"
      # The other fusion on the same collection, for the fusion comparison.
      "$RAGLINE" eval --dataset "$ds" --data "$DATA/eval-work/ragline" --modes hybrid --fusion rrf \
        --collection "eval_$name" --json "$res/ragline-rrf.json" | tee -a "$res/ragline.txt"
      # If --json printed to stdout instead of writing the file, keep what it printed.
      if [[ ! -s "$res/ragline.json" ]] && "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' \
           "$res/ragline.txt" 2>/dev/null; then
        cp "$res/ragline.txt" "$res/ragline.json"
      fi
    else
      echo "== ragline eval $name: skipped ($RAGLINE missing or has no 'eval' command; build it with" \
           "'cmake --preset release && cmake --build --preset release')" >&2
    fi
  fi
done

if [[ "${SKIP_REPORT:-0}" != 1 ]]; then
  "$PY" bench/eval/report.py --results "$DATA/results/eval" --data "$DATA/eval" --out "$REPORT_OUT" \
    --command "bench/setup_venv.sh && $command_line"
fi
