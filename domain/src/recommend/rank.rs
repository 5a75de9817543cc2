//! The ranking pipeline behind `POST /v1/recommendations`, in two pure phases around the I/O the
//! query service does (content neighbours from the index, availability from the catalog):
//!
//! 1. [`candidates`]: collaborative (EASE + time-aware popularity), content-based (titles near
//!    the preference vector), graph (shared cast with recent likes), context priors (mood, time,
//!    device, company) and the per-user adapter, blended into one score per title.
//! 2. [`finish`]: availability (the user's services, leaving soon), MMR diversity and an
//!    explanation per pick.
//!
//! Every stage can be switched off ([`Stages`]): the evaluation's ablation rows are the same code.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::Model;

const DAY_MS: i64 = 86_400_000;

/// Which stages run. The product runs all; the evaluation switches them on one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    pub collaborative: bool,
    pub content: bool,
    pub graph: bool,
    pub context: bool,
    pub adapter: bool,
    pub mmr: bool,
}

impl Stages {
    pub const NAMES: [&'static str; 6] = [
        "collaborative",
        "content",
        "graph",
        "context",
        "adapter",
        "mmr",
    ];

    pub const ALL: Stages = Stages {
        collaborative: true,
        content: true,
        graph: true,
        context: true,
        adapter: true,
        mmr: true,
    };

    pub const NONE: Stages = Stages {
        collaborative: false,
        content: false,
        graph: false,
        context: false,
        adapter: false,
        mmr: false,
    };

    /// Stages by name; `Err(name)` for an unknown one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Stages, String> {
        let mut s = Stages::NONE;
        for n in names {
            match n {
                "collaborative" => s.collaborative = true,
                "content" => s.content = true,
                "graph" => s.graph = true,
                "context" => s.context = true,
                "adapter" => s.adapter = true,
                "mmr" => s.mmr = true,
                other => return Err(other.to_string()),
            }
        }
        Ok(s)
    }

    /// The first `n` stages in pipeline order (the cumulative ablation rows).
    pub fn first(n: usize) -> Stages {
        Stages::parse(Stages::NAMES.iter().take(n).copied()).expect("known names")
    }
}

/// How much each stage weighs (measured on MovieTweetings and MovieLens-100k; docs/quality.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// Time-aware popularity: interactions in this many days up to the user's latest activity.
    pub window_days: i64,
    /// The popularity prior weighs `k / (k + n)` against the EASE score (both scaled to max 1)
    /// for a user with `n` engaged titles: strong for newcomers, fading as history grows.
    pub prior_shrink: f32,
    /// Weight of all-time popularity (the prior of users without any history).
    pub popularity: f32,
    pub content: f32,
    pub graph: f32,
    /// Strength of the adapter's genre correction.
    pub adapter: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            window_days: 3,
            prior_shrink: 10.0,
            popularity: 0.0,
            content: 0.15,
            graph: 0.1,
            adapter: 0.1,
        }
    }
}

/// The viewing situation (seed `RecommendationContext`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub mood: Option<String>,
    pub time_of_day: Option<String>,
    pub device_type: Option<String>,
    pub viewing_with: Vec<String>,
    /// Genres the person picked (cold-start onboarding), favoured like a mood's.
    pub genres: Vec<String>,
}

impl Context {
    pub fn is_empty(&self) -> bool {
        self.mood.is_none()
            && self.time_of_day.is_none()
            && self.device_type.is_none()
            && self.viewing_with.is_empty()
            && self.genres.is_empty()
    }

    pub fn with_family(&self) -> bool {
        self.viewing_with
            .iter()
            .any(|w| matches!(w.as_str(), "family" | "kids" | "children"))
    }
}

/// One title of the user's profile, as ranking reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserItem {
    pub content_id: Uuid,
    pub title: Option<String>,
    /// −1 … +1 (see `ItemSignals::preference`).
    pub preference: f32,
    pub engaged: bool,
    pub watched: bool,
    pub dismissed: bool,
    pub rating: Option<(u8, u8)>,
    pub last_at_ms: i64,
}

