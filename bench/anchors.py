#!/usr/bin/env python3
"""The anchors of the ANN benchmark: hnswlib, faiss-cpu and the leaders of ann-benchmarks
(usearch, NGT, ScaNN, Intel SVS), run with the protocol of bench/ann_bench.cc and printing
the same JSON-lines schema on stdout.

  anchors.py --n 200000 --gt bench/data/n200000_gt.ivecs --only hnswlib-hnsw,faiss-hnsw \
             --hnsw M=16,ef_construction=200 --ef 10,20,40,80

Systems (--only picks a subset; default all):
  hnswlib-hnsw      hnswlib.Index(space='ip'), init_index(M, ef_construction), set_ef(ef)
  faiss-hnsw        faiss.IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT), efConstruction, efSearch
  faiss-ivf_pq      faiss.IndexIVFPQ(IndexFlatIP, d, nlist, pq_m, nbits, IP); swept over
                    nprobe x rerank; rerank > k searches IndexRefineFlat(k_factor = rerank / k)
                    (exact re-rank of the best `rerank` PQ candidates, like ragline's rerank)
  faiss-flat        faiss.IndexFlatIP (exact)
  usearch-hnsw      usearch.index.Index(ndim, metric='ip', dtype='f32', connectivity=M,
                    expansion_add=ef_construction); expansion_search = ef (--ef sweep).
                    2.26.6's f32 kernels (NumKong) measured 1.5-1.8x slower here than
                    usearch 2.21.0's (SimSIMD) on the same graph; the pin is the newest anyway
  usearch-hnsw_i8   the same with dtype='i8', metric='cos': the graph walk and the returned
                    distances use the int8 copies only (no float re-rank; the f32 vectors are
                    not kept), i.e. a quantised walk like ragline's, without its re-rank
  ngt-onng          NGT ONNG (ngtpy): ngtpy.create(distance 'Normalized Cosine', ANNG with
                    edge_size_for_creation=edge, edge_size_for_search=0 i.e. all edges),
                    Index.batch_insert, then ngtpy.Optimizer(num_of_outgoings, num_of_incomings)
                    .execute (degree adjustment + shortcut reduction = ONNG; search-parameter /
                    prefetch optimisation and the accuracy table off); --ngt defaults to
                    ann-benchmarks' edge=100, outdegree=10, indegree=120. Swept over
                    Index.set(epsilon) (--ngt-epsilon; ann-benchmarks' "epsilon - 1") with
                    edge_size -2 (NGT's dynamic edge count, as ann-benchmarks; --ngt-search-edge).
                    The ngt 2.8 wheel has no QG / QBG builder (ngtpy.QuantizedIndex and
                    QuantizedBlobIndex only open indexes made by the ngtqg / qbg command-line
                    tools, which the wheel does not ship), so the float ONNG graph it is. The
                    wheel's ngtpy is also built without AVX (no ymm/zmm instruction in it; SSE
                    distance kernels), unlike ann-benchmarks' -march=native build: expect NGT
                    search and build to be several times slower here than its published runs.
  scann-tree_ah     scann_ops_pybind.builder(base, k, 'dot_product').tree(num_leaves,
                    training_sample_size=n, spherical=True, quantize_centroids=True)
                    .score_ah(dims_per_block, anisotropic_quantization_threshold)
                    .reorder(...) (float32 exact re-rank): ann-benchmarks' angular setup
                    (dims_per_block=2, threshold 0.2). num_leaves = --scann leaves, 0 = about
                    sqrt(n) (ScaNN's rule of thumb). Swept over (leaves_to_search, reorder)
                    pairs (--scann-sweep, reorder = pre_reorder_num_neighbors). On these
                    vectors recall is set by leaves_to_search (reorder >= 100 already re-ranks
                    every true neighbour the AH scan found), so 0.99 needs about half the leaves.
  svs-vamana        Intel SVS (scalable-vs, module svs): svs.Vamana.build(
                    VamanaBuildParameters(graph_max_degree=R, window_size=L), float32 data,
                    DistanceType.MIP, num_threads); search_window_size = --ef sweep
  svs-vamana_lvq    the same graph over LVQ-compressed vectors: svs.LVQLoader(VectorDataLoader(
                    an .fvecs copy of the base), primary, residual) (--lvq, default 4x8: 4-bit
                    primary codes walk the graph, the 8-bit residuals re-rank); no float copy kept
  glass (glassppy)  not run: glassppy (module glass) has only cp310 wheels on PyPI (1.0.0 to
                    1.0.5, manylinux_2_34 x86_64) and no sdist, so pip on Python 3.11 says
                    "Could not find a version that satisfies the requirement glassppy (from
                    versions: none) / No matching distribution found for glassppy".

Protocol (same as ann_bench): build once per --build-threads value (OpenMP threads for
faiss, num_threads for hnswlib; the last build is searched); for each sweep point and
--search-threads value T: one untimed batch search of all queries (recall@k), then
--reps timed ones; QPS = queries / best time. Queries go in one batch call, which every
library parallelises over queries with T threads:
  hnswlib           add_items / knn_query(num_threads=T)
  faiss             omp_set_num_threads(T) (build and search)
  usearch           Index.add / Index.search(threads=T)
  ngt               batch_insert(num_threads=T); Optimizer.execute and Index.batch_search use
                    OpenMP without a thread argument: omp_set_num_threads(T) is called on every
                    libgomp in the process (the ngt and faiss wheels bundle libgomp under one
                    soname, so ngtpy binds to faiss's copy when faiss is loaded first)
  scann             builder.set_n_training_threads(T) (k-means and AH training); search with
                    T = 1 is search_batched (one batch, calling thread), with T > 1
                    set_num_threads(T) + search_batched_parallel (batches of 256 over T threads)
  svs               Vamana.build(num_threads=T); index.num_threads = T, then index.search
The timed search is the library's batch call only (no Python loop over queries).

Memory: bytes_per_vector = serialised index size / n (hnswlib save_index, faiss
serialize_index, usearch Index.save, the files of the saved NGT index directory, ScaNN
searcher.serialize, svs Vamana.save's config + graph + data directories); that covers the
stored vectors for HNSW/FLAT/ONNG/Vamana and ScaNN's float re-rank copy. For IVF-PQ the
refine variant's raw vectors are not counted (same as ragline: they live in the segment).
usearch-hnsw_i8 and svs-vamana_lvq keep no float vectors: all their bytes are index bytes.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from vecs import read_fvecs, read_ivecs

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMS = ("hnswlib-hnsw", "faiss-hnsw", "faiss-ivf_pq", "faiss-flat", "usearch-hnsw", "usearch-hnsw_i8",
           "ngt-onng", "scann-tree_ah", "svs-vamana", "svs-vamana_lvq")


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


def tmp_root():
    return os.environ.get("TMPDIR", "/tmp")


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def write_fvecs(path, x):
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.float32)
    out[:, 0] = np.array([x.shape[1]], dtype=np.int32).view(np.float32)[0]
    out[:, 1:] = x
    out.tofile(path)


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
            with tempfile.NamedTemporaryFile(dir=tmp_root(), suffix=".hnsw") as f:
                obj.save_index(f.name)
                return os.path.getsize(f.name)
        if system == "usearch":
            with tempfile.NamedTemporaryFile(dir=tmp_root(), suffix=".usearch") as f:
                obj.save(f.name)
                return os.path.getsize(f.name)
        if system == "ngt":
            return dir_bytes(obj[1])  # (read-only index, its directory)
        if system == "scann":
            with tempfile.TemporaryDirectory(dir=tmp_root()) as d:
                obj.serialize(d)
                return dir_bytes(d)
        if system == "svs":
            with tempfile.TemporaryDirectory(dir=tmp_root()) as d:
                obj.save(*(os.path.join(d, part) for part in ("config", "graph", "data")))
                return dir_bytes(d)
        import faiss
        return int(faiss.serialize_index(obj).size)


def batch_ids(ids, nq, k):
    """(nq, k) int64 ids from a library's result array; rows short of k are padded with -1."""
    ids = np.asarray(ids)
    if ids.shape == (nq, k):
        return ids.astype(np.int64)
    out = np.full((nq, k), -1, dtype=np.int64)
    for i, row in enumerate(ids):
        row = np.asarray(row)[:k]
        out[i, :len(row)] = row
    return out


