#!/usr/bin/env python3
"""Turns the JSON lines of ann_bench / anchors.py into the ANN section of docs/BENCHMARKS.md.

  report.py --results bench/data/results/RUN --out docs/BENCHMARKS.md --command "bench/run_ann.sh"

Reads RUN/main/*.jsonl (the same-run comparison at one n) and RUN/scaling/*.jsonl
(ragline HNSW vs hnswlib at several n). For each system and thread count, "QPS at
recall R" is the best QPS among the sweep points whose recall@k >= R ("not reached"
when none). The section between the markers <!-- ann-bench:begin --> and
<!-- ann-bench:end --> is replaced (appended when absent); the rest of the file is kept.
Also writes RUN/summary.json with the computed numbers and the target checks.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict

from bench_doc import markers, splice_section  # noqa: E402

BEGIN, END = markers("ann-bench")
TARGETS = (0.90, 0.95, 0.99)


def load(paths):
    recs = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    recs.append(json.loads(line))
    return recs


def machine_info():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {"cpu": info.get("Model name", platform.processor()), "cpus": info.get("CPU(s)", str(os.cpu_count())),
            "threads_per_core": info.get("Thread(s) per core", "?"), "flags_avx512": "avx512f" in info.get("Flags", ""),
            "mem": mem, "kernel": platform.release()}


def fmt_qps(v):
    return "not reached" if v is None else f"{v:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def point_str(search):
    search = search or {}
    return ", ".join(f"{k}={v}" for k, v in sorted(search.items())) or "–"


def qps_at(points, target):
    ok = [p for p in points if p["recall"] >= target]
    if not ok:
        return None, None
    best = max(ok, key=lambda p: p["qps"])
    return best["qps"], best["search"]


def analyse(recs):
    """Groups records by label and computes build and matched-recall numbers."""
    builds = defaultdict(dict)    # label -> threads -> rec
    searches = defaultdict(lambda: defaultdict(list))  # label -> threads -> [rec]
    meta = {}
    for r in recs:
        label = f"{r['system']}-{r['index']}"
        meta[label] = r
        if r["type"] == "build":
            builds[label][r["build_threads"]] = r
        else:
            searches[label][r["threads"]].append(r)
    return builds, searches, meta


ORDER = ["ragline-flat", "faiss-flat", "ragline-hnsw", "hnswlib-hnsw", "faiss-hnsw", "ragline-ivf_pq",
         "faiss-ivf_pq"]


def order_key(label):
    return (ORDER.index(label) if label in ORDER else len(ORDER), label)


def ivf_variants(label, pts, k):
    """Splits IVF-PQ points into 'no re-rank' (rerank <= k) and 're-rank' (rerank > k)."""
    if "ivf_pq" not in label:
        return {label: pts}
    plain = [p for p in pts if p["search"].get("rerank", 0) <= k]
    rr = [p for p in pts if p["search"].get("rerank", 0) > k]
    out = {}
    if plain:
        out[label] = plain
    if rr:
        out[label + " +rerank"] = rr
    return out


def main_section(recs, lines, summary):
    builds, searches, meta = analyse(recs)
    if not meta:
        lines.append("_no results_\n")
        return
    any_rec = next(iter(meta.values()))
    n, dim, k = any_rec["n"], any_rec["dim"], any_rec["k"]
    lines.append(f"### Same-run comparison: n = {n:,} base vectors, {dim}-d, 1,000 queries, recall@{k}\n")
    lines.append("Build time and memory (bytes/vector = index structure + the raw float32 vectors the index "
                 "searches; IVF-PQ: codes + ids + centroids, the raw vectors used for re-rank are the "
                 "segment's and not counted):\n")
    lines.append("| index | params | build 1 thread (s) | build 2 threads (s) | bytes/vector | index-only bytes/vector |")
    lines.append("|---|---|---:|---:|---:|---:|")
    summary["build"] = {}
    for label in sorted(builds, key=order_key):
        b = builds[label]
        any_b = next(iter(b.values()))
        params = ", ".join(f"{kk}={vv}" for kk, vv in (any_b["params"] or {}).items()
                           if kk not in ("ef_search", "nprobe", "rerank"))
        t1 = b.get(1, {}).get("build_s")
        t2 = b.get(2, {}).get("build_s")
        lines.append(f"| {label} | {params or '–'} | {'–' if t1 is None else f'{t1:.2f}'} | "
                     f"{'–' if t2 is None else f'{t2:.2f}'} | {any_b['bytes_per_vector']:.1f} | "
                     f"{any_b['index_bytes_per_vector']:.1f} |")
        summary["build"][label] = {"build_s_1t": t1, "build_s_2t": t2, "bytes_per_vector": any_b["bytes_per_vector"],
                                   "index_bytes_per_vector": any_b["index_bytes_per_vector"]}
    lines.append("")

    summary["qps"] = {}
    for threads in (1, 2):
        lines.append(f"QPS at matched recall@{k}, {threads} search thread{'s' if threads > 1 else ''} "
                     "(best QPS among sweep points reaching the recall; the point in brackets):\n")
        lines.append("| index | max recall | " + " | ".join(f"QPS @ {t:.2f}" for t in TARGETS) + " |")
        lines.append("|---|---:|" + "---:|" * len(TARGETS))
        for label in sorted(searches, key=order_key):
            for vlabel, pts in ivf_variants(label, searches[label].get(threads, []), k).items():
                if not pts:
                    continue
                cells = []
                for t in TARGETS:
                    q, at = qps_at(pts, t)
                    summary["qps"].setdefault(vlabel, {}).setdefault(str(threads), {})[f"{t:.2f}"] = q
                    cells.append(fmt_qps(q) + ("" if q is None else f" ({point_str(at)})"))
                lines.append(f"| {vlabel} | {max(p['recall'] for p in pts):.4f} | " + " | ".join(cells) + " |")
        lines.append("")

    # Ratios and targets.
    lines.append("Ratios (ragline / anchor; > 1 means ragline is faster for QPS, < 1 means faster for build):\n")
    lines.append("| comparison | threads | " + " | ".join(f"@ {t:.2f}" for t in TARGETS) + " |")
    lines.append("|---|---:|" + "---:|" * len(TARGETS))
    q = summary["qps"]
    for ours, anchor in (("ragline-hnsw", "hnswlib-hnsw"), ("ragline-hnsw", "faiss-hnsw"),
                         ("ragline-flat", "faiss-flat"), ("ragline-ivf_pq +rerank", "faiss-ivf_pq +rerank")):
        if ours not in q or anchor not in q:
            continue
        for threads in ("1", "2"):
            cells = [fmt_ratio(ratio(q[ours].get(threads, {}).get(f"{t:.2f}"), q[anchor].get(threads, {}).get(f"{t:.2f}")))
                     for t in TARGETS]
            lines.append(f"| {ours} QPS / {anchor} QPS | {threads} | " + " | ".join(cells) + " |")
    lines.append("")
    b = summary["build"]
    lines.append("| build time ratio | 1 thread | 2 threads |")
    lines.append("|---|---:|---:|")
    for ours, anchor in (("ragline-hnsw", "hnswlib-hnsw"), ("ragline-hnsw", "faiss-hnsw"),
                         ("ragline-ivf_pq", "faiss-ivf_pq")):
        if ours in b and anchor in b:
            r1 = ratio(b[ours]["build_s_1t"], b[anchor]["build_s_1t"])
            r2 = ratio(b[ours]["build_s_2t"], b[anchor]["build_s_2t"])
            lines.append(f"| {ours} / {anchor} | {fmt_ratio(r1)} | {fmt_ratio(r2)} |")
    lines.append("")

    checks = []
    def get(label, threads, t):
        return q.get(label, {}).get(str(threads), {}).get(f"{t:.2f}")
    for anchor in ("hnswlib-hnsw", "faiss-hnsw"):
        r = ratio(get("ragline-hnsw", 1, 0.95), get(anchor, 1, 0.95))
        checks.append((f"HNSW QPS at recall@10 = 0.95, 1 thread, ≥ 1.5× {anchor}",
                       r is not None and r >= 1.5, fmt_ratio(r)))
    if "ragline-hnsw" in b and "hnswlib-hnsw" in b:
        rs = [ratio(b["ragline-hnsw"][f"build_s_{t}t"], b["hnswlib-hnsw"][f"build_s_{t}t"]) for t in (1, 2)]
        rs = [r for r in rs if r is not None]
        checks.append(("HNSW build time ≤ 0.8× hnswlib (1 and 2 threads)", bool(rs) and max(rs) <= 0.8,
                       " / ".join(fmt_ratio(r) for r in rs)))
    if "ragline-ivf_pq" in b:
        bpv = b["ragline-ivf_pq"]["index_bytes_per_vector"]
        reached = get("ragline-ivf_pq +rerank", 1, 0.90) is not None
        checks.append(("IVF-PQ ≤ 64 bytes/vector at recall@10 ≥ 0.9 with re-rank", bpv <= 64 and reached,
                       f"{bpv:.1f} B/vector, recall 0.90 {'reached' if reached else 'not reached'}"))
    summary["targets"] = [{"target": c[0], "met": c[1], "value": c[2]} for c in checks]
    lines.append("Targets (benchmark goals, not tests):\n")
    lines.append("| target | value | met |")
    lines.append("|---|---|---|")
    for name, met, val in checks:
        lines.append(f"| {name} | {val} | {'yes' if met else '**no**'} |")
    lines.append("")

    lines.append("<details><summary>All sweep points</summary>\n")
    lines.append("| index | threads | search params | recall@10 | QPS |")
    lines.append("|---|---:|---|---:|---:|")
    for label in sorted(searches, key=order_key):
        for threads in sorted(searches[label]):
            for p in searches[label][threads]:
                lines.append(f"| {label} | {threads} | {point_str(p['search'])} | {p['recall']:.4f} | {p['qps']:,.0f} |")
    lines.append("\n</details>\n")


def scaling_section(recs, lines, summary):
    by_n = defaultdict(list)
    for r in recs:
        by_n[r["n"]].append(r)
    if not by_n:
        return
    lines.append("### Size scaling: ragline HNSW vs hnswlib\n")
    lines.append("Same M / ef_construction as above; build with 2 threads; QPS with 1 search thread.\n")
    lines.append("| n | ragline build (s) | hnswlib build (s) | build ratio | ragline QPS @ 0.95 | hnswlib QPS @ 0.95 "
                 "| QPS ratio | recall@10 at ef 64, ragline / hnswlib | ragline B/vector | hnswlib B/vector |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary["scaling"] = {}
    for n in sorted(by_n):
        builds, searches, _ = analyse(by_n[n])
        row = {}
        for label in ("ragline-hnsw", "hnswlib-hnsw"):
            b = builds.get(label, {})
            bt = max(b) if b else None
            one_thread = searches.get(label, {}).get(1, [])
            row[label] = {"build_s": b[bt]["build_s"] if bt else None,
                          "bpv": b[bt]["bytes_per_vector"] if bt else None,
                          "qps95": qps_at(one_thread, 0.95)[0],
                          "recall_ef64": next((p["recall"] for p in one_thread
                                               if p["search"].get("ef_search") == 64), None)}
        rg, hl = row["ragline-hnsw"], row["hnswlib-hnsw"]
        summary["scaling"][n] = row
        f = lambda v, spec: "–" if v is None else format(v, spec)
        lines.append(f"| {n:,} | {f(rg['build_s'], '.2f')} | {f(hl['build_s'], '.2f')} | "
                     f"{fmt_ratio(ratio(rg['build_s'], hl['build_s']))} | {fmt_qps(rg['qps95'])} | "
                     f"{fmt_qps(hl['qps95'])} | {fmt_ratio(ratio(rg['qps95'], hl['qps95']))} | "
                     f"{f(rg['recall_ef64'], '.4f')} / {f(hl['recall_ef64'], '.4f')} | "
                     f"{f(rg['bpv'], '.0f')} | {f(hl['bpv'], '.0f')} |")
    lines.append("")


def leaders_section(recs, run_meta, m, command):
    """ragline HNSW against the ann-benchmarks leaders: one search thread, QPS at recall 0.95 / 0.99."""
    builds, searches, meta = analyse(recs)
    b_, e_ = markers("ann-leaders")
    n = next(iter(meta.values()))["n"] if meta else 0
    simd = next((r.get("simd") for r in recs if r.get("system") == "ragline"), "?")
    lines = [b_, "## ANN: ragline HNSW vs the leaders of ann-benchmarks (one search thread)\n",
             "_Generated by `bench/report.py --leaders`; do not edit by hand._\n",
             f"- command: `{command}`",
             f"- date: {run_meta.get('date', '?')}; git: {run_meta.get('git', '?')}; machine: {m['cpu']}, "
             f"{m['cpus']} logical CPUs, {m['mem']} RAM; ragline SIMD level: {simd}",
             f"- data: {run_meta.get('data', '?')}; n = {n:,}, k = 10",
             "- protocol (bench/ann_bench.cc, bench/anchors.py): each system built once with the most threads, "
             "then every sweep point searched with 1 thread, all 1,000 queries as one batch where the library "
             "has one; QPS = queries / best of the timed repetitions; \"QPS at recall R\" = the best QPS among "
             "the sweep points reaching R. Memory = serialised index size / n (the float vectors included "
             "where the index keeps them; see bench/anchors.py per system).\n",
             "| system | params | build (s) | B/vector | QPS @ recall 0.95 | at | QPS @ recall 0.99 | at | best recall |",
             "|---|---|---:|---:|---:|---|---:|---|---:|"]
    rows = {}
    for label in sorted(meta, key=order_key):
        b = builds.get(label, {})
        bt = max(b) if b else None
        pts = searches.get(label, {}).get(1, [])
        q95, at95 = qps_at(pts, 0.95)
        q99, at99 = qps_at(pts, 0.99)
        rows[label] = (q95, q99)
        params = ", ".join(f"{k}={v}" for k, v in sorted(meta[label].get("params", {}).items()))
        lines.append(f"| {label} | {params or '–'} | {b[bt]['build_s']:.1f} | {b[bt]['bytes_per_vector']:.0f} | "
                     f"{fmt_qps(q95)} | {point_str(at95)} | {fmt_qps(q99)} | {point_str(at99)} | "
                     f"{max((p['recall'] for p in pts), default=0):.4f} |"
                     if bt else f"| {label} | {params or '–'} | – | – | {fmt_qps(q95)} | {point_str(at95)} | "
                     f"{fmt_qps(q99)} | {point_str(at99)} | {max((p['recall'] for p in pts), default=0):.4f} |")
    ours = rows.get("ragline-hnsw")
    others = {k: v for k, v in rows.items() if not k.startswith("ragline")}
    if ours and others:
        lines.append("")
        for i, target in enumerate((0.95, 0.99)):
            best = max(others.items(), key=lambda kv: kv[1][i] or 0)
            lines.append(f"- recall {target}: ragline {fmt_qps(ours[i])} QPS, best other {best[0]} "
                         f"{fmt_qps(best[1][i])}: {fmt_ratio(ratio(ours[i], best[1][i]))}")
    lines.append(e_)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", default=None, help="markdown file to update (default: print)")
    ap.add_argument("--command", default=None, help="the command that made the results (default: run.json's)")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--leaders", action="store_true", help="write the ann-leaders section from RUN/leaders/")
    args = ap.parse_args()

    run_meta = {}
    meta_path = os.path.join(args.results, "run.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            run_meta = json.load(f)
    m = machine_info()
    if args.leaders:
        section = leaders_section(load(sorted(glob.glob(os.path.join(args.results, "leaders", "*.jsonl")))),
                                  run_meta, m, args.command or run_meta.get("command", "bench/run_ann.sh"))
        if args.out:
            splice_section(args.out, "ann-leaders", section)
        else:
            sys.stdout.write(section)
        return
    main_recs = load(sorted(glob.glob(os.path.join(args.results, "main", "*.jsonl"))))
    simd = next((r.get("simd") for r in main_recs if r.get("system") == "ragline"), "?")
    lines = [BEGIN, "## ANN: ragline FLAT / HNSW / IVF-PQ vs hnswlib and faiss-cpu\n",
             "_Generated by `bench/report.py`; do not edit by hand._\n",
             f"- command: `{args.command or run_meta.get('command', 'bench/run_ann.sh')}`",
             f"- date: {run_meta.get('date', time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))}; "
             f"git: {run_meta.get('git', '?')}",
             f"- machine: {m['cpu']}, {m['cpus']} logical CPUs ({m['threads_per_core']} thread(s)/core), "
             f"{m['mem']} RAM, Linux {m['kernel']}; ragline SIMD level: {simd}",
             f"- versions: {run_meta.get('versions', '?')}",
             f"- load average before / after the run: {run_meta.get('load_before', '?')} / "
             f"{run_meta.get('load_after', '?')} (timings are only meaningful on a quiet machine)",
             f"- data: {run_meta.get('data', '?')}"]
    if "rerun" in run_meta:  # a later run of the same RUN filled in missing steps (e.g. more scaling sizes)
        r = run_meta["rerun"]
        lines.append(f"- last rerun, which ran only the steps whose results were missing: {r['date']}, git {r['git']}, "
                     f"`{r['command']}`")
    for note in args.note + run_meta.get("notes", []):
        lines.append(f"- note: {note}")
    lines.append("")
    summary = {}
    main_section(main_recs, lines, summary)
    scaling_section(load(sorted(glob.glob(os.path.join(args.results, "scaling", "*.jsonl")))), lines,
                    summary.setdefault("scaling_", {}))
    lines.append(END)
    section = "\n".join(lines) + "\n"
    with open(os.path.join(args.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, default=str)

    if not args.out:
        sys.stdout.write(section)
        return
    splice_section(args.out, "ann-bench", section)


if __name__ == "__main__":
    main()
