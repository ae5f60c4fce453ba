#!/usr/bin/env python3
"""Builds the retrieval evaluation datasets of `ragline eval` in BEIR format from real public
text shipped by Debian (no network access beyond Debian's own package lists is needed).

  make_datasets.py [--out bench/data/eval] [--only debian-packages,manpages] [--jobs 2]

Writes, for each dataset NAME:
  OUT/NAME/corpus.jsonl      {"_id", "title", "text"} per line
  OUT/NAME/queries.jsonl     {"_id", "text"} per line
  OUT/NAME/qrels/test.tsv    "query-id\tcorpus-id\tscore" header, then one line per judgement
  OUT/NAME/dataset.json      sources (package versions, list dates), parameters, counts,
                             filter statistics, sha256 of the three files above

Datasets (see docs/datasets.md for the full description and the biases):

  debian-packages  Debian 12 "bookworm" main package descriptions, from the English
                   Translation-en list that `apt-get update -o Acquire::Languages=en` fetches.
                   query = the one-line synopsis, relevant doc = that package's long
                   description (title = package name). Short product-style documents.
  manpages         Manual pages of a fixed list of Debian packages, rendered with groff.
                   query = the NAME line's description ("copy files and directories"),
                   relevant doc = the rest of the page (NAME section removed), title =
                   "name(section)". Long technical documents.

Everything is deterministic: input order is sorted, sampling uses random.Random(SEED), and
the output files are written in sorted id order; the same inputs give byte-identical files.
"""
import argparse
import concurrent.futures
import glob
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time

SEED = 20261126
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# --- debian-packages -----------------------------------------------------------------------
APT_LISTS = "/var/lib/apt/lists"
TRANSLATION_GLOB = "*_debian_dists_bookworm_main_i18n_Translation-en*"
INRELEASE_GLOB = "*_debian_dists_bookworm_InRelease"
DEB_DOCS = 15000        # corpus size (sampled from the deduplicated pool)
DEB_QUERIES = 1000
DEB_MIN_DOC_WORDS = 12  # shorter long descriptions are boilerplate ("This package ...")
DEB_MIN_QUERY_WORDS = 2
DEB_DROP_SYNOPSIS = re.compile(r"\b(transitional|dummy)\b", re.I)
DEB_TEMPLATE_MIN = 10   # a masked long description shared by this many packages is a template


def template_key(pkg, text):
    name = pkg.lower()
    out = []
    for tok in re.findall(r"[\w'+.-]+", text.lower()):
        t = tok.strip(".'-+").replace("_", "-")
        if any(ch.isdigit() for ch in t) or (len(t) >= 2 and t in name):
            out.append("#")
        else:
            out.append(t)
    return " ".join(out)

# --- manpages --------------------------------------------------------------------------------
MAN_PACKAGES = ["manpages", "manpages-dev", "perl-doc", "openssl", "systemd", "git-man", "iproute2",
                "coreutils", "util-linux", "e2fsprogs", "passwd", "procps", "dpkg-dev", "libxt-dev",
                "libpam-modules"]
MAN_QUERIES = 1000
MAN_MAX_DOC_WORDS = 3000  # very long pages (perlfunc, bash-sized) are cut to their first words
MAN_MIN_DOC_WORDS = 30
MAN_MIN_QUERY_WORDS = 2
MAN_FILE = re.compile(r"^/usr/share/man/man[1-9][^/]*/([^/]+)\.([1-9][a-z0-9]*)\.gz$")
# groff: utf8 output without SGR/overstrike (-P-cbou), tbl (-t), input encoding guessing (-k),
# no hyphenation (HY=0) and wide lines so words are not split across lines.
GROFF = ["groff", "-k", "-t", "-man", "-Tutf8", "-rHY=0", "-rLL=120n", "-P-cbou"]
NAME_SEP = re.compile(r"\s[-\u2010\u2011\u2012\u2013\u2014\u2212]{1,2}\s")


def norm(s):
    return re.sub(r"\s+", " ", s).strip().lower()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_apt_list(path):
    """Text of an apt list file, whatever compression apt stored it with."""
    if path.endswith((".lz4", ".gz", ".xz", ".zst", ".bz2")):
        return subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                              capture_output=True).stdout.decode("utf-8")
    with open(path, encoding="utf-8") as f:
        return f.read()


