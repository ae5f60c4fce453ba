#!/usr/bin/env python3
"""Writes the retrieval-quality section of docs/BENCHMARKS.md from the anchors and ragline eval.

  report.py [--results bench/data/results/eval] [--data bench/data/eval] [--out docs/BENCHMARKS.md]
            [--command "bench/run_eval.sh"]

For every dataset folder RESULTS/NAME it reads anchors.json (bench/eval/anchors.py) and, when
present, ragline.json (`ragline eval --json`), plus DATA/NAME/dataset.json for the sizes, and
writes one table per dataset (rows: anchors, then ragline modes; metrics in points, i.e. x100)
with the issue's targets checked:
  - lexical within 2 nDCG@10 points of the BM25 anchor (lexical >= BM25 - 2; above is fine)
  - hybrid above the best single ragline mode (dense, lexical) on nDCG@10
The section between <!-- eval-bench:begin --> and <!-- eval-bench:end --> is replaced
(appended when absent); the rest of the file is kept. Without --out it prints the section.

ragline.json is read tolerantly: {"mode": {metrics}}, {"modes": {...}} or {"modes": [...]},
or a list of {"mode": m, "metrics": {...}} / {"mode": m, <metrics>}; metric keys may be
spelled ndcg@10 / nDCG@10 / ndcg_at_10, latencies latency_p50_ms / p50_ms or
{"latency_ms": {"p50", "p99"}}; fractions or points (values > 1 on a 0..1 metric are
taken as points).
"""
import argparse
import datetime
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_doc import markers, splice_section  # noqa: E402

BEGIN, END = markers("eval-bench")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QUALITY = ("recall@1", "recall@10", "recall@100", "ndcg@10", "mrr@10")
LATENCY = ("latency_p50_ms", "latency_p99_ms")
HEAD = ("recall@1", "recall@10", "recall@100", "nDCG@10", "MRR@10", "p50 ms", "p99 ms")
BM25_ANCHOR = "bm25-tantivy"
LEXICAL_TOLERANCE = 2.0  # nDCG@10 points


def canon_key(k):
    k = str(k).strip().lower().replace("_at_", "@").replace("-", "_")
    aliases = {"p50_ms": "latency_p50_ms", "p99_ms": "latency_p99_ms", "latency_p50": "latency_p50_ms",
               "latency_p99": "latency_p99_ms", "ndcg_10": "ndcg@10", "mrr_10": "mrr@10", "recall_1": "recall@1",
               "recall_10": "recall@10", "recall_100": "recall@100"}
    return aliases.get(k, k)


def canon_metrics(d):
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict) and canon_key(k) in ("latency_ms", "latency"):
            for kk, vv in v.items():
                out["latency_" + str(kk).lower().removesuffix("_ms") + "_ms"] = vv
            continue
        if isinstance(v, dict) and canon_key(k) == "metrics":
            out.update(canon_metrics(v))
            continue
        if isinstance(v, (int, float)):
            out[canon_key(k)] = float(v)
    for k in QUALITY:
        if k in out and out[k] > 1.0:   # given in points
            out[k] /= 100.0
    return out


def read_ragline(path):
    """{mode: canonical metrics} from ragline eval's JSON, whatever of the accepted shapes."""
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, dict) and "modes" in doc:
        doc = doc["modes"]
    modes = {}
    if isinstance(doc, list):
        for e in doc:
            if isinstance(e, dict) and "mode" in e:
                m = canon_metrics({k: v for k, v in e.items() if k != "mode"})
                modes[str(e["mode"])] = m
    elif isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, dict):
                m = canon_metrics(v)
                if any(q in m for q in QUALITY):
                    modes[str(k)] = m
    return modes


def cell(m, k):
    v = m.get(k)
    if v is None:
        return "–"
    if k in QUALITY:
        return f"{100 * v:.1f}"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def row(name, m):
    return "| " + name + " | " + " | ".join(cell(m, k) for k in QUALITY + LATENCY) + " |"


def check_targets(anchors, modes):
    out = []
    bm25 = anchors.get(BM25_ANCHOR, {}).get("ndcg@10")
    lex = modes.get("lexical", {}).get("ndcg@10")
    if bm25 is None or lex is None:
        out.append(f"- lexical within {LEXICAL_TOLERANCE:g} nDCG@10 points of the BM25 anchor: **pending** "
                   f"({'no ragline lexical result' if lex is None else 'no BM25 anchor'})")
    else:
        diff = 100 * (lex - bm25)
        ok = diff >= -LEXICAL_TOLERANCE
        out.append(f"- lexical within {LEXICAL_TOLERANCE:g} nDCG@10 points of the BM25 anchor: **{'yes' if ok else 'no'}** "
                   f"(lexical {100 * lex:.1f} vs {BM25_ANCHOR} {100 * bm25:.1f}: {diff:+.1f})")
    hyb = modes.get("hybrid", {}).get("ndcg@10")
    singles = {k: modes[k]["ndcg@10"] for k in ("dense", "lexical") if "ndcg@10" in modes.get(k, {})}
    if hyb is None or not singles:
        out.append("- hybrid above the best single mode (nDCG@10): **pending** (no ragline hybrid/single-mode result)")
    else:
        best = max(singles, key=singles.get)
        ok = hyb > singles[best]
        out.append(f"- hybrid above the best single mode (nDCG@10): **{'yes' if ok else 'no'}** "
                   f"(hybrid {100 * hyb:.1f} vs {best} {100 * singles[best]:.1f}: {100 * (hyb - singles[best]):+.1f})")
    return out


