//! The offline evaluation protocol of `mediagw eval recommendations` (docs/quality.md), as pure
//! functions: the per-user time split, the metrics, and the two baselines the product must beat
//! (popularity and item-kNN). `scripts/reco_reference.py` computes the same baselines in numpy.

use std::collections::{HashMap, HashSet};

/// One rating of the dataset, ids already dense (`item` indexes the dataset's item list).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    pub user: u32,
    pub item: u32,
    pub rating: f32,
    pub at_s: i64,
}

/// One user's side of the split.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserSplit {
    pub user: u32,
    /// Earliest 80 % (at least one rating), in time order.
    pub train: Vec<Rating>,
    /// Items of the latest 20 % rated at or above the positive threshold.
    pub positives: Vec<u32>,
}

/// Per user, ratings sorted by time (stable: ties keep file order); the last 20 % are the test set
/// (`n_train = ceil(0.8 n)`); test ratings `>= positive_at` are the positives. Users in order of id.
pub fn split(ratings: &[Rating], positive_at: f32) -> Vec<UserSplit> {
    let mut by_user: HashMap<u32, Vec<Rating>> = HashMap::new();
    for r in ratings {
        by_user.entry(r.user).or_default().push(*r);
    }
    let mut users: Vec<u32> = by_user.keys().copied().collect();
    users.sort_unstable();
    users
        .into_iter()
        .map(|user| {
            let mut rs = by_user.remove(&user).expect("user present");
            rs.sort_by_key(|r| r.at_s);
            let n_train = (rs.len() * 4).div_ceil(5);
            let test = rs.split_off(n_train);
            let mut positives: Vec<u32> = test
                .iter()
                .filter(|r| r.rating >= positive_at)
                .map(|r| r.item)
                .collect();
            positives.sort_unstable();
            positives.dedup();
            UserSplit {
                user,
                train: rs,
                positives,
            }
        })
        .collect()
}

/// Hits in the top 20 over `min(20, positives)`.
pub fn recall_at(ranked: &[u32], positives: &HashSet<u32>, k: usize) -> f64 {
    if positives.is_empty() {
        return 0.0;
    }
    let hits = ranked
        .iter()
        .take(k)
        .filter(|i| positives.contains(i))
        .count();
    hits as f64 / k.min(positives.len()) as f64
}

/// NDCG with binary gains; the ideal ranking puts `min(k, positives)` hits first.
pub fn ndcg_at(ranked: &[u32], positives: &HashSet<u32>, k: usize) -> f64 {
    if positives.is_empty() {
        return 0.0;
    }
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| positives.contains(i))
        .map(|(rank, _)| 1.0 / (rank as f64 + 2.0).log2())
        .sum();
    let ideal: f64 = (0..k.min(positives.len()))
        .map(|rank| 1.0 / (rank as f64 + 2.0).log2())
        .sum();
    dcg / ideal
}

/// Running means of both metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub ndcg_10: f64,
    pub recall_20: f64,
    pub users: usize,
}

impl Metrics {
    pub fn add(&mut self, ranked: &[u32], positives: &HashSet<u32>) {
        self.ndcg_10 += ndcg_at(ranked, positives, 10);
        self.recall_20 += recall_at(ranked, positives, 20);
        self.users += 1;
    }

    pub fn mean(&self) -> Metrics {
        let n = self.users.max(1) as f64;
        Metrics {
            ndcg_10: self.ndcg_10 / n,
            recall_20: self.recall_20 / n,
            users: self.users,
        }
    }
}

/// The `k` best items by score, skipping `exclude`; ties by item index ascending.
pub fn top_k(scores: &[f32], exclude: &HashSet<u32>, k: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..scores.len() as u32)
        .filter(|i| !exclude.contains(i))
        .collect();
    let cmp = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if order.len() > k {
        order.select_nth_unstable_by(k, cmp);
        order.truncate(k);
    }
    order.sort_by(cmp);
    order
}

/// Train interactions per item over every user's train set (any rating counts).
pub fn popularity(splits: &[UserSplit], n_items: usize) -> Vec<f32> {
    let mut counts = vec![0f32; n_items];
    for s in splits {
        for r in &s.train {
            counts[r.item as usize] += 1.0;
        }
    }
    counts
}

