//! The collaborative model the background job trains from the interaction log: EASE (Steck,
//! "Embarrassingly Shallow Autoencoders", WWW 2019) over the most-interacted titles, pruned to each
//! title's strongest item-item weights for serving, plus per-title interaction times for the
//! time-aware popularity prior (ADR 0017 says why these, by measurement).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One engaged interaction of the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingRow {
    pub user: Uuid,
    pub item: Uuid,
    pub at_ms: i64,
}

/// What ranking and explanations need to know about a title.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemInfo {
    pub title: String,
    pub year: i32,
    pub genres: Vec<String>,
    pub cast: Vec<String>,
    pub runtime_minutes: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    /// EASE runs over this many most-interacted titles (dense Gram matrix: memory and time grow
    /// with its square and cube).
    pub max_items: usize,
    /// L2 regularisation of EASE.
    pub lambda: f64,
    /// Strongest item-item weights kept per title for serving.
    pub neighbours: usize,
}

impl Default for ModelParams {
    fn default() -> Self {
        Self {
            max_items: 3000,
            lambda: 300.0,
            neighbours: 300,
        }
    }
}

/// A trained model: everything ranking reads besides the user's own profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub params: ModelParams,
    /// Dense item index → title. Every title seen in the log, most interacted first.
    pub items: Vec<Uuid>,
    /// Interaction times per item (epoch ms, ascending): global and time-windowed popularity.
    pub times: Vec<Vec<i64>>,
    /// Per item (only the first `params.max_items`): EASE weights to other items, strongest first.
    pub neighbours: Vec<Vec<(u32, f32)>>,
    /// Per item: catalog facts (empty where the catalog does not know the title).
    pub info: Vec<ItemInfo>,
    pub users: usize,
    pub interactions: usize,
    #[serde(skip)]
    index: HashMap<Uuid, u32>,
    /// Derived at load: lower-cased genres per item, and each genre's share of all interactions
    /// (the population the adapter compares a user with). Kept off the request path.
    #[serde(skip)]
    pub genres_lc: Vec<Vec<String>>,
    #[serde(skip)]
    pub genre_share: HashMap<String, f32>,
    /// Derived at load: items by each of their first 8 cast names (the graph stage's edges).
    #[serde(skip)]
    pub cast_index: HashMap<String, Vec<u32>>,
}

impl Model {
    /// Trains from engaged interactions; `info` supplies catalog facts per title.
    pub fn train(
        rows: &[TrainingRow],
        params: ModelParams,
        mut info: impl FnMut(Uuid) -> ItemInfo,
    ) -> Model {
        // Items by interaction count (desc), ties by id for determinism.
        let mut times: HashMap<Uuid, Vec<i64>> = HashMap::new();
        let mut baskets: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for r in rows {
            times.entry(r.item).or_default().push(r.at_ms);
            baskets.entry(r.user).or_default().push(r.item);
        }
        let mut items: Vec<Uuid> = times.keys().copied().collect();
        items.sort_by(|a, b| times[b].len().cmp(&times[a].len()).then(a.cmp(b)));
        let index: HashMap<Uuid, u32> = items
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        let n = items.len().min(params.max_items);
        let baskets: Vec<Vec<u32>> = baskets
            .into_values()
            .map(|b| {
                let mut b: Vec<u32> = b
                    .into_iter()
                    .map(|i| index[&i])
                    .filter(|&i| (i as usize) < n)
                    .collect();
                b.sort_unstable();
                b.dedup();
                b
            })
            .collect();
        let neighbours = ease(&baskets, n, params.lambda, params.neighbours);
        let model = Model {
            genres_lc: Vec::new(),
            genre_share: HashMap::new(),
            cast_index: HashMap::new(),
            params,
            times: items
                .iter()
                .map(|i| {
                    let mut t = times.remove(i).unwrap_or_default();
                    t.sort_unstable();
                    t
                })
                .collect(),
            info: items.iter().map(|i| info(*i)).collect(),
            users: baskets.len(),
            interactions: rows.len(),
            items,
            neighbours,
            index,
        };
        model.indexed()
    }

    /// Rebuilds the lookups after deserialising.
    pub fn indexed(mut self) -> Self {
        self.index = self
            .items
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u32))
            .collect();
        self.genres_lc = self
            .info
            .iter()
            .map(|i| i.genres.iter().map(|g| g.to_lowercase()).collect())
            .collect();
        let mut share: HashMap<String, f32> = HashMap::new();
        let mut total = 0f32;
        for (i, genres) in self.genres_lc.iter().enumerate() {
            let w = self.times.get(i).map_or(0, Vec::len) as f32;
            for g in genres {
                *share.entry(g.clone()).or_default() += w;
            }
            total += w;
        }
        let total = total.max(1.0);
        share.values_mut().for_each(|v| *v /= total);
        self.genre_share = share;
        let mut cast: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, info) in self.info.iter().enumerate() {
            for name in info.cast.iter().take(8) {
                let items = cast.entry(name.clone()).or_default();
                if items.last() != Some(&(i as u32)) {
                    items.push(i as u32);
                }
            }
        }
        self.cast_index = cast;
        self
    }

    pub fn index_of(&self, id: &Uuid) -> Option<u32> {
        self.index.get(id).copied()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Interactions with item `i` in the `window_ms` up to `at_ms` (both ends included): what
    /// was popular when the user was last active, never after.
    pub fn popularity_before(&self, i: usize, at_ms: i64, window_ms: i64) -> usize {
        let t = &self.times[i];
        let lo = t.partition_point(|&x| x < at_ms - window_ms);
        let hi = t.partition_point(|&x| x <= at_ms);
        hi - lo
    }
}

