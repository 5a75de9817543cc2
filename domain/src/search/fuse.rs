//! Fuse stage: each channel's hits become a ranked list, and weighted Reciprocal Rank Fusion
//! (seed §3: score = Σ 1/(k + rank) over the channels that found a title) merges the lists.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::index::{DocPayload, Hit};
use super::text::{
    ends_numbered, holds_number, overlap, sequel_trigrams, title_trigrams, trigram_dice,
    SparseVector, EXACT_TITLE,
};

/// Best first; equal scores by id, so paging is stable.
pub fn sort(items: &mut [Fused]) {
    items.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

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
    /// Titles whose text shares the rare words of a referenced title's text (BM25 with that
    /// text as the query: Lucene's "more like this").
    MoreLikeThis,
    /// The best-known titles the filter lets through, for a browse query ("heist movies",
    /// "90s romantic comedies") that leaves no words to match: no other channel brings the
    /// films a person means by a genre alone.
    Browse,
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

/// RRF votes per channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelWeights {
    pub dense: f32,
    pub keyword: f32,
    pub title: f32,
    pub graph: f32,
    /// Shared-cast neighbours of referenced titles.
    #[serde(default = "default_cast_weight")]
    pub cast: f32,
    /// The filter's best-known titles, for browse queries.
    #[serde(default = "default_browse_weight")]
    pub browse: f32,
    /// Titles whose text is like a referenced title's.
    #[serde(default = "default_more_like_this_weight")]
    pub more_like_this: f32,
}

fn default_more_like_this_weight() -> f32 {
    ChannelWeights::default().more_like_this
}

fn default_cast_weight() -> f32 {
    ChannelWeights::default().cast
}

fn default_browse_weight() -> f32 {
    ChannelWeights::default().browse
}

impl Default for ChannelWeights {
    fn default() -> Self {
        Self {
            dense: 0.4,
            keyword: 1.0,
            title: 2.0,
            graph: 2.0,
            cast: 1.0,
            browse: 1.0,
            more_like_this: 2.0,
        }
    }
}

/// Title-channel hits whose title is less like the query than this are noise, not evidence.
pub const TITLE_MIN_SIMILARITY: f32 = 0.45;

/// In a browse query (all genre, era and kind words) only a title typed whole counts: "scary
/// movie" is still Scary Movie, but "westerns" is the genre, not The Westerner.
pub const BROWSE_TITLE_MIN_SIMILARITY: f32 = EXACT_TITLE;

/// What fusion votes with, and every candidate's (brief) payload for the later stages.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    pub lists: Vec<RankedList>,
    pub payloads: HashMap<Uuid, Arc<DocPayload>>,
}

/// Title similarity kept by a title without the number typed, or by a numbered title when the
/// query names none.
const NUMBER_MISSING: f32 = 0.9;

