#!/usr/bin/env python3
"""Encoder benchmark: ragline's native all-MiniLM-L6-v2 vs sentence-transformers
(PyTorch CPU) and onnxruntime, same texts, same batch sizes, same thread counts,
in one run. Writes results to bench/data/results/embed/ and the section between
<!-- embed-bench:begin --> and <!-- embed-bench:end --> of docs/BENCHMARKS.md.

Text sets (made here, deterministic):
  * sentences: the first --n-sentences passages of bench/data/corpus/base.txt
    (Debian documentation sentences, 8-64 words; see make_corpus.py), or the
    committed examples/sample_records.jsonl texts when the corpus is absent;
  * chunks: consecutive passages joined until ~240 tokens (RAG chunk size);
  * queries: passages that tokenize to exactly 16 tokens with [CLS]/[SEP].
Protocol (same for every engine; see embed_bench.cc): texts sorted by token
count and cut into batches of B; best of --reps passes after a warm-up pass;
latency = one query per call on one thread, p50/p99.
Self-check: ragline's embeddings of every text are compared with
sentence-transformers' (cosine, min and mean) before any speed is reported;
fp32 must reach 0.9999 for every text or the run fails.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from bench_doc import markers, splice_section  # noqa: E402

BEGIN, END = markers("embed-bench")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_passages(limit):
    corpus = os.path.join(ROOT, "bench/data/corpus/base.txt")
    if os.path.exists(corpus):
        out = []
        with open(corpus) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(line)
                if len(out) >= limit:
                    break
        return out, "bench/data/corpus/base.txt"
    with open(os.path.join(ROOT, "examples/sample_records.jsonl")) as f:
        texts = [json.loads(l)["payload"]["text"] for l in f]
    return texts[:limit], "examples/sample_records.jsonl"


def make_sets(tokenizer, passages, n_chunks, n_queries):
    def ntok(t):
        return len(tokenizer(t, truncation=True, max_length=256)["input_ids"])
    chunks, cur = [], []
    for p in passages:
        cur.append(p)
        if ntok(" ".join(cur)) >= 240:
            chunks.append(" ".join(cur))
            cur = []
            if len(chunks) >= n_chunks:
                break
    queries = [p for p in passages if ntok(p) == 16][:n_queries]
    return chunks, queries


def time_passes(fn, texts, batch, reps):
    fn(texts, batch)  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(texts, batch)
        best = min(best, time.perf_counter() - t0)
    return best


def latency(fn, queries, reps):
    for q in queries[:20]:
        fn([q], 1)
    ms = []
    for _ in range(reps):
        for q in queries:
            t0 = time.perf_counter()
            fn([q], 1)
            ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return ms[len(ms) // 2], ms[len(ms) * 99 // 100]


class OnnxEngine:
    """The same model exported to ONNX, run by onnxruntime (padding per batch,
    mean pooling + normalisation in numpy, as sentence-transformers does)."""

    def __init__(self, model_dir, tokenizer, cache, threads):
        import onnxruntime as ort
        import torch
        from transformers import AutoModel
        path = os.path.join(cache, "minilm.onnx")
        if not os.path.exists(path):
            class Wrapped(torch.nn.Module):
                def __init__(self, m):
                    super().__init__()
                    self.m = m

                def forward(self, ids, mask, types):
                    return self.m(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            m = Wrapped(AutoModel.from_pretrained(model_dir).eval())
            x = torch.ones(2, 16, dtype=torch.long)
            axes = {0: "batch", 1: "seq"}
            torch.onnx.export(m, (x, x, torch.zeros_like(x)), path, opset_version=17, dynamo=False,
                              input_names=["ids", "mask", "types"], output_names=["hidden"],
                              dynamic_axes={"ids": axes, "mask": axes, "types": axes, "hidden": axes})
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self.version = ort.__version__

    def encode(self, texts, batch):
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = [None] * len(texts)
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=256, return_tensors="np")
            ids = enc["input_ids"].astype(np.int64)
            mask = enc["attention_mask"].astype(np.int64)
            hidden = self.session.run(None, {"ids": ids, "mask": mask, "types": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            for j, i in enumerate(idx):
                out[i] = pooled[j]
        return np.stack(out)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-bin", default=os.path.join(ROOT, "build/release/bench/embed_bench"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
    ap.add_argument("--n-sentences", type=int, default=2048)
    ap.add_argument("--n-chunks", type=int, default=256)
    ap.add_argument("--n-queries", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="32,128")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--engines", default="ragline,sentence-transformers,onnxruntime")
    ap.add_argument("--results", default=os.path.join(ROOT, "bench/data/results/embed"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/BENCHMARKS.md"))
    args = ap.parse_args()
    os.makedirs(args.results, exist_ok=True)
    threads = [int(t) for t in args.threads.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    engines = args.engines.split(",")

    import torch
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(args.model, device="cpu")
    tok = st.tokenizer
    passages, source = load_passages(max(args.n_sentences, 20000))
    sentences = passages[:args.n_sentences]
    chunks, queries = make_sets(tok, passages, args.n_chunks, args.n_queries)
    sets = {"sentences": sentences, "chunks": chunks}
    for name, texts in list(sets.items()) + [("queries", queries)]:
        with open(os.path.join(args.results, f"{name}.txt"), "w") as f:
            f.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
    ntokens = {n: sum(len(tok(t, truncation=True, max_length=256)["input_ids"]) for t in ts)
               for n, ts in sets.items()}
    log(f"texts from {source}: {len(sentences)} sentences ({ntokens['sentences']} tokens), "
        f"{len(chunks)} chunks ({ntokens['chunks']} tokens), {len(queries)} 16-token queries")

    rows, parity = [], {}
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(" :\t")

    # ragline (C++ harness), one process per text set.
    if "ragline" in engines:
        for name, texts in sets.items():
            cmd = [args.bench_bin, "--model", args.model, "--texts", os.path.join(args.results, f"{name}.txt"),
                   "--threads", args.threads, "--batches", args.batches, "--precision", args.precisions,
                   "--reps", str(args.reps), "--embeddings-out", os.path.join(args.results, f"ragline.{name}")]
            if name == "sentences":
                cmd += ["--queries", os.path.join(args.results, "queries.txt")]
            log("running", " ".join(cmd))
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                r = json.loads(line)
                r["set"] = name
                rows.append(r)

    # Reference embeddings and parity.
    for name, texts in sets.items():
        ref = st.encode(texts, batch_size=64, convert_to_numpy=True)
        for p in args.precisions.split(","):
            path = os.path.join(args.results, f"ragline.{name}.{p}.f32")
            if os.path.exists(path):
                ours = np.fromfile(path, dtype=np.float32).reshape(len(texts), -1)
                c = cosines(ours, ref)
                parity[f"{name}/{p}"] = {"min": float(c.min()), "mean": float(c.mean())}
    log("parity:", json.dumps(parity))
    for key, v in parity.items():
        if key.endswith("/fp32") and v["min"] < 0.9999:
            sys.exit(f"parity check failed for {key}: min cosine {v['min']:.6f} < 0.9999")

    # Anchors.
    for t in threads:
        torch.set_num_threads(t)
        anchors = []
        if "sentence-transformers" in engines:
            anchors.append(("sentence-transformers",
                            lambda texts, b: st.encode(texts, batch_size=b, convert_to_numpy=True)))
        if "onnxruntime" in engines:
            try:
                ort_engine = OnnxEngine(args.model, tok, args.results, t)
                anchors.append(("onnxruntime", ort_engine.encode))
                c = cosines(ort_engine.encode(sentences[:256], 32), st.encode(sentences[:256], batch_size=32))
                parity[f"onnxruntime/sentences[:256]"] = {"min": float(c.min()), "mean": float(c.mean())}
            except Exception as e:  # onnxruntime not installable here: say so
                log("onnxruntime anchor unavailable:", e)
        for engine, fn in anchors:
            for name, texts in sets.items():
                for b in batches:
                    s = time_passes(fn, texts, b, args.reps)
                    rows.append({"record": "throughput", "engine": engine, "precision": "fp32", "threads": t,
                                 "batch": b, "set": name, "texts": len(texts), "tokens": ntokens[name],
                                 "seconds": s, "texts_per_s": len(texts) / s, "tokens_per_s": ntokens[name] / s})
                    log(f"{engine} T={t} {name} B={b}: {len(texts) / s:.1f} texts/s")
            if t == 1:
                p50, p99 = latency(fn, queries, args.reps)
                rows.append({"record": "latency", "engine": engine, "precision": "fp32", "threads": 1,
                             "queries": len(queries), "p50_ms": p50, "p99_ms": p99})

    import sentence_transformers
    meta = {"cpu": cpu, "nproc": os.cpu_count(), "source": source, "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "sets": {n: {"texts": len(ts), "tokens": ntokens[n]} for n, ts in sets.items()},
            "queries": len(queries), "reps": args.reps, "date": time.strftime("%Y-%m-%d")}
    try:
        import onnxruntime
        meta["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    with open(os.path.join(args.results, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows, "parity": parity}, f, indent=1)
    write_report(meta, rows, parity, args)


def write_report(meta, rows, parity, args):
    def find(**kw):
        for r in rows:
            if all(r.get(k) == v for k, v in kw.items()):
                return r
        return None

    peaks = {r["threads"]: r["gflops"] for r in rows if r["record"] == "sgemm_peak"}
    L = [BEGIN, "## Encoder: native all-MiniLM-L6-v2 vs sentence-transformers and onnxruntime\n",
         f"Measured {meta['date']} on {meta['cpu']} ({meta['nproc']} vCPUs); torch {meta['torch']}, "
         f"sentence-transformers {meta['sentence_transformers']}, onnxruntime {meta.get('onnxruntime', 'n/a')}. "
         f"Texts from `{meta['source']}`: " +
         ", ".join(f"{n} = {v['texts']} texts / {v['tokens']} tokens" for n, v in meta["sets"].items()) +
         f"; latency over {meta['queries']} queries of 16 tokens. Best of {meta['reps']} passes after a warm-up.\n",
         "Throughput in texts/s (ratio = ragline / sentence-transformers):\n",
         "| set | threads | batch | ragline fp32 | ragline int8 | sentence-transformers | onnxruntime | fp32 ratio | int8 ratio | int8 / fp32 | ragline fp32 GFLOP/s (% of sgemm peak) |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in meta["sets"]:
        for t in sorted(peaks):
            for b in [int(x) for x in args.batches.split(",")]:
                f32 = find(record="throughput", engine="ragline", precision="fp32", set=name, threads=t, batch=b)
                i8 = find(record="throughput", engine="ragline", precision="int8", set=name, threads=t, batch=b)
                stt = find(record="throughput", engine="sentence-transformers", set=name, threads=t, batch=b)
                ort = find(record="throughput", engine="onnxruntime", set=name, threads=t, batch=b)
                v = lambda r: f"{r['texts_per_s']:.1f}" if r else "—"
                ratio = lambda a, b_: f"{a['texts_per_s'] / b_['texts_per_s']:.2f}×" if a and b_ else "—"
                flops = f"{f32['gflops']:.1f} ({100 * f32['gflops'] / peaks[t]:.0f} %)" if f32 else "—"
                L.append(f"| {name} | {t} | {b} | {v(f32)} | {v(i8)} | {v(stt)} | {v(ort)} | {ratio(f32, stt)} | "
                         f"{ratio(i8, stt)} | {ratio(i8, f32)} | {flops} |")
    L.append("")
    kernels = sorted({f"{r['precision']} {r['kernel'].split()[-1]}" for r in rows
                      if r["record"] == "throughput" and r["engine"] == "ragline" and "kernel" in r})
    if kernels:
        L.append("ragline's kernels on this CPU: " + ", ".join(kernels) + ".\n")
    L.append("sgemm peak (OpenBLAS, 2048³): " + ", ".join(f"{t} thread(s) {g:.1f} GFLOP/s" for t, g in sorted(peaks.items())) + ".\n")
    L.append("Latency of one 16-token query, one thread:\n")
    L.append("| engine | precision | p50 ms | p99 ms |")
    L.append("|---|---|---|---|")
    for r in rows:
        if r["record"] == "latency":
            L.append(f"| {r['engine']} | {r['precision']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    L.append("")
    L.append("Parity with sentence-transformers (cosine per text, every text of the set):\n")
    L.append("| set / precision | min | mean |")
    L.append("|---|---|---|")
    for k, v in parity.items():
        L.append(f"| {k} | {v['min']:.6f} | {v['mean']:.6f} |")
    L.append("")
    L.append("Targets (goals, not tests): fp32 ≥ 3× sentence-transformers throughput on 2 threads and ≥ 70 % of "
             "the sgemm peak; int8 ≥ 2× our fp32; a 16-token query ≤ 5 ms p50 on one thread.\n")
    L.append("Reproduce: `bench/setup_venv.sh && bench/run_embed.sh` (see bench/README.md).\n")
    L.append(END)
    section = "\n".join(L) + "\n"
    splice_section(args.out, "embed-bench", section)
    print(section)


if __name__ == "__main__":
    main()