/// EASE closed form: `P = (XᵀX + λI)⁻¹`, `B_ij = −P_ij / P_jj`, `B_ii = 0`; returns each row's
/// `keep` weights largest in magnitude (what item i adds to item j's score; negative weights
/// matter too: they say "people who saw i skip j").
pub fn ease(baskets: &[Vec<u32>], n: usize, lambda: f64, keep: usize) -> Vec<Vec<(u32, f32)>> {
    if n == 0 {
        return Vec::new();
    }
    let mut g = vec![0f64; n * n];
    for b in baskets {
        for (x, &i) in b.iter().enumerate() {
            let row = i as usize * n;
            for &j in &b[x..] {
                g[row + j as usize] += 1.0;
            }
        }
    }
    // Mirror the upper triangle (baskets are sorted, so only i ≤ j was counted).
    for i in 0..n {
        for j in 0..i {
            g[i * n + j] = g[j * n + i];
        }
        g[i * n + i] += lambda;
    }
    invert_spd(&mut g, n);
    (0..n)
        .map(|i| {
            let mut row: Vec<(u32, f32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (j as u32, (-g[i * n + j] / g[j * n + j]) as f32))
                .filter(|(_, w)| *w != 0.0)
                .collect();
            row.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            row.truncate(keep);
            row
        })
        .collect()
}

/// In-place Gauss–Jordan inverse of a symmetric positive-definite matrix (no pivoting needed:
/// the ridge keeps every pivot positive).
fn invert_spd(a: &mut [f64], n: usize) {
    let mut pivot_row = vec![0f64; n];
    for k in 0..n {
        let p = a[k * n + k];
        let inv = 1.0 / p;
        pivot_row.copy_from_slice(&a[k * n..(k + 1) * n]);
        pivot_row[k] = 1.0;
        for v in pivot_row.iter_mut() {
            *v *= inv;
        }
        for i in 0..n {
            if i == k {
                continue;
            }
            let row = &mut a[i * n..(i + 1) * n];
            let f = row[k];
            if f == 0.0 {
                continue;
            }
            row[k] = 0.0;
            for (x, pv) in row.iter_mut().zip(&pivot_row) {
                *x -= f * pv;
            }
        }
        a[k * n..(k + 1) * n].copy_from_slice(&pivot_row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_times_the_matrix_is_the_identity() {
        let n = 4;
        let m: Vec<f64> = vec![
            4.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.3, 0.0, 0.1, 0.3, 1.5,
        ];
        let mut inv = m.clone();
        invert_spd(&mut inv, n);
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..n).map(|k| m[i * n + k] * inv[k * n + j]).sum();
                assert!(
                    (v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9,
                    "{i},{j}: {v}"
                );
            }
        }
    }

    #[test]
    fn ease_links_items_that_are_consumed_together() {
        // Items 0 and 1 always together; 2 alone.
        let baskets = vec![vec![0, 1], vec![0, 1], vec![0, 1], vec![2], vec![2]];
        let nb = ease(&baskets, 3, 0.5, 10);
        assert_eq!(nb[0].first().map(|x| x.0), Some(1));
        assert!(nb[0][0].1 > 0.0);
        assert!(nb[0].iter().all(|(j, w)| *j != 2 || *w <= 0.0));
    }

    #[test]
    fn training_orders_items_by_interactions_and_keeps_their_times() {
        let u = |n| Uuid::from_u128(n);
        let rows = vec![
            TrainingRow {
                user: u(1),
                item: u(10),
                at_ms: 5,
            },
            TrainingRow {
                user: u(2),
                item: u(10),
                at_ms: 1,
            },
            TrainingRow {
                user: u(2),
                item: u(11),
                at_ms: 3,
            },
        ];
        let m = Model::train(&rows, ModelParams::default(), |_| ItemInfo::default());
        assert_eq!(m.items, vec![u(10), u(11)]);
        assert_eq!(m.times[0], vec![1, 5]);
        assert_eq!(m.popularity_before(0, 2, 1), 1);
        assert_eq!(m.popularity_before(0, 5, 10), 2);
        let back: Model = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.indexed().index_of(&u(11)), Some(1));
    }
}