/// Why a title is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecommendationType {
    Collaborative,
    ContentBased,
    Graph,
    Popular,
    Contextual,
}

/// A scored candidate with the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: Uuid,
    pub score: f32,
    pub kind: RecommendationType,
    /// The user's title that contributed most (collaborative, content, graph).
    pub because_of: Option<Uuid>,
    /// Shared cast member (graph).
    pub cast: Option<String>,
    /// Context rule that applied, for the explanation ("relaxing", "family").
    pub context: Option<String>,
    /// Genres (for MMR and context), from the model or the index.
    pub genres: Vec<String>,
}

/// A candidate coming from outside the model (content neighbours from the index).
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    pub id: Uuid,
    pub similarity: f32,
    pub genres: Vec<String>,
    /// The user's title nearest to it, when known.
    pub because_of: Option<Uuid>,
}

/// Genres a family audience should not be shown.
pub const NOT_FOR_FAMILY: &[&str] = &["horror", "adult", "erotic", "erotica", "thriller", "crime"];

/// Mood / time / device / company → genres it favours (×1.25) and disfavours (×0.8).
fn context_priors(ctx: &Context) -> (Vec<String>, Vec<String>, Option<String>) {
    let mut up: Vec<&str> = Vec::new();
    let mut down: Vec<&str> = Vec::new();
    let mut label = None;
    for g in &ctx.genres {
        up.push(g.as_str());
        label.get_or_insert_with(|| g.to_lowercase());
    }
    if let Some(m) = ctx.mood.as_deref() {
        let (u, d): (&[&str], &[&str]) = match m {
            "relaxing" | "relaxed" | "calm" | "cozy" => (
                &[
                    "comedy",
                    "animation",
                    "family",
                    "romance",
                    "music",
                    "documentary",
                ],
                &["horror", "thriller", "war"],
            ),
            "intense" | "thrilling" | "excited" => (
                &["thriller", "action", "horror", "crime", "war", "mystery"],
                &["family", "romance", "music"],
            ),
            "funny" | "happy" | "light" => (&["comedy", "animation", "family"], &["war", "horror"]),
            "sad" | "emotional" | "moody" => (&["drama", "romance"], &["action"]),
            "thoughtful" | "curious" => (
                &[
                    "documentary",
                    "drama",
                    "history",
                    "biography",
                    "science fiction",
                ],
                &[],
            ),
            "scary" | "spooky" => (&["horror", "thriller", "mystery"], &["family"]),
            _ => (&[], &[]),
        };
        if !u.is_empty() {
            label = Some(m.to_string());
        }
        up.extend(u);
        down.extend(d);
    }
    match ctx.time_of_day.as_deref() {
        Some("morning") => {
            up.extend(["animation", "family", "documentary", "comedy"]);
            down.extend(["horror"]);
        }
        Some("night") | Some("late_night") | Some("late-night") => {
            up.extend(["thriller", "horror", "mystery"]);
        }
        _ => {}
    }
    if ctx.with_family() {
        up.extend(["family", "animation", "adventure", "comedy"]);
        label = Some("family".into());
    } else if ctx.viewing_with.iter().any(|w| w == "partner") {
        up.extend(["romance", "comedy", "drama"]);
        label.get_or_insert_with(|| "partner".into());
    } else if ctx.viewing_with.iter().any(|w| w == "friends") {
        up.extend(["comedy", "action", "horror"]);
        label.get_or_insert_with(|| "friends".into());
    }
    if matches!(ctx.device_type.as_deref(), Some("mobile") | Some("phone")) {
        up.extend(["comedy", "animation", "documentary"]);
    }
    let lower = |v: Vec<&str>| v.into_iter().map(str::to_lowercase).collect::<Vec<_>>();
    (lower(up), lower(down), label)
}

fn lower_genres(g: &[String]) -> Vec<String> {
    g.iter().map(|g| g.to_lowercase()).collect()
}