/// Turns each probe's hits (`channels[i]` ran probe `i`) into ranked lists. Title hits are
/// rescored by their similarity to the closest of `title_queries` (the title typed, then the
/// catalog's titles it sounds like: [`super::soundalike`]), a tenth less for a title without
/// the number the query ends with, `number` ("godfather 3" is not The Godfather), or with a
/// number when the query ends with none, and beside a
/// browse probe only a title typed whole is kept; the title probes merge into one list, and the
/// graph and cast probes of every referenced title into one list per kind of edge, titles in
/// the `wanted` genres first.
pub fn candidates(
    channels: &[Channel],
    results: Vec<Vec<Hit>>,
    title_queries: &[SparseVector],
    number: Option<&str>,
    weights: &ChannelWeights,
    wanted: &[String],
) -> Candidates {
    let mut payloads: HashMap<Uuid, Arc<DocPayload>> = HashMap::new();
    let mut lists: Vec<RankedList> = Vec::new();
    let mut graph: Vec<(Uuid, f32)> = Vec::new();
    let mut cast: Vec<(Uuid, f32)> = Vec::new();
    let mut alike: Vec<(Uuid, f32)> = Vec::new();
    let mut titles: Vec<(Uuid, f32)> = Vec::new();
    let mut title_at: Option<usize> = None;
    let title_min = if channels.contains(&Channel::Browse) {
        BROWSE_TITLE_MIN_SIMILARITY
    } else {
        TITLE_MIN_SIMILARITY
    };
    for (channel, hits) in channels.iter().zip(results) {
        let hits: Vec<Hit> = match channel {
            Channel::Title => hits
                .into_iter()
                .filter_map(|mut h| {
                    let t = &h.payload.title;
                    let (whole, sequel) = (title_trigrams(t), sequel_trigrams(t));
                    let mut sim = title_queries
                        .iter()
                        .map(|q| {
                            trigram_dice(q, &whole)
                                .max(sequel.as_ref().map_or(0.0, |s| trigram_dice(q, s)))
                        })
                        .fold(0.0, f32::max);
                    // The number is part of the title either way: "godfather 3" is not The
                    // Godfather, and "guardians of the galaxy" is not its "Vol. 2".
                    let missing = match number {
                        Some(n) => !holds_number(t, n),
                        None => sequel.is_some() || ends_numbered(t),
                    };
                    if missing {
                        sim *= NUMBER_MISSING;
                    }
                    (sim >= title_min).then(|| {
                        h.score = sim;
                        h
                    })
                })
                .collect(),
            // Best known first among the titles with most of the wanted genres: "romantic
            // comedies" are romance and comedy, though the filter lets either through.
            Channel::Browse => {
                let mut hits = hits;
                let held = |h: &Hit| {
                    wanted
                        .iter()
                        .filter(|g| h.payload.genres.contains(g))
                        .count()
                };
                hits.sort_by(|a, b| {
                    held(b)
                        .cmp(&held(a))
                        .then(b.score.total_cmp(&a.score))
                        .then(a.id.cmp(&b.id))
                });
                hits
            }
            _ => hits,
        };
        let ranked: Vec<(Uuid, f32)> = hits.iter().map(|h| (h.id, h.score)).collect();
        for h in hits {
            payloads.entry(h.id).or_insert(h.payload);
        }
        if *channel == Channel::Title {
            if title_at.is_none() {
                title_at = Some(lists.len());
            }
            titles.extend(ranked);
        } else if *channel == Channel::Graph {
            graph.extend(ranked);
        } else if *channel == Channel::Cast {
            cast.extend(ranked);
        } else if *channel == Channel::MoreLikeThis {
            alike.extend(ranked);
        } else {
            let weight = match channel {
                Channel::Keyword => weights.keyword,
                Channel::Browse => weights.browse,
                _ => weights.dense,
            };
            lists.push((*channel, weight, ranked));
        }
    }
    if let Some(at) = title_at {
        // One list however many spellings were probed: each title once, at its best similarity.
        titles.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut seen = HashSet::new();
        titles.retain(|(id, _)| seen.insert(*id));
        lists.insert(at, (Channel::Title, weights.title, titles));
    }
    for (channel, hits, weight) in [
        (Channel::Graph, graph, weights.graph),
        (Channel::Cast, cast, weights.cast),
        (Channel::MoreLikeThis, alike, weights.more_like_this),
    ] {
        if !hits.is_empty() {
            let ranked = neighbours(hits, wanted, &payloads);
            lists.push((channel, weight, ranked));
        }
    }
    Candidates { lists, payloads }
}

