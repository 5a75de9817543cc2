#!/usr/bin/env python3
"""Builds a labeled search query set over the shared Wikipedia films, semi-automatically and
deterministically (seed 19): tests/fixtures/search/generated-queries.json, schema of
tests/fixtures/search/queries.json plus `split` (train 60 % / dev 20 % / test 20 %, by a hash of
the query). Kinds:

  plot           a bag of the article's rarest plot words in a person's framing ("movie about …"),
                 never 4 consecutive words of the article (checked), no names, no title words
  title_partial  a 3+-word title with small words dropped and the rest reordered
  title_typo     a title with one typo (deletion, transposition or doubled letter)
  people         "films with <actor> from the <decade>s" (every such film is relevant; 2–6 of them)
  genre_era      "<genre> films from <year>" narrowed by an actor (2–6 relevant)
  title_series   a film of a numbered series as people type it: a sequel as name + arabic number
                 ("godfather 3" for The Godfather Part III, "star trek 2" for Star Trek II: The Wrath
                 of Khan; not where that is the title itself), and the first film by its own title
                 ("the godfather": not Part II); 150 of each at most
  title_shared   a title several films share, typed as is ("scarface", "the maltese falcon"): the
                 film meant is the one far better known, read off IMDb's 2005 vote counts (R's
                 ggplot2 `movies`, fetched from PyPI by scripts/provider_ratings.py): ≥ 1,000 votes
                 and ≥ 3× the next; only where every film of that title is from 2004 or before
                 (the counts could not know a later one); 150 at most
  director       "films directed by <name> from the <decade>s" or "<name> movies from the <decade>s":
                 every film whose lead says "directed by <name>" in that decade (2–6 of them, one
                 well known); the name read by a regular expression here, not by the product
  surname        the director kind's films asked for by surname alone ("Kubrick movies from the
                 1960s", "kubrick films from the 1960s"), where no other person in the data (cast
                 or director) has that surname; 60 at most

    python3 scripts/make_search_queries.py [--data ../shared/data/wikipedia-movies] [--out …]
"""
import argparse
import glob
import hashlib
import json
import math
import os
import random
import re
from collections import Counter, defaultdict

STOP = set("""a an the and or of to in on at for with by from as is was were be been being that this
these those it its into after before while during over under about against between through than then
there their they them he she his her him who whom which what when where why how not no but also film
films movie movies american british directed written produced starring stars star based novel
story year years one two three first second new later time life world own only after other more most
some such many much can will would could should may might has have had do does did up out off all
any each both few us s t""".split())
WORD = re.compile(r"[a-z][a-z'-]+")
# The first director a lead names: "directed by D. W. Griffith", "written and directed by Jan de Bont".
DIRECTED = re.compile(
    r"[Dd]irected(?:,? (?:and )?[a-z-]+)*?,? by ((?:[A-Z]\. ?)*[A-Z][\w'-]+(?: (?:[A-Z]\. ?)*(?:(?:de|van|von|del|di|da|le|la) )?[A-Z][\w'-]+)+)")


def tokens(text):
    return WORD.findall(text.lower())


def load(data):
    films = []
    for f in sorted(glob.glob(os.path.join(data, "movies-*.json"))):
        films.extend(json.load(open(f)))
    seen, out = set(), []
    for m in films:
        key = (m.get("title"), m.get("year"))
        if not m.get("title") or not m.get("year") or key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out


def known(m):
    return len(m.get("extract") or "") > 700 and len(m.get("cast") or []) >= 3


def works(films):
    """(title, year) of an edition record → (title, year) of the work the catalog holds."""
    by_href = defaultdict(list)
    for m in films:
        if m.get("href"):
            by_href[m["href"]].append(m)
    out = {}
    for ms in by_href.values():
        first = min(ms, key=lambda m: m["year"])
        held = tokens(first["title"])
        for m in ms:
            t = tokens(m["title"])
            later = m["year"] > first["year"]
            if later and (m["year"] > first["year"] + 1 or (len(t) > len(held) and t[: len(held)] == held)):
                out[(m["title"], m["year"])] = (first["title"], first["year"])
    return out


def split_of(query):
    h = int(hashlib.sha256(query.encode()).hexdigest()[:8], 16) % 10
    return "train" if h < 6 else "dev" if h < 8 else "test"


def four_grams(text):
    t = tokens(text)
    return {tuple(t[i:i + 4]) for i in range(len(t) - 3)}


