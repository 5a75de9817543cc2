//! The recommendation service: loads the user's profile, the newest collaborative model and the
//! content neighbours of the preference vector, runs the pure ranking
//! (`mediagw_domain::recommend::rank`), adds availability and explanations, and caches answers by
//! profile and model version (new feedback changes the profile version, so it never sees a stale
//! answer).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediagw_domain::recommend::model::Model;
use mediagw_domain::recommend::profile::Temporal;
use mediagw_domain::recommend::rank::{
    self, Availability, Candidate, Context, External, Stages, UserItem, Weights,
};
use mediagw_domain::search::index::Filter;
use mediagw_search_adapters::cache::Cache;
use mediagw_search_adapters::index::{ChannelQuery, PayloadFields, Probe};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::contract::*;
use super::port::FeedbackCommands;
use crate::error::ApiError;
use crate::search::SearchService;

const DAY_MS: i64 = 86_400_000;

/// Offers per title, each with its expiry.
type OffersById = HashMap<Uuid, Vec<(Offer, Option<DateTime<Utc>>)>>;
/// Title, type, year, genres, overview and audience rating (0–10, where a provider rated it).
type Facts = (
    String,
    String,
    i64,
    Vec<String>,
    Option<String>,
    Option<f32>,
);

#[derive(Debug, Clone)]
pub struct RecommendSettings {
    /// How often instances look for a newer model.
    pub model_refresh: Duration,
    /// Lifetime of a cached answer (seed: 1 hour).
    pub cache_ttl: Duration,
    pub weights: Weights,
    /// Region when neither the request nor the user's services say.
    pub default_region: String,
}

impl Default for RecommendSettings {
    fn default() -> Self {
        Self {
            model_refresh: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(3600),
            weights: Weights::default(),
            default_region: "US".into(),
        }
    }
}

pub struct RecommendationService {
    pub pool: PgPool,
    pub search: Option<Arc<SearchService>>,
    pub cache: Option<Arc<dyn Cache>>,
    pub commands: Arc<dyn FeedbackCommands>,
    pub settings: RecommendSettings,
    model: RwLock<Option<(i64, Arc<Model>)>>,
    /// Title embeddings by id: (index generation, fetched at, vector).
    vectors: Mutex<HashMap<Uuid, VectorEntry>>,
}

type VectorEntry = (i64, Instant, Arc<Vec<f32>>);

/// How long a cached title embedding is used (a re-embedded title is seen after this).
const VECTOR_TTL: Duration = Duration::from_secs(600);
/// Entries before the cache starts over (≈ 30 MB of 384-d vectors).
const VECTOR_CACHE_MAX: usize = 20_000;

/// A profile as ranking and the profile route read it.
pub struct LoadedProfile {
    pub items: Vec<UserItem>,
    pub region: Option<String>,
    pub services: Vec<ServiceSubscription>,
    pub temporal: Temporal,
    pub interactions: i64,
    pub last_at: Option<DateTime<Utc>>,
    /// Changes with every folded event: part of the cache key.
    pub version: i64,
}

/// What a ranking run needs besides the user.
pub struct Ask {
    pub user_id: Option<Uuid>,
    pub context: Context,
    pub limit: usize,
    pub exclude_watched: bool,
    pub diversity: f32,
    pub region: Option<String>,
    pub stages: Stages,
    /// Extra titles the person likes (cold start).
    pub liked: Vec<Uuid>,
    pub use_cache: bool,
}

#[derive(Serialize, Deserialize)]
struct CachedAnswer {
    profile_version: i64,
    model_version: Option<i64>,
    response: RecommendationResponse,
}

fn stage(name: &'static str, t: Instant) {
    metrics::histogram!("recommend_stage_seconds", "stage" => name)
        .record(t.elapsed().as_secs_f64());
}

fn backend(e: impl std::fmt::Display) -> ApiError {
    ApiError::Backend(e.to_string())
}

impl RecommendationService {
    pub fn new(
        pool: PgPool,
        search: Option<Arc<SearchService>>,
        cache: Option<Arc<dyn Cache>>,
        commands: Arc<dyn FeedbackCommands>,
        settings: RecommendSettings,
    ) -> Self {
        Self {
            pool,
            search,
            cache,
            commands,
            settings,
            model: RwLock::new(None),
            vectors: Mutex::new(HashMap::new()),
        }
    }

