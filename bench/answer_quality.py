#!/usr/bin/env python3
"""Answer quality of `ragline query` without an LLM (the extractive answer a
newcomer sees), on questions with known answers and questions the corpus
cannot answer, over the bundled Devil's Dictionary and two real Debian
documentation folders (libffi's texinfo HTML; bzip2's HTML, PDF, texinfo and
changelogs, mostly .gz). Run it with two binaries to compare them (issue 18's
before/after):

  python3 bench/answer_quality.py BEFORE/ragline build/release/ragline

Per binary: every folder is ingested with `ragline ingest DIR --data D
--create` into its own collection, then each question of
bench/answer_quality.jsonl is asked with `ragline query Q --data D --json`.
Scored per question:
  - answerable: the expected document is cited (or one of its `also`
    copies), the expected phrase is in the answer (case and whitespace
    ignored), the answer holds no navigation bar ("Next:", "Previous:",
    "Up:"), and how many of its sentences are fragments (start in lower case);
  - unanswerable: nothing is cited.
Needs the Debian packages libffi8 and bzip2-doc (their /usr/share/doc).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPORA = {
    "devils": os.path.join(ROOT, "examples/corpus/devils-dictionary"),
    "libffi": "/usr/share/doc/libffi8",
    "bzip2": "/usr/share/doc/bzip2",
}


def norm(s):
    return re.sub(r"\s+", " ", s).lower()


def run(binary, data):
    ingested = {}
    for name, path in CORPORA.items():
        p = subprocess.run([binary, "ingest", path, "--data", data, "--collection", name, "--create"],
                           capture_output=True, text=True)
        report = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
        ingested[name] = (report.get("documents_added", 0), report.get("documents_failed", 0),
                          report.get("files_skipped", "n/a"))
    rows = []
    with open(os.path.join(ROOT, "bench/answer_quality.jsonl")) as f:
        questions = [json.loads(line) for line in f if line.strip()]
    for q in questions:
        p = subprocess.run([binary, "query", q["question"], "--data", data, "--collection", q["collection"],
                            "--json"], capture_output=True, text=True)
        out = json.loads(p.stdout) if p.stdout.strip() else {"answer": "", "citations": []}
        answer = out.get("answer") or ""
        cited = [c.get("doc_id") for c in out.get("citations", [])]
        row = {"q": q["question"], "answer": answer, "cited": cited}
        if q["doc"] is None:
            row["ok"] = not cited
        else:
            docs = [q["doc"]] + q.get("also", [])
            row["cites_doc"] = any(d in docs for d in cited)
            row["phrase"] = norm(q["expect"]) in norm(answer)
            row["ok"] = row["cites_doc"] and row["phrase"]
        row["navigation"] = bool(re.search(r"\b(Next|Previous|Up): ", answer))
        sentences = [s for s in re.split(r"\s*\[\d+\]\s*", answer) if s]
        row["fragments"] = sum(1 for s in sentences if s[0].islower() or s[0] in ",;:)")
        rows.append(row)
    return ingested, rows


def main():
    binaries = sys.argv[1:]
    if not binaries:
        sys.exit("usage: answer_quality.py RAGLINE [RAGLINE ...]")
    results = []
    for b in binaries:
        with tempfile.TemporaryDirectory() as data:
            results.append(run(os.path.abspath(b), data))
    print("| question | " + " | ".join(f"binary {i + 1}" for i in range(len(binaries))) + " |")
    print("|---|" + "---|" * len(binaries))
    for i, row in enumerate(results[0][1]):
        cells = []
        for _, rows in results:
            r = rows[i]
            mark = "ok" if r["ok"] else "miss"
            extra = []
            if "cites_doc" in r and not r["ok"]:
                extra.append("doc" if not r["cites_doc"] else "phrase")
            if r["navigation"]:
                extra.append("nav")
            if r["fragments"]:
                extra.append(f"{r['fragments']} frag")
            cells.append(mark + (f" ({', '.join(extra)})" if extra else ""))
        print(f"| {row['q']} | " + " | ".join(cells) + " |")
    print()
    for n, (ingested, rows) in enumerate(results):
        answerable = [r for r in rows if "cites_doc" in r]
        unanswerable = [r for r in rows if "cites_doc" not in r]
        print(f"binary {n + 1} ({binaries[n]}): answerable right {sum(r['ok'] for r in answerable)}/{len(answerable)}, "
              f"cited the right document {sum(r['cites_doc'] for r in answerable)}/{len(answerable)}, "
              f"unanswerable declined {sum(r['ok'] for r in unanswerable)}/{len(unanswerable)}, "
              f"answers with a navigation bar {sum(r['navigation'] for r in rows)}, "
              f"fragment sentences {sum(r['fragments'] for r in rows)}; "
              f"ingested (added, failed, skipped) {ingested}")
    if os.environ.get("VERBOSE"):
        for n, (_, rows) in enumerate(results):
            for r in rows:
                print(n + 1, json.dumps(r)[:400])


if __name__ == "__main__":
    main()
