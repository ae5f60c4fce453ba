#!/usr/bin/env python3
"""The LangChain-style ingest pipeline that `ragline ingest` is measured against
(issue #4): read files -> RecursiveCharacterTextSplitter sized in the model's
own tokens (256 incl. specials, overlap 32, like ragline's chunker) ->
sentence-transformers all-MiniLM-L6-v2 (the packaged weights, CPU, batch 64) ->
FAISS IndexFlatIP. Prints one JSON line: documents, chunks, seconds per stage.

  ingest_anchor.py DIR [--model models/all-MiniLM-L6-v2] [--threads 2]
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--model", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                                                    "all-MiniLM-L6-v2"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    import faiss
    import numpy as np
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer
    faiss.omp_set_num_threads(args.threads)

    t0 = time.perf_counter()
    model = SentenceTransformer(args.model, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    load_s = time.perf_counter() - t0

    start = time.perf_counter()
    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(args.dir) for f in files
                   if f.endswith((".txt", ".md")))
    texts = [open(p, encoding="utf-8").read() for p in paths]
    # 256 tokens including [CLS] and [SEP], as ragline counts them.
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(tokenizer, chunk_size=254,
                                                                          chunk_overlap=32)
    chunks = []
    for text in texts:
        chunks.extend(splitter.split_text(text))
    split_s = time.perf_counter() - start
    t = time.perf_counter()
    vectors = model.encode(chunks, batch_size=args.batch, normalize_embeddings=True, convert_to_numpy=True)
    embed_s = time.perf_counter() - t
    t = time.perf_counter()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index_s = time.perf_counter() - t
    total = time.perf_counter() - start
    print(json.dumps({"system": "langchain-style (RecursiveCharacterTextSplitter + sentence-transformers + faiss)",
                      "documents": len(texts), "chunks": len(chunks), "seconds": round(total, 2),
                      "stages": {"read+split": round(split_s, 2), "embed": round(embed_s, 2),
                                 "index": round(index_s, 2)},
                      "model_load_s": round(load_s, 2), "threads": args.threads}))


if __name__ == "__main__":
    main()