def run_usearch(bench, index, dtype, metric, M, efc, efs):
    from usearch.index import Index
    base, queries, k = bench.base, bench.queries, bench.args.k
    n, dim = base.shape

    def build(t):
        idx = Index(ndim=dim, metric=metric, dtype=dtype, connectivity=M, expansion_add=efc)
        if str(idx.dtype).lower().split(".")[-1] != dtype:
            sys.exit(f"usearch made a {idx.dtype} index, not {dtype}")
        idx.add(np.arange(n), base, threads=t)
        return idx

    def search(idx, point, t):
        idx.expansion_search = point["ef_search"]
        return batch_ids(idx.search(queries, k, threads=t).keys, len(queries), k)

    bench.run("usearch", index, {"M": M, "ef_construction": efc, "dtype": dtype, "metric": metric}, build, search,
              [{"ef_search": e} for e in efs], lambda t: None, raw_counted=dtype == "f32")


def ngt_omp_set_num_threads():
    """omp_set_num_threads on every libgomp loaded once ngtpy is: the ngt and faiss wheels bundle
    libgomp under the same soname, so ngtpy runs on whichever copy was loaded first."""
    import ctypes
    import ngtpy  # noqa: F401 (loads its libgomp)
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "/libgomp" in line})
    setters = [ctypes.CDLL(path).omp_set_num_threads for path in libs]

    def set_threads(t):
        for s in setters:
            s(t)

    return set_threads if setters else None


