#!/usr/bin/env python3
"""How much BM25's k1/b and stop words move nDCG@10 on the eval datasets (bm25s, method
"lucene", Snowball English stemmer, tokens = (?u)\\w+), to separate parameter effects from
engine differences when ragline's lexical mode is compared with the tantivy anchor.

  bm25_params.py [--data bench/data/eval] debian-packages manpages
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import anchors  # noqa: E402
import metrics  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(anchors.ROOT, "bench", "data", "eval"))
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    import bm25s
    import Stemmer
    st = Stemmer.Stemmer("english")
    for name in args.names:
        corpus, queries, qrels = anchors.load_dataset(os.path.join(args.data, name))
        ids = [d for d, _ in corpus]
        for sw in ("en", None):
            tok = bm25s.tokenize([t for _, t in corpus], token_pattern=r"(?u)\w+", stopwords=sw, stemmer=st,
                                 show_progress=False)
            qtok = bm25s.tokenize([t for _, t in queries], token_pattern=r"(?u)\w+", stopwords=sw, stemmer=st,
                                  return_ids=False, show_progress=False)
            for k1, b in ((0.9, 0.4), (1.2, 0.75)):
                r = bm25s.BM25(k1=k1, b=b, method="lucene")
                r.index(tok, show_progress=False)
                run = {}
                for (qid, _), qt in zip(queries, qtok):
                    qt = [t for t in qt if t in r.vocab_dict]
                    if not qt:
                        run[qid] = []
                        continue
                    d, s = r.retrieve([qt], k=100, show_progress=False, n_threads=1)
                    run[qid] = [ids[int(i)] for i, x in zip(d[0], s[0]) if x > 0]
                m = metrics.evaluate(run, qrels)
                print(f"{name}\t{'stop words' if sw else 'no stop words'}\tk1={k1} b={b}\t"
                      f"nDCG@10={100 * m['ndcg@10']:.1f}\trecall@1={100 * m['recall@1']:.1f}\t"
                      f"recall@100={100 * m['recall@100']:.1f}", flush=True)


if __name__ == "__main__":
    main()
