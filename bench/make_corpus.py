#!/usr/bin/env python3
"""Builds the ANN benchmark's text corpus from documentation shipped in Debian packages.

Sources (installed by bench/setup_venv.sh with apt-get; a missing one is skipped
and reported):
  linux     linux-doc-6.1         /usr/share/doc/linux-doc-6.1/Documentation/**.{rst,txt}.gz
  python    python3.11-doc        /usr/share/doc/python3.11/html/_sources/**.txt (reST)
  perl      perl-doc              /usr/share/perl/*/pod/*.pod (+ perl-doc's pods)
  postgres  postgresql-doc-15     /usr/share/doc/postgresql-doc-15/html/*.html

Each document is stripped of markup (reST directives, code blocks, tables, POD
commands, HTML tags), split into paragraphs and then sentences; a passage is one
sentence of 8..64 words (shorter sentences are merged with the next one in the
same paragraph, longer ones are cut into 64-word pieces). Passages are
NFKC-normalised, whitespace-collapsed, filtered for prose (mostly alphabetic
words), deduplicated case-insensitively, sorted, and shuffled with a fixed seed.
The first --queries passages become the query set; the rest the base set, so any
prefix of the base set is a uniform random sample (used by the scaling run).

Output (one passage per line, UTF-8):
  <out>/queries.txt, <out>/base.txt, <out>/corpus.json (counts, sources, sha256)

Deterministic: the same packages give byte-identical files.

--extend adds the passages of more packages (EXT_SOURCES: Rust, SciPy, scikit-learn,
pandas, SQLAlchemy, Sphinx, Boost, Git, Node.js, the AWS API reference in botocore's
service models, Qt 5, GLib/GTK, Octave, CMake, LLVM, SymPy, SQLite and Vim docs,
FOLDOC, the Debian Administrator's Handbook, GCIDE's 1913 Webster definitions) as <out>/base_ext.txt, deduplicated
against base and queries and shuffled among themselves, and records them under
"extension" in corpus.json. base.txt is left byte-identical, so embeddings and
ground truth made for its prefixes stay valid; rows past base.txt (used only by the
500k and 1M scaling points) come from these other sources, which makes
the large prefixes a mix of two samples rather than one uniform sample.
"""
import argparse
import glob
import gzip
import hashlib
import html
import json
import os
import random
import re
import sys
import unicodedata

MIN_WORDS = 8
MAX_WORDS = 64


def read_text(path):
    opener = gzip.open if path.endswith((".gz", ".dz")) else open  # dictzip is gzip
    with opener(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


# ---------------------------------------------------------------- markup strippers

_RST_ROLE = re.compile(r":[A-Za-z0-9_:+-]+:`([^`]*)`")
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]*>`_{1,2}")
_RST_LITERAL = re.compile(r"``([^`]*)``")
_RST_INTERP = re.compile(r"`([^`]*)`_{0,2}")
_RST_EMPH = re.compile(r"\*\*?([^*\s][^*]*?)\*\*?")
_RST_REF = re.compile(r"\[[0-9#*A-Za-z_-]*\]_|\|[A-Za-z0-9 _-]+\|")
_ADORNMENT = re.compile(r"^\s*([=\-~^\"'`#*+_.:<>])\1{3,}\s*$")
_TABLE_LINE = re.compile(r"^\s*[+|]")


def rst_paragraphs(text):
    """Yields prose paragraphs of a reST document (code/literal blocks, directives, tables dropped)."""
    paragraphs, current = [], []
    skip_indent = None  # inside a literal block or directive body: skip lines indented deeper
    prev_ends_literal = False

    def flush():
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in text.splitlines():
        line = raw.rstrip().expandtabs(8)
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                continue
            skip_indent = None
        if not stripped:
            flush()
            if prev_ends_literal:
                skip_indent = last_indent
            prev_ends_literal = False
            continue
        if stripped.startswith(".. "):  # directive, comment, target, substitution
            flush()
            skip_indent = indent
            continue
        if _ADORNMENT.match(line) or _TABLE_LINE.match(line):
            flush()
            continue
        if stripped.startswith((">>>", "...", "$ ", "# ")):
            flush()
            continue
        if stripped.startswith(("- ", "* ", "+ ")) or re.match(r"^(\d+|#|[a-z])[.)] ", stripped):
            flush()  # list items are their own paragraphs
            stripped = stripped[2:] if stripped[1] == " " else stripped.split(" ", 1)[1]
        last_indent = indent
        prev_ends_literal = stripped.endswith("::")
        if prev_ends_literal:
            stripped = stripped[:-1] if not stripped.endswith(" ::") else stripped[:-3]
        current.append(stripped)
    flush()
    out = []
    for p in paragraphs:
        p = _RST_LINK.sub(r"\1", p)
        p = _RST_ROLE.sub(r"\1", p)
        p = _RST_LITERAL.sub(r"\1", p)
        p = _RST_INTERP.sub(r"\1", p)
        p = _RST_EMPH.sub(r"\1", p)
        p = _RST_REF.sub("", p)
        out.append(p)
    return out


