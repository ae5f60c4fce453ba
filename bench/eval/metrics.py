#!/usr/bin/env python3
"""Retrieval metrics of the evaluation benchmark (the same definitions `ragline eval` uses).

  metrics.py --self-test

For one query with judgements qrels {doc: grade} (grade > 0 means relevant) and a ranked
list of doc ids (best first; duplicates ignored after their first occurrence):

  recall@k  = |relevant in top k| / |relevant|
  nDCG@10   = DCG@10 / IDCG@10, DCG = sum over ranks i=1..10 of grade(doc_i) / log2(i + 1)
              (linear gain, as trec_eval / pytrec_eval and BEIR); IDCG is the DCG of the qrels'
              grades sorted descending, i.e. the ideal comes from the judgements, not the run
  MRR@10    = 1 / rank of the first relevant doc within the top 10, else 0

Averages are over the queries that have at least one relevant judgement (BEIR's convention);
a query with no results counts as 0 on every metric.
"""
import math
import sys


def _dedup(ranked):
    seen, out = set(), []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def recall_at(ranked, rel, k):
    relevant = {d for d, g in rel.items() if g > 0}
    if not relevant:
        return None
    return len(relevant.intersection(_dedup(ranked)[:k])) / len(relevant)


def ndcg_at(ranked, rel, k=10):
    grades = sorted((g for g in rel.values() if g > 0), reverse=True)
    if not grades:
        return None
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(_dedup(ranked)[:k]) if rel.get(d, 0) > 0)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(grades[:k]))
    return dcg / idcg


def mrr_at(ranked, rel, k=10):
    if not any(g > 0 for g in rel.values()):
        return None
    for i, d in enumerate(_dedup(ranked)[:k]):
        if rel.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate(run, qrels):
    """run: {qid: [doc ids best first]}, qrels: {qid: {doc: grade}} -> mean metrics and count."""
    keys = ("recall@1", "recall@10", "recall@100", "ndcg@10", "mrr@10")
    sums = dict.fromkeys(keys, 0.0)
    n = 0
    for qid, rel in qrels.items():
        if not any(g > 0 for g in rel.values()):
            continue
        ranked = run.get(qid, [])
        sums["recall@1"] += recall_at(ranked, rel, 1)
        sums["recall@10"] += recall_at(ranked, rel, 10)
        sums["recall@100"] += recall_at(ranked, rel, 100)
        sums["ndcg@10"] += ndcg_at(ranked, rel, 10)
        sums["mrr@10"] += mrr_at(ranked, rel, 10)
        n += 1
    out = {k: (v / n if n else 0.0) for k, v in sums.items()}
    out["queries"] = n
    return out


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    if not v:
        return None
    rank = max(1, math.ceil(p / 100 * len(v)))
    return v[rank - 1]


def load_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and parts[0] == "query-id":
                continue
            if len(parts) < 3:
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def self_test():
    close = lambda a, b: abs(a - b) < 1e-12
    # One relevant doc at rank 3.
    rel = {"d1": 1}
    run = ["x", "y", "d1", "z"]
    assert recall_at(run, rel, 1) == 0.0
    assert recall_at(run, rel, 10) == 1.0
    assert close(mrr_at(run, rel), 1 / 3)
    assert close(ndcg_at(run, rel), 1 / math.log2(4))      # 0.5: DCG = 1/log2(4), IDCG = 1
    # Graded: qrels a=2, b=1; run b, x, a.
    rel = {"a": 2, "b": 1}
    run = ["b", "x", "a"]
    dcg = 1 / math.log2(2) + 2 / math.log2(4)                # 1 + 1 = 2
    idcg = 2 / math.log2(2) + 1 / math.log2(3)               # 2 + 0.6309 = 2.6309
    assert close(ndcg_at(run, rel), dcg / idcg)
    assert close(ndcg_at(run, rel), 2 / (2 + 1 / math.log2(3)))   # = 0.76020...
    assert recall_at(run, rel, 1) == 0.5
    assert mrr_at(run, rel) == 1.0
    # Relevant doc below 10 counts for recall@100 only; duplicates are ignored.
    run = ["x"] * 3 + [f"n{i}" for i in range(20)] + ["a"]   # "a" at rank 22 after dedup
    assert recall_at(run, rel, 10) == 0.0 and recall_at(run, rel, 100) == 0.5
    assert mrr_at(run, rel) == 0.0 and ndcg_at(run, rel) == 0.0
    # Zero-grade judgements are not relevant; a query with none is skipped in the mean.
    assert recall_at(["a"], {"a": 0}, 10) is None
    m = evaluate({"q1": ["d1"], "q2": [], "q3": ["a"]}, {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"a": 0}})
    assert m["queries"] == 2 and m["recall@1"] == 0.5 and m["ndcg@10"] == 0.5 and m["mrr@10"] == 0.5
    # Nearest-rank percentiles.
    assert percentile(list(range(1, 101)), 50) == 50 and percentile(list(range(1, 101)), 99) == 99
    assert percentile([5.0], 99) == 5.0
    print("metrics self-test: 1 passed, 0 failed")


if __name__ == "__main__":
    if "--self-test" in sys.argv[1:]:
        self_test()
    else:
        print(__doc__)
