#!/usr/bin/env python3
"""Reference evaluation of popularity and item-kNN baselines (numpy/scipy only).

Usage:
  python3 reco_reference.py --ratings FILE --items FILE --format movielens|movietweetings [--json]

Formats
  movielens      : ratings either u.data (user<TAB>item<TAB>rating<TAB>ts) or ratings.dat
                   (user::item::rating::ts), ratings 1-5, positive if rating >= 4.
                   items: u.item ('|'-separated, latin-1) or movies.dat ('::').
  movietweetings : ratings user::item::rating::ts, ratings 0-10, positive if rating >= 8.
                   items: movies.dat ('::', utf-8).

Protocol (exactly what is implemented)
  * Item universe = union of ids in the items file and in the ratings file. Items are indexed by
    ascending *integer* id (MovieTweetings ids are zero-padded IMDb numbers), so "ties broken by
    item id ascending" == "ties broken by item index ascending".
  * Per user: ratings sorted by timestamp, stable (ties keep original file order).
    n = #ratings, n_train = ceil(0.8 * n) (so n=1 -> 1 train / 0 test, n=2 -> 2/0, n=3 -> 3/0,
    n=4 -> 4/0, n=5 -> 4/1, n=6 -> 5/1, n=10 -> 8/2). The first n_train are train, rest test.
    ceil is computed in exact integer arithmetic: n_train = (4*n + 4) // 5.
  * Positives = set of test items with rating >= 4 (1-5 scale) / >= 8 (0-10 scale).
  * Ranking for a user: all items except the user's train items; top-K by score descending,
    ties by item index ascending.
  * Recall@20 = hits@20 / min(20, #pos); NDCG@10 = DCG@10 / IDCG with binary gains,
    DCG = sum_{rank r=1..10} hit_r / log2(r+1), IDCG = sum_{r=1..min(10,#pos)} 1/log2(r+1).
  * Averaged over users with >= 1 positive ("all") and those of them with >= 5 train ratings
    ("min_train_5").
  * Popularity: score(i) = number of train rows (all users, any rating value) with item i.
  * Item-kNN: X = binary user x item train matrix (any rating -> 1).
    sim(i,j) = |U_i & U_j| / sqrt(|U_i| |U_j|), i != j. For every item i keep its 100 most similar
    items j (sim > 0; ties by j ascending) -> pruned matrix S[i, j] (row-wise pruning: row i =
    candidate item, its own neighbour list). score(u, i) = sum_{j in train(u)} S[i, j].
"""
import argparse
import json
import math
import sys

import numpy as np
import scipy.sparse as sp


# ----------------------------------------------------------------------------- loading
def load_ratings(path):
    """Returns list of (user_str, item_int, rating_float, ts_int) in file order."""
    rows = []
    with open(path, "r", encoding="latin-1") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("::") if "::" in line else line.split("\t")
            u, i, r, t = parts[0], parts[1], parts[2], parts[3]
            rows.append((u.strip(), int(i), float(r), int(t)))
    return rows


def load_items(path):
    """Returns dict item_int -> (title, [genres]). Handles u.item ('|') and movies.dat ('::')."""
    items = {}
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    ml_genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]
    for line in text.splitlines():
        if not line.strip():
            continue
        if "::" in line:  # movies.dat: id::Title (Year)::G1|G2
            p = line.split("::")
            genres = [g for g in (p[2].split("|") if len(p) > 2 else []) if g]
            items[int(p[0])] = (p[1], genres)
        else:  # u.item: id|title|release|video|url|19 flags
            p = line.split("|")
            flags = p[5:5 + 19]
            genres = [g for g, fl in zip(ml_genres, flags) if fl.strip() == "1"]
            items[int(p[0])] = (p[1], genres)
    return items


class Data:
    """Train/test split and index structures shared by all models."""

    def __init__(self, ratings_path, items_path, fmt):
        rows = load_ratings(ratings_path)
        items = load_items(items_path)
        self.pos_threshold = 8.0 if fmt == "movietweetings" else 4.0
        item_ids = sorted(set(items) | {r[1] for r in rows})
        self.item_ids = np.array(item_ids, dtype=np.int64)
        self.item_index = {iid: k for k, iid in enumerate(item_ids)}
        self.n_items = len(item_ids)
        self.items = items
        # users indexed in order of first appearance (irrelevant for metrics)
        by_user = {}
        for order, (u, i, r, t) in enumerate(rows):
            by_user.setdefault(u, []).append((t, order, self.item_index[i], r))
        self.users = list(by_user)
        self.train = []  # per user: list of (item_idx, rating, ts) in time order
        self.test = []
        for u in self.users:
            lst = sorted(by_user[u], key=lambda x: (x[0], x[1]))  # stable: ts then file order
            n = len(lst)
            n_train = (4 * n + 4) // 5  # == ceil(0.8 * n) exactly
            self.train.append([(x[2], x[3], x[0]) for x in lst[:n_train]])
            self.test.append([(x[2], x[3], x[0]) for x in lst[n_train:]])
        self.n_users = len(self.users)
        # binary train matrix (users x items)
        ri, ci = [], []
        for uidx, tr in enumerate(self.train):
            for (i, r, t) in tr:
                ri.append(uidx)
                ci.append(i)
        X = sp.csr_matrix((np.ones(len(ri)), (ri, ci)), shape=(self.n_users, self.n_items))
        X.sum_duplicates()
        X.data[:] = 1.0
        self.X = X
        # evaluation users: >= 1 positive
        self.positives = [sorted({i for (i, r, t) in te if r >= self.pos_threshold}) for te in self.test]
        self.eval_users = [u for u in range(self.n_users) if self.positives[u]]