def run_ngt(bench, edge, outdegree, indegree, epsilons, search_edge, set_threads):
    import ngtpy
    base, queries, k = bench.base, bench.queries, bench.args.k
    dim = base.shape[1]
    work = tempfile.mkdtemp(dir=tmp_root(), prefix="anchors-ngt-")

    def build(t):
        anng, onng = os.path.join(work, f"anng-{t}"), os.path.join(work, f"onng-{t}")
        ngtpy.create(anng, dim, edge_size_for_creation=edge, edge_size_for_search=0,
                     distance_type="Normalized Cosine", object_type="Float", graph_type="ANNG")
        idx = ngtpy.Index(anng, log_disabled=True)
        idx.batch_insert(base, num_threads=t)
        idx.save()
        idx.close()
        opt = ngtpy.Optimizer(num_of_outgoings=outdegree, num_of_incomings=indegree, log_disabled=True)
        opt.set_processing_modes(search_parameter_optimization=False, prefetch_parameter_optimization=False,
                                 accuracy_table_generation=False)
        opt.execute(anng, onng)
        shutil.rmtree(anng)
        return ngtpy.Index(onng, read_only=True, log_disabled=True), onng

    def search(obj, point, t):
        obj[0].set(num_of_search_objects=k, epsilon=point["epsilon"], edge_size=point["edge_size"])
        res = ngtpy.BatchResults()
        obj[0].batch_search(queries, res, k)
        return batch_ids(res.get_ids(), len(queries), k)

    try:
        bench.run("ngt", "onng", {"edge": edge, "outdegree": outdegree, "indegree": indegree,
                                  "distance": "Normalized Cosine"}, build, search,
                  [{"epsilon": e, "edge_size": search_edge} for e in epsilons], set_threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_scann(bench, leaves, dims_per_block, avq, sweep):
    import scann
    base, queries, k = bench.base, bench.queries, bench.args.k
    n = base.shape[0]

    def build(t):
        return (scann.scann_ops_pybind.builder(base, k, "dot_product")
                .tree(num_leaves=leaves, num_leaves_to_search=sweep[0]["leaves_to_search"], training_sample_size=n,
                      spherical=True, quantize_centroids=True)
                .score_ah(dims_per_block, anisotropic_quantization_threshold=avq)
                .reorder(max(p["reorder"] for p in sweep))
                .set_n_training_threads(t)
                .build())

    def search(searcher, point, t):
        if t == 1:
            ids, _ = searcher.search_batched(queries, k, point["reorder"], point["leaves_to_search"])
        else:
            searcher.set_num_threads(t)
            ids, _ = searcher.search_batched_parallel(queries, k, point["reorder"], point["leaves_to_search"])
        return batch_ids(ids, len(queries), k)

    bench.run("scann", "tree_ah", {"num_leaves": leaves, "dims_per_block": dims_per_block,
                                   "anisotropic_quantization_threshold": avq}, build, search, sweep, lambda t: None)


def run_svs(bench, index, R, L, windows, lvq=None):
    import svs
    svs.logging.set_logging_stream(svs.logging.stderr)
    base, queries, k = bench.base, bench.queries, bench.args.k
    dim = base.shape[1]
    work = tempfile.mkdtemp(dir=tmp_root(), prefix="anchors-svs-")
    path = os.path.join(work, "base.fvecs")
    if lvq:
        write_fvecs(path, base)  # LVQLoader compresses from a file loader

    def build(t):
        params = svs.VamanaBuildParameters(graph_max_degree=R, window_size=L)
        data = base
        if lvq:
            data = svs.LVQLoader(svs.VectorDataLoader(path, svs.DataType.float32, dims=dim),
                                 lvq["primary"], lvq["residual"])
        return svs.Vamana.build(params, data, svs.DistanceType.MIP, num_threads=t)

    def search(idx, point, t):
        idx.num_threads = t
        idx.search_window_size = point["search_window_size"]
        return batch_ids(idx.search(queries, k)[0], len(queries), k)

    params = {"graph_max_degree": R, "window_size": L}
    if lvq:
        params.update(lvq_primary=lvq["primary"], lvq_residual=lvq["residual"])
    try:
        bench.run("svs", index, params, build, search, [{"search_window_size": w} for w in windows],
                  lambda t: None, raw_counted=not lvq)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(HERE, "data"))
    ap.add_argument("--base", default=None)
    ap.add_argument("--queries", default=None)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    ap.add_argument("--hnsw", default="M=16,ef_construction=200")
    ap.add_argument("--ef", default="10,16,24,32,48,64,96,128,192,256,384,512")
    ap.add_argument("--ivf", default="nlist=1024,pq_m=48,nbits=8")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64,128")
    ap.add_argument("--rerank", default="10,40,100")
    ap.add_argument("--ngt", default="edge=100,outdegree=10,indegree=120")
    ap.add_argument("--ngt-epsilon", default="0,0.02,0.04,0.05,0.06,0.07,0.08,0.09,0.1,0.12,0.15,0.2")
    ap.add_argument("--ngt-search-edge", type=int, default=-2,
                    help="edge_size at search: -2 NGT's dynamic edge size (ann-benchmarks), 0 all edges")
    ap.add_argument("--scann", default="leaves=0,dims_per_block=2", help="leaves=0: about sqrt(n)")
    ap.add_argument("--scann-avq", type=float, default=0.2, help="anisotropic_quantization_threshold")
    ap.add_argument("--scann-sweep", default="2:30,4:30,8:50,12:50,16:60,24:80,32:100,48:100,64:100,80:120,96:150,"
                    "128:150,160:200,200:200,256:250,320:300",
                    help="leaves_to_search:reorder pairs (leaves_to_search capped at num_leaves)")
    ap.add_argument("--vamana", default="R=32,L=200", help="graph_max_degree R, construction window_size L")
    ap.add_argument("--lvq", default="primary=4,residual=8")
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
    if only - set(SYSTEMS):
        sys.exit(f"unknown --only system(s): {', '.join(sorted(only - set(SYSTEMS)))}; choices: {', '.join(SYSTEMS)}")
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

    if "usearch-hnsw" in only:
        run_usearch(bench, "hnsw", "f32", "ip", M, efc, efs)

    if "usearch-hnsw_i8" in only:
        run_usearch(bench, "hnsw_i8", "i8", "cos", M, efc, efs)

    if "ngt-onng" in only:
        npar = kv(args.ngt)
        set_threads = ngt_omp_set_num_threads()
        if set_threads is None:
            sys.exit("no libgomp loaded with ngtpy: cannot set NGT's OpenMP threads")
        run_ngt(bench, npar.get("edge", 100), npar.get("outdegree", 10), npar.get("indegree", 120),
                [float(x) for x in args.ngt_epsilon.split(",")], args.ngt_search_edge, set_threads)

    if "scann-tree_ah" in only:
        spar = kv(args.scann)
        leaves = spar.get("leaves", 0) or max(1, int(round(n ** 0.5)))
        sweep = [{"leaves_to_search": min(int(a), leaves), "reorder": int(b)}
                 for a, b in (p.split(":") for p in args.scann_sweep.split(","))]
        sweep = [p for i, p in enumerate(sweep)  # capping can repeat leaves_to_search: keep the first
                 if p["leaves_to_search"] not in [q["leaves_to_search"] for q in sweep[:i]]]
        run_scann(bench, leaves, spar.get("dims_per_block", 2), args.scann_avq, sweep)

    vpar = kv(args.vamana)
    if "svs-vamana" in only:
        run_svs(bench, "vamana", vpar.get("R", 32), vpar.get("L", 200), efs)

    if "svs-vamana_lvq" in only:
        run_svs(bench, "vamana_lvq", vpar.get("R", 32), vpar.get("L", 200), efs, lvq=kv(args.lvq))


if __name__ == "__main__":
    main()
