#!/usr/bin/env python3
"""Turns the hand-written queries of tests/fixtures/search/described.txt (kind | query | title |
year; one line per relevant title) into tests/fixtures/search/described-queries.json, the schema of
queries.json plus `split` (train 50 % / dev 25 % / test 25 % by a hash of the query). Checks that
every target is in the shared dataset and that no query shares 4 consecutive words with its
target's article (title words excepted); fails otherwise.

    python3 scripts/make_described_queries.py [--data ../shared/data/wikipedia-movies]
"""
import argparse
import hashlib
import json
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
from make_search_queries import four_grams, load, tokens  # noqa: E402

SRC = "tests/fixtures/search/described.txt"
OUT = "tests/fixtures/search/described-queries.json"


def split_of(query):
    h = int(hashlib.sha256(("described:" + query).encode()).hexdigest(), 16) % 4
    return "train" if h < 2 else "dev" if h == 2 else "test"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/wikipedia-movies")
    a = ap.parse_args()
    films = {(m["title"].lower(), int(m["year"])): m for m in load(a.data)}
    entries, problems = {}, []
    for n, line in enumerate(open(SRC), 1):
        if line.startswith("#") or not line.strip():
            continue
        kind, query, title, year = (p.strip() for p in line.split("|"))
        m = films.get((title.lower(), int(year)))
        if m is None:
            problems.append(f"line {n}: {title} ({year}) is not in the dataset")
            continue
        shared = four_grams(query) & four_grams(m.get("extract") or "")
        shared = [g for g in shared if not set(g) <= set(tokens(title))]
        if shared:
            problems.append(f"line {n}: shares {' '.join(shared[0])!r} with the article")
        e = entries.setdefault(query, {"kind": kind, "query": query, "relevant": [], "split": split_of(query)})
        e["relevant"].append([m["title"], int(m["year"])])
    if problems:
        sys.exit("\n".join(problems))
    out = list(entries.values())
    with open(OUT, "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(q, ensure_ascii=False) for q in out) + "\n]\n")
    c = Counter((q["kind"], q["split"]) for q in out)
    print(f"{len(out)} queries → {OUT}")
    for k in sorted({q["kind"] for q in out}):
        print(f"  {k}: " + ", ".join(f"{s} {c[(k, s)]}" for s in ("train", "dev", "test")))


if __name__ == "__main__":
    main()