# ----------------------------------------------------------------------------- metrics
def topk_stable(scores, k):
    """Top-k indices by score desc, ties by index asc. scores: 1-D float array (excluded = -inf)."""
    if k >= scores.size:
        return np.argsort(-scores, kind="stable")[:k]
    kth = np.partition(scores, scores.size - k)[scores.size - k]  # k-th largest value
    cand = np.nonzero(scores >= kth)[0]  # ascending index
    return cand[np.argsort(-scores[cand], kind="stable")][:k]


LOG_DISC = 1.0 / np.log2(np.arange(2, 22))  # rank r (0-based) -> 1/log2(r+2)


def user_metrics(ranked20, positives):
    pos = set(positives)
    hits = np.array([1.0 if i in pos else 0.0 for i in ranked20])
    npos = len(pos)
    recall = hits[:20].sum() / min(20, npos)
    dcg = float((hits[:10] * LOG_DISC[:len(hits[:10])]).sum())
    idcg = float(LOG_DISC[:min(10, npos)].sum())
    return dcg / idcg, recall


def evaluate(data, score_fn, batch=512):
    """score_fn(user_indices) -> dense (len(users), n_items) scores. Returns per-slice metrics."""
    users = data.eval_users
    nd = np.zeros(len(users))
    rc = np.zeros(len(users))
    ntr = np.array([len(data.train[u]) for u in users])
    for s in range(0, len(users), batch):
        ub = users[s:s + batch]
        S = np.asarray(score_fn(ub), dtype=np.float64)
        for k, u in enumerate(ub):
            row = S[k].copy()
            for (i, r, t) in data.train[u]:
                row[i] = -np.inf  # exclude train items
            top = topk_stable(row, 20)
            nd[s + k], rc[s + k] = user_metrics(top, data.positives[u])
    out = {}
    for name, mask in (("all", np.ones(len(users), bool)), ("min_train_5", ntr >= 5)):
        out[name] = {"ndcg@10": float(nd[mask].mean()), "recall@20": float(rc[mask].mean()),
                     "users": int(mask.sum())}
    return out


# ----------------------------------------------------------------------------- models
def popularity_scores(data):
    """Train interaction count per item (all train rows, any rating value)."""
    pop = np.zeros(data.n_items)
    for tr in data.train:
        for (i, r, t) in tr:
            pop[i] += 1
    return pop


def item_knn_matrix(X, k=100):
    """Row-pruned cosine similarity: S[i, j] = cos(i, j) if j in top-k neighbours of i."""
    X = sp.csr_matrix(X, dtype=np.float64)
    cnt = np.asarray(X.sum(axis=0)).ravel()
    norm = np.sqrt(cnt)
    norm[norm == 0] = 1.0
    C = (X.T @ X).tocsr()  # co-occurrence counts
    C.setdiag(0)
    C.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(C.shape[0]):
        a, b = C.indptr[i], C.indptr[i + 1]
        if a == b:
            continue
        js = C.indices[a:b]
        sims = C.data[a:b] / (norm[i] * norm[js])
        order = np.lexsort((js, -sims))[:k]  # sim desc, then j asc
        rows.append(np.full(len(order), i))
        cols.append(js[order])
        vals.append(sims[order])
    rows = np.concatenate(rows) if rows else np.zeros(0, int)
    cols = np.concatenate(cols) if cols else np.zeros(0, int)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    return sp.csr_matrix((vals, (rows, cols)), shape=C.shape)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratings", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--format", required=True, choices=["movielens", "movietweetings"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--k", type=int, default=100, help="item-kNN neighbours per item")
    args = ap.parse_args()

    data = Data(args.ratings, args.items, args.format)
    pop = popularity_scores(data)
    S = item_knn_matrix(data.X, k=args.k)
    ST = S.T.tocsr()  # score(u, :) = S @ x_u  ==  x_u^T @ S^T

    res_pop = evaluate(data, lambda ub: np.tile(pop, (len(ub), 1)))
    res_knn = evaluate(data, lambda ub: (data.X[ub] @ ST).toarray())

    slices = {}
    for sl in ("all", "min_train_5"):
        slices[sl] = {
            "popularity": {k: res_pop[sl][k] for k in ("ndcg@10", "recall@20")},
            "item_knn": {k: res_knn[sl][k] for k in ("ndcg@10", "recall@20")},
            "users": res_pop[sl]["users"],
        }
    print(f"dataset: {args.ratings}  users={data.n_users} items={data.n_items} "
          f"train_rows={int(data.X.nnz)} eval_users={len(data.eval_users)}")
    for sl in ("all", "min_train_5"):
        d = slices[sl]
        print(f"[{sl}] users={d['users']}")
        for m in ("popularity", "item_knn"):
            print(f"  {m:<11s} NDCG@10={d[m]['ndcg@10']:.4f}  Recall@20={d[m]['recall@20']:.4f}")
    if args.json:
        print(json.dumps({"slices": slices}))


if __name__ == "__main__":
    main()