/// Merges one kind of edge over several references: each title's best score, titles with a
/// wanted genre first, then by score and id.
fn neighbours(
    hits: Vec<(Uuid, f32)>,
    wanted: &[String],
    payloads: &HashMap<Uuid, Arc<DocPayload>>,
) -> Vec<(Uuid, f32)> {
    let mut best: HashMap<Uuid, f32> = HashMap::new();
    let mut order: Vec<Uuid> = Vec::new();
    for (id, s) in hits {
        let e = best.entry(id).or_insert_with(|| {
            order.push(id);
            f32::MIN
        });
        *e = e.max(s);
    }
    let mut ranked: Vec<(Uuid, f32)> = order.into_iter().map(|id| (id, best[&id])).collect();
    ranked.sort_by(|a, b| {
        let ga = overlap(wanted, &payloads[&a.0].genres);
        let gb = overlap(wanted, &payloads[&b.0].genres);
        (gb > 0.0)
            .cmp(&(ga > 0.0))
            .then(b.1.total_cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn browse_hits_with_more_of_the_wanted_genres_come_first_then_the_best_known() {
        // Given browse hits by popularity: a comedy, a romance and a romantic comedy,
        let hit = |n: u128, score: f32, genres: &[&str]| Hit {
            id: id(n),
            score,
            payload: Arc::new(DocPayload {
                genres: genres.iter().map(|g| g.to_string()).collect(),
                ..DocPayload::default()
            }),
        };
        let hits = vec![
            hit(1, 0.9, &["comedy"]),
            hit(2, 0.8, &["romance"]),
            hit(3, 0.5, &["romance", "comedy"]),
            hit(4, 0.7, &["drama", "comedy"]),
        ];
        // when "romantic comedies" fuses them,
        let wanted = vec!["romance".to_string(), "comedy".to_string()];
        let c = candidates(
            &[Channel::Browse],
            vec![hits],
            &[],
            None,
            &ChannelWeights::default(),
            &wanted,
        );
        // the romantic comedy leads, then the rest by popularity.
        let (channel, weight, ranked) = &c.lists[0];
        assert_eq!(*channel, Channel::Browse);
        assert_eq!(*weight, ChannelWeights::default().browse);
        let order: Vec<Uuid> = ranked.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, vec![id(3), id(1), id(2), id(4)]);
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

    fn hit(n: u128, score: f32, title: &str, genres: &[&str]) -> Hit {
        Hit {
            id: id(n),
            score,
            payload: Arc::new(DocPayload {
                title: title.into(),
                genres: genres.iter().map(|g| g.to_string()).collect(),
                ..DocPayload::default()
            }),
        }
    }

    #[test]
    fn title_hits_are_rescored_by_similarity() {
        // Given title-channel hits scored by the index, one barely like the query,
        let tq = title_trigrams("the matrix");
        let results = vec![vec![
            hit(3, 9.0, "Matrimonial Causes", &[]),
            hit(2, 1.0, "The Matrix", &[]),
            hit(1, 5.0, "The Matrix Reloaded", &[]),
        ]];
        // when turned into lists,
        let c = candidates(
            &[Channel::Title],
            results,
            std::slice::from_ref(&tq),
            None,
            &ChannelWeights::default(),
            &[],
        );
        // then the noise is dropped and the rest ranked by similarity with the title weight.
        let sim = |t: &str| trigram_dice(&tq, &title_trigrams(t));
        assert!(sim("Matrimonial Causes") < TITLE_MIN_SIMILARITY);
        assert_eq!(
            c.lists,
            vec![(
                Channel::Title,
                2.0,
                vec![
                    (id(2), sim("The Matrix")),
                    (id(1), sim("The Matrix Reloaded"))
                ]
            )]
        );
        assert_eq!(c.payloads.len(), 2);
    }

    #[test]
    fn a_browse_query_keeps_only_a_title_typed_whole() {
        // Given "westerns" and "scary movie", each a browse query with title hits,
        let run = |query: &str, titles: &[&str]| {
            let tq = title_trigrams(query);
            let hits = titles
                .iter()
                .enumerate()
                .map(|(i, t)| hit(i as u128 + 1, 1.0, t, &[]))
                .collect();
            let c = candidates(
                &[Channel::Title, Channel::Browse],
                vec![hits, vec![hit(9, 0.8, "Red River", &["western"])]],
                std::slice::from_ref(&tq),
                None,
                &ChannelWeights::default(),
                &["western".to_string()],
            );
            c.lists[0]
                .2
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<Uuid>>()
        };
        // then a title only like the genre word is dropped, and one typed whole is kept.
        assert!(
            trigram_dice(
                &title_trigrams("westerns"),
                &title_trigrams("The Westerner")
            ) > TITLE_MIN_SIMILARITY
        );
        assert_eq!(run("westerns", &["The Westerner"]), Vec::<Uuid>::new());
        assert_eq!(
            run(
                "scary movie",
                &["Scary Movie", "Scary Stories to Tell in the Dark"]
            ),
            vec![id(1)]
        );
    }

    #[test]
    fn graph_edges_merge_over_references_wanted_genres_first() {
        // Given two graph probes (one per referenced title), a cast probe and a more-like-this
        // probe,
        let results = vec![
            vec![hit(1, 0.9, "A", &["drama"]), hit(2, 0.8, "B", &["drama"])],
            vec![hit(2, 0.95, "B", &["drama"]), hit(3, 0.7, "C", &["comedy"])],
            vec![hit(4, 0.5, "D", &[]), hit(1, 0.4, "A", &["drama"])],
            vec![hit(5, 7.0, "E", &[])],
            vec![hit(6, 9.0, "F", &[]), hit(3, 4.0, "C", &["comedy"])],
        ];
        let weights = ChannelWeights::default();
        // when turned into lists for a query wanting comedy,
        let c = candidates(
            &[
                Channel::Graph,
                Channel::Graph,
                Channel::Cast,
                Channel::Keyword,
                Channel::MoreLikeThis,
            ],
            results,
            &[],
            None,
            &weights,
            &["comedy".to_string()],
        );
        // then the keyword list keeps its order, and each title's best graph score counts,
        // the comedy first (so are the titles described alike).
        assert_eq!(
            c.lists,
            vec![
                (Channel::Keyword, 1.0, vec![(id(5), 7.0)]),
                (
                    Channel::Graph,
                    2.0,
                    vec![(id(3), 0.7), (id(2), 0.95), (id(1), 0.9)]
                ),
                (Channel::Cast, 1.0, vec![(id(4), 0.5), (id(1), 0.4)]),
                (Channel::MoreLikeThis, 2.0, vec![(id(3), 4.0), (id(6), 9.0)]),
            ]
        );
        assert_eq!(c.payloads.len(), 6);
    }

    #[test]
    fn the_first_payload_of_a_title_is_kept() {
        let results = vec![
            vec![hit(1, 0.9, "first", &[])],
            vec![hit(1, 3.0, "second", &[])],
        ];
        let c = candidates(
            &[Channel::Dense, Channel::Keyword],
            results,
            &[],
            None,
            &ChannelWeights::default(),
            &[],
        );
        assert_eq!(c.payloads[&id(1)].title, "first");
        assert_eq!(c.lists[0].1, 0.4);
    }

    #[test]
    fn a_number_typed_is_part_of_the_title_asked_for() {
        // Given "godfather 3" and both films among the title hits,
        let tq = title_trigrams("godfather 3");
        let results = vec![vec![
            hit(1, 5.0, "The Godfather", &[]),
            hit(2, 4.0, "The Godfather Part III", &[]),
        ]];
        // when rescored with the number the query ends with,
        let c = candidates(
            &[Channel::Title],
            results,
            &[tq],
            Some("3"),
            &ChannelWeights::default(),
            &[],
        );
        // then the third part is the exact match and the first film falls below it.
        let (_, _, ranked) = &c.lists[0];
        assert_eq!(ranked[0], (id(2), 1.0));
        assert!(ranked[1].1 < 0.9, "{ranked:?}");
    }

    #[test]
    fn a_numbered_title_is_no_exact_match_for_a_query_without_its_number() {
        // Given "guardians of the galaxy" and the film with its two numbered sequels,
        let tq = title_trigrams("guardians of the galaxy");
        let results = vec![vec![
            hit(2, 5.0, "Guardians of the Galaxy Vol. 2", &[]),
            hit(3, 4.0, "Guardians of the Galaxy Vol. 3", &[]),
            hit(1, 3.0, "Guardians of the Galaxy", &[]),
            hit(4, 2.0, "Jaws 2", &[]),
        ]];
        // when rescored with no number typed,
        let c = candidates(
            &[Channel::Title],
            results,
            &[tq],
            None,
            &ChannelWeights::default(),
            &[],
        );
        // then only the film itself is the title typed whole (its "Vol. 2" reads 0.96 unmarked).
        let (_, _, ranked) = &c.lists[0];
        assert_eq!(ranked[0], (id(1), 1.0));
        assert!(
            ranked[1..].iter().all(|(_, s)| *s < EXACT_TITLE),
            "{ranked:?}"
        );
    }

    #[test]
    fn a_title_probed_as_it_sounds_joins_the_title_list_as_an_exact_match() {
        // Given "the dark night" probed as typed and as the title it sounds like, The Dark Knight
        // found by both probes and One Dark Night by the first,
        let typed = title_trigrams("the dark night");
        let meant = title_trigrams("The Dark Knight");
        let results = vec![
            vec![
                hit(1, 9.0, "One Dark Night", &[]),
                hit(2, 5.0, "The Dark Knight", &[]),
            ],
            vec![hit(2, 9.0, "The Dark Knight", &[])],
        ];
        // when fused,
        let c = candidates(
            &[Channel::Dense, Channel::Title, Channel::Title],
            vec![vec![hit(3, 0.5, "Other", &[])]]
                .into_iter()
                .chain(results)
                .collect(),
            &[typed, meant],
            None,
            &ChannelWeights::default(),
            &[],
        );
        // then one title list follows the dense one, The Dark Knight in it once, as typed right.
        let channels: Vec<Channel> = c.lists.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(channels, vec![Channel::Dense, Channel::Title]);
        let ranked = &c.lists[1].2;
        assert_eq!(ranked[0], (id(2), 1.0));
        assert_eq!(ranked.len(), 2, "{ranked:?}");
        assert_eq!(ranked[1].0, id(1));
    }
}
