//! Page stage: the boosted titles in their final order and the requested page of them.

use std::collections::HashMap;

use uuid::Uuid;

pub use super::fuse::sort;
use super::fuse::Fused;
use super::rerank::Features;

/// A page of ranked titles, the best score of the search (relevance is relative to it) and, when
/// asked for, each title's ranking features.
pub struct RankedPage {
    pub hits: Vec<Fused>,
    pub max_score: f32,
    pub features: HashMap<Uuid, Features>,
}

/// Sorts and cuts out page `page` (from 1) of `page_size`: the total count and the page.
pub fn page(mut fused: Vec<Fused>, page: u32, page_size: u32) -> (usize, Vec<Fused>) {
    sort(&mut fused);
    let total = fused.len();
    let start = ((page - 1) * page_size) as usize;
    let page = fused
        .into_iter()
        .skip(start)
        .take(page_size as usize)
        .collect();
    (total, page)
}

/// A title's `relevance_score`: the share of the best reachable score it reached, at most 1.
pub fn relevance(score: f32, max_score: f32) -> f32 {
    (score / max_score).min(1.0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use uuid::Uuid;

    use super::*;

    fn fused(n: u128, score: f32) -> Fused {
        Fused {
            id: Uuid::from_u128(n),
            score,
            hits: HashMap::new(),
        }
    }

    fn ids(v: &[Fused]) -> Vec<u128> {
        v.iter().map(|f| f.id.as_u128()).collect()
    }

    #[test]
    fn by_score_then_id() {
        let all = vec![fused(3, 0.5), fused(1, 0.2), fused(2, 0.5), fused(4, 0.9)];
        let (total, first) = page(all.clone(), 1, 3);
        assert_eq!(total, 4);
        assert_eq!(ids(&first), vec![4, 2, 3]);
        let (total, second) = page(all.clone(), 2, 3);
        assert_eq!(total, 4);
        assert_eq!(ids(&second), vec![1]);
        assert!(page(all, 3, 3).1.is_empty());
    }

    #[test]
    fn relevance_is_capped() {
        assert_eq!(relevance(0.5, 2.0), 0.25);
        assert_eq!(relevance(3.0, 2.0), 1.0);
    }
}