_POD_FMT = re.compile(r"[BCEFILSXZ]<{1,}\s*(.*?)\s*>{1,}")


def pod_paragraphs(text):
    """Yields prose paragraphs of a POD document (commands and verbatim blocks dropped)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        if not block.strip() or block.startswith(("=", " ", "\t")):
            continue
        p = " ".join(line.strip() for line in block.splitlines())
        for _ in range(3):  # nested formatting codes
            p = _POD_FMT.sub(lambda m: m.group(1).split("|")[0], p)
        out.append(p)
    return out


_HTML_DROP = re.compile(r"<(script|style|pre|code|table|div class=\"navheader\"|div class=\"navfooter\")\b.*?</\1>",
                        re.S | re.I)
_HTML_PARA = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S | re.I)
_DOCBOOK_PARA = re.compile(r"<div class=\"para\"[^>]*>(.*?)</div>", re.S | re.I)
_HTML_TAG = re.compile(r"<[^>]+>")


_JAVADOC_BLOCK = re.compile(r"<div class=\"block\">(.*?)</div>", re.S | re.I)


def javadoc_paragraphs(text):
    """Description blocks of javadoc pages (<div class="block">) plus their <p> paragraphs."""
    text = re.sub(r"<pre\b.*?</pre>", " ", text, flags=re.S | re.I)
    out = []
    for m in _JAVADOC_BLOCK.finditer(text):
        for part in re.split(r"<p>|</p>|<ul>|<li>|<ol>|<dl>|<table", m.group(1), flags=re.I):
            out.append(html.unescape(_HTML_TAG.sub("", part)))
    return out


def html_paragraphs(text, para=_HTML_PARA):
    text = re.sub(r"<pre\b.*?</pre>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<table\b.*?</table>", " ", text, flags=re.S | re.I)
    out = []
    for m in para.finditer(text):
        out.append(html.unescape(_HTML_TAG.sub("", m.group(1))))
    return out


def botocore_paragraphs(text):
    """The "documentation" strings (HTML) of a botocore service model (AWS API reference prose)."""
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "documentation" and isinstance(v, str):
                    yield from (html_paragraphs(v) if "<p>" in v else [html.unescape(_HTML_TAG.sub("", v))])
                else:
                    yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)
    yield from walk(json.loads(text))


def plain_paragraphs(text):
    """Blank-line separated paragraphs; GCIDE entry headwords and source tags dropped."""
    for para in re.split(r"\n\s*\n", text):
        para = re.sub(r"^\S+ \\[^\\]*\\,.*?\]\s*$", " ", para, count=1, flags=re.M)  # headword line
        yield re.sub(r"\[1913 Webster\]|\[[A-Z][A-Za-z]*\.?\]|--[A-Z][A-Za-z.]*", " ", para)


# ---------------------------------------------------------------- passages

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"\S+")
_ALPHA_WORD = re.compile(r"^[(\"'\[]?[A-Za-z][A-Za-z'-]*[)\"'\].,;:!?]*$")


def normalise(s):
    s = unicodedata.normalize("NFKC", s)
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    return " ".join(s.split())


def is_prose(words):
    alpha = sum(1 for w in words if _ALPHA_WORD.match(w))
    return alpha >= 0.7 * len(words) and sum(1 for w in words if w.lower() in _STOP) >= 2


_STOP = set("the a an of to in is are be and or for that this it with as on by not can if from "
            "will which when you at may should must has have all use used was".split())


def passages_of(paragraph):
    sentences = _SENTENCE_END.split(normalise(paragraph))
    pending = []
    for s in sentences:
        words = _WORD.findall(s)
        if not words:
            continue
        pending.extend(words)
        if len(pending) < MIN_WORDS:
            continue
        while len(pending) > MAX_WORDS:
            piece, pending = pending[:MAX_WORDS], pending[MAX_WORDS:]
            yield piece
        if len(pending) >= MIN_WORDS:
            yield pending
            pending = []
    if len(pending) >= MIN_WORDS:
        yield pending


SOURCES = {
    "linux": (lambda: sorted(glob.glob("/usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz", recursive=True)
                             + glob.glob("/usr/share/doc/linux-doc-6.1/Documentation/**/*.txt.gz", recursive=True)),
              rst_paragraphs),
    "python": (lambda: sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)),
               rst_paragraphs),
    "perl": (lambda: sorted(set(glob.glob("/usr/share/perl/*/pod/*.pod") + glob.glob("/usr/share/perl/*/*.pod")
                                + glob.glob("/usr/share/perl5/pod/*.pod"))), pod_paragraphs),
    "postgres": (lambda: sorted(glob.glob("/usr/share/doc/postgresql-doc-15/html/*.html")), html_paragraphs),
    "django": (lambda: sorted(glob.glob("/usr/share/doc/python-django-doc/html/**/*.html", recursive=True)),
               html_paragraphs),
    "erlang": (lambda: sorted(glob.glob("/usr/share/doc/erlang-doc/**/*.html", recursive=True)), html_paragraphs),
    "openjdk": (lambda: sorted(glob.glob("/usr/share/doc/openjdk-17-doc/api/**/*.html", recursive=True)),
                javadoc_paragraphs),
}
PACKAGES = ["linux-doc-6.1", "python3.11-doc", "perl-doc", "postgresql-doc-15", "python-django-doc", "erlang-doc",
            "openjdk-17-doc"]
DEFAULT_SOURCES = ",".join(SOURCES)


def _files(pattern, paragraphs=html_paragraphs):
    """A source: the files `pattern` globs (recursively), read with `paragraphs`."""
    return (lambda: sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)), paragraphs)


EXT_SOURCES = {
    "rust": _files("/usr/share/doc/rust-doc/html/**/*.html"),
    "scipy": _files("/usr/share/doc/python-scipy-doc/html/**/*.html"),
    "sklearn": _files("/usr/share/doc/python-sklearn-doc/html/_sources/**/*.txt", rst_paragraphs),
    "pandas": _files("/usr/share/doc/python-pandas-doc/html/_sources/**/*.txt", rst_paragraphs),
    "sqlalchemy": _files("/usr/share/doc/python-sqlalchemy-doc/html/**/*.html"),
    "sphinx": _files("/usr/share/doc/sphinx-doc/rst/**/*.rst.txt", rst_paragraphs),
    "boost": _files("/usr/share/doc/libboost1.74-doc/**/*.html"),
    "git": _files("/usr/share/doc/git-doc/*.html"),
    "nodejs": (lambda: sorted(p for p in glob.glob("/usr/share/doc/nodejs/api/*.html")
                              if not p.endswith("/all.html")), html_paragraphs),
    "botocore": _files("/usr/lib/python3/dist-packages/botocore/data/*/*/service-2.json", botocore_paragraphs),
    "qt5": _files("/usr/share/qt5/doc/**/*.html"),
    "gtk-doc": _files("/usr/share/gtk-doc/html/*/*.html"),  # GLib, GIO, GObject, GTK 3, GDK 3
    "octave": _files("/usr/share/doc/octave/**/*.html"),
    "cmake": _files("/usr/share/doc/cmake-data/html/_sources/**/*.txt", rst_paragraphs),
    "llvm": _files("/usr/share/doc/llvm-14-doc/html/_sources/**/*.txt", rst_paragraphs),
    "sympy": _files("/usr/share/doc/python-sympy-doc/html/**/*.html"),
    "sqlite": _files("/usr/share/doc/sqlite3/**/*.html"),
    "vim": _files("/usr/share/vim/vim90/doc/*.txt", plain_paragraphs),
    "foldoc": _files("/usr/share/dictd/foldoc.dict.dz", plain_paragraphs),
    "handbook": _files("/usr/share/doc/debian-handbook/html/en-US/*.html",  # Publican: <div class="para">
                       lambda text: html_paragraphs(text, _DOCBOOK_PARA)),
    "gcide": _files("/usr/share/dictd/gcide.dict.dz", plain_paragraphs),
}
EXT_PACKAGES = ["rust-doc", "python-scipy-doc", "python-sklearn-doc", "python-pandas-doc", "python-sqlalchemy-doc",
                "sphinx-doc", "libboost1.74-doc", "git-doc", "nodejs-doc", "python3-botocore", "qtbase5-doc-html",
                "libglib2.0-doc", "libgtk-3-doc", "octave-doc", "cmake-doc", "llvm-14-doc", "python-sympy-doc",
                "sqlite3-doc", "vim-runtime", "dict-foldoc", "debian-handbook", "dict-gcide"]


def collect(sources, names, seen, passages):
    """Appends the new prose passages of each named source; returns per-source counts."""
    stats = {}
    for name in names:
        files_fn, para_fn = sources[name]
        files = files_fn()
        before = len(passages)
        for path in files:
            try:
                text = read_text(path)
            except OSError as e:
                print(f"skip {path}: {e}", file=sys.stderr)
                continue
            for para in para_fn(text):
                for words in passages_of(para):
                    if not is_prose(words):
                        continue
                    p = " ".join(words)
                    key = p.lower()
                    if key in seen:
                        continue
                    seen.add(key)
                    passages.append(p)
        stats[name] = {"files": len(files), "passages": len(passages) - before}
        print(f"{name}: {len(files)} files, {len(passages) - before} passages", file=sys.stderr, flush=True)
        if not files:
            print(f"WARNING: source {name} has no files (package not installed?)", file=sys.stderr)
    return stats


def package_versions(names):
    import subprocess
    out = {}
    for pkg in names:
        try:
            out[pkg] = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                                      text=True).stdout or None
        except OSError:
            out[pkg] = None
    return out


def extend(args):
    meta_path = os.path.join(args.out, "corpus.json")
    with open(meta_path) as f:
        meta = json.load(f)
    seen = set()
    for fname in ("queries.txt", "base.txt"):
        with open(os.path.join(args.out, fname), encoding="utf-8") as f:
            seen.update(line.rstrip("\n").lower() for line in f)
    passages = []
    stats = collect(EXT_SOURCES, args.ext_sources.split(","), seen, passages)
    passages.sort()
    random.Random(args.seed).shuffle(passages)
    data = ("\n".join(passages) + "\n").encode("utf-8")
    with open(os.path.join(args.out, "base_ext.txt.tmp"), "wb") as f:
        f.write(data)
    os.replace(os.path.join(args.out, "base_ext.txt.tmp"), os.path.join(args.out, "base_ext.txt"))
    meta["extension"] = {"packages": package_versions(EXT_PACKAGES), "sources": stats, "num": len(passages),
                         "first_row": meta["num_base"], "base_ext.txt.sha256": hashlib.sha256(data).hexdigest()}
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta["extension"]), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "data", "corpus"))
    ap.add_argument("--sources", default=DEFAULT_SOURCES, help="comma-separated subset of " + ",".join(SOURCES))
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--extend", action="store_true", help="add base_ext.txt to an existing corpus (see above)")
    ap.add_argument("--ext-sources", default=",".join(EXT_SOURCES), help="comma-separated subset of "
                    + ",".join(EXT_SOURCES))
    ap.add_argument("--ext-packages", action="store_true", help="print the Debian packages --extend reads and exit")
    args = ap.parse_args()
    if args.ext_packages:
        print(" ".join(EXT_PACKAGES))
        return
    if args.extend:
        extend(args)
        return

    seen = set()
    passages = []
    stats = collect(SOURCES, args.sources.split(","), seen, passages)

    passages.sort()
    random.Random(args.seed).shuffle(passages)
    if len(passages) <= args.queries:
        sys.exit(f"only {len(passages)} passages: not enough for {args.queries} queries")
    queries, base = passages[:args.queries], passages[args.queries:]
    os.makedirs(args.out, exist_ok=True)
    meta = {"seed": args.seed, "packages": package_versions(PACKAGES), "min_words": MIN_WORDS, "max_words": MAX_WORDS, "sources": stats,
            "num_queries": len(queries), "num_base": len(base)}
    for fname, rows in (("queries.txt", queries), ("base.txt", base)):
        data = ("\n".join(rows) + "\n").encode("utf-8")
        with open(os.path.join(args.out, fname), "wb") as f:
            f.write(data)
        meta[fname + ".sha256"] = hashlib.sha256(data).hexdigest()
    lengths = sorted(len(p.split()) for p in base)
    meta["words_per_passage"] = {"min": lengths[0], "median": lengths[len(lengths) // 2], "max": lengths[-1]}
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