/// Phase 1: scores every title the model knows plus the external (content) candidates, leaves
/// out what must not be shown (the user's dismissed titles; watched ones with `exclude_watched`;
/// adult genres with family), and returns the best `keep`, best first. The query service runs
/// the two halves apart ([`score_model`] while the index answers, then [`select`]).
#[allow(clippy::too_many_arguments)]
pub fn candidates(
    model: &Model,
    user: &[UserItem],
    ctx: &Context,
    stages: Stages,
    weights: &Weights,
    external: &[External],
    exclude_watched: bool,
    keep: usize,
) -> Vec<Candidate> {
    let scored = score_model(model, user, stages, weights);
    select(
        scored,
        model,
        user,
        ctx,
        stages,
        weights,
        external,
        exclude_watched,
        keep,
    )
}

/// Per-title scores from the model's stages (collaborative, graph), before content, context and
/// the adapter: the CPU-heavy half of [`candidates`].
pub struct ModelScores {
    score: Vec<f32>,
    kind: Vec<RecommendationType>,
    because: Vec<Option<Uuid>>,
    cast_of: Vec<Option<String>>,
}

pub fn score_model(
    model: &Model,
    user: &[UserItem],
    stages: Stages,
    weights: &Weights,
) -> ModelScores {
    let n = model.len();
    let mut score = vec![0f32; n];
    let mut kind = vec![RecommendationType::Popular; n];
    let mut because: Vec<Option<Uuid>> = vec![None; n];
    let mut cast_of: Vec<Option<String>> = vec![None; n];
    let latest = user.iter().map(|u| u.last_at_ms).max();

    // Collaborative: EASE from every engaged title, plus the popularity priors.
    if stages.collaborative && n > 0 {
        let mut best_from = vec![0f32; n];
        let mut ease = vec![0f32; n];
        for u in user.iter().filter(|u| u.engaged) {
            let Some(j) = model.index_of(&u.content_id) else {
                continue;
            };
            let Some(row) = model.neighbours.get(j as usize) else {
                continue;
            };
            for &(i, w) in row {
                let i = i as usize;
                ease[i] += w;
                if w > best_from[i] {
                    best_from[i] = w;
                    because[i] = Some(u.content_id);
                }
            }
        }
        let max_ease = ease.iter().copied().fold(0f32, f32::max);
        let all: Vec<f32> = model.times.iter().map(|t| t.len() as f32).collect();
        let max_all = all.iter().copied().fold(0f32, f32::max).max(1.0);
        let recent: Vec<f32> = match latest {
            Some(at) => (0..n)
                .map(|i| model.popularity_before(i, at, weights.window_days * DAY_MS) as f32)
                .collect(),
            None => vec![0.0; n],
        };
        let max_recent = recent.iter().copied().fold(0f32, f32::max).max(1.0);
        let engaged = user.iter().filter(|u| u.engaged).count() as f32;
        let prior = weights.prior_shrink / (weights.prior_shrink + engaged);
        // Nobody to be "recent" with: all-time popularity is the whole prior.
        let popularity = if latest.is_none() {
            weights.popularity.max(1.0)
        } else {
            weights.popularity
        };
        for i in 0..n {
            let e = if max_ease > 0.0 {
                ease[i].max(0.0) / max_ease
            } else {
                0.0
            };
            let p = prior * recent[i] / max_recent + popularity * all[i] / max_all;
            score[i] = e + p;
            if e > 0.0 && e >= p {
                kind[i] = RecommendationType::Collaborative;
            }
        }
    }

    // Graph: titles sharing cast with the user's recent likes.
    if stages.graph && n > 0 {
        let mut liked: Vec<&UserItem> = user.iter().filter(|u| u.preference >= 0.5).collect();
        liked.sort_by_key(|u| std::cmp::Reverse(u.last_at_ms));
        let mut by_cast: HashMap<&str, Vec<(Uuid, &str)>> = HashMap::new();
        for u in liked.iter().take(10) {
            if let Some(j) = model.index_of(&u.content_id) {
                for c in model.info[j as usize].cast.iter().take(5) {
                    by_cast
                        .entry(c.as_str())
                        .or_default()
                        .push((u.content_id, c.as_str()));
                }
            }
        }
        // Titles reached through each shared name (the model's cast index), counted once per name.
        let mut shared: HashMap<u32, (usize, Uuid, &str)> = HashMap::new();
        let mut names: Vec<(&&str, &Vec<(Uuid, &str)>)> = by_cast.iter().collect();
        names.sort_by_key(|(name, _)| **name);
        for (name, sources) in names {
            for &i in model.cast_index.get(*name).into_iter().flatten() {
                let e = shared.entry(i).or_insert((0, sources[0].0, sources[0].1));
                e.0 += 1;
            }
        }
        let mut shared: Vec<(u32, (usize, Uuid, &str))> = shared.into_iter().collect();
        shared.sort_by_key(|(i, _)| *i);
        for (i, (count, src, name)) in shared {
            let i = i as usize;
            score[i] += weights.graph * (count as f32).min(3.0) / 3.0;
            if kind[i] == RecommendationType::Popular {
                kind[i] = RecommendationType::Graph;
                because[i] = Some(src);
                cast_of[i] = Some(name.to_string());
            }
        }
    }

    ModelScores {
        score,
        kind,
        because,
        cast_of,
    }
}

