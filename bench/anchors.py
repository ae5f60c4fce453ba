#!/usr/bin/env python3
"""The anchors of the ANN benchmark: hnswlib and faiss-cpu, run with the protocol of
bench/ann_bench.cc and printing the same JSON-lines schema on stdout.

  anchors.py --n 200000 --gt bench/data/n200000_gt.ivecs --only hnswlib-hnsw,faiss-hnsw \
             --hnsw M=16,ef_construction=200 --ef 10,20,40,80

Systems (--only picks a subset; default all):
  hnswlib-hnsw      hnswlib.Index(space='ip'), init_index(M, ef_construction), set_ef(ef)
  faiss-hnsw        faiss.IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT), efConstruction, efSearch
  faiss-ivf_pq      faiss.IndexIVFPQ(IndexFlatIP, d, nlist, pq_m, nbits, IP); swept over
                    nprobe x rerank; rerank > k searches IndexRefineFlat(k_factor = rerank / k)
                    (exact re-rank of the best `rerank` PQ candidates, like ragline's rerank)
  faiss-flat        faiss.IndexFlatIP (exact)

Protocol (same as ann_bench): build once per --build-threads value (OpenMP threads for
faiss, num_threads for hnswlib; the last build is searched); for each sweep point and
--search-threads value T: one untimed batch search of all queries (recall@k), then
--reps timed ones; QPS = queries / best time. Queries go in one batch call, which both
libraries parallelise over queries with T threads.

Memory: bytes_per_vector = serialised index size / n (hnswlib save_index, faiss
serialize_index); that covers the stored vectors for HNSW/FLAT. For IVF-PQ the
refine variant's raw vectors are not counted (same as ragline: they live in the segment).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from vecs import read_fvecs, read_ivecs

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def kv(s):
    out = {}
    for part in filter(None, s.split(",")):
        k, v = part.split("=")
        out[k] = int(v)
    return out


def recall_at(ids, gt, k):
    hits = 0
    for row, truth in zip(ids, gt):
        hits += len(set(row[:k].tolist()) & set(truth[:k].tolist()))
    return hits / (len(gt) * k)


class Bench:
    def __init__(self, args, base, queries, gt):
        self.args, self.base, self.queries, self.gt = args, base, queries, gt
        self.n, self.dim = base.shape

    def emit(self, rec):
        print(json.dumps(rec), flush=True)

    def common(self, system, index, params):
        return {"system": system, "index": index, "label": f"{system}-{index}", "n": self.n,
                "dim": self.dim, "k": self.args.k, "params": params}

    def run(self, system, index, params, build, search, sweep, set_threads, raw_counted=True):
        """build(threads) -> (obj, index_bytes); search(obj, point, threads) -> ids (nq x k)."""
        common = self.common(system, index, params)
        obj = None
        for t in self.args.build_threads:
            obj = None
            set_threads(t)
            before = rss_bytes()
            print(f"building {system}-{index} with {t} thread(s)...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            obj = build(t)
            build_s = time.perf_counter() - t0
            after = rss_bytes()
            nbytes = self.serialized_bytes(system, obj)
            raw = 4 * self.dim
            index_bytes = nbytes - (raw * self.n if raw_counted else 0)
            self.emit(dict(common, type="build", build_threads=t, build_s=build_s, index_bytes=index_bytes,
                           index_bytes_per_vector=index_bytes / self.n, raw_bytes_per_vector=raw,
                           bytes_per_vector=nbytes / self.n, rss_delta_bytes=max(0, after - before)))
            print(f"  build {build_s:.2f}s, {nbytes / self.n:.1f} B/vector", file=sys.stderr, flush=True)
        nq = self.queries.shape[0]
        for point in sweep:
            for t in self.args.search_threads:
                set_threads(t)
                ids = search(obj, point, t)
                rec = recall_at(ids, self.gt, self.args.k)
                best = float("inf")
                for _ in range(self.args.reps):
                    t0 = time.perf_counter()
                    search(obj, point, t)
                    best = min(best, time.perf_counter() - t0)
                self.emit(dict(common, type="search", search=point, threads=t, queries=nq, recall=rec,
                               qps=nq / best))
                print(f"  {point} threads={t} recall@{self.args.k}={rec:.4f} qps={nq / best:.0f}",
                      file=sys.stderr, flush=True)
        if system == "faiss" and index == "flat" and recall_at(search(obj, sweep[0], 1), self.gt, self.args.k) < 0.999:
            sys.exit("faiss-flat recall < 0.999: ground truth does not match the data")

    @staticmethod
    def serialized_bytes(system, obj):
        if system == "hnswlib":
            with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR", "/tmp"), suffix=".hnsw") as f:
                obj.save_index(f.name)
                return os.path.getsize(f.name)
        import faiss
        return int(faiss.serialize_index(obj).size)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--base", default=None)
    ap.add_argument("--queries", default=None)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="hnswlib-hnsw,faiss-hnsw,faiss-ivf_pq,faiss-flat")
    ap.add_argument("--hnsw", default="M=16,ef_construction=200")
    ap.add_argument("--ef", default="10,16,24,32,48,64,96,128,192,256,384,512")
    ap.add_argument("--ivf", default="nlist=1024,pq_m=48,nbits=8")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64,128")
    ap.add_argument("--rerank", default="10,40,100")
    ap.add_argument("--build-threads", default="1,2")
    ap.add_argument("--search-threads", default="1,2")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    args.build_threads = [int(x) for x in args.build_threads.split(",")]
    args.search_threads = [int(x) for x in args.search_threads.split(",")]

    base = read_fvecs(args.base or os.path.join(args.data, "base.fvecs"), args.n)
    queries = read_fvecs(args.queries or os.path.join(args.data, "queries.fvecs"))
    gt = read_ivecs(args.gt)
    if gt.shape[0] != queries.shape[0] or gt.shape[1] < args.k:
        sys.exit("ground truth shape does not match the queries / k")
    if gt.max() >= base.shape[0]:
        sys.exit("ground truth id out of range: wrong --n for this gt file?")
    n, dim = base.shape
    k = args.k
    bench = Bench(args, base, queries, gt)
    only = set(args.only.split(","))
    hp = kv(args.hnsw)
    M, efc = hp.get("M", 16), hp.get("ef_construction", 200)
    efs = [int(x) for x in args.ef.split(",")]

    import faiss

    def faiss_threads(t):
        faiss.omp_set_num_threads(t)

    if "hnswlib-hnsw" in only:
        import hnswlib

        def build(t):
            idx = hnswlib.Index(space="ip", dim=dim)
            idx.init_index(max_elements=n, ef_construction=efc, M=M, random_seed=args.seed)
            idx.add_items(base, np.arange(n), num_threads=t)
            return idx

        def search(idx, point, t):
            idx.set_ef(point["ef_search"])
            labels, _ = idx.knn_query(queries, k=k, num_threads=t)
            return labels

        bench.run("hnswlib", "hnsw", {"M": M, "ef_construction": efc}, build, search,
                  [{"ef_search": e} for e in efs], lambda t: None)

    if "faiss-hnsw" in only:
        def build(t):
            idx = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
            idx.hnsw.efConstruction = efc
            idx.add(base)
            return idx

        def search(idx, point, t):
            _, labels = idx.search(queries, k, params=faiss.SearchParametersHNSW(efSearch=point["ef_search"]))
            return labels

        bench.run("faiss", "hnsw", {"M": M, "ef_construction": efc}, build, search,
                  [{"ef_search": e} for e in efs], faiss_threads)

    if "faiss-ivf_pq" in only:
        ip = kv(args.ivf)
        nlist, pq_m, nbits = ip.get("nlist", 1024), ip.get("pq_m", 48), ip.get("nbits", 8)

        def build(t):
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, nbits, faiss.METRIC_INNER_PRODUCT)
            ivf.cp.seed = args.seed
            ivf.pq.cp.seed = args.seed
            ivf.train(base)
            ivf.add(base)
            ivf.own_fields = True
            quantizer.this.disown()
            refine = faiss.IndexRefineFlat(ivf, faiss.swig_ptr(base))
            return (ivf, refine)

        def search(obj, point, t):
            ivf, refine = obj
            ivf_params = faiss.SearchParametersIVF(nprobe=point["nprobe"])
            if point["rerank"] > k:
                p = faiss.IndexRefineSearchParameters(k_factor=point["rerank"] / k, base_index_params=ivf_params)
                _, labels = refine.search(queries, k, params=p)
            else:
                _, labels = ivf.search(queries, k, params=ivf_params)
            return labels

        sweep = [{"nprobe": p, "rerank": r} for p in [int(x) for x in args.nprobe.split(",")]
                 for r in [int(x) for x in args.rerank.split(",")]]
        bench.serialized_bytes = lambda system, obj: int(faiss.serialize_index(obj[0]).size)
        bench.run("faiss", "ivf_pq", {"nlist": nlist, "pq_m": pq_m, "nbits": nbits}, build, search, sweep,
                  faiss_threads, raw_counted=False)
        bench.serialized_bytes = Bench.serialized_bytes

    if "faiss-flat" in only:
        def build(t):
            idx = faiss.IndexFlatIP(dim)
            idx.add(base)
            return idx

        def search(idx, point, t):
            return idx.search(queries, k)[1]

        bench.run("faiss", "flat", {}, build, search, [{}], faiss_threads)


if __name__ == "__main__":
    main()
