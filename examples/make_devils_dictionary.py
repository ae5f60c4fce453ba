#!/usr/bin/env python3
"""Builds examples/corpus/devils-dictionary/ from Debian's dict-devil package.

Ambrose Bierce's "The Devil's Dictionary" (1881-1906) is in the public domain
(the package's copyright file: "A Public Domain Text, Copyright Expired"). The
entries are split by initial letter into Markdown files, one "## WORD, n."
section per entry, so ingestion keeps the heading path; the preface is plain
text. Needs only the standard library and apt-get (no root: `apt-get download`).

  python3 examples/make_devils_dictionary.py [--out examples/corpus/devils-dictionary]
"""
import argparse
import base64
import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "corpus", "devils-dictionary"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "dict-devil"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        deb = glob.glob(os.path.join(tmp, "dict-devil_*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
        base = os.path.join(tmp, "x", "usr", "share", "dictd")
        text = gzip.open(os.path.join(base, "devil.dict.dz")).read()
        index = open(os.path.join(base, "devil.index"), encoding="utf-8").read().splitlines()
        version = os.path.basename(deb)
    entries = []  # (headword line, body)
    preface = None
    for line in index:
        word, off, length = line.split("\t")
        body = text[dictd_number(off):dictd_number(off) + dictd_number(length)].decode("utf-8").strip("\n")
        if word == "00databaseinfo":
            start = body.find("PREFACE")
            preface = body[start:].strip() if start >= 0 else None
        if word.startswith("00database"):
            continue
        first, _, rest = body.partition("\n")
        m = re.match(r"^([A-Z][^,]*,\s*[a-z. &]+)\s+(.*)$", first)
        head, first_text = (m.group(1), m.group(2)) if m else (first.strip(), "")
        entries.append((head.strip(), (first_text + "\n" + rest).strip()))
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    by_letter = {}
    for head, body in entries:
        by_letter.setdefault(head[0].upper(), []).append((head, body))
    for letter, items in sorted(by_letter.items()):
        with open(os.path.join(args.out, f"{letter.lower()}.md"), "w", encoding="utf-8") as f:
            f.write(f"# The Devil's Dictionary: {letter}\n")
            for head, body in items:
                # Verse and attributions are indented in the source: keep them as they are.
                f.write(f"\n## {head}\n\n{body}\n")
    if preface:
        with open(os.path.join(args.out, "preface.txt"), "w", encoding="utf-8") as f:
            f.write("The Devil's Dictionary, by Ambrose Bierce\n\n" + preface + "\n")
    # Beside the corpus, not in it: every text file in the folder is ingested.
    with open(os.path.join(os.path.dirname(os.path.abspath(args.out)), "SOURCE-devils-dictionary"), "w",
              encoding="utf-8") as f:
        f.write(f"Ambrose Bierce, The Devil's Dictionary (1881-1906): public domain.\n"
                f"Made by examples/make_devils_dictionary.py from Debian's {version}.\n")
    print(f"{len(entries)} entries in {len(by_letter)} files under {args.out}")


if __name__ == "__main__":
    main()
