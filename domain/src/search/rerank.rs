//! Rerank stage: the fused top candidates are reordered by a linear model over their channel
//! evidence and the prior. RRF only sees ranks; the reranker also sees how strong each channel's
//! hit was (a BM25 score twice the next one's, a title that matches exactly) and how well known
//! the title is. A few shallow boosted trees on top (LambdaMART) read what a line cannot: that a
//! well-known title matters when the keyword hit is strong and not when the title matched, and
//! the like. Weights and trees are learned on the train split of the labeled sets
//! (`mediagw train search-ranker`) and live in the config, so a retrain is a config change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fuse::{Channel, Fused, RankedList};
use super::index::DocPayload;
use super::people::Surnames;
use super::prior::with_interactions;
use super::sequels::Sequels;
use super::soundalike::Soundalikes;
use super::text::overlap;

/// The features, in the order of [`Features`]' array.
pub const FEATURES: [&str; 15] = [
    "fused",
    "dense",
    "dense_rr",
    "keyword",
    "keyword_rr",
    "title",
    "exact_title",
    "neighbour_rr",
    "prior",
    "genre",
    "engaged",
    "sequels",
    "year",
    "query_words",
    "coverage",
];

/// Where a named feature sits in [`Features`].
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|n| *n == name)
}

/// One candidate's feature values, named by [`FEATURES`].
pub type Features = [f32; FEATURES.len()];

/// Distinct users who engaged with each title (watched, rated well, saved), for the prior.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Engagement {
    users: HashMap<Uuid, u64>,
    most: u64,
}

impl Engagement {
    pub fn new(users: HashMap<Uuid, u64>) -> Self {
        let most = users.values().copied().max().unwrap_or(0);
        Self { users, most }
    }

    /// How many users engaged with this title, log-scaled against the most engaged one: its own
    /// feature, so the ranker weighs real interactions apart from the catalog's guess.
    pub fn share(&self, id: &Uuid) -> f32 {
        let users = self.users.get(id).copied().unwrap_or(0);
        if users == 0 || self.most == 0 {
            return 0.0;
        }
        ((1.0 + users as f32).ln() / (1.0 + self.most as f32).ln()).min(1.0)
    }

    /// The catalog prior with this title's engagement folded in, against the most engaged title.
    pub fn prior(&self, id: &Uuid, catalog: f32) -> f32 {
        let users = self.users.get(id).copied().unwrap_or(0);
        with_interactions(catalog, users, self.most)
    }
}

/// What is known of each title apart from any query: how many people engaged with it and how
/// many later titles continue it; whom the catalog's surnames stand for, and which titles a
/// misspelling sounds like. Read in the background by the API, shared by every search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    pub engagement: Engagement,
    pub sequels: Sequels,
    pub surnames: Surnames,
    /// Shared: the map is rebuilt only when the catalog changes, the rest more often.
    pub soundalikes: Arc<Soundalikes>,
}

/// What the search asked, as the features read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// Genres the query asks for.
    pub genres: &'a [String],
    /// Words typed: a title is two or three, a description a dozen; the trees read the other
    /// features differently for each.
    pub words: usize,
    /// Per candidate, the share of the query's keyword terms its text holds ([`coverage`]); read
    /// for the reranked head only (others count 0).
    pub coverage: Option<&'a HashMap<Uuid, f32>>,
    /// The film the query names as a franchise's shared name ([`Sequels::head_named`]): its
    /// title counts as typed whole.
    pub family_head: Option<Uuid>,
}

impl<'a> Asked<'a> {
    pub fn new(query: &str, genres: &'a [String]) -> Self {
        Self {
            genres,
            words: query.split_whitespace().count(),
            coverage: None,
            family_head: None,
        }
    }
}

/// The share of the query's distinct terms a document holds. BM25 rewards a short text that
/// repeats one query word; a person describing a film uses many words, and the film's own article
/// tends to hold more of them.
pub fn coverage(query: &[u32], doc: &[u32]) -> f32 {
    let mut q = query.to_vec();
    q.sort_unstable();
    q.dedup();
    if q.is_empty() {
        return 0.0;
    }
    let held = q.iter().filter(|t| doc.contains(t)).count();
    held as f32 / q.len() as f32
}

