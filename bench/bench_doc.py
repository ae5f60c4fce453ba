"""Writes one benchmark section into docs/BENCHMARKS.md.

Each harness owns the text between its own markers (<!-- NAME:begin --> ...
<!-- NAME:end -->) and rewrites only that; a section not there yet is appended.
"""
import os
import sys

HEADER = ("# Benchmarks\n\nHow ragline performs, measured by the harnesses in `bench/` "
          "(see bench/README.md to reproduce).\n")


def markers(name):
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def splice_section(path, name, section):
    """Replaces NAME's section of the Markdown file at `path` with `section`
    (which starts with the begin marker and ends with the end marker)."""
    begin, end = markers(name)
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if begin in old and end in old:
        new = old[:old.index(begin)] + section.rstrip("\n") + old[old.index(end) + len(end):]
    else:
        new = (old or HEADER).rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(new)
    print(f"updated {path}", file=sys.stderr)