/// Item-kNN baseline: cosine over the binary user×item train matrix, each item keeps its `k`
/// most similar items (ties by index), and a candidate scores the sum of its kept similarities to
/// the user's train items.
pub struct ItemKnn {
    /// Per item: its kept neighbours with their cosine.
    pub neighbours: Vec<Vec<(u32, f32)>>,
}

impl ItemKnn {
    pub fn train(splits: &[UserSplit], n_items: usize, k: usize) -> Self {
        let baskets: Vec<Vec<u32>> = splits
            .iter()
            .map(|s| {
                let mut items: Vec<u32> = s.train.iter().map(|r| r.item).collect();
                items.sort_unstable();
                items.dedup();
                items
            })
            .collect();
        let mut degree = vec![0f32; n_items];
        let mut by_item: Vec<Vec<u32>> = vec![Vec::new(); n_items];
        for (u, b) in baskets.iter().enumerate() {
            for &i in b {
                degree[i as usize] += 1.0;
                by_item[i as usize].push(u as u32);
            }
        }
        let mut co = vec![0f32; n_items];
        let mut touched = Vec::new();
        let neighbours = (0..n_items)
            .map(|i| {
                for &u in &by_item[i] {
                    for &j in &baskets[u as usize] {
                        if j as usize != i {
                            if co[j as usize] == 0.0 {
                                touched.push(j);
                            }
                            co[j as usize] += 1.0;
                        }
                    }
                }
                let mut sims: Vec<(u32, f32)> = touched
                    .drain(..)
                    .map(|j| {
                        let c = std::mem::take(&mut co[j as usize]);
                        (j, c / (degree[i] * degree[j as usize]).sqrt())
                    })
                    .collect();
                sims.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                sims.truncate(k);
                sims
            })
            .collect();
        Self { neighbours }
    }

    /// Scores of every item for a user who interacted with `items`.
    pub fn scores(&self, items: &[u32]) -> Vec<f32> {
        let mine: HashSet<u32> = items.iter().copied().collect();
        self.neighbours
            .iter()
            .map(|ns| {
                ns.iter()
                    .filter(|(j, _)| mine.contains(j))
                    .map(|(_, s)| s)
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: u32, item: u32, rating: f32, at_s: i64) -> Rating {
        Rating {
            user,
            item,
            rating,
            at_s,
        }
    }

    #[test]
    fn the_last_fifth_by_time_is_the_test_set() {
        let ratings: Vec<Rating> = (0..10).rev().map(|i| r(1, i, 8.0, i as i64)).collect();
        let s = split(&ratings, 8.0);
        assert_eq!(
            s[0].train.iter().map(|r| r.item).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        assert_eq!(s[0].positives, vec![8, 9]);
        // One rating: train only.
        let s = split(&[r(2, 0, 9.0, 1)], 8.0);
        assert_eq!((s[0].train.len(), s[0].positives.len()), (1, 0));
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let pos: HashSet<u32> = [1, 2].into();
        assert_eq!(ndcg_at(&[1, 2, 3], &pos, 10), 1.0);
        let v = ndcg_at(&[3, 1], &pos, 10);
        let expected = (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((v - expected).abs() < 1e-12);
        assert_eq!(recall_at(&[3, 1], &pos, 20), 0.5);
    }

    #[test]
    fn top_k_breaks_ties_by_index_and_skips_exclusions() {
        let scores = [1.0, 3.0, 3.0, 0.5];
        assert_eq!(top_k(&scores, &[1].into(), 2), vec![2, 0]);
        assert_eq!(top_k(&scores, &HashSet::new(), 10), vec![1, 2, 0, 3]);
    }

    #[test]
    fn item_knn_uses_cosine_over_co_occurrence() {
        // Users: {0,1}, {0,1}, {0,2}.
        let splits: Vec<UserSplit> = [[0, 1], [0, 1], [0, 2]]
            .iter()
            .enumerate()
            .map(|(u, items)| UserSplit {
                user: u as u32,
                train: items.iter().map(|&i| r(u as u32, i, 5.0, 0)).collect(),
                positives: vec![],
            })
            .collect();
        let knn = ItemKnn::train(&splits, 3, 100);
        let s = knn.scores(&[0]);
        assert!((s[1] - 2.0 / (3f32 * 2.0).sqrt()).abs() < 1e-6);
        assert!((s[2] - 1.0 / 3f32.sqrt()).abs() < 1e-6);
        assert_eq!(s[0], 0.0);
    }
}