def plot_query(m, df, n_docs, rng):
    extract = m["extract"]
    sentences = re.split(r"(?<=[.!?])\s+", extract)
    # Plot sentences only: not the lead ("X is a 1996 American film…") nor release and reception.
    meta = re.compile(r"direct|star|premiere|release|gross|box office|critic|review|nominat|award|budget|sequel|installment|franchise|universe|produc|distribut|festival|filming|shot in|remake|adaptation|based on", re.I)
    plot = " ".join(x for x in sentences[1:] if not meta.search(x))
    if len(tokens(plot)) < 12:
        return None
    title_words = set(tokens(m["title"]))
    names = {w.lower() for w in re.findall(r"\b[A-Z][a-z]+", plot)}
    cands = []
    for w in set(tokens(plot)):
        if w in STOP or w in title_words or w in names or len(w) < 4 or not 8 <= df[w] <= 3000:
            continue
        cands.append((math.log(n_docs / df[w]), w))
    cands.sort(reverse=True)
    words = [w for _, w in cands[:8]]
    if len(words) < 4:
        return None
    rng.shuffle(words)
    words = words[:rng.choice([4, 5])]
    frame = rng.choice(["movie about {}", "film where {}", "that movie with {}", "{} movie"])
    q = frame.format(" ".join(words[:-1]) + " and " + words[-1] if " about" in frame or "where" in frame else " ".join(words))
    grams = four_grams(extract + " " + m["title"])
    if four_grams(q) & grams:
        return None
    return q


def typo(word, rng):
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "swap", "double"])
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]