    pub fn model(&self) -> Option<(i64, Arc<Model>)> {
        self.model.read().expect("model lock").clone()
    }

    /// Loads the newest model if it is newer than the one held; returns the version held.
    pub async fn refresh_model(&self) -> Result<Option<i64>, ApiError> {
        let held = self.model().map(|(v, _)| v);
        let newest: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM recommend.models")
            .fetch_one(&self.pool)
            .await?;
        let Some(newest) = newest.filter(|n| Some(*n) > held) else {
            return Ok(held);
        };
        let bytes: Vec<u8> =
            sqlx::query_scalar("SELECT model FROM recommend.models WHERE version = $1")
                .bind(newest)
                .fetch_one(&self.pool)
                .await?;
        let t = Instant::now();
        let model = tokio::task::spawn_blocking(move || {
            serde_json::from_slice::<Model>(&bytes).map(Model::indexed)
        })
        .await
        .map_err(backend)?
        .map_err(|e| ApiError::Backend(format!("stored model {newest}: {e}")))?;
        tracing::info!(
            version = newest,
            items = model.len(),
            ms = t.elapsed().as_millis() as u64,
            "recommendation model loaded"
        );
        *self.model.write().expect("model lock") = Some((newest, Arc::new(model)));
        Ok(Some(newest))
    }

