#!/usr/bin/env python3
"""Exact top-K ground truth (inner product) of the queries over base-set prefixes.

  ground_truth.py --n 20000,200000        # writes <data>/n20000_gt.ivecs, <data>/n200000_gt.ivecs
  ground_truth.py --n all

Uses faiss IndexFlatIP (exact, blocked BLAS). Rows are sorted by descending inner
product; ties broken by smaller id. Existing files are kept unless --force.
"""
import argparse
import os
import sys

import numpy as np

from vecs import read_fvecs, write_ivecs

HERE = os.path.dirname(os.path.abspath(__file__))


def exact_topk(base, queries, k):
    import faiss
    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    _, ids = index.search(queries, k)
    return ids.astype(np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--n", default="all", help="comma-separated base prefix sizes, or 'all'")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    base = read_fvecs(os.path.join(args.data, "base.fvecs"))
    queries = read_fvecs(os.path.join(args.data, "queries.fvecs"))
    sizes = [base.shape[0] if s == "all" else int(s) for s in args.n.split(",")]
    for n in sizes:
        if n > base.shape[0]:
            sys.exit(f"base.fvecs has {base.shape[0]} rows, fewer than {n}")
        path = os.path.join(args.data, f"n{n}_gt.ivecs")
        if os.path.exists(path) and not args.force:
            print(f"{path} exists", file=sys.stderr)
            continue
        ids = exact_topk(np.ascontiguousarray(base[:n]), queries, args.k)
        write_ivecs(path, ids)
        print(f"{path}: {ids.shape}", file=sys.stderr)


if __name__ == "__main__":
    main()