/// The cheap half of [`candidates`]: adds the content candidates, applies the adapter, the
/// context priors and the exclusions, and keeps the best `keep`.
#[allow(clippy::too_many_arguments)]
pub fn select(
    scored: ModelScores,
    model: &Model,
    user: &[UserItem],
    ctx: &Context,
    stages: Stages,
    weights: &Weights,
    external: &[External],
    exclude_watched: bool,
    keep: usize,
) -> Vec<Candidate> {
    let ModelScores {
        mut score,
        mut kind,
        mut because,
        mut cast_of,
    } = scored;
    let n = score.len().min(model.len());
    // Content-based: titles near the preference vector (from the index).
    let mut extra: Vec<Candidate> = Vec::new();
    if stages.content {
        for x in external {
            let bonus = weights.content * x.similarity.max(0.0);
            match model.index_of(&x.id) {
                Some(i) => {
                    let i = i as usize;
                    score[i] += bonus;
                    if kind[i] == RecommendationType::Popular && bonus > 0.0 {
                        kind[i] = RecommendationType::ContentBased;
                        because[i] = because[i].or(x.because_of);
                    }
                }
                None => extra.push(Candidate {
                    id: x.id,
                    score: bonus,
                    kind: RecommendationType::ContentBased,
                    because_of: x.because_of,
                    cast: None,
                    context: None,
                    genres: lower_genres(&x.genres),
                }),
            }
        }
    }

    // The adapter: a rank-1 per-user correction over genres (the user's genre lift over the
    // population's), refit from the profile every 10 interactions (see `adapter`).
    let lift = if stages.adapter {
        adapter(model, user)
    } else {
        HashMap::new()
    };

    let (up, down, label) = if stages.context {
        context_priors(ctx)
    } else {
        (vec![], vec![], None)
    };
    let family = stages.context && ctx.with_family();
    let excluded: HashSet<Uuid> = user
        .iter()
        .filter(|u| u.dismissed || (exclude_watched && (u.watched || u.engaged)))
        .map(|u| u.content_id)
        .collect();

    let adjust = |c: &mut Candidate| -> bool {
        if excluded.contains(&c.id) {
            return false;
        }
        if family
            && c.genres
                .iter()
                .any(|g| NOT_FOR_FAMILY.contains(&g.as_str()))
        {
            return false;
        }
        if !lift.is_empty() && !c.genres.is_empty() {
            let l: f32 =
                c.genres.iter().filter_map(|g| lift.get(g)).sum::<f32>() / c.genres.len() as f32;
            c.score *= 1.0 + weights.adapter * l.clamp(-1.0, 1.0);
        }
        if !up.is_empty() || !down.is_empty() {
            let hit_up = c.genres.iter().any(|g| up.contains(g));
            let hit_down = c.genres.iter().any(|g| down.contains(g));
            if hit_up {
                c.score *= 1.25;
                c.context = label.clone();
            }
            if hit_down {
                c.score *= 0.8;
            }
        }
        c.score > 0.0
    };

    let mut out: Vec<Candidate> = Vec::with_capacity(keep * 2);
    let mut order: Vec<usize> = (0..n).filter(|&i| score[i] > 0.0).collect();
    // Context and adapter change scores by bounded factors: a wide pre-cut keeps this exact enough.
    let pre = (keep * 8).max(200);
    let by_score = |a: &usize, b: &usize| score[*b].total_cmp(&score[*a]).then(a.cmp(b));
    if order.len() > pre {
        order.select_nth_unstable_by(pre, by_score);
        order.truncate(pre);
    }
    for i in order {
        let mut c = Candidate {
            id: model.items[i],
            score: score[i],
            kind: kind[i],
            because_of: because[i],
            cast: cast_of[i].take(),
            context: None,
            genres: model.genres_lc[i].clone(),
        };
        if adjust(&mut c) {
            out.push(c);
        }
    }
    for mut c in extra {
        if adjust(&mut c) {
            out.push(c);
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    out.truncate(keep);
    out
}

/// Per-genre lift of the user over the population (−1 … +1), from the user's liked and disliked
/// titles; empty below 10 interactions (too little evidence) and refit at every tenth.
pub fn adapter(model: &Model, user: &[UserItem]) -> HashMap<String, f32> {
    let known: Vec<(&UserItem, usize)> = user
        .iter()
        .filter_map(|u| model.index_of(&u.content_id).map(|i| (u, i as usize)))
        .collect();
    let n = known.len() / 10 * 10;
    if n == 0 {
        return HashMap::new();
    }
    // The first n by time: the adapter only moves every 10 interactions.
    let mut known = known;
    known.sort_by_key(|(u, _)| (u.last_at_ms, u.content_id));
    let mut mine: HashMap<String, f32> = HashMap::new();
    let mut total = 0f32;
    for (u, i) in known.iter().take(n) {
        for g in &model.genres_lc[*i] {
            *mine.entry(g.clone()).or_default() += u.preference;
        }
        total += u.preference.abs();
    }
    let total = total.max(1.0);
    mine.into_iter()
        .map(|(g, v)| {
            let b = model.genre_share.get(&g).copied().unwrap_or(0.0);
            (g, (v / total - b).clamp(-1.0, 1.0))
        })
        .collect()
}

/// How much the user would like one title, −1 … +1: their own verdict when they rated, watched or
/// dismissed it; else its score among every candidate the model ranks (the best is 1), `None`
/// when the model cannot score it.
pub fn affinity(
    model: &Model,
    user: &[UserItem],
    id: Uuid,
    weights: &Weights,
) -> Option<(f32, Candidate)> {
    if let Some(u) = user.iter().find(|u| u.content_id == id) {
        let c = Candidate {
            id,
            score: u.preference,
            kind: RecommendationType::Collaborative,
            because_of: Some(id),
            cast: None,
            context: None,
            genres: vec![],
        };
        return Some((u.preference, c));
    }
    let all = candidates(
        model,
        user,
        &Context::default(),
        Stages::ALL,
        weights,
        &[],
        false,
        model.len(),
    );
    let top = all.first().map(|c| c.score)?.max(f32::MIN_POSITIVE);
    all.into_iter()
        .find(|c| c.id == id)
        .map(|c| ((c.score / top).clamp(0.0, 1.0), c))
}

/// Where a candidate can be watched, as the query service found it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Availability {
    /// Platforms with an offer in the user's region.
    pub platforms: Vec<String>,
    /// Those the user subscribes to.
    pub on_my_services: Vec<String>,
    /// Days until the soonest offer on the user's services ends, if it is set.
    pub leaving_in_days: Option<i64>,
}

/// A final pick.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub candidate: Candidate,
    pub confidence: f32,
}