def git_rev():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return rev + (" (dirty)" if dirty else " (clean)")
    except OSError:
        return "?"


def build_section(results, data, command):
    lines = [BEGIN, "## Retrieval quality: `ragline eval` vs BM25 (tantivy) and exact dense anchors\n",
             "_Generated by `bench/eval/report.py`; do not edit by hand. Datasets: docs/datasets.md._\n",
             f"- command: `{command}`",
             f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; git: {git_rev()}",
             "- metrics in points (x100); latency per query, one query at a time, in ms. Anchors: "
             "`bm25-tantivy` = tantivy BM25 (k1 1.2, b 0.75, en_stem analyzer, no stop words); `bm25s-anserini` = bm25s with Anserini's k1 0.9, b 0.4, Lucene's English stop words, Snowball English stemmer (ragline's lexical defaults until 2026-11, see docs/lexical.md); "
             "`dense-exact` = all-MiniLM-L6-v2 via sentence-transformers, exact cosine with numpy. "
             "All index title + \"\\n\" + text of each document, top 100. Latencies are only comparable "
             "within one run on one machine: a busy machine (see the load average per anchor) inflates them, "
             "the quality figures do not depend on it.",
             ""]
    names = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(results, "*", "anchors.json")))
    names += sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(results, "*", "ragline.json"))
                    if os.path.basename(os.path.dirname(p)) not in names)
    summary = {}
    for name in names:
        anchors = {}
        ap = os.path.join(results, name, "anchors.json")
        adoc = {}
        if os.path.exists(ap):
            with open(ap) as f:
                adoc = json.load(f)
            anchors = {k: canon_metrics(v) for k, v in adoc.get("anchors", {}).items()}
        rp = os.path.join(results, name, "ragline.json")
        modes = read_ragline(rp) if os.path.exists(rp) else {}
        # ragline-VARIANT.json: other settings on the same collection (e.g. --fusion rrf).
        for extra in sorted(glob.glob(os.path.join(results, name, "ragline-*.json"))):
            variant = os.path.basename(extra)[len("ragline-"):-len(".json")]
            for mode, m in read_ragline(extra).items():
                modes[f"{mode} ({variant})"] = m
        info = {}
        dp = os.path.join(data, name, "dataset.json")
        if os.path.exists(dp):
            with open(dp) as f:
                info = json.load(f)
        c = info.get("counts", {})
        lines.append(f"### {name}\n")
        if c:
            lines.append(f"{c.get('docs', '?'):,} documents (mean {c.get('mean_doc_words', '?')} words), "
                         f"{c.get('queries', '?'):,} queries (mean {c.get('mean_query_words', '?')} words), "
                         f"{c.get('qrels', '?'):,} judgements. {info.get('description', '')}\n")
        lines.append("| system | " + " | ".join(HEAD) + " |")
        lines.append("|---|" + "---:|" * len(HEAD))
        for k in sorted(anchors):
            lines.append(row(f"anchor: {k}", anchors[k]))
        order = ["dense", "lexical", "hybrid"]
        for k in sorted(modes, key=lambda m: (order.index(m) if m in order else len(order), m)):
            lines.append(row(f"ragline {k}", modes[k]))
        if os.path.exists(rp):
            with open(rp) as f:
                rdoc = json.load(f)
            fusion, bm25 = rdoc.get("fusion", {}), rdoc.get("bm25", {})
            if fusion or bm25:
                desc = ", ".join(f"{k} {v}" for k, v in fusion.items() if k != "weights")
                lines.append(f"\nragline settings: fusion {desc or '?'}; BM25 k1 {bm25.get('k1', '?')}, "
                             f"b {bm25.get('b', '?')}; index {rdoc.get('index', '?')}; {rdoc.get('precision', '?')} encoder.")
        if not modes:
            lines.append("| ragline | not run yet (no ragline.json) | | | | | | |")
        lines.append("")
        lines.extend(check_targets(anchors, modes))
        for k, v in sorted(adoc.get("anchors", {}).items()):
            cfg = v.get("config", {})
            extra = f"index {cfg['index_s']} s" if "index_s" in cfg else (
                f"document embedding {cfg['doc_embed_s']} s" if cfg.get("doc_embed_s") else "document embeddings cached")
            load = v.get("loadavg_1m_at_end")
            lines.append(f"- {k}: {extra}, {cfg.get('threads', cfg.get('threads_index', '?'))} thread(s), "
                         f"whole run {v.get('wall_s', '?')} s" + (f", 1-min load average at the end {load:g}"
                                                                   f" on {adoc.get('machine', {}).get('cpus', '?')} CPUs"
                                                                   if load is not None else ""))
        lines.append("")
        summary[name] = {"anchors": anchors, "ragline": modes, "targets": check_targets(anchors, modes)}
    if not names:
        lines.append("No results yet: run `bench/run_eval.sh`.\n")
    lines.append(END)
    return "\n".join(lines) + "\n", summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "data", "results", "eval"))
    ap.add_argument("--data", default=os.path.join(ROOT, "bench", "data", "eval"))
    ap.add_argument("--out")
    ap.add_argument("--command", default="bench/run_eval.sh")
    args = ap.parse_args()
    section, summary = build_section(args.results, args.data, args.command)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    if not args.out:
        sys.stdout.write(section)
        return
    splice_section(args.out, "eval-bench", section)


if __name__ == "__main__":
    main()
