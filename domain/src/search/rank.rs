//! Reciprocal Rank Fusion (seed §3: score = Σ 1/(k + rank) over the channels that found a title)
//! and the boosts applied after it. Ties are broken by id so pages are stable.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

/// RRF constant: 60 is the value from Cormack et al. and the Qdrant server default.
pub const RRF_K: f32 = 60.0;

/// Retrieval channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Embedding nearest neighbours of the query.
    Dense,
    /// BM25 over title, genres and overview.
    Keyword,
    /// Typo-tolerant title trigrams.
    Title,
    /// Neighbours of the titles the query refers to (embedding and genre edges).
    Graph,
    /// Titles sharing leading cast with the titles the query refers to (graph edges too).
    Cast,
}

/// One channel's hit: its rank (0-based) and its own score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChannelHit {
    pub rank: usize,
    pub score: f32,
}

/// A title after fusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: Uuid,
    /// Fused score (RRF, then boosts).
    pub score: f32,
    pub hits: HashMap<Channel, ChannelHit>,
}

impl Fused {
    pub fn channel_score(&self, c: Channel) -> f32 {
        self.hits.get(&c).map_or(0.0, |h| h.score)
    }
}

/// One channel's ranked hits (best first) and the weight of its votes.
pub type RankedList = (Channel, f32, Vec<(Uuid, f32)>);

/// Fuses ranked lists (best first) with weights: score = Σ wᵢ / (k + rankᵢ + 1).
pub fn fuse(lists: &[RankedList], k: f32) -> Vec<Fused> {
    let mut by_id: HashMap<Uuid, Fused> = HashMap::new();
    for (channel, weight, hits) in lists {
        for (rank, (id, score)) in hits.iter().enumerate() {
            let f = by_id.entry(*id).or_insert_with(|| Fused {
                id: *id,
                score: 0.0,
                hits: HashMap::new(),
            });
            // A channel listing a title twice counts its best rank only.
            if f.hits.contains_key(channel) {
                continue;
            }
            f.score += weight / (k + rank as f32 + 1.0);
            f.hits.insert(
                *channel,
                ChannelHit {
                    rank,
                    score: *score,
                },
            );
        }
    }
    let mut out: Vec<Fused> = by_id.into_values().collect();
    sort(&mut out);
    out
}

/// Best first; equal scores by id, so paging is stable.
pub fn sort(items: &mut [Fused]) {
    items.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

/// Multiplies a title's score by `1 + weight × share`, where share ∈ [0, 1] is how much of the
/// wanted set (genres the query or the user prefer) the title has.
pub fn boost(score: f32, weight: f32, share: f32) -> f32 {
    score * (1.0 + weight * share.clamp(0.0, 1.0))
}

/// Share of `wanted` found in `have` (0 when nothing is wanted).
pub fn overlap(wanted: &[String], have: &[String]) -> f32 {
    if wanted.is_empty() {
        return 0.0;
    }
    let n = wanted.iter().filter(|w| have.contains(w)).count();
    n as f32 / wanted.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn agreement_across_channels_wins() {
        // Given title 2 is second in both lists and titles 1 and 3 top one list each,
        let lists = vec![
            (Channel::Dense, 1.0, vec![(id(1), 0.9), (id(2), 0.8)]),
            (Channel::Keyword, 1.0, vec![(id(3), 7.0), (id(2), 5.0)]),
        ];
        // when fused,
        let f = fuse(&lists, RRF_K);
        // then the title both channels found ranks first, with each channel's evidence kept.
        assert_eq!(f[0].id, id(2));
        assert!((f[0].score - 2.0 / 62.0).abs() < 1e-6);
        assert_eq!(f[0].hits[&Channel::Keyword].rank, 1);
        assert_eq!(f[0].channel_score(Channel::Dense), 0.8);
        assert_eq!(f[0].channel_score(Channel::Graph), 0.0);
        // and the tie between 1 and 3 is broken by id.
        assert_eq!((f[1].id, f[2].id), (id(1), id(3)));
    }

    #[test]
    fn weights_and_duplicates() {
        let lists = vec![
            (Channel::Dense, 1.0, vec![(id(1), 0.9)]),
            (Channel::Title, 3.0, vec![(id(2), 1.0), (id(2), 0.5)]),
        ];
        let f = fuse(&lists, RRF_K);
        assert_eq!(f[0].id, id(2));
        assert!((f[0].score - 3.0 / 61.0).abs() < 1e-6);
    }

    #[test]
    fn boosts() {
        let wanted = vec!["comedy".to_string(), "action".to_string()];
        assert_eq!(overlap(&wanted, &["comedy".to_string()]), 0.5);
        assert_eq!(overlap(&[], &["comedy".to_string()]), 0.0);
        assert!((boost(1.0, 0.4, 0.5) - 1.2).abs() < 1e-6);
    }
}