ROMAN = {"ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8}
SEQUEL = re.compile(r"^(.*?)[\s:,]+(?:part\s+|chapter\s+)?(ii|iii|iv|v|vi|vii|viii|[2-9])(?:$|:| -)", re.I)


def bare(title):
    return re.sub(r"^the\s+", "", title.lower()).strip()


def sequel_queries(films, title_count):
    """Numbered sequels whose first film (same name, earlier year) is in the catalog, as
    (film, "name n") where that is not just the title without its article; and those first films,
    as (film, its title in lower case), each once."""
    by_name = defaultdict(list)
    for m in films:
        by_name[bare(m["title"])].append(m)
    sequels, firsts = [], {}
    for m in films:
        hit = SEQUEL.match(m["title"])
        if not hit or title_count[m["title"].lower()] > 1:
            continue
        base = bare(hit.group(1).strip(" :,-"))
        number = ROMAN.get(hit.group(2).lower()) or int(hit.group(2))
        earlier = sorted((f for f in by_name.get(base, []) if f["year"] < m["year"]), key=lambda f: f["year"])
        if not earlier:
            continue
        query = f"{base} {number}"
        if query != bare(m["title"]):
            sequels.append((m, query))
        first = earlier[0]
        if title_count[first["title"].lower()] == 1:
            firsts[(first["title"], first["year"])] = (first, first["title"].lower())
    return sequels, list(firsts.values())


def shared_title_queries(films):
    """(the film meant, its title in lower case) for titles several films share, where IMDb's 2005
    vote counts name one far better known than the rest."""
    from provider_ratings import key, movies_csv
    import csv
    import io

    votes = {}
    for row in csv.DictReader(io.StringIO(movies_csv())):
        if row["votes"].isdigit():
            votes[(key(row["title"]), int(row["year"]))] = int(row["votes"])
    groups = defaultdict(list)
    for m in films:
        groups[key(m["title"])].append(m)
    out = []
    for k, ms in sorted(groups.items()):
        if len({m["year"] for m in ms}) < 2 or any(m["year"] > 2004 for m in ms):
            continue
        counted = [(votes.get((k, m["year"])), m) for m in ms]
        if any(v is None for v, _ in counted):
            continue
        counted.sort(key=lambda x: -x[0])
        (top, film), (second, _) = counted[0], counted[1]
        if top >= 1000 and top >= 3 * max(1, second):
            out.append((film, film["title"].lower()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/wikipedia-movies")
    ap.add_argument("--out", default="tests/fixtures/search/generated-queries.json")
    a = ap.parse_args()
    rng = random.Random(19)
    films = load(a.data)
    famous = [m for m in films if known(m)]
    df = Counter()
    for m in films:
        df.update(set(tokens(m.get("extract") or "")))
    n_docs = len(films)
    title_count = Counter(m["title"].lower() for m in films)
    out, used = [], set()

    def add(kind, query, relevant):
        query = " ".join(query.split())
        if query in used or not relevant:
            return False
        used.add(query)
        out.append({"kind": kind, "query": query, "relevant": [[t, y] for t, y in relevant], "split": split_of(query)})
        return True

    rng.shuffle(famous)
    # plot descriptions
    n = 0
    for m in famous:
        if n >= 240:
            break
        q = plot_query(m, df, n_docs, rng)
        if q and add("plot", q, [(m["title"], m["year"])]):
            n += 1
    # titles with words dropped / reordered, and typos (unique titles only)
    n = 0
    for m in famous:
        if n >= 110:
            break
        words = m["title"].split()
        if len(words) < 3 or title_count[m["title"].lower()] > 1:
            continue
        keep = [w for w in words if w.lower().strip(":,") not in {"the", "of", "a", "an", "and", "in", "on", "to"}]
        if len(keep) < 2 or len(keep) == len(words) and len(keep) < 4:
            continue
        if len(keep) >= 4:
            keep.pop(rng.randrange(len(keep)))
        rng.shuffle(keep)
        if add("title_partial", " ".join(keep).lower().strip(":,."), [(m["title"], m["year"])]):
            n += 1
    n = 0
    for m in famous:
        if n >= 90:
            break
        words = m["title"].split()
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if not long or title_count[m["title"].lower()] > 1:
            continue
        i = rng.choice(long)
        words[i] = typo(words[i].lower(), rng)
        if add("title_typo", " ".join(words).lower(), [(m["title"], m["year"])]):
            n += 1
    # people, and genre + era narrowed by a person
    by_actor_decade = defaultdict(list)
    by_actor_genre_year = defaultdict(list)
    for m in films:
        for actor in (m.get("cast") or [])[:4]:
            by_actor_decade[(actor, m["year"] // 10 * 10)].append(m)
            for g in m.get("genres") or []:
                by_actor_genre_year[(actor, g.lower(), m["year"] // 10 * 10)].append(m)
    people = [(k, v) for k, v in by_actor_decade.items() if 2 <= len(v) <= 6 and any(known(m) for m in v)]
    rng.shuffle(people)
    n = 0
    for (actor, decade), ms in people:
        if n >= 60:
            break
        if add("people", f"films with {actor} from the {decade}s", [(m["title"], m["year"]) for m in ms]):
            n += 1
    era = [(k, v) for k, v in by_actor_genre_year.items() if 2 <= len(v) <= 6 and any(known(m) for m in v)]
    rng.shuffle(era)
    n = 0
    for (actor, genre, decade), ms in era:
        if n >= 50:
            break
        if add("genre_era", f"{actor} {genre} movies {decade}s", [(m["title"], m["year"]) for m in ms]):
            n += 1
    # numbered series (drawn last, so the kinds above keep their queries)
    sequels, firsts = sequel_queries(films, title_count)
    for m, q in rng.sample(sequels, min(150, len(sequels))) + rng.sample(firsts, min(150, len(firsts))):
        add("title_series", q, [(m["title"], m["year"])])
    # titles several films share (drawn last, so the kinds above keep their queries)
    shared = shared_title_queries(films)
    for m, q in rng.sample(shared, min(150, len(shared))):
        add("title_shared", q, [(m["title"], m["year"])])
    # directors (drawn last, so the kinds above keep their queries)
    by_director_decade = defaultdict(list)
    for m in films:
        d = DIRECTED.search(m.get("extract") or "")
        if d:
            by_director_decade[(d.group(1), m["year"] // 10 * 10)].append(m)
    directed = [(k, v) for k, v in by_director_decade.items() if 2 <= len(v) <= 6 and any(known(m) for m in v)]
    rng.shuffle(directed)
    n = 0
    for (name, decade), ms in directed:
        if n >= 60:
            break
        q = f"films directed by {name} from the {decade}s" if n % 2 else f"{name} movies from the {decade}s"
        if add("director", q, [(m["title"], m["year"]) for m in ms]):
            n += 1
    # a director asked for by surname alone (drawn last, so the kinds above keep their queries):
    # only surnames no other person in the data (cast or director) has, so the label is the
    # whole answer
    surnamed = defaultdict(set)
    for m in films:
        d = DIRECTED.search(m.get("extract") or "")
        for p in (m.get("cast") or []) + ([d.group(1)] if d else []):
            parts = p.split()
            if len(parts) >= 2:
                surnamed[parts[-1].lower()].add(p)
    alone = [(name, decade, ms) for (name, decade), ms in by_director_decade.items()
             if 2 <= len(ms) <= 6 and any(known(m) for m in ms)
             and (last := name.split()[-1]).isalpha() and len(last) >= 4
             and last.lower() not in STOP and len(surnamed[last.lower()]) == 1]
    alone.sort(key=lambda x: (x[0], x[1]))
    rng.shuffle(alone)
    n = 0
    for name, decade, ms in alone:
        if n >= 60:
            break
        last = name.split()[-1]
        q = f"{last.lower()} films from the {decade}s" if n % 2 else f"{last} movies from the {decade}s"
        if add("surname", q, [(m["title"], m["year"]) for m in ms]):
            n += 1
    # A record that is an edition of another's work (same article, later year, and either its
    # title extended — "Avatar: Special Edition" — or listed more than a year later — "Finding
    # Nemo 3D") is that film in the catalog (domain/src/title.rs keeps the work's name and
    # date): the label is the work.
    work = works(films)
    for q in out:
        q["relevant"] = [list(work.get((t, y), (t, y))) for t, y in q["relevant"]]
    out.sort(key=lambda q: (q["kind"], q["query"]))
    with open(a.out, "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(q, ensure_ascii=False) for q in out) + "\n]\n")
    c = Counter((q["kind"], q["split"]) for q in out)
    print(f"{len(out)} queries →", a.out)
    for k in sorted({q["kind"] for q in out}):
        print(f"  {k}: " + ", ".join(f"{s} {c[(k, s)]}" for s in ("train", "dev", "test")))


if __name__ == "__main__":
    main()
