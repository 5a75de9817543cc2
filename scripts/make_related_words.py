#!/usr/bin/env python3
"""Writes config/related-words.txt: for each whole word of the embedding model's vocabulary, the
words whose vectors lie nearest in the distilled token table (ADR 0012), so the keyword channel
can also look for "prison" when a person types "jailed" (ADR 0020, seventh-pass addendum).

Reads the table the API writes beside the model on its first start
(`.mediagw/models/minilm/distilled-tokens.f32`, [own output | special-token mean] × 384 per token)
and the model's tokenizer.json. Needs numpy.

    python3 scripts/make_related_words.py [--model-dir .mediagw/models/minilm] [--k 5]
"""
import argparse
import json
import re

import numpy as np

OUT = "config/related-words.txt"
DIM = 384
# The keyword channel's stop words (domain/src/search/text.rs): never expanded, never added.
STOP = set(
    "a about an and any are as at be but by can cant for from has have he her him his how i in into is it"
    " its me my no not of on one or our she so some that the their them then there these they this those"
    " to up was we were what when where which while who whom why will with would you your film films"
    " movie movies".split()
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=".mediagw/models/minilm")
    ap.add_argument("--k", type=int, default=5)
    # WordPiece lists words by frequency from "the" (id 1996) on: the ~1,000 most frequent words
    # neither get nor give related words. Their postings are long (every search pays for them)
    # and they say little about a film.
    ap.add_argument("--min-id", type=int, default=3000)
    a = ap.parse_args()
    vocab = json.load(open(f"{a.model_dir}/tokenizer.json"))["model"]["vocab"]
    table = np.fromfile(f"{a.model_dir}/distilled-tokens.f32", dtype="<f4").reshape(len(vocab), 2 * DIM)
    own = table[:, :DIM]
    own = own / np.linalg.norm(own, axis=1, keepdims=True)
    # Whole lowercase words of three letters or more: WordPiece pieces ("##ing"), numbers and
    # the "[unused]" slots have no meaning of their own.
    words = sorted((i, w) for w, i in vocab.items() if re.fullmatch(r"[a-z]{3,}", w) and w not in STOP and i >= a.min_id)
    ids = np.array([i for i, _ in words])
    names = [w for _, w in words]
    m = own[ids]
    lines = []
    for start in range(0, len(ids), 2048):
        sims = m[start : start + 2048] @ m.T
        for row, s in enumerate(sims):
            w = names[start + row]
            near = []
            for j in np.argsort(-s)[: 4 * a.k]:
                x = names[j]
                # Plural and inflected forms are the stemmer's job.
                if x == w or x.startswith(w[:4]) and w.startswith(x[:4]):
                    continue
                near.append(x)
                if len(near) == a.k:
                    break
            lines.append(f"{w} {' '.join(near)}")
    with open(OUT, "w") as f:
        f.write(
            "# Related words for the keyword channel's query expansion (ADR 0020), written by\n"
            "# scripts/make_related_words.py from the distilled token table of all-MiniLM-L6-v2:\n"
            f"# a word, then its {a.k} nearest whole words by cosine (forms sharing its first four letters skipped;\n"
            f"# vocabulary ids below {a.min_id}, the most frequent words, neither listed nor added).\n"
        )
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} words → {OUT}")


if __name__ == "__main__":
    main()