/// Phase 2: availability-aware ranking (+15 % on the user's services, +10 % more when leaving
/// within 7 days), then MMR: each next pick maximises `(1 − λ)·relevance − λ·max similarity to
/// the picks so far` with `λ = diversity` (genre Jaccard as similarity).
pub fn finish(
    mut cands: Vec<Candidate>,
    availability: &HashMap<Uuid, Availability>,
    diversity: f32,
    stages: Stages,
    limit: usize,
) -> Vec<Pick> {
    for c in &mut cands {
        if let Some(a) = availability.get(&c.id) {
            if !a.on_my_services.is_empty() {
                c.score *= 1.15;
                if a.leaving_in_days.is_some_and(|d| d <= 7) {
                    c.score *= 1.1;
                }
            }
        }
    }
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    let top = cands
        .first()
        .map_or(1.0, |c| c.score)
        .max(f32::MIN_POSITIVE);
    let lambda = if stages.mmr {
        diversity.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Genres as bit sets (Jaccard by popcount), and each candidate's highest similarity to the
    // picks so far, updated with the newest pick only: O(limit × candidates).
    let mut bits: HashMap<&str, u32> = HashMap::new();
    let masks: Vec<u64> = cands
        .iter()
        .map(|c| {
            c.genres.iter().fold(0u64, |m, g| {
                let next = bits.len() as u32;
                let b = *bits.entry(g.as_str()).or_insert(next);
                if b < 64 {
                    m | 1 << b
                } else {
                    m
                }
            })
        })
        .collect();
    let mut max_sim = vec![0f32; cands.len()];
    let mut taken = vec![false; cands.len()];
    let mut order: Vec<usize> = Vec::with_capacity(limit);
    while order.len() < limit.min(cands.len()) {
        let mut best = (usize::MAX, f32::NEG_INFINITY);
        for (k, c) in cands.iter().enumerate() {
            if taken[k] {
                continue;
            }
            let v = (1.0 - lambda) * c.score / top - lambda * max_sim[k];
            if v > best.1 {
                best = (k, v);
            }
            if lambda == 0.0 {
                break; // sorted: the first one left is the best
            }
        }
        let b = best.0;
        taken[b] = true;
        order.push(b);
        if lambda > 0.0 {
            for k in 0..cands.len() {
                if !taken[k] {
                    max_sim[k] = max_sim[k].max(jaccard_bits(masks[k], masks[b]));
                }
            }
        }
    }
    let mut slots: Vec<Option<Candidate>> = cands.into_iter().map(Some).collect();
    let picks: Vec<Pick> = order
        .into_iter()
        .map(|k| {
            let c = slots[k].take().expect("picked once");
            let confidence = (c.score / top).clamp(0.0, 1.0);
            Pick {
                candidate: c,
                confidence,
            }
        })
        .collect();
    picks
}

fn jaccard_bits(a: u64, b: u64) -> f32 {
    let union = (a | b).count_ones();
    if a == 0 || b == 0 || union == 0 {
        return 0.0;
    }
    (a & b).count_ones() as f32 / union as f32
}

/// The human sentence and the `based_on` list for a pick.
pub fn explain(
    pick: &Pick,
    user: &HashMap<Uuid, &UserItem>,
    title_of: impl Fn(Uuid) -> Option<String>,
    availability: Option<&Availability>,
) -> (String, Vec<String>) {
    let c = &pick.candidate;
    let mut based_on = Vec::new();
    let src = c.because_of.and_then(|id| {
        let name = user
            .get(&id)
            .and_then(|u| u.title.clone())
            .or_else(|| title_of(id))?;
        Some((name, user.get(&id).copied()))
    });
    let mut sentence = match (c.kind, &src) {
        (RecommendationType::Collaborative, Some((name, item))) => {
            based_on.push(format!("similar to {name}"));
            match item.and_then(|u| u.rating) {
                Some((r, s)) => format!("Because you rated {name} {r}/{s}"),
                None => format!("Popular with people who liked {name}"),
            }
        }
        (RecommendationType::ContentBased, Some((name, _))) => {
            based_on.push(format!("like {name}"));
            format!("Close in theme and style to {name}")
        }
        (RecommendationType::Graph, Some((name, _))) => {
            let cast = c.cast.clone().unwrap_or_default();
            based_on.push(format!("shares cast with {name}: {cast}"));
            format!("Shares cast with {name} ({cast})")
        }
        _ => {
            based_on.push("popular right now".into());
            "Popular with viewers active when you are".into()
        }
    };
    if let Some(label) = &c.context {
        based_on.push(format!("fits {label}"));
        sentence.push_str(&format!("; a good fit for {label}"));
    }
    if let Some(a) = availability {
        if let Some(p) = a.on_my_services.first() {
            based_on.push(format!("on your {p}"));
            match a.leaving_in_days {
                Some(d) if d <= 7 => {
                    sentence.push_str(&format!("; on your {p}, leaving in {d} days"))
                }
                _ => sentence.push_str(&format!("; on your {p}")),
            }
        } else if let Some(p) = a.platforms.first() {
            sentence.push_str(&format!("; available on {p}"));
        }
    }
    (sentence, based_on)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::model::{ItemInfo, ModelParams, TrainingRow};

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn model() -> Model {
        // Users 1–3 watch 10 and 11 together; 12 is popular alone; 13 is a horror title.
        let mut rows = vec![];
        for u in 1..=3 {
            rows.push(TrainingRow {
                user: id(u),
                item: id(10),
                at_ms: 1_000,
            });
            rows.push(TrainingRow {
                user: id(u),
                item: id(11),
                at_ms: 1_000,
            });
        }
        for u in 4..=9 {
            rows.push(TrainingRow {
                user: id(u),
                item: id(12),
                at_ms: 1_000,
            });
        }
        rows.push(TrainingRow {
            user: id(4),
            item: id(13),
            at_ms: 1_000,
        });
        Model::train(
            &rows,
            ModelParams {
                lambda: 0.5,
                ..ModelParams::default()
            },
            |i| ItemInfo {
                title: format!("T{}", i.as_u128()),
                genres: if i == id(13) {
                    vec!["Horror".into()]
                } else {
                    vec!["Comedy".into()]
                },
                ..ItemInfo::default()
            },
        )
    }

    fn liked(n: u128) -> UserItem {
        UserItem {
            content_id: id(n),
            title: Some(format!("T{n}")),
            preference: 0.8,
            engaged: true,
            watched: true,
            dismissed: false,
            rating: Some((9, 10)),
            last_at_ms: 1_000,
        }
    }

    #[test]
    fn collaborative_candidates_follow_co_consumption_and_explain_it() {
        let m = model();
        let user = vec![liked(10)];
        let c = candidates(
            &m,
            &user,
            &Context::default(),
            Stages::ALL,
            &Weights::default(),
            &[],
            true,
            10,
        );
        assert_eq!(c[0].id, id(11));
        assert_eq!(c[0].kind, RecommendationType::Collaborative);
        assert!(
            c.iter().all(|c| c.id != id(10)),
            "watched titles are excluded"
        );
        let picks = finish(c, &HashMap::new(), 0.0, Stages::ALL, 3);
        let by_id: HashMap<Uuid, &UserItem> = user.iter().map(|u| (u.content_id, u)).collect();
        let (sentence, based_on) = explain(&picks[0], &by_id, |_| None, None);
        assert_eq!(sentence, "Because you rated T10 9/10");
        assert_eq!(based_on, vec!["similar to T10"]);
    }

    #[test]
    fn family_never_gets_horror_and_dismissed_titles_never_return() {
        let m = model();
        let mut d = liked(12);
        d.dismissed = true;
        d.engaged = false;
        let ctx = Context {
            viewing_with: vec!["family".into()],
            ..Context::default()
        };
        let c = candidates(
            &m,
            &[d],
            &ctx,
            Stages::ALL,
            &Weights::default(),
            &[],
            false,
            10,
        );
        assert!(c.iter().all(|c| c.id != id(13) && c.id != id(12)));
    }

    #[test]
    fn a_user_without_history_gets_popular_titles() {
        let m = model();
        let c = candidates(
            &m,
            &[],
            &Context::default(),
            Stages::ALL,
            &Weights::default(),
            &[],
            true,
            10,
        );
        assert_eq!(c[0].id, id(12));
    }

    #[test]
    fn the_graph_stage_follows_shared_cast_of_recent_likes() {
        let rows: Vec<TrainingRow> = (1..=3)
            .map(|n| TrainingRow {
                user: id(n),
                item: id(20 + n),
                at_ms: 1,
            })
            .collect();
        let m = Model::train(&rows, ModelParams::default(), |i| ItemInfo {
            title: format!("T{}", i.as_u128()),
            cast: if i == id(22) {
                vec!["Other".into()]
            } else {
                vec!["Keanu Reeves".into()]
            },
            ..ItemInfo::default()
        });
        let only_graph = Stages {
            graph: true,
            ..Stages::NONE
        };
        let c = candidates(
            &m,
            &[liked(21)],
            &Context::default(),
            only_graph,
            &Weights::default(),
            &[],
            true,
            10,
        );
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].id, c[0].kind), (id(23), RecommendationType::Graph));
        assert_eq!(c[0].cast.as_deref(), Some("Keanu Reeves"));
        assert_eq!(c[0].because_of, Some(id(21)));
    }

    #[test]
    fn stages_parse_by_name_and_unknown_names_are_reported() {
        assert_eq!(Stages::parse(Stages::NAMES).unwrap(), Stages::ALL);
        assert_eq!(
            Stages::first(1),
            Stages {
                collaborative: true,
                ..Stages::NONE
            }
        );
        assert_eq!(Stages::parse(["nope"]).unwrap_err(), "nope");
    }

    fn cand(n: u128, score: f32, genres: &[&str]) -> Candidate {
        Candidate {
            id: id(n),
            score,
            kind: RecommendationType::Popular,
            because_of: None,
            cast: None,
            context: None,
            genres: genres.iter().map(|g| g.to_string()).collect(),
        }
    }

    proptest::proptest! {
        /// MMR returns `min(limit, candidates)` distinct candidates whatever λ, the first is always
        /// the most relevant, and λ = 0 keeps relevance order.
        #[test]
        fn mmr_picks_distinct_candidates(
            scores in proptest::collection::vec((0.01f32..10.0, 0usize..4), 1..30),
            diversity in 0.0f32..1.0,
            limit in 1usize..25,
        ) {
            const G: [&str; 4] = ["drama", "comedy", "horror", "action"];
            let cands: Vec<Candidate> = scores.iter().enumerate()
                .map(|(i, (s, g))| cand(i as u128, *s, &[G[*g]])).collect();
            let picks = finish(cands.clone(), &HashMap::new(), diversity, Stages::ALL, limit);
            proptest::prop_assert_eq!(picks.len(), limit.min(cands.len()));
            let ids: HashSet<Uuid> = picks.iter().map(|p| p.candidate.id).collect();
            proptest::prop_assert_eq!(ids.len(), picks.len());
            let best = cands.iter().map(|c| c.score).fold(0f32, f32::max);
            proptest::prop_assert_eq!(picks[0].candidate.score, best);
            let plain = finish(cands, &HashMap::new(), 0.0, Stages::ALL, limit);
            for w in plain.windows(2) {
                proptest::prop_assert!(w[0].candidate.score >= w[1].candidate.score);
            }
        }

        /// Excluded titles (watched, dismissed) never come back, whatever the stages.
        #[test]
        fn exclusions_hold_for_every_stage_combination(mask in 0u8..64) {
            let m = model();
            let stages = Stages::parse(Stages::NAMES.iter().enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n)).unwrap();
            let mut d = liked(12);
            d.dismissed = true;
            let user = vec![liked(10), d];
            let ext = vec![External { id: id(10), similarity: 0.9, genres: vec![], because_of: None }];
            let c = candidates(&m, &user, &Context::default(), stages, &Weights::default(), &ext, true, 10);
            proptest::prop_assert!(c.iter().all(|c| c.id != id(10) && c.id != id(12)));
        }
    }
}
