#!/usr/bin/env python3
"""Streams ragline upsert records for the query-latency benchmark: row i of
base.fvecs (all-MiniLM-L6-v2 embedding of line i of corpus/base.txt, made by
bench/run_ann.sh) with that line as the chunk text. Standard library only.

  make_records.py --data bench/data --n 200000 | ragline upsert chunks --data DIR
"""
import argparse
import json
import os
import struct
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--n", type=int, default=200000)
    args = ap.parse_args()
    out = sys.stdout
    with open(os.path.join(args.data, "base.fvecs"), "rb") as vecs, \
            open(os.path.join(args.data, "corpus", "base.txt"), encoding="utf-8") as texts:
        for i in range(args.n):
            head = vecs.read(4)
            if len(head) < 4:
                sys.exit(f"base.fvecs has only {i} rows; --n {args.n}")
            (dim,) = struct.unpack("<i", head)
            vector = struct.unpack(f"<{dim}f", vecs.read(4 * dim))
            text = texts.readline().rstrip("\n")
            doc = f"p{i // 8}"  # 8 passages per pseudo-document
            out.write(json.dumps({"id": f"{doc}#{i % 8}", "version": 1,
                                  "vector": [round(x, 7) for x in vector],
                                  "payload": {"text": text, "doc_id": doc, "ordinal": i % 8}},
                                 separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