    /// Polls for newer models until shutdown.
    pub async fn keep_model_fresh(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.refresh_model().await {
                tracing::warn!(error = %e, "could not refresh the recommendation model");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.model_refresh) => {}
            }
        }
    }

    /// The user's profile; titles of their items only when asked (the ranking path explains
    /// with the model's titles and skips the catalog join).
    pub async fn load_profile(
        &self,
        user_id: Uuid,
        with_titles: bool,
    ) -> Result<LoadedProfile, ApiError> {
        let user = sqlx::query(
            "SELECT interaction_seq + sync_seq, interactions, temporal, region, services, last_at
             FROM profiles.users WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool);
        let items_sql = if with_titles {
            "SELECT ui.content_id, ui.preference, ui.engaged, ui.watched, ui.dismissed,
                    (ui.signals->'rating'->>0)::smallint, (ui.signals->'rating'->>1)::smallint,
                    (ui.signals->>'last_at')::bigint, c.title
             FROM profiles.user_items ui LEFT JOIN catalog.content c ON c.id = ui.content_id
             WHERE ui.user_id = $1"
        } else {
            "SELECT content_id, preference, engaged, watched, dismissed,
                    (signals->'rating'->>0)::smallint, (signals->'rating'->>1)::smallint,
                    (signals->>'last_at')::bigint, NULL::text
             FROM profiles.user_items WHERE user_id = $1"
        };
        let items = sqlx::query(items_sql).bind(user_id).fetch_all(&self.pool);
        let (user, rows) = tokio::try_join!(user, items)?;
        let mut out = LoadedProfile {
            items: Vec::with_capacity(rows.len()),
            region: None,
            services: vec![],
            temporal: Temporal::default(),
            interactions: 0,
            last_at: None,
            version: 0,
        };
        let Some(user) = user else {
            return Ok(out);
        };
        out.version = user.get(0);
        out.interactions = user.get(1);
        out.temporal = serde_json::from_value(user.get(2)).map_err(backend)?;
        out.region = user.get(3);
        out.services = serde_json::from_value(user.get(4)).map_err(backend)?;
        out.last_at = user.get(5);
        for r in rows {
            let rating = match (r.get::<Option<i16>, _>(5), r.get::<Option<i16>, _>(6)) {
                (Some(v), Some(scale)) => Some((v as u8, scale as u8)),
                _ => None,
            };
            out.items.push(UserItem {
                content_id: r.get(0),
                title: r.get(8),
                preference: r.get(1),
                engaged: r.get(2),
                watched: r.get(3),
                dismissed: r.get(4),
                rating,
                last_at_ms: r.get::<Option<i64>, _>(7).unwrap_or(0),
            });
        }
        Ok(out)
    }

    /// Weights of the profile's titles in the preference vector: |preference| × recency (half-life
    /// 180 days before the latest interaction), signed; the 30 heaviest.
    pub fn vector_weights(items: &[UserItem]) -> Vec<(Uuid, f32)> {
        let latest = items.iter().map(|i| i.last_at_ms).max().unwrap_or(0);
        let mut w: Vec<(Uuid, f32)> = items
            .iter()
            .filter(|i| i.preference.abs() >= 0.1)
            .map(|i| {
                let age_days = (latest - i.last_at_ms).max(0) as f32 / DAY_MS as f32;
                (i.content_id, i.preference * 0.5f32.powf(age_days / 180.0))
            })
            .collect();
        w.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        w.truncate(30);
        w
    }

    /// The preference vector (unit length) from the index's title embeddings.
    async fn preference_vector(
        &self,
        weights: &[(Uuid, f32)],
    ) -> Result<Option<(i64, Vec<f32>)>, ApiError> {
        let Some(search) = &self.search else {
            return Ok(None);
        };
        if weights.is_empty() {
            return Ok(None);
        }
        let generation = search.generation().await?;
        let t = Instant::now();
        // Title embeddings change only when a title is re-embedded: a short-lived cache per index
        // generation spares the index most lookups (popular titles recur across users).
        let mut got: Vec<(Uuid, Arc<Vec<f32>>)> = Vec::with_capacity(weights.len());
        let mut missing: Vec<Uuid> = Vec::new();
        {
            let cache = self.vectors.lock().expect("vector cache");
            for (id, _) in weights {
                match cache.get(id) {
                    Some((g, at, v)) if *g == generation && at.elapsed() < VECTOR_TTL => {
                        got.push((*id, v.clone()))
                    }
                    _ => missing.push(*id),
                }
            }
        }
        if !missing.is_empty() {
            let fetched = search
                .index
                .get(generation, missing)
                .await
                .map_err(backend)?;
            let mut cache = self.vectors.lock().expect("vector cache");
            if cache.len() > VECTOR_CACHE_MAX {
                cache.clear();
            }
            let now = Instant::now();
            for (id, dense, _) in fetched {
                let dense = Arc::new(dense);
                cache.insert(id, (generation, now, dense.clone()));
                got.push((id, dense));
            }
        }
        stage("content_vectors", t);
        let by_id: HashMap<Uuid, f32> = weights.iter().copied().collect();
        let mut v: Vec<f32> = Vec::new();
        for (id, dense) in got {
            let w = by_id.get(&id).copied().unwrap_or(0.0);
            if v.is_empty() {
                v = vec![0.0; dense.len()];
            }
            for (a, b) in v.iter_mut().zip(dense.iter()) {
                *a += w * b;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm <= f32::EPSILON {
            return Ok(None);
        }
        v.iter_mut().for_each(|x| *x /= norm);
        Ok(Some((generation, v)))
    }

    /// Titles nearest the preference vector, with the liked title each is closest to.
    async fn content_neighbours(
        &self,
        items: &[UserItem],
        limit: usize,
    ) -> Result<Vec<External>, ApiError> {
        let weights = Self::vector_weights(items);
        let Some((generation, v)) = self.preference_vector(&weights).await? else {
            return Ok(vec![]);
        };
        let Some(search) = &self.search else {
            return Ok(vec![]);
        };
        // The user's own titles are dropped here rather than by an index filter: a must-not
        // list of hundreds of ids made the ANN search several times slower.
        let mine: HashSet<Uuid> = items.iter().map(|i| i.content_id).collect();
        let t = Instant::now();
        let hits = search
            .index
            .query(
                generation,
                vec![ChannelQuery {
                    probe: Probe::Dense(v),
                    filter: Filter::default(),
                    limit: limit + mine.len().min(limit),
                    fields: PayloadFields::Brief,
                }],
            )
            .await
            .map_err(backend)?;
        stage("content_search", t);
        let hits: Vec<_> = hits
            .into_iter()
            .flatten()
            .filter(|h| !mine.contains(&h.id))
            .take(limit)
            .collect();
        let top_liked = weights.iter().find(|(_, w)| *w > 0.0).map(|(id, _)| *id);
        Ok(hits
            .into_iter()
            .map(|h| External {
                id: h.id,
                similarity: h.score,
                genres: h.payload.genres.clone(),
                because_of: top_liked,
            })
            .collect())
    }

    /// The catalog's most popular titles (its `popularity_score`), leaving out the user's own.
    async fn catalog_popular(
        &self,
        items: &[UserItem],
        ask: &Ask,
        keep: usize,
    ) -> Result<Vec<Candidate>, ApiError> {
        let mine: Vec<Uuid> = items.iter().map(|i| i.content_id).collect();
        let rows: Vec<(Uuid, f32, Vec<String>)> = sqlx::query_as(
            "SELECT id, popularity_score, genres FROM catalog.content
             WHERE NOT (id = ANY($1))
             ORDER BY popularity_score DESC, vote_count DESC, id LIMIT $2",
        )
        .bind(&mine)
        .bind(keep as i64)
        .fetch_all(&self.pool)
        .await?;
        let family = ask.stages.context && ask.context.with_family();
        Ok(rows
            .into_iter()
            .map(|(id, score, genres)| Candidate {
                id,
                score: score.max(f32::MIN_POSITIVE),
                kind: rank::RecommendationType::Popular,
                because_of: None,
                cast: None,
                context: None,
                genres: genres.iter().map(|g| g.to_lowercase()).collect(),
            })
            .filter(|c| {
                !(family
                    && c.genres
                        .iter()
                        .any(|g| rank::NOT_FOR_FAMILY.contains(&g.as_str())))
            })
            .collect())
    }

    /// Title, type, year, genres and overview of some titles.
    async fn facts(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Facts>, ApiError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(
            "SELECT id, title, content_type, release_year, genres, overview,
                    CASE WHEN average_rating > 0 OR vote_count > 0 THEN average_rating END
             FROM catalog.content WHERE id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get(0),
                    (
                        r.get(1),
                        r.get(2),
                        r.get::<i32, _>(3) as i64,
                        r.get(4),
                        r.get(5),
                        r.get(6),
                    ),
                )
            })
            .collect())
    }

    /// Offers in `region` of some titles, grouped per title.
    async fn offers(&self, ids: &[Uuid], region: &str) -> Result<OffersById, ApiError> {
        let mut out: OffersById = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows = sqlx::query(
            "SELECT content_id, platform, availability_type, deep_link, web_url,
                    price_amount::text, price_currency, expires_at
             FROM catalog.platform_availability
             WHERE content_id = ANY($1) AND region = $2
               AND (expires_at IS NULL OR expires_at > now())
             ORDER BY content_id, platform, availability_type",
        )
        .bind(ids)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            out.entry(r.get(0)).or_default().push((
                Offer {
                    platform: r.get(1),
                    availability_type: r.get(2),
                    deep_link: r.get(3),
                    web_url: r.get(4),
                    price_amount: r.get(5),
                    price_currency: r.get(6),
                },
                r.get(7),
            ));
        }
        Ok(out)
    }

    /// The ranked recommendations for `ask` (cached unless it runs a stage subset).
    pub async fn recommend(&self, ask: Ask) -> Result<RecommendationResponse, ApiError> {
        let started = Instant::now();
        let t = Instant::now();
        let profile = match ask.user_id {
            Some(u) => self.load_profile(u, false).await?,
            None => self.load_profile(Uuid::nil(), false).await?,
        };
        stage("profile", t);
        let model = self.model();
        let model_version = model.as_ref().map(|(v, _)| *v);
        let cache_key = ask
            .user_id
            .filter(|_| ask.use_cache && ask.liked.is_empty())
            .map(|u| format!("recommendations:{u}:{:016x}", ask_hash(&ask)));
        if let (Some(cache), Some(key)) = (&self.cache, &cache_key) {
            if let Ok(Some(bytes)) = cache.get(key).await {
                if let Ok(hit) = serde_json::from_slice::<CachedAnswer>(&bytes) {
                    if hit.profile_version == profile.version && hit.model_version == model_version
                    {
                        metrics::counter!("recommend_cache_hits_total").increment(1);
                        return Ok(hit.response);
                    }
                }
            }
        }
        let mut items = profile.items.clone();
        let now_ms = Utc::now().timestamp_millis();
        for id in &ask.liked {
            if !items.iter().any(|i| i.content_id == *id) {
                items.push(UserItem {
                    content_id: *id,
                    title: None,
                    preference: 1.0,
                    engaged: true,
                    watched: false,
                    dismissed: false,
                    rating: None,
                    last_at_ms: now_ms,
                });
            }
        }
        let region = ask
            .region
            .clone()
            .or(profile.region.clone())
            .unwrap_or_else(|| self.settings.default_region.clone());
        let limit = ask.limit;
        let keep = (limit * 3).max(40);

        // The model's stages (CPU, on the blocking pool) run while the index finds the titles
        // nearest the preference vector; content, adapter and context then join in `select`.
        let t = Instant::now();
        let empty = Arc::new(Model::default());
        let m = model.as_ref().map(|(_, m)| m.clone()).unwrap_or(empty);
        let (m2, items2, stages, weights) =
            (m.clone(), items.clone(), ask.stages, self.settings.weights);
        let scoring = tokio::task::spawn_blocking(move || {
            let scores = rank::score_model(&m2, &items2, stages, &weights);
            stage("model", t);
            scores
        });
        let content = async {
            let t = Instant::now();
            let out = if ask.stages.content {
                match self.content_neighbours(&items, 50).await {
                    Ok(x) => x,
                    Err(e) => {
                        // The index is an enrichment: recommendations still answer without it.
                        tracing::warn!(error = %e, "content candidates unavailable");
                        vec![]
                    }
                }
            } else {
                vec![]
            };
            stage("content", t);
            out
        };
        let (scores, external) = tokio::join!(scoring, content);
        let scores = scores.map_err(backend)?;
        let cands: Vec<Candidate> = rank::select(
            scores,
            &m,
            &items,
            &ask.context,
            ask.stages,
            &self.settings.weights,
            &external,
            ask.exclude_watched,
            keep,
        );
        // No model yet (a new deployment) and nothing else to go on: the catalog's own popularity.
        let cands = if cands.is_empty() {
            self.catalog_popular(&items, &ask, keep).await?
        } else {
            cands
        };
        stage("candidates", t);

        let t = Instant::now();
        let ids: Vec<Uuid> = cands.iter().map(|c| c.id).collect();
        // What every candidate shows is read in the same round trip as where to watch it.
        let (offers, mut facts) = tokio::try_join!(self.offers(&ids, &region), self.facts(&ids))?;
        let mine: HashSet<&str> = profile
            .services
            .iter()
            .map(|s| s.platform.as_str())
            .collect();
        let availability: HashMap<Uuid, Availability> = offers
            .iter()
            .map(|(id, os)| {
                let mut a = Availability::default();
                for (o, expires) in os {
                    if !a.platforms.contains(&o.platform) {
                        a.platforms.push(o.platform.clone());
                    }
                    if mine.contains(o.platform.as_str()) {
                        if !a.on_my_services.contains(&o.platform) {
                            a.on_my_services.push(o.platform.clone());
                        }
                        if let Some(e) = expires {
                            let days = (*e - Utc::now()).num_days();
                            a.leaving_in_days =
                                Some(a.leaving_in_days.map_or(days, |d| d.min(days)));
                        }
                    }
                }
                (*id, a)
            })
            .collect();
        stage("availability", t);

        let t = Instant::now();
        let picks = rank::finish(cands, &availability, ask.diversity, ask.stages, limit);
        stage("mmr", t);

        let t = Instant::now();
        let by_id: HashMap<Uuid, &UserItem> = items.iter().map(|i| (i.content_id, i)).collect();
        let model_ref = m.clone();
        let title_of = |id: Uuid| -> Option<String> {
            let i = model_ref.index_of(&id)?;
            Some(model_ref.info[i as usize].title.clone()).filter(|t| !t.is_empty())
        };
        let mut offers = offers;
        let recommendations = picks
            .iter()
            .filter_map(|p| {
                let id = p.candidate.id;
                // A title the catalog no longer has (merged away) is not shown.
                let (title, content_type, year, genres, overview, average_rating) =
                    facts.remove(&id)?;
                let (explanation, based_on) =
                    rank::explain(p, &by_id, title_of, availability.get(&id));
                Some(Recommendation {
                    content: ContentSummary {
                        id,
                        title,
                        content_type,
                        release_year: year,
                        genres,
                        overview,
                        average_rating,
                        availability: offers
                            .remove(&id)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(o, _)| o)
                            .collect(),
                    },
                    confidence_score: p.confidence,
                    recommendation_type: kind(p.candidate.kind),
                    based_on,
                    explanation,
                })
            })
            .collect();
        stage("details", t);
        let response = RecommendationResponse {
            recommendations,
            generated_at: Utc::now(),
            ttl_seconds: self.settings.cache_ttl.as_secs() as u32,
            model_version,
        };
        if let (Some(cache), Some(key)) = (&self.cache, &cache_key) {
            let body = CachedAnswer {
                profile_version: profile.version,
                model_version,
                response: response.clone(),
            };
            if let Ok(bytes) = serde_json::to_vec(&body) {
                if let Err(e) = cache.set(key, &bytes, self.settings.cache_ttl).await {
                    tracing::warn!(error = %e, "could not cache recommendations");
                }
            }
        }
        metrics::histogram!("recommend_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("recommendations_generated_total").increment(1);
        Ok(response)
    }

    /// `GET /v1/user/{id}/profile`: facts from the projection, genre affinities from the catalog,
    /// the preference vector from the index.
    pub async fn profile(&self, user_id: Uuid) -> Result<ProfileResponse, ApiError> {
        let p = self.load_profile(user_id, true).await?;
        let ids: Vec<Uuid> = p.items.iter().map(|i| i.content_id).collect();
        let genres: Vec<(Uuid, Vec<String>)> =
            sqlx::query_as("SELECT id, genres FROM catalog.content WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        let genres: HashMap<Uuid, Vec<String>> = genres.into_iter().collect();
        let mut by_genre: HashMap<String, (f32, usize)> = HashMap::new();
        for i in &p.items {
            for g in genres.get(&i.content_id).into_iter().flatten() {
                let e = by_genre.entry(g.to_lowercase()).or_default();
                e.0 += i.preference;
                e.1 += 1;
            }
        }
        let mut top_genres: Vec<GenreAffinity> = by_genre
            .into_iter()
            .map(|(genre, (sum, n))| GenreAffinity {
                genre,
                // Shrunk towards 0: one title is weak evidence.
                affinity: sum / (n as f32 + 2.0),
                titles: n,
            })
            .collect();
        top_genres.sort_by(|a, b| {
            b.affinity
                .total_cmp(&a.affinity)
                .then(a.genre.cmp(&b.genre))
        });
        top_genres.truncate(10);
        let weights = Self::vector_weights(&p.items);
        let total: f32 = weights
            .iter()
            .map(|(_, w)| w.abs())
            .sum::<f32>()
            .max(f32::EPSILON);
        let by_id: HashMap<Uuid, &UserItem> = p.items.iter().map(|i| (i.content_id, i)).collect();
        let top_titles = weights
            .iter()
            .take(10)
            .map(|(id, w)| {
                let i = by_id[id];
                ProfileTitle {
                    content_id: *id,
                    title: i.title.clone(),
                    preference: i.preference,
                    weight: w.abs() / total,
                    rating: i.rating.map(|(r, s)| format!("{r}/{s}")),
                    last_at: DateTime::from_timestamp_millis(i.last_at_ms).unwrap_or_default(),
                }
            })
            .collect();
        let preference_vector = match self.preference_vector(&weights).await {
            Ok(v) => v.map(|(_, v)| v).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "preference vector unavailable");
                vec![]
            }
        };
        const DAYS: [&str; 7] = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        let peak = p.temporal.peak();
        let mut watched: Vec<Uuid> = p
            .items
            .iter()
            .filter(|i| i.watched)
            .map(|i| i.content_id)
            .collect();
        let mut dismissed: Vec<Uuid> = p
            .items
            .iter()
            .filter(|i| i.dismissed)
            .map(|i| i.content_id)
            .collect();
        watched.sort();
        dismissed.sort();
        Ok(ProfileResponse {
            user_id,
            interactions: p.interactions,
            last_active: p.last_at,
            top_genres,
            top_titles,
            preference_vector,
            temporal: TemporalPattern {
                hours: p.temporal.hours.to_vec(),
                days: p.temporal.days.to_vec(),
                peak_hour: peak.map(|(h, _)| h),
                peak_day: peak.map(|(_, d)| DAYS[d].to_string()),
            },
            watched,
            dismissed,
            region: p.region,
            services: p.services,
        })
    }
}

fn kind(k: rank::RecommendationType) -> RecommendationType {
    match k {
        rank::RecommendationType::Collaborative => RecommendationType::Collaborative,
        rank::RecommendationType::ContentBased => RecommendationType::ContentBased,
        rank::RecommendationType::Graph => RecommendationType::Graph,
        rank::RecommendationType::Popular => RecommendationType::Popular,
        rank::RecommendationType::Contextual => RecommendationType::Contextual,
    }
}

/// Hash of everything that shapes an answer besides the user's profile and the model.
fn ask_hash(ask: &Ask) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&ask.context)
        .unwrap_or_default()
        .hash(&mut h);
    (
        ask.limit,
        ask.exclude_watched,
        ask.diversity.to_bits(),
        &ask.region,
    )
        .hash(&mut h);
    h.finish()
}