/// Query length from which the `query_words` feature saturates.
const LONG_QUERY: f32 = 20.0;

/// What a candidate's features are measured against: the search's best scores.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Best fused (boosted) score among the candidates.
    pub top_fused: f32,
    /// Best BM25 score of the keyword channel.
    pub top_keyword: f32,
    pub known: &'a Known,
}

impl<'a> Context<'a> {
    pub fn new(fused: &[Fused], lists: &[RankedList], known: &'a Known) -> Self {
        let top_fused = fused.iter().map(|f| f.score).fold(0.0, f32::max);
        let top_keyword = lists
            .iter()
            .filter(|(c, _, _)| *c == Channel::Keyword)
            .flat_map(|(_, _, hits)| hits.iter().map(|(_, s)| *s))
            .fold(0.0, f32::max);
        Self {
            top_fused,
            top_keyword,
            known,
        }
    }
}

pub use super::text::EXACT_TITLE;

fn rr(f: &Fused, c: Channel) -> f32 {
    f.hits.get(&c).map_or(0.0, |h| 1.0 / (h.rank as f32 + 1.0))
}

fn share(x: f32, top: f32) -> f32 {
    if top > 0.0 {
        (x / top).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Earliest and latest year the `year` feature tells apart; 0 means not known.
const YEARS: (f32, f32) = (1900.0, 2030.0);

/// Release year in [0, 1]: what people look for is not spread over the years the way a catalog
/// is (the shared one is 37 % silent-era films; the labeled sets ask for none of them).
fn release_year(year: i64) -> f32 {
    if year <= 0 {
        return 0.0;
    }
    ((year as f32 - YEARS.0) / (YEARS.1 - YEARS.0)).clamp(0.0, 1.0)
}

/// A candidate's features (each in [0, 1]).
pub fn features(f: &Fused, p: &DocPayload, ctx: &Context, asked: &Asked) -> Features {
    let title = f.channel_score(Channel::Title);
    [
        share(f.score, ctx.top_fused),
        f.channel_score(Channel::Dense).clamp(0.0, 1.0),
        rr(f, Channel::Dense),
        share(f.channel_score(Channel::Keyword), ctx.top_keyword),
        rr(f, Channel::Keyword),
        title.clamp(0.0, 1.0),
        if title >= EXACT_TITLE || asked.family_head == Some(f.id) {
            1.0
        } else {
            0.0
        },
        rr(f, Channel::Graph)
            .max(rr(f, Channel::Cast))
            .max(rr(f, Channel::MoreLikeThis)),
        ctx.known
            .engagement
            .prior(&f.id, (p.popularity as f32).clamp(0.0, 1.0)),
        overlap(asked.genres, &p.genres),
        ctx.known.engagement.share(&f.id),
        ctx.known.sequels.share(&f.id),
        release_year(p.year),
        (asked.words as f32 / LONG_QUERY).min(1.0),
        asked
            .coverage
            .and_then(|c| c.get(&f.id))
            .copied()
            .unwrap_or(0.0),
    ]
}

/// Feature weights by name (absent = 0), boosted trees added to the linear score, and how many
/// of the fused top titles are reordered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranker {
    /// 0 turns the stage off: fused order stands.
    pub depth: usize,
    pub weights: BTreeMap<String, f32>,
    /// Each adds its leaf's value to the linear score (none: the linear model alone).
    #[serde(default)]
    pub trees: Vec<Tree>,
}

impl Default for Ranker {
    /// Fused order: only the fused score counts.
    fn default() -> Self {
        Self {
            depth: 0,
            weights: BTreeMap::from([("fused".to_string(), 1.0)]),
            trees: Vec::new(),
        }
    }
}

/// A complete regression tree over the features: `2^d - 1` splits in breadth-first order (node
/// k's children are 2k+1 and 2k+2; `x <= threshold` goes left) and `2^d` leaves. In the config
/// the split features are named, so a reordered feature list cannot misread a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TreeSpec", into = "TreeSpec")]
pub struct Tree {
    splits: Vec<(usize, f32)>,
    leaves: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct TreeSpec {
    features: Vec<String>,
    thresholds: Vec<f32>,
    leaves: Vec<f32>,
}

impl Tree {
    /// `splits` as (index into [`FEATURES`], threshold); an error unless the shape is complete.
    pub fn new(splits: Vec<(usize, f32)>, leaves: Vec<f32>) -> Result<Self, String> {
        if !leaves.len().is_power_of_two() || leaves.len() != splits.len() + 1 {
            return Err(format!(
                "a tree needs 2^d leaves and one split fewer, got {} splits and {} leaves",
                splits.len(),
                leaves.len()
            ));
        }
        if let Some((f, _)) = splits.iter().find(|(f, _)| *f >= FEATURES.len()) {
            return Err(format!("feature index {f} out of range"));
        }
        Ok(Self { splits, leaves })
    }

    /// (index into [`FEATURES`], threshold), breadth-first.
    pub fn splits(&self) -> &[(usize, f32)] {
        &self.splits
    }

    pub fn leaves(&self) -> &[f32] {
        &self.leaves
    }

    /// The leaf value this candidate falls into.
    pub fn eval(&self, x: &Features) -> f32 {
        let mut k = 0;
        while k < self.splits.len() {
            let (f, t) = self.splits[k];
            k = if x[f] <= t { 2 * k + 1 } else { 2 * k + 2 };
        }
        self.leaves[k - self.splits.len()]
    }
}

impl TryFrom<TreeSpec> for Tree {
    type Error = String;
    fn try_from(s: TreeSpec) -> Result<Self, String> {
        if s.features.len() != s.thresholds.len() {
            return Err("a tree needs one threshold per split feature".into());
        }
        let splits = s
            .features
            .iter()
            .zip(s.thresholds)
            .map(|(name, t)| {
                feature_index(name)
                    .map(|i| (i, t))
                    .ok_or_else(|| format!("unknown ranking feature `{name}` in a tree"))
            })
            .collect::<Result<_, _>>()?;
        Tree::new(splits, s.leaves)
    }
}

impl From<Tree> for TreeSpec {
    fn from(t: Tree) -> Self {
        TreeSpec {
            features: t.splits.iter().map(|(f, _)| FEATURES[*f].into()).collect(),
            thresholds: t.splits.iter().map(|(_, t)| *t).collect(),
            leaves: t.leaves,
        }
    }
}

/// The linear score plus every tree's leaf.
pub fn model_score(w: &Features, trees: &[Tree], x: &Features) -> f32 {
    score(w, x) + trees.iter().map(|t| t.eval(x)).sum::<f32>()
}

impl Ranker {
    /// The weights in [`FEATURES`] order.
    pub fn vector(&self) -> Features {
        FEATURES.map(|n| self.weights.get(n).copied().unwrap_or(0.0))
    }

    /// Names no feature: a typo in the config would silently weigh nothing.
    pub fn unknown_features(&self) -> Vec<String> {
        self.weights
            .keys()
            .filter(|k| !FEATURES.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

pub fn score(w: &Features, x: &Features) -> f32 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// Reorders the best `ranker.depth` of `fused` (any order in, best first out) by the model. The
/// reordered titles take over the fused scores of those places, so scores stay monotone in rank
/// and `relevance_score` keeps its meaning; titles below the depth keep theirs.
pub fn apply(
    fused: &mut Vec<Fused>,
    payloads: &HashMap<Uuid, Arc<DocPayload>>,
    lists: &[RankedList],
    asked: &Asked,
    known: &Known,
    ranker: &Ranker,
) {
    super::fuse::sort(fused);
    let depth = ranker.depth.min(fused.len());
    if depth < 2 {
        return;
    }
    let ctx = Context::new(fused, lists, known);
    let w = ranker.vector();
    let places: Vec<f32> = fused[..depth].iter().map(|f| f.score).collect();
    let mut scored: Vec<(f32, Fused)> = fused
        .drain(..depth)
        .map(|f| {
            let x = features(&f, &payloads[&f.id], &ctx, asked);
            (model_score(&w, &ranker.trees, &x), f)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let mut last = f32::INFINITY;
    let head: Vec<Fused> = scored
        .into_iter()
        .zip(places)
        .map(|((_, mut f), place)| {
            // Strictly decreasing, so the page stage's sort keeps this order.
            f.score = place.min(next_down(last));
            last = f.score;
            f
        })
        .collect();
    fused.splice(0..0, head);
}

/// Every candidate's features, as the reranker sees them (before it reorders): `explain`.
pub fn explain(
    fused: &[Fused],
    payloads: &HashMap<Uuid, Arc<DocPayload>>,
    lists: &[RankedList],
    asked: &Asked,
    known: &Known,
) -> HashMap<Uuid, Features> {
    let ctx = Context::new(fused, lists, known);
    fused
        .iter()
        .map(|f| (f.id, features(f, &payloads[&f.id], &ctx, asked)))
        .collect()
}

fn next_down(x: f32) -> f32 {
    if x.is_infinite() {
        return x;
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f32::from_bits(bits - 1)
    } else if x == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(bits + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fuse::ChannelHit;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn fused(n: u128, score: f32, hits: &[(Channel, usize, f32)]) -> Fused {
        Fused {
            id: id(n),
            score,
            hits: hits
                .iter()
                .map(|(c, rank, score)| {
                    (
                        *c,
                        ChannelHit {
                            rank: *rank,
                            score: *score,
                        },
                    )
                })
                .collect(),
        }
    }

    fn payloads(prior: &[(u128, f64)]) -> HashMap<Uuid, Arc<DocPayload>> {
        prior
            .iter()
            .map(|(n, p)| {
                (
                    id(*n),
                    Arc::new(DocPayload {
                        title: format!("t{n}"),
                        popularity: *p,
                        genres: vec!["drama".into()],
                        ..DocPayload::default()
                    }),
                )
            })
            .collect()
    }

    fn ranker(depth: usize, w: &[(&str, f32)]) -> Ranker {
        Ranker {
            depth,
            weights: w.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            trees: Vec::new(),
        }
    }

    #[test]
    fn features_read_channel_strength_against_the_search_best() {
        let f = fused(
            1,
            0.5,
            &[
                (Channel::Keyword, 1, 6.0),
                (Channel::Title, 0, 0.95),
                (Channel::Cast, 3, 1.0),
            ],
        );
        let lists: Vec<RankedList> = vec![(Channel::Keyword, 1.0, vec![(id(2), 12.0)])];
        let known = Known {
            sequels: crate::search::sequels::Sequels::from_titles([
                (id(1), "Speed", 1994),
                (id(9), "Speed 2: Cruise Control", 1997),
            ]),
            ..Known::default()
        };
        let ctx = Context::new(&[f.clone(), fused(2, 1.0, &[])], &lists, &known);
        let p = DocPayload {
            year: 1994,
            popularity: 0.7,
            genres: vec!["drama".into()],
            ..DocPayload::default()
        };
        let genres = ["drama".to_string(), "comedy".to_string()];
        let held = HashMap::from([(id(1), 0.75)]);
        let asked = Asked {
            coverage: Some(&held),
            ..Asked::new("a drama or a comedy", &genres)
        };
        let x = features(&f, &p, &ctx, &asked);
        let named: BTreeMap<&str, f32> = FEATURES.iter().copied().zip(x).collect();
        assert_eq!(named["fused"], 0.5);
        assert_eq!(named["keyword"], 0.5);
        assert_eq!(named["keyword_rr"], 0.5);
        assert_eq!(named["dense"], 0.0);
        assert_eq!(named["exact_title"], 1.0);
        assert_eq!(named["neighbour_rr"], 0.25);
        assert!((named["prior"] - 0.7).abs() < 1e-6);
        assert_eq!(named["genre"], 0.5);
        assert!(named["sequels"] > 0.0 && named["sequels"] < 1.0);
        assert!((named["year"] - 94.0 / 130.0).abs() < 1e-6);
        assert_eq!(release_year(0), 0.0);
        assert_eq!(named["query_words"], 0.25);
        assert_eq!(named["coverage"], 0.75);
        let other = features(&fused(2, 1.0, &[]), &p, &ctx, &asked);
        assert_eq!(other[feature_index("coverage").unwrap()], 0.0);
        let exact = feature_index("exact_title").unwrap();
        assert_eq!(other[exact], 0.0);
        // A franchise's shared name typed whole names its first film.
        let named_for = Asked {
            family_head: Some(id(2)),
            ..asked
        };
        assert_eq!(
            features(&fused(2, 1.0, &[]), &p, &ctx, &named_for)[exact],
            1.0
        );
    }

    #[test]
    fn the_prior_lifts_a_known_title_over_a_close_obscure_one_within_depth_only() {
        let mut list = vec![
            fused(1, 1.0, &[(Channel::Keyword, 0, 10.0)]),
            fused(2, 0.9, &[(Channel::Keyword, 1, 9.5)]),
            fused(3, 0.1, &[(Channel::Keyword, 2, 1.0)]),
        ];
        let p = payloads(&[(1, 0.0), (2, 1.0), (3, 1.0)]);
        let r = ranker(2, &[("fused", 1.0), ("prior", 0.5)]);
        apply(&mut list, &p, &[], &Asked::default(), &Known::default(), &r);
        let order: Vec<u128> = list.iter().map(|f| f.id.as_u128()).collect();
        assert_eq!(order, vec![2, 1, 3], "title 3 is below the depth");
        // Scores stay monotone and keep the places' values.
        assert_eq!(list[0].score, 1.0);
        assert!(list[1].score <= 0.9 && list[1].score > 0.89);
        assert_eq!(list[2].score, 0.1);
    }

    #[test]
    fn depth_zero_or_the_default_keeps_fused_order() {
        let mk = || vec![fused(1, 0.5, &[]), fused(2, 1.0, &[]), fused(3, 0.7, &[])];
        let p = payloads(&[(1, 1.0), (2, 0.0), (3, 0.5)]);
        for r in [
            Ranker::default(),
            ranker(10, &[("fused", 1.0)]),
            ranker(0, &[("prior", 1.0)]),
        ] {
            let mut list = mk();
            apply(&mut list, &p, &[], &Asked::default(), &Known::default(), &r);
            let order: Vec<u128> = list.iter().map(|f| f.id.as_u128()).collect();
            assert_eq!(order, vec![2, 3, 1], "{r:?}");
        }
    }

    #[test]
    fn equal_places_still_come_out_strictly_ordered() {
        let mut list = vec![fused(1, 0.5, &[]), fused(2, 0.5, &[]), fused(3, 0.5, &[])];
        let p = payloads(&[(1, 0.0), (2, 1.0), (3, 0.5)]);
        apply(
            &mut list,
            &p,
            &[],
            &Asked::default(),
            &Known::default(),
            &ranker(3, &[("prior", 1.0)]),
        );
        let order: Vec<u128> = list.iter().map(|f| f.id.as_u128()).collect();
        assert_eq!(order, vec![2, 3, 1]);
        assert!(list[0].score > list[1].score && list[1].score > list[2].score);
        crate::search::fuse::sort(&mut list);
        let again: Vec<u128> = list.iter().map(|f| f.id.as_u128()).collect();
        assert_eq!(again, order);
    }

    #[test]
    fn engagement_lifts_the_prior_of_titles_people_engaged_with() {
        let e = Engagement::new(HashMap::from([(id(1), 100), (id(2), 3)]));
        assert!((e.prior(&id(1), 0.2) - 0.6).abs() < 1e-6);
        assert!(e.prior(&id(2), 0.2) > 0.2 && e.prior(&id(2), 0.2) < e.prior(&id(1), 0.2));
        assert_eq!(e.prior(&id(3), 0.2), 0.2);
        assert_eq!(Engagement::default().prior(&id(1), 0.4), 0.4);
        // Its own feature: the most engaged title 1, fewer users less, none 0.
        assert_eq!(e.share(&id(1)), 1.0);
        assert!(e.share(&id(2)) > 0.0 && e.share(&id(2)) < 0.5);
        assert_eq!(e.share(&id(3)), 0.0);
        assert_eq!(Engagement::default().share(&id(1)), 0.0);
    }

    #[test]
    fn trees_add_their_leaf_to_the_linear_score() {
        let prior = FEATURES.iter().position(|n| *n == "prior").unwrap();
        let title = FEATURES.iter().position(|n| *n == "title").unwrap();
        // prior <= 0.5 → (title <= 0.9 → 0.1 | 0.2), else (title <= 0.3 → 1.0 | -1.0)
        let t = Tree::new(
            vec![(prior, 0.5), (title, 0.9), (title, 0.3)],
            vec![0.1, 0.2, 1.0, -1.0],
        )
        .unwrap();
        let x = |p: f32, ti: f32| {
            let mut x = [0.0; FEATURES.len()];
            x[prior] = p;
            x[title] = ti;
            x
        };
        assert_eq!(t.eval(&x(0.2, 0.5)), 0.1);
        assert_eq!(t.eval(&x(0.5, 1.0)), 0.2);
        assert_eq!(t.eval(&x(0.9, 0.3)), 1.0);
        assert_eq!(t.eval(&x(0.9, 0.8)), -1.0);
        let mut w = [0.0; FEATURES.len()];
        w[prior] = 2.0;
        assert_eq!(
            model_score(&w, &[t.clone(), t.clone()], &x(0.9, 0.8)),
            1.8 - 2.0
        );

        // Named in the config; a bad shape or name is refused at load.
        let spec = r#"{"features":["prior","title","title"],"thresholds":[0.5,0.9,0.3],"leaves":[0.1,0.2,1.0,-1.0]}"#;
        let read: Tree = serde_json::from_str(spec).unwrap();
        assert_eq!(read, t);
        assert_eq!(serde_json::to_string(&read).unwrap(), spec);
        let bad = r#"{"features":["prior"],"thresholds":[0.5],"leaves":[0.1,0.2,0.3]}"#;
        assert!(serde_json::from_str::<Tree>(bad).is_err());
        let unknown = r#"{"features":["stars"],"thresholds":[0.5],"leaves":[0.1,0.2]}"#;
        let e = serde_json::from_str::<Tree>(unknown)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stars"), "{e}");
    }

    #[test]
    fn a_tree_can_reorder_what_the_weights_leave() {
        // Fused order 1, 2; a tree that lifts titles people engaged with puts 2 first.
        let engaged = FEATURES.iter().position(|n| *n == "engaged").unwrap();
        let mut list = vec![fused(1, 1.0, &[]), fused(2, 0.9, &[])];
        let p = payloads(&[(1, 0.0), (2, 0.0)]);
        let e = Known {
            engagement: Engagement::new(HashMap::from([(id(2), 10)])),
            ..Known::default()
        };
        let mut r = ranker(2, &[("fused", 1.0)]);
        r.trees = vec![Tree::new(vec![(engaged, 0.5)], vec![0.0, 0.5]).unwrap()];
        apply(&mut list, &p, &[], &Asked::default(), &e, &r);
        let order: Vec<u128> = list.iter().map(|f| f.id.as_u128()).collect();
        assert_eq!(order, vec![2, 1]);
    }

    #[test]
    fn coverage_counts_distinct_query_terms_the_text_holds() {
        assert_eq!(coverage(&[1, 2, 2, 3, 4], &[9, 2, 4, 7]), 0.5);
        assert_eq!(coverage(&[1], &[]), 0.0);
        assert_eq!(coverage(&[], &[1]), 0.0);
    }

    #[test]
    fn unknown_feature_names_are_reported() {
        let r = ranker(5, &[("prior", 1.0), ("popularity", 2.0)]);
        assert_eq!(r.unknown_features(), vec!["popularity".to_string()]);
        assert_eq!(r.vector()[8], 1.0);
    }
}
