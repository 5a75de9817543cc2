//! Boost stage: after fusion, titles in the wanted genres (named, or implied by a mood) and in
//! the user's taste move up. Boosts multiply, so they reorder close calls without outvoting the
//! channels.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::fuse::{Fused, RankedList};
use super::index::DocPayload;
use super::text::overlap;

/// Weight of the share of the wanted genres a title has.
pub const GENRE_BOOST: f32 = 0.5;
/// Weight of the share of the user's taste (genre affinity) a title has.
pub const TASTE_BOOST: f32 = 0.3;

/// Multiplies a title's score by `1 + weight × share`, where share ∈ [0, 1] is how much of the
/// wanted set (genres the query or the user prefer) the title has.
pub fn boost(score: f32, weight: f32, share: f32) -> f32 {
    score * (1.0 + weight * share.clamp(0.0, 1.0))
}

/// Boosts every fused title: first by the `wanted` genres, then by the user's `taste` (genre,
/// affinity weight), each genre counting in proportion to its weight.
pub fn apply(
    fused: &mut [Fused],
    payloads: &HashMap<Uuid, Arc<DocPayload>>,
    wanted: &[String],
    taste: &[(String, f32)],
) {
    let taste_total: f32 = taste.iter().map(|(_, w)| w).sum();
    for f in fused.iter_mut() {
        let p = &payloads[&f.id];
        f.score = boost(f.score, GENRE_BOOST, overlap(wanted, &p.genres));
        if taste_total > 0.0 {
            let share: f32 = taste
                .iter()
                .filter(|(g, _)| p.genres.contains(g))
                .map(|(_, w)| w)
                .sum::<f32>()
                / taste_total;
            f.score = boost(f.score, TASTE_BOOST, share);
        }
    }
}

/// The best score a title could reach: first in every list, with every wanted genre and all of
/// the user's taste. Relevance is the share of it a title reached.
pub fn max_score(lists: &[RankedList], k: f32) -> f32 {
    lists.iter().map(|(_, w, _)| w / (k + 1.0)).sum::<f32>()
        * (1.0 + GENRE_BOOST)
        * (1.0 + TASTE_BOOST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fuse::Channel;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn fused(n: u128, score: f32) -> Fused {
        Fused {
            id: id(n),
            score,
            hits: HashMap::new(),
        }
    }

    fn payloads(genres: &[(u128, &[&str])]) -> HashMap<Uuid, Arc<DocPayload>> {
        genres
            .iter()
            .map(|(n, g)| {
                let p = DocPayload {
                    genres: strings(g),
                    ..DocPayload::default()
                };
                (id(*n), Arc::new(p))
            })
            .collect()
    }

    #[test]
    fn shares_and_multipliers() {
        let wanted = strings(&["comedy", "action"]);
        assert_eq!(overlap(&wanted, &strings(&["comedy"])), 0.5);
        assert_eq!(overlap(&[], &strings(&["comedy"])), 0.0);
        assert!((boost(1.0, 0.4, 0.5) - 1.2).abs() < 1e-6);
        assert_eq!(boost(1.0, 0.4, 7.0), 1.4);
    }

    #[test]
    fn wanted_genres_then_taste() {
        // Given three titles scoring 1.0 and a query wanting comedy and action,
        let mut f = vec![fused(1, 1.0), fused(2, 1.0), fused(3, 1.0)];
        let p = payloads(&[
            (1, &["comedy", "action"]),
            (2, &["comedy", "drama"]),
            (3, &["horror"]),
        ]);
        let wanted = strings(&["comedy", "action"]);
        // and a user whose taste is drama 3, horror 1,
        let taste = vec![("drama".to_string(), 3.0), ("horror".to_string(), 1.0)];
        // when boosted,
        apply(&mut f, &p, &wanted, &taste);
        // then both genres count fully, half of them half, taste by its weight.
        assert_eq!(f[0].score, 1.5);
        assert_eq!(f[1].score, 1.25 * (1.0 + 0.3 * 0.75));
        assert_eq!(f[2].score, 1.0 * (1.0 + 0.3 * 0.25));
    }

    #[test]
    fn no_taste_no_taste_boost() {
        let mut f = vec![fused(1, 0.5)];
        apply(&mut f, &payloads(&[(1, &["drama"])]), &[], &[]);
        assert_eq!(f[0].score, 0.5);
    }

    #[test]
    fn the_best_reachable_score() {
        let lists: Vec<RankedList> = vec![
            (Channel::Dense, 0.4, vec![]),
            (Channel::Keyword, 1.0, vec![]),
        ];
        assert_eq!(
            max_score(&lists, 20.0),
            (0.4 / 21.0 + 1.0 / 21.0) * (1.0 + 0.5) * (1.0 + 0.3)
        );
    }
}