def write_beir(outdir, name, corpus, queries, qrels, meta):
    """corpus: {id: (title, text)}, queries: {id: text}, qrels: {qid: {docid: score}}."""
    d = os.path.join(outdir, name)
    os.makedirs(os.path.join(d, "qrels"), exist_ok=True)
    files = {"corpus.jsonl": os.path.join(d, "corpus.jsonl"), "queries.jsonl": os.path.join(d, "queries.jsonl"),
             "qrels/test.tsv": os.path.join(d, "qrels", "test.tsv")}
    with open(files["corpus.jsonl"], "w", encoding="utf-8") as f:
        for did in sorted(corpus):
            title, text = corpus[did]
            f.write(json.dumps({"_id": did, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with open(files["queries.jsonl"], "w", encoding="utf-8") as f:
        for qid in sorted(queries):
            f.write(json.dumps({"_id": qid, "text": queries[qid]}, ensure_ascii=False) + "\n")
    n_qrels = 0
    with open(files["qrels/test.tsv"], "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid in sorted(qrels):
            for did in sorted(qrels[qid]):
                f.write(f"{qid}\t{did}\t{qrels[qid][did]}\n")
                n_qrels += 1
    doc_words = [len((t + " " + x).split()) for t, x in corpus.values()]
    q_words = [len(q.split()) for q in queries.values()]
    meta = dict(meta)
    meta.update({
        "name": name, "format": "BEIR (corpus.jsonl, queries.jsonl, qrels/test.tsv)", "seed": SEED,
        "counts": {"docs": len(corpus), "queries": len(queries), "qrels": n_qrels,
                   "mean_doc_words": round(sum(doc_words) / max(1, len(doc_words)), 1),
                   "median_doc_words": sorted(doc_words)[len(doc_words) // 2] if doc_words else 0,
                   "mean_query_words": round(sum(q_words) / max(1, len(q_words)), 2),
                   "mean_relevant_per_query": round(n_qrels / max(1, len(queries)), 3)},
        "sha256": {k: sha256(p) for k, p in files.items()},
        "built_by": "bench/eval/make_datasets.py",
    })
    with open(os.path.join(d, "dataset.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    return meta


def make_queries(corpus_ids, query_text_of, eligible, n_queries, rng, prefix="q-"):
    """Samples n_queries of the eligible corpus docs. Docs of the corpus whose query text is
    the same (case/space-insensitive) are all relevant to that query (score 1)."""
    by_text = {}
    for did in sorted(corpus_ids):
        by_text.setdefault(norm(query_text_of[did]), []).append(did)
    cands = sorted(did for did in corpus_ids if eligible[did])
    picked = rng.sample(cands, min(n_queries, len(cands)))
    queries, qrels, seen = {}, {}, set()
    for did in sorted(picked):
        key = norm(query_text_of[did])
        if key in seen:   # an identical query was already picked
            continue
        seen.add(key)
        qid = prefix + did
        queries[qid] = re.sub(r"\s+", " ", query_text_of[did]).strip()
        qrels[qid] = {d: 1 for d in by_text[key]}
    return queries, qrels


# ------------------------------------------------------------------------------------------------
def build_debian_packages(outdir, n_docs=DEB_DOCS, n_queries=DEB_QUERIES):
    paths = sorted(glob.glob(os.path.join(APT_LISTS, TRANSLATION_GLOB)))
    if not paths:
        sys.exit("make_datasets: no bookworm main Translation-en list under /var/lib/apt/lists; "
                 "run: apt-get update -o Acquire::Languages=en")
    src = paths[0]
    text = read_apt_list(src)
    release = {}
    for p in sorted(glob.glob(os.path.join(APT_LISTS, INRELEASE_GLOB))):
        with open(p, encoding="utf-8", errors="replace") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Origin", "Suite", "Codename", "Version", "Date") and k not in release:
                    release[k] = v.strip()
                if not line.strip() and release:   # end of the Release fields (after the PGP armour)
                    break
    stats = {"packages": 0, "dropped_transitional_or_dummy": 0, "dropped_short_long_description": 0,
             "dropped_duplicate_first_paragraph": 0, "synopsis_verbatim_in_description (kept as distractors, never queries)": 0}
    entries = {}
    for block in text.split("\n\n"):
        pkg, syn, body = None, None, []
        in_desc = False
        for line in block.split("\n"):
            if line.startswith("Package:"):
                pkg = line.split(":", 1)[1].strip()
                in_desc = False
            elif line.startswith("Description-en:"):
                syn = line.split(":", 1)[1].strip()
                in_desc = True
            elif in_desc and line.startswith(" "):
                body.append("" if line.strip() == "." else line[1:].rstrip())
            else:
                in_desc = False
        if not pkg or syn is None:
            continue
        stats["packages"] += 1
        long_desc = "\n".join(body).strip()
        long_desc = re.sub(r"\n{3,}", "\n\n", long_desc)
        if DEB_DROP_SYNOPSIS.search(syn):
            stats["dropped_transitional_or_dummy"] += 1
            continue
        if len(long_desc.split()) < DEB_MIN_DOC_WORDS:
            stats["dropped_short_long_description"] += 1
            continue
        entries[pkg] = (syn, long_desc)
    # Templates: descriptions generated from a pattern with only the package's own name
    # filled in (debcargo's "This package contains the source for the Rust X crate",
    # "... images of the Debian Installer for the X architecture") cannot answer a query
    # except through the name; drop a description when, with the words that occur in the
    # package name and every number masked, it is shared by DEB_TEMPLATE_MIN packages.
    masked = {p: template_key(p, entries[p][1]) for p in entries}
    tcount = {}
    for m in masked.values():
        tcount[m] = tcount.get(m, 0) + 1
    for p in sorted(entries):
        if tcount[masked[p]] >= DEB_TEMPLATE_MIN:
            del entries[p]
            stats["dropped_templated_description"] = stats.get("dropped_templated_description", 0) + 1
    # Near-duplicates: siblings (-dev, -doc, -dbg, data packages, library sonames) share the
    # first paragraph of the long description; keep one package per first paragraph.
    groups = {}
    for pkg in sorted(entries):
        first = norm(entries[pkg][1].split("\n\n")[0])
        groups.setdefault(first, []).append(pkg)
    pool = []
    for members in groups.values():
        members.sort(key=lambda p: (len(p), p))
        pool.append(members[0])
        stats["dropped_duplicate_first_paragraph"] += len(members) - 1
    pool.sort()
    stats["pool_after_dedupe"] = len(pool)
    rng = random.Random(SEED)
    corpus_ids = sorted(rng.sample(pool, min(n_docs, len(pool))))
    corpus = {p: (p, entries[p][1]) for p in corpus_ids}
    syn_of = {p: entries[p][0] for p in corpus_ids}
    eligible = {}
    for p in corpus_ids:
        verbatim = norm(syn_of[p]) in norm(entries[p][1])
        stats["synopsis_verbatim_in_description (kept as distractors, never queries)"] += verbatim
        eligible[p] = not verbatim and len(syn_of[p].split()) >= DEB_MIN_QUERY_WORDS
    queries, qrels = make_queries(corpus_ids, syn_of, eligible, n_queries, rng)
    meta = {
        "description": "Debian 12 package descriptions: query = one-line synopsis, relevant doc = the "
                       "package's long description (title = package name).",
        "source": {"apt_list": os.path.basename(src), "apt_list_text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                   "release": release, "license": "package descriptions are part of each package's debian/control; "
                                                  "distributed by Debian under the packages' own (DFSG-free) licences"},
        "params": {"docs": n_docs, "queries": n_queries, "min_doc_words": DEB_MIN_DOC_WORDS,
                   "template_min_packages": DEB_TEMPLATE_MIN,
                   "min_query_words": DEB_MIN_QUERY_WORDS, "drop_synopsis_regex": DEB_DROP_SYNOPSIS.pattern},
        "filter_stats": stats,
    }
    return write_beir(outdir, "debian-packages", corpus, queries, qrels, meta)


# ------------------------------------------------------------------------------------------------
def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg], capture_output=True, text=True)
    if r.returncode != 0 or "install ok installed" not in r.stdout:
        return None
    return r.stdout.split("\t", 1)[1]


def package_files(pkg):
    return subprocess.run(["dpkg", "-L", pkg], check=True, capture_output=True, text=True).stdout.splitlines()


def render_man(path):
    """(rendered text or None, reason)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    for line in raw.split(b"\n"):
        s = line.strip()
        if not s or s.startswith((b'.\\"', b"'\\\"", b'.\\#')):
            continue
        if s.startswith(b".so "):
            return None, "alias (.so)"
        break
    r = subprocess.run(GROFF, input=raw, capture_output=True)
    if r.returncode != 0:
        return None, "groff failed"
    return r.stdout.decode("utf-8", errors="replace"), None


def parse_man(rendered):
    """(name description, body text) of a rendered page, or (None, reason)."""
    lines = [l.rstrip() for l in rendered.replace("\r", "").split("\n")]
    nonempty = [i for i, l in enumerate(lines) if l.strip()]
    if len(nonempty) < 3:
        return None, "empty"
    lines = lines[nonempty[0] + 1:nonempty[-1]]   # page header and footer lines
    sections, cur = [], None
    for l in lines:
        if l and not l[0].isspace():
            cur = [l.strip(), []]
            sections.append(cur)
        elif cur is not None:
            cur[1].append(l.strip())
    name_idx = next((i for i, s in enumerate(sections) if s[0].upper() in ("NAME", "NOM", "NAMN")), None)
    if name_idx is None:
        return None, "no NAME section"
    name_line = " ".join(x for x in sections[name_idx][1] if x)
    m = NAME_SEP.search(name_line)
    if not m:
        return None, "NAME without ' - '"
    desc = name_line[m.end():].strip()
    body = []
    for i, (head, content) in enumerate(sections):
        if i == name_idx:
            continue
        body.append(head)
        body.extend(content)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(body)).strip()
    return (desc, text), None


def cap_words(text, n):
    out, count = [], 0
    for line in text.split("\n"):
        w = line.split()
        if count + len(w) > n:
            out.append(" ".join(w[: n - count]))
            break
        out.append(line)
        count += len(w)
    return "\n".join(out).strip()


def build_manpages(outdir, jobs, n_queries=MAN_QUERIES):
    versions, missing = {}, []
    for p in MAN_PACKAGES:
        v = package_version(p)
        if v is None:
            missing.append(p)
        versions[p] = v
    if missing:
        sys.exit("make_datasets: Debian packages missing for the manpages dataset: " + " ".join(missing) +
                 "\n  apt-get install --no-install-recommends " + " ".join(missing))
    files = []
    for p in MAN_PACKAGES:
        for f in package_files(p):
            m = MAN_FILE.match(f)
            if m and os.path.isfile(f) and not os.path.islink(f):
                files.append((p, f, m.group(1), m.group(2)))
    files.sort(key=lambda x: x[1])
    stats = {"man_files": len(files)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        rendered = list(ex.map(lambda x: render_man(x[1]), files))
    corpus, desc_of, eligible, pkg_of = {}, {}, {}, {}
    for (pkg, path, name, sec), (out, why) in zip(files, rendered):
        if out is None:
            stats["dropped: " + why] = stats.get("dropped: " + why, 0) + 1
            continue
        parsed, why = parse_man(out)
        if parsed is None:
            stats["dropped: " + why] = stats.get("dropped: " + why, 0) + 1
            continue
        desc, text = parsed
        full_words = len(text.split())
        if full_words < MAN_MIN_DOC_WORDS:
            stats["dropped: body under %d words" % MAN_MIN_DOC_WORDS] = stats.get("dropped: body under %d words" % MAN_MIN_DOC_WORDS, 0) + 1
            continue
        if full_words > MAN_MAX_DOC_WORDS:
            stats["capped at %d words" % MAN_MAX_DOC_WORDS] = stats.get("capped at %d words" % MAN_MAX_DOC_WORDS, 0) + 1
            text = cap_words(text, MAN_MAX_DOC_WORDS)
        did = f"{name}.{sec}"
        corpus[did] = (f"{name}({sec})", text)
        desc_of[did] = desc
        pkg_of[did] = pkg
        verbatim = norm(desc) in norm(text)
        stats["description verbatim in body (kept, never a query)"] = stats.get("description verbatim in body (kept, never a query)", 0) + verbatim
        eligible[did] = not verbatim and len(desc.split()) >= MAN_MIN_QUERY_WORDS
    rng = random.Random(SEED)
    queries, qrels = make_queries(list(corpus), desc_of, eligible, n_queries, rng)
    per_pkg = {}
    for did in corpus:
        per_pkg[pkg_of[did]] = per_pkg.get(pkg_of[did], 0) + 1
    qpkg = {}
    for qid in queries:
        p = pkg_of[qid[2:]]
        qpkg[p] = qpkg.get(p, 0) + 1
    meta = {
        "description": "Manual pages of Debian 12 packages: query = the NAME line's description, relevant doc = "
                       "the rest of the page rendered as text (NAME section removed; title = name(section)).",
        "source": {"packages": versions, "renderer": " ".join(GROFF),
                   "groff_version": subprocess.run(["groff", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
                   "license": "each page under its package's licence (see /usr/share/doc/PACKAGE/copyright): "
                              "man-pages: mostly 'verbatim' permissive and GPL; perl-doc: Artistic/GPL; "
                              "coreutils/util-linux/git: GPL; systemd: LGPL-2.1+; openssl: Apache-2.0"},
        "params": {"queries": n_queries, "max_doc_words": MAN_MAX_DOC_WORDS, "min_doc_words": MAN_MIN_DOC_WORDS,
                   "min_query_words": MAN_MIN_QUERY_WORDS},
        "filter_stats": stats, "docs_per_package": dict(sorted(per_pkg.items())),
        "queries_per_package": dict(sorted(qpkg.items())),
    }
    return write_beir(outdir, "manpages", corpus, queries, qrels, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "data", "eval"))
    ap.add_argument("--only", default="debian-packages,manpages")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel groff processes")
    args = ap.parse_args()
    for name in args.only.split(","):
        t0 = time.time()
        if name == "debian-packages":
            meta = build_debian_packages(args.out)
        elif name == "manpages":
            meta = build_manpages(args.out, args.jobs)
        else:
            sys.exit(f"unknown dataset {name}")
        print(f"{name}: {json.dumps(meta['counts'])} in {time.time() - t0:.1f}s -> {os.path.join(args.out, name)}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
