//! Hybrid search (seed §3): `POST /v1/search`, `GET /v1/search`, suggestions and trending.
//!
//! Flow: parse intent locally → resolve referenced titles (typo-tolerant title trigrams) → run the
//! channels in the index with the hard filters (dense embedding of the description, BM25 keywords,
//! title trigrams, graph = embedding neighbours of the referenced titles) → weighted Reciprocal Rank
//! Fusion → genre/mood and personalisation boosts → sort (score, id) → page. Answers are cached in
//! Redis under the index's change counter, so a title change invalidates them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, Utc};
use mediagw_domain::catalog::{normalize_genre, normalize_region, ContentType};
use mediagw_domain::providers::platform_slug;
use mediagw_domain::search::rank::{boost, fuse, overlap, sort, Channel, Fused, RankedList};
use mediagw_domain::search::text::{
    cast_vector, fnv1a64, shared_cast, title_similarity, title_trigrams, trigram_dice,
};
use mediagw_domain::search::{parse_intent, Bm25, ParsedIntent};
use mediagw_search::cache::{Cache, CACHE_GENERATION_KEY};
use mediagw_search::embed::Embedder;
use mediagw_search::index::{
    ChannelQuery, DocPayload, Filter, Hit, PayloadFields, Probe, SearchIndex, CAST, TEXT, TITLE,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::MaybeCaller;
use crate::error::ApiError;

/// Schema of the search projection (index generation) and of the activity projection.
const SEARCH_SCHEMA: &str = "search";
const ACTIVITY_SCHEMA: &str = "search_activity";
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// Candidates each channel returns before fusion.
    pub depth: usize,
    pub result_ttl: Duration,
    pub suggestion_ttl: Duration,
    pub trending_ttl: Duration,
    pub trending_window_minutes: i64,
    /// A query shows in trending only once this many searches made it (privacy floor).
    pub trending_min_searches: i64,
    pub default_region: String,
    /// RRF votes per channel (dense, keyword, title, graph) and the RRF constant.
    pub weights: ChannelWeights,
    pub rrf_k: f32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ChannelWeights {
    pub dense: f32,
    pub keyword: f32,
    pub title: f32,
    pub graph: f32,
    /// Shared-cast neighbours of referenced titles.
    #[serde(default = "default_cast_weight")]
    pub cast: f32,
}

fn default_cast_weight() -> f32 {
    ChannelWeights::default().cast
}

impl Default for ChannelWeights {
    fn default() -> Self {
        Self {
            dense: 0.4,
            keyword: 1.0,
            title: 2.0,
            graph: 2.0,
            cast: 1.0,
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            depth: 50,
            result_ttl: Duration::from_secs(30 * 60),
            suggestion_ttl: Duration::from_secs(60 * 60),
            trending_ttl: Duration::from_secs(30),
            trending_window_minutes: 5,
            trending_min_searches: 3,
            default_region: "US".into(),
            weights: ChannelWeights::default(),
            rrf_k: 20.0,
        }
    }
}

/// A search answered, for the log (`search.queries`): trending and personalisation.
#[derive(Debug, Clone)]
pub struct SearchEvent {
    pub query: String,
    pub user_id: Option<Uuid>,
    pub genres: Vec<String>,
    pub result_ids: Vec<Uuid>,
    pub source: &'static str,
}

/// Port: where answered searches are published (the binary plugs in Kafka). Must not block the
/// search: adapters queue and publish in the background.
pub trait SearchEvents: Send + Sync + 'static {
    fn searched(&self, event: SearchEvent);
}

pub struct SearchService {
    pub pool: PgPool,
    pub index: Arc<dyn SearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub cache: Option<Arc<dyn Cache>>,
    pub events: Option<Arc<dyn SearchEvents>>,
    pub settings: SearchSettings,
    bm25: Bm25,
    generation: Mutex<Option<(Instant, i64)>>,
}

// ---------------------------------------------------------------- request / response (seed §3)

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub content_types: Option<Vec<String>>,
    /// `[from, to]`, inclusive.
    #[serde(default)]
    #[schema(value_type = Option<Vec<i32>>)]
    pub year_range: Option<(i32, i32)>,
    /// `[min, max]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<f32>>)]
    pub rating_range: Option<(f32, f32)>,
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
}

/// Which channels run: `hybrid` (the product) or one raw channel, for evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Dense,
    Keyword,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default)]
    pub filters: Option<SearchFilters>,
    #[serde(default = "one")]
    pub page: u32,
    #[serde(default = "twenty")]
    pub page_size: u32,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub mode: SearchMode,
}

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Offer {
    pub platform: String,
    pub availability_type: String,
    pub deep_link: String,
    pub web_url: String,
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContentSummary {
    pub id: Uuid,
    pub title: String,
    pub content_type: String,
    pub release_year: i64,
    pub genres: Vec<String>,
    pub overview: Option<String>,
    /// Where to watch it in the request's region.
    pub availability: Vec<Offer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub content: ContentSummary,
    pub relevance_score: f32,
    pub match_reasons: Vec<String>,
    pub vector_similarity: f32,
    pub graph_score: f32,
    pub keyword_score: f32,
    pub title_score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reference {
    pub query: String,
    pub id: Option<Uuid>,
    pub title: Option<String>,
    pub year: Option<i64>,
}

/// Seed `ParsedIntent`, plus what the query resolved to.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryParsed {
    pub original: String,
    pub text: String,
    pub references: Vec<Reference>,
    pub genres: Vec<String>,
    pub moods: Vec<String>,
    #[schema(value_type = Option<Vec<i32>>)]
    pub year_range: Option<(i32, i32)>,
    pub content_types: Vec<String>,
    pub platforms: Vec<String>,
    pub region: String,
    pub mode: SearchMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
    pub total_count: usize,
    pub page: u32,
    pub page_size: u32,
    pub query_parsed: QueryParsed,
    pub search_time_ms: u64,
}

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        field,
        message: message.into(),
    }
}

fn backend(e: impl std::fmt::Display) -> ApiError {
    ApiError::Backend(e.to_string())
}

/// A validated request: everything normalised, ready to run and to key the cache.
#[derive(Debug, Clone, Serialize)]
struct Plan {
    query: String,
    page: u32,
    page_size: u32,
    user_id: Option<Uuid>,
    region: String,
    mode: SearchMode,
    genres: Vec<String>,
    content_types: Vec<String>,
    year_range: Option<(i32, i32)>,
    rating_range: Option<(f32, f32)>,
    platforms: Vec<String>,
}

fn validate(req: SearchRequest, default_region: &str) -> Result<Plan, ApiError> {
    let query = req.query.split_whitespace().collect::<Vec<_>>().join(" ");
    if query.is_empty() {
        return Err(bad("query", "must not be empty"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(bad(
            "query",
            format!("at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    if req.page < 1 {
        return Err(bad("page", "starts at 1"));
    }
    if !(1..=100).contains(&req.page_size) {
        return Err(bad("page_size", "must be between 1 and 100"));
    }
    if req.page.saturating_mul(req.page_size) > 1000 {
        return Err(bad("page", "results are paged up to the first 1000"));
    }
    let region = match req.region.as_deref() {
        None | Some("") => default_region.to_string(),
        Some(r) => normalize_region(r)
            .ok_or_else(|| bad("region", format!("`{r}` is not an ISO 3166-1 alpha-2 code")))?,
    };
    let f = req.filters.unwrap_or_default();
    let genres: Vec<String> = f
        .genres
        .unwrap_or_default()
        .iter()
        .map(|g| normalize_genre(g))
        .filter(|g| !g.is_empty())
        .collect();
    let mut content_types = Vec::new();
    for t in f.content_types.unwrap_or_default() {
        let parsed = ContentType::parse(&t.trim().to_lowercase()).ok_or_else(|| {
            bad(
                "filters.content_types",
                format!(
                    "`{t}` is not one of {}",
                    ContentType::ALL.map(|c| c.as_str()).join(", ")
                ),
            )
        })?;
        content_types.push(parsed.as_str().to_string());
    }
    if let Some((a, b)) = f.year_range {
        if a > b || !(1800..=2200).contains(&a) || !(1800..=2200).contains(&b) {
            return Err(bad(
                "filters.year_range",
                "must be [from, to] with 1800 ≤ from ≤ to ≤ 2200",
            ));
        }
    }
    if let Some((a, b)) = f.rating_range {
        if !(a.is_finite() && b.is_finite()) || a > b || a < 0.0 || b > 10.0 {
            return Err(bad(
                "filters.rating_range",
                "must be [min, max] with 0 ≤ min ≤ max ≤ 10",
            ));
        }
    }
    let mut platforms = Vec::new();
    for p in f.platforms.unwrap_or_default() {
        let slug = platform_slug(&p)
            .ok_or_else(|| bad("filters.platforms", format!("`{p}` is not a platform name")))?;
        platforms.push(slug);
    }
    Ok(Plan {
        query,
        page: req.page,
        page_size: req.page_size,
        user_id: req.user_id,
        region,
        mode: req.mode,
        genres,
        content_types,
        year_range: f.year_range,
        rating_range: f.rating_range,
        platforms,
    })
}

// ---------------------------------------------------------------- the engine

impl SearchService {
    pub fn new(
        pool: PgPool,
        index: Arc<dyn SearchIndex>,
        embedder: Arc<dyn Embedder>,
        cache: Option<Arc<dyn Cache>>,
        events: Option<Arc<dyn SearchEvents>>,
        settings: SearchSettings,
    ) -> Self {
        Self {
            pool,
            index,
            embedder,
            cache,
            events,
            settings,
            bm25: Bm25::default(),
            generation: Mutex::new(None),
        }
    }

    /// The index generation the search projection feeds (re-read at most once a second). When
    /// a replay swapped in a new one, the old generation is dropped.
    async fn generation(&self) -> Result<i64, ApiError> {
        if let Some((at, g)) = *self.generation.lock().expect("generation") {
            if at.elapsed() < Duration::from_secs(1) {
                return Ok(g);
            }
        }
        let g: i64 = sqlx::query_scalar(&format!(
            "SELECT generation FROM {SEARCH_SCHEMA}.index_generation"
        ))
        .fetch_one(&self.pool)
        .await?;
        let previous = self
            .generation
            .lock()
            .expect("generation")
            .replace((Instant::now(), g));
        if let Some((_, old)) = previous.filter(|(_, old)| *old != g) {
            tracing::info!(old, new = g, "search index generation switched");
            let index = self.index.clone();
            tokio::spawn(async move {
                if let Err(e) = index.drop_generation(old).await {
                    tracing::warn!(error = %e, generation = old, "could not drop the old index generation");
                }
            });
        }
        Ok(g)
    }

    async fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        match cache.get(key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cache read failed; answering uncached");
                None
            }
        }
    }

    async fn cache_put(&self, key: &str, value: &[u8], ttl: Duration) {
        if let Some(cache) = &self.cache {
            if let Err(e) = cache.set(key, value, ttl).await {
                tracing::warn!(error = %e, "cache write failed");
            }
        }
    }

    /// A cache key valid until the index changes.
    async fn cache_key(&self, kind: &str, body: &str) -> Option<String> {
        let cache = self.cache.as_ref()?;
        let counter = cache.counter(CACHE_GENERATION_KEY).await.ok()?;
        let generation = self.generation().await.ok()?;
        Some(format!(
            "{kind}:{generation}.{counter}:{:016x}",
            fnv1a64(body.bytes())
        ))
    }

    pub async fn search(
        &self,
        req: SearchRequest,
        use_cache: bool,
        source: &'static str,
    ) -> Result<(SearchResponse, bool), ApiError> {
        let started = Instant::now();
        let plan = validate(req, &self.settings.default_region)?;
        let key = if use_cache {
            self.cache_key(
                "search",
                &serde_json::to_string(&plan).expect("plan serialises"),
            )
            .await
        } else {
            None
        };
        if let Some(k) = &key {
            if let Some(bytes) = self.cache_get(k).await {
                if let Ok(mut resp) = serde_json::from_slice::<SearchResponse>(&bytes) {
                    resp.search_time_ms = started.elapsed().as_millis() as u64;
                    metrics::counter!("search_cache_total", "result" => "hit").increment(1);
                    self.publish(&plan, &resp, source);
                    return Ok((resp, true));
                }
            }
            metrics::counter!("search_cache_total", "result" => "miss").increment(1);
        }
        let mut resp = self.run(&plan).await?;
        resp.search_time_ms = started.elapsed().as_millis() as u64;
        metrics::histogram!("search_duration_seconds", "mode" => format!("{:?}", plan.mode))
            .record(started.elapsed().as_secs_f64());
        if let Some(k) = &key {
            let bytes = serde_json::to_vec(&resp).expect("response serialises");
            self.cache_put(k, &bytes, self.settings.result_ttl).await;
        }
        self.publish(&plan, &resp, source);
        Ok((resp, false))
    }

    /// First pages only: paging through results is not another search.
    fn publish(&self, plan: &Plan, resp: &SearchResponse, source: &'static str) {
        let Some(events) = self.events.as_ref() else {
            return;
        };
        if plan.page != 1 || plan.mode != SearchMode::Hybrid {
            return;
        }
        let mut genres = resp.query_parsed.genres.clone();
        for r in resp.results.iter().take(3) {
            for g in &r.content.genres {
                if !genres.contains(g) {
                    genres.push(g.clone());
                }
            }
        }
        let event = SearchEvent {
            query: plan.query.to_lowercase(),
            user_id: plan.user_id,
            genres,
            result_ids: resp.results.iter().take(10).map(|r| r.content.id).collect(),
            source,
        };
        events.searched(event);
    }

    async fn run(&self, plan: &Plan) -> Result<SearchResponse, ApiError> {
        let generation = self.generation().await?;
        let now_year = Utc::now().year();
        let intent = match plan.mode {
            SearchMode::Hybrid => parse_intent(&plan.query, now_year),
            // Raw channels for evaluation: the query as typed, no intent.
            _ => ParsedIntent {
                original: plan.query.clone(),
                text: plan.query.clone(),
                title_query: plan.query.clone(),
                ..ParsedIntent::default()
            },
        };
        let region = intent.region.clone().unwrap_or_else(|| plan.region.clone());
        let mut filter = Filter {
            genres_any: plan.genres.clone(),
            content_types: if plan.content_types.is_empty() {
                intent
                    .content_types
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect()
            } else {
                plan.content_types.clone()
            },
            year_range: intersect(plan.year_range, intent.year_range)
                .map(|(a, b)| (i64::from(a), i64::from(b))),
            rating_range: plan.rating_range.map(|(a, b)| (f64::from(a), f64::from(b))),
            offers_any: {
                let platforms = if plan.platforms.is_empty() {
                    &intent.platforms
                } else {
                    &plan.platforms
                };
                platforms.iter().map(|p| format!("{p}:{region}")).collect()
            },
            exclude: Vec::new(),
        };
        if let Some((a, b)) = filter.year_range {
            if a > b {
                // The request's range and the query's ("90s") do not overlap: nothing matches.
                filter.year_range = Some((a, a - 1));
            }
        }
        let depth = self
            .settings
            .depth
            .max((plan.page * plan.page_size) as usize)
            .min(1000);

        // Referenced titles: the best title-trigram match of each (typos tolerated).
        let mut references = Vec::new();
        let mut ref_docs: Vec<RefDoc> = Vec::new();
        if !intent.references.is_empty() {
            let probes = intent
                .references
                .iter()
                .map(|r| ChannelQuery {
                    probe: Probe::Sparse(TITLE, title_trigrams(r)),
                    filter: Filter::default(),
                    limit: 10,
                    fields: PayloadFields::Brief,
                })
                .collect();
            let found = self
                .index
                .query(generation, probes)
                .await
                .map_err(backend)?;
            let mut ids = Vec::new();
            for (r, hits) in intent.references.iter().zip(found) {
                let rq = title_trigrams(r);
                let best = hits
                    .into_iter()
                    .map(|h| (trigram_dice(&rq, &title_trigrams(&h.payload.title)), h))
                    .filter(|(s, _)| *s >= 0.5)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                match best {
                    Some((_, h)) => {
                        ids.push(h.id);
                        references.push(Reference {
                            query: r.clone(),
                            id: Some(h.id),
                            title: Some(h.payload.title.clone()),
                            year: Some(h.payload.year),
                        });
                    }
                    None => references.push(Reference {
                        query: r.clone(),
                        id: None,
                        title: None,
                        year: None,
                    }),
                }
            }
            ref_docs = self.index.get(generation, ids).await.map_err(backend)?;
            filter.exclude = ref_docs.iter().map(|d| d.0).collect();
        }
        // References that matched no title are searched as text.
        let mut text = intent.text.clone();
        for r in references.iter().filter(|r| r.id.is_none()) {
            text = format!("{text} {}", r.query).trim().to_string();
        }

        let mut channels: Vec<Channel> = Vec::new();
        let mut probes: Vec<ChannelQuery> = Vec::new();
        // Computed once: the title channel's probe and each of its hits' similarity use it.
        let title_query = title_trigrams(&intent.title_query);
        let dense_text = match plan.mode {
            SearchMode::Keyword => String::new(),
            SearchMode::Dense => plan.query.clone(),
            SearchMode::Hybrid => {
                let semantic = {
                    let mut i = intent.clone();
                    i.text = text.clone();
                    i.semantic_text()
                };
                if semantic.is_empty() && ref_docs.is_empty() {
                    plan.query.clone()
                } else {
                    semantic
                }
            }
        };
        if !dense_text.is_empty() {
            let t = Instant::now();
            let v = self
                .embedder
                .embed(vec![dense_text])
                .await
                .map_err(backend)?
                .pop()
                .ok_or_else(|| backend("the model returned no vector"))?;
            stage("embed", t);
            channels.push(Channel::Dense);
            probes.push(ChannelQuery {
                probe: Probe::Dense(v),
                filter: filter.clone(),
                limit: depth,
                fields: PayloadFields::Brief,
            });
        }
        if plan.mode != SearchMode::Dense && !text.is_empty() {
            channels.push(Channel::Keyword);
            probes.push(ChannelQuery {
                probe: Probe::Sparse(TEXT, self.bm25.query(&text)),
                filter: filter.clone(),
                limit: depth,
                fields: PayloadFields::Brief,
            });
        }
        if plan.mode == SearchMode::Hybrid && ref_docs.is_empty() && !intent.title_query.is_empty()
        {
            channels.push(Channel::Title);
            probes.push(ChannelQuery {
                probe: Probe::Sparse(TITLE, title_query.clone()),
                filter: filter.clone(),
                limit: 50,
                fields: PayloadFields::Brief,
            });
        }
        // Graph: neighbours of each referenced title, preferring the wanted genres when a mood
        // or genre was asked for ("like The Matrix but funnier").
        for (_, v, _) in &ref_docs {
            if !intent.genres.is_empty() {
                let mut f = filter.clone();
                f.genres_any = if f.genres_any.is_empty() {
                    intent.genres.clone()
                } else {
                    f.genres_any.clone()
                };
                channels.push(Channel::Graph);
                probes.push(ChannelQuery {
                    probe: Probe::Dense(v.clone()),
                    filter: f,
                    limit: depth,
                    fields: PayloadFields::Brief,
                });
            }
            channels.push(Channel::Graph);
            probes.push(ChannelQuery {
                probe: Probe::Dense(v.clone()),
                filter: filter.clone(),
                limit: depth,
                fields: PayloadFields::Brief,
            });
        }
        // Shared cast: sequels, franchises and an actor's other work (rare names weigh most).
        for (_, _, p) in &ref_docs {
            if !p.cast.is_empty() {
                channels.push(Channel::Cast);
                probes.push(ChannelQuery {
                    probe: Probe::Sparse(CAST, cast_vector(&p.cast)),
                    filter: filter.clone(),
                    limit: depth,
                    fields: PayloadFields::Brief,
                });
            }
        }
        let t = Instant::now();
        let results = if probes.is_empty() {
            Vec::new()
        } else {
            self.index
                .query(generation, probes)
                .await
                .map_err(backend)?
        };
        stage("index", t);

        let mut payloads: HashMap<Uuid, Arc<DocPayload>> = HashMap::new();
        let mut lists: Vec<RankedList> = Vec::new();
        let mut graph: Vec<(Uuid, f32)> = Vec::new();
        let mut cast: Vec<(Uuid, f32)> = Vec::new();
        for (channel, hits) in channels.iter().zip(results) {
            let hits: Vec<Hit> = match channel {
                // Weak trigram overlaps are noise, not evidence.
                Channel::Title => hits
                    .into_iter()
                    .filter_map(|mut h| {
                        let sim = trigram_dice(&title_query, &title_trigrams(&h.payload.title));
                        (sim >= 0.45).then(|| {
                            h.score = sim;
                            h
                        })
                    })
                    .collect(),
                _ => hits,
            };
            let ranked: Vec<(Uuid, f32)> = hits.iter().map(|h| (h.id, h.score)).collect();
            for h in hits {
                payloads.entry(h.id).or_insert(h.payload);
            }
            if *channel == Channel::Graph {
                graph.extend(ranked);
            } else if *channel == Channel::Cast {
                cast.extend(ranked);
            } else {
                let mut ranked = ranked;
                if *channel == Channel::Title {
                    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                }
                let w = self.settings.weights;
                let weight = match channel {
                    Channel::Title => w.title,
                    Channel::Keyword => w.keyword,
                    _ => w.dense,
                };
                lists.push((*channel, weight, ranked));
            }
        }
        // One list per kind of edge: each title's best score over the references, titles in the
        // wanted genres first (a mood or genre was asked for).
        for (channel, hits, weight) in [
            (Channel::Graph, graph, self.settings.weights.graph),
            (Channel::Cast, cast, self.settings.weights.cast),
        ] {
            if !hits.is_empty() {
                let ranked = neighbours(hits, &intent.genres, &payloads);
                lists.push((channel, weight, ranked));
            }
        }
        let k = self.settings.rrf_k;
        let max_score: f32 = lists.iter().map(|(_, w, _)| w / (k + 1.0)).sum::<f32>()
            * (1.0 + GENRE_BOOST)
            * (1.0 + TASTE_BOOST);
        let mut fused = fuse(&lists, k);

        // Boosts: wanted genres (named or implied by a mood), then the user's taste.
        let taste = match plan.user_id {
            Some(u) if plan.mode == SearchMode::Hybrid => self.taste(u).await?,
            _ => Vec::new(),
        };
        let taste_total: f32 = taste.iter().map(|(_, w)| w).sum();
        for f in fused.iter_mut() {
            let p = &payloads[&f.id];
            f.score = boost(f.score, GENRE_BOOST, overlap(&intent.genres, &p.genres));
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
        sort(&mut fused);
        let total_count = fused.len();
        let start = ((plan.page - 1) * plan.page_size) as usize;
        let page: Vec<Fused> = fused
            .into_iter()
            .skip(start)
            .take(plan.page_size as usize)
            .collect();
        let ids: Vec<Uuid> = page.iter().map(|f| f.id).collect();
        let t = Instant::now();
        // Candidates came with brief payloads: the page gets its titles' whole payloads (cast,
        // offers) and, from the catalog, overviews and offers in the region.
        let (mut details, full) = tokio::try_join!(self.details(&ids, &region), async {
            self.index
                .payloads(generation, ids.clone())
                .await
                .map_err(backend)
        })?;
        payloads.extend(full.into_iter().map(|(id, p)| (id, Arc::new(p))));
        stage("details", t);
        let taste_genres: HashSet<&String> = taste.iter().take(3).map(|(g, _)| g).collect();
        let results = page
            .into_iter()
            .map(|f| {
                let p = &payloads[&f.id];
                let (overview, availability) = details.remove(&f.id).unwrap_or_default();
                SearchResult {
                    match_reasons: reasons(
                        &f,
                        p,
                        &intent,
                        (&references, &ref_docs),
                        &taste_genres,
                        &filter,
                    ),
                    relevance_score: (f.score / max_score).min(1.0),
                    vector_similarity: f.channel_score(Channel::Dense),
                    graph_score: f
                        .channel_score(Channel::Graph)
                        .max(cast_share(p, &ref_docs)),
                    keyword_score: f.channel_score(Channel::Keyword),
                    title_score: f.channel_score(Channel::Title),
                    content: ContentSummary {
                        id: f.id,
                        title: p.title.clone(),
                        content_type: p.content_type.clone(),
                        release_year: p.year,
                        genres: p.genres.clone(),
                        overview,
                        availability,
                    },
                }
            })
            .collect();
        Ok(SearchResponse {
            results,
            total_count,
            page: plan.page,
            page_size: plan.page_size,
            query_parsed: QueryParsed {
                original: plan.query.clone(),
                text,
                references,
                genres: intent.genres.clone(),
                moods: intent.moods.clone(),
                year_range: filter.year_range.map(|(a, b)| (a as i32, b as i32)),
                content_types: filter.content_types.clone(),
                platforms: filter
                    .offers_any
                    .iter()
                    .filter_map(|o| o.split(':').next().map(str::to_string))
                    .collect(),
                region,
                mode: plan.mode,
            },
            search_time_ms: 0,
        })
    }

    /// The user's genre affinity from past searches (strongest first).
    async fn taste(&self, user: Uuid) -> Result<Vec<(String, f32)>, ApiError> {
        Ok(sqlx::query_as(&format!(
            "SELECT genre, weight FROM {ACTIVITY_SCHEMA}.user_genres WHERE user_id = $1
             ORDER BY weight DESC, genre LIMIT 5"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Overview and the offers in `region` for a page of titles, from the catalog.
    async fn details(
        &self,
        ids: &[Uuid],
        region: &str,
    ) -> Result<HashMap<Uuid, (Option<String>, Vec<Offer>)>, ApiError> {
        let mut out: HashMap<Uuid, (Option<String>, Vec<Offer>)> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(Uuid, Option<String>)> =
            sqlx::query_as("SELECT id, overview FROM catalog.content WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        for (id, overview) in rows {
            let overview = overview.map(|o| {
                if o.chars().count() > 300 {
                    let cut: String = o.chars().take(297).collect();
                    format!("{}…", cut.trim_end())
                } else {
                    o
                }
            });
            out.entry(id).or_default().0 = overview;
        }
        let offers: Vec<OfferRow> = sqlx::query_as(
            "SELECT content_id, platform, availability_type, deep_link, web_url,
                        price_amount::text, price_currency
                 FROM catalog.platform_availability
                 WHERE content_id = ANY($1) AND region = $2
                   AND (expires_at IS NULL OR expires_at > now())
                 ORDER BY content_id, platform, availability_type",
        )
        .bind(ids)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        for o in offers {
            out.entry(o.content_id).or_default().1.push(Offer {
                platform: o.platform,
                availability_type: o.availability_type,
                deep_link: o.deep_link,
                web_url: o.web_url,
                price_amount: o.price_amount,
                price_currency: o.price_currency,
            });
        }
        Ok(out)
    }

    pub async fn suggestions(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Suggestion>, ApiError> {
        let prefix = prefix.split_whitespace().collect::<Vec<_>>().join(" ");
        if prefix.is_empty() {
            return Err(bad("prefix", "must not be empty"));
        }
        if prefix.chars().count() > 100 {
            return Err(bad("prefix", "at most 100 characters"));
        }
        if !(1..=20).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 20"));
        }
        let key = self
            .cache_key("suggest", &format!("{limit}|{}", prefix.to_lowercase()))
            .await;
        if let Some(k) = &key {
            if let Some(v) = self.cache_get(k).await {
                if let Ok(s) = serde_json::from_slice(&v) {
                    return Ok(s);
                }
            }
        }
        let generation = self.generation().await?;
        let hits = self
            .index
            .query(
                generation,
                vec![ChannelQuery {
                    probe: Probe::Sparse(TITLE, title_trigrams(&prefix)),
                    filter: Filter::default(),
                    limit: 200,
                    fields: PayloadFields::Brief,
                }],
            )
            .await
            .map_err(backend)?
            .pop()
            .unwrap_or_default();
        let norm_prefix = mediagw_domain::resolution::normalize_title(&prefix);
        let mut scored: Vec<(f32, Hit)> = hits
            .into_iter()
            .filter_map(|h| {
                let s = suggestion_score(&norm_prefix, &h.payload.title);
                (s > 0.35).then_some((s, h))
            })
            .collect();
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.payload.popularity.total_cmp(&a.1.payload.popularity))
                .then(a.1.payload.title.len().cmp(&b.1.payload.title.len()))
                .then(a.1.id.cmp(&b.1.id))
        });
        let out: Vec<Suggestion> = scored
            .into_iter()
            .take(limit)
            .map(|(s, h)| Suggestion {
                id: h.id,
                title: h.payload.title.clone(),
                release_year: h.payload.year,
                content_type: h.payload.content_type.clone(),
                score: s,
            })
            .collect();
        if let Some(k) = &key {
            let bytes = serde_json::to_vec(&out).expect("suggestions serialise");
            self.cache_put(k, &bytes, self.settings.suggestion_ttl)
                .await;
        }
        Ok(out)
    }

    pub async fn trending(&self, limit: i64) -> Result<Trending, ApiError> {
        if !(1..=50).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 50"));
        }
        let key = format!("trending:{limit}");
        if let Some(v) = self.cache_get(&key).await {
            if let Ok(t) = serde_json::from_slice(&v) {
                return Ok(t);
            }
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT query, sum(searches)::bigint AS n FROM {ACTIVITY_SCHEMA}.query_counts
             WHERE minute >= date_trunc('minute', now()) - make_interval(mins => $1::int - 1)
             GROUP BY query HAVING sum(searches) >= $2
             ORDER BY n DESC, query LIMIT $3"
        ))
        .bind(self.settings.trending_window_minutes as i32)
        .bind(self.settings.trending_min_searches)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let t = Trending {
            window_minutes: self.settings.trending_window_minutes,
            generated_at: Utc::now().to_rfc3339(),
            queries: rows
                .into_iter()
                .map(|(query, searches)| TrendingQuery { query, searches })
                .collect(),
        };
        self.cache_put(
            &key,
            &serde_json::to_vec(&t).expect("serialises"),
            self.settings.trending_ttl,
        )
        .await;
        Ok(t)
    }
}

#[derive(sqlx::FromRow)]
struct OfferRow {
    content_id: Uuid,
    platform: String,
    availability_type: String,
    deep_link: String,
    web_url: String,
    price_amount: Option<String>,
    price_currency: Option<String>,
}

/// Time per search stage (`search_stage_seconds{stage}`): where a slow search spends it.
fn stage(name: &'static str, since: Instant) {
    metrics::histogram!("search_stage_seconds", "stage" => name)
        .record(since.elapsed().as_secs_f64());
}

const GENRE_BOOST: f32 = 0.5;
const TASTE_BOOST: f32 = 0.3;

fn intersect(a: Option<(i32, i32)>, b: Option<(i32, i32)>) -> Option<(i32, i32)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.max(b0), a1.min(b1))),
        (x, None) | (None, x) => x,
    }
}

/// How well a title completes what was typed: whole-title prefix > word prefix > trigrams.
fn suggestion_score(norm_prefix: &str, title: &str) -> f32 {
    let t = mediagw_domain::resolution::normalize_title(title).replace(" : ", " ");
    if t.starts_with(norm_prefix) {
        return 2.0 + norm_prefix.len() as f32 / t.len().max(1) as f32;
    }
    if t.split(' ').any(|w| w.starts_with(norm_prefix)) || t.contains(&format!(" {norm_prefix}")) {
        return 1.5;
    }
    // Typo tolerance: compare with the title's start of the same length.
    let head: String = t.chars().take(norm_prefix.chars().count() + 2).collect();
    title_similarity(norm_prefix, &head)
}

/// A title the query refers to: its id, stored embedding and payload.
type RefDoc = (Uuid, Vec<f32>, DocPayload);

/// Merges a graph channel's hits over several references: each title's best score, titles with
/// a wanted genre first, then by score and id.
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

/// Share of a referenced title's leading cast that this title has too (best over references).
fn cast_share(p: &DocPayload, refs: &[RefDoc]) -> f32 {
    refs.iter()
        .filter(|(_, _, r)| !r.cast.is_empty())
        .map(|(_, _, r)| {
            let n = r.cast.len().min(mediagw_domain::search::text::MAX_CAST);
            shared_cast(&r.cast, &p.cast).len() as f32 / n as f32
        })
        .fold(0.0, f32::max)
}

fn reasons(
    f: &Fused,
    p: &DocPayload,
    intent: &ParsedIntent,
    (refs, ref_docs): (&[Reference], &[RefDoc]),
    taste: &HashSet<&String>,
    filter: &Filter,
) -> Vec<String> {
    let mut out = Vec::new();
    if f.hits.contains_key(&Channel::Title) {
        out.push(format!("title matches \"{}\"", intent.title_query));
    }
    if let Some(h) = f.hits.get(&Channel::Graph) {
        let names: Vec<String> = refs
            .iter()
            .filter_map(|r| Some(format!("{} ({})", r.title.as_ref()?, r.year?)))
            .collect();
        out.push(format!(
            "similar to {} ({:.2})",
            names.join(" and "),
            h.score
        ));
    }
    if f.hits.contains_key(&Channel::Cast) {
        for (_, _, r) in ref_docs {
            let shared = shared_cast(&r.cast, &p.cast);
            if !shared.is_empty() {
                let shown: Vec<&str> = shared.into_iter().take(3).collect();
                out.push(format!(
                    "shares cast with {} ({}): {}",
                    r.title,
                    r.year,
                    shown.join(", ")
                ));
            }
        }
    }
    if f.hits.contains_key(&Channel::Keyword) {
        out.push("keywords match the description".to_string());
    }
    if let Some(h) = f.hits.get(&Channel::Dense) {
        out.push(format!("semantic match ({:.2})", h.score));
    }
    let wanted: Vec<&String> = intent
        .genres
        .iter()
        .filter(|g| p.genres.contains(g))
        .collect();
    if !wanted.is_empty() {
        out.push(format!(
            "genre: {}",
            wanted
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some((a, b)) = filter.year_range {
        out.push(format!("released {} (wanted {a}–{b})", p.year));
    }
    let on: Vec<&String> = filter
        .offers_any
        .iter()
        .filter(|o| p.offers.contains(o))
        .collect();
    if !on.is_empty() {
        out.push(format!(
            "available on {}",
            on.iter()
                .map(|o| o.replace(':', " in "))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let liked: Vec<&str> = p
        .genres
        .iter()
        .filter(|g| taste.contains(g))
        .map(String::as_str)
        .collect();
    if !liked.is_empty() {
        out.push(format!("matches your taste: {}", liked.join(", ")));
    }
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: Uuid,
    pub title: String,
    pub release_year: i64,
    pub content_type: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrendingQuery {
    pub query: String,
    pub searches: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trending {
    pub window_minutes: i64,
    pub generated_at: String,
    pub queries: Vec<TrendingQuery>,
}

// ---------------------------------------------------------------- HTTP

pub fn router(service: Arc<SearchService>) -> Router {
    Router::new()
        .route("/v1/search", get(search_get).post(search_post))
        .route("/v1/search/suggestions", get(suggestions))
        .route("/v1/search/trending", get(trending))
        .with_state(service)
}

/// `Cache-Control: no-cache` skips the cached answer (benchmarks, debugging).
fn wants_cache(headers: &HeaderMap) -> bool {
    !headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-cache"))
}

fn respond(resp: SearchResponse, hit: bool) -> Response {
    let mut r = Json(resp).into_response();
    r.headers_mut().insert(
        "x-cache",
        HeaderValue::from_static(if hit { "hit" } else { "miss" }),
    );
    r
}

#[tracing::instrument(skip_all)]
async fn search_post(
    State(svc): State<Arc<SearchService>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let req: SearchRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        ApiError::BadRequest {
            field: field_name(&path),
            message: if path == "." {
                message
            } else {
                format!("{path}: {message}")
            },
        }
    })?;
    personalised_for(&caller, req.user_id)?;
    let (resp, hit) = svc.search(req, wants_cache(&headers), "rest").await?;
    Ok(respond(resp, hit))
}

/// Personalisation reads a user's taste: only that user (signed in) may ask for it.
fn personalised_for(caller: &MaybeCaller, user_id: Option<Uuid>) -> Result<(), ApiError> {
    match (user_id, &caller.0) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(ApiError::Unauthorized(
            "`user_id` personalisation needs the user's access token".into(),
        )),
        (Some(u), Some(c)) => c.require_self(u),
    }
}

/// Maps a JSON path to the contract's field name (static, for the error body).
fn field_name(path: &str) -> &'static str {
    const FIELDS: &[&str] = &[
        "filters.content_types",
        "filters.rating_range",
        "filters.year_range",
        "filters.platforms",
        "filters.genres",
        "filters",
        "query",
        "page_size",
        "page",
        "user_id",
        "region",
        "mode",
    ];
    FIELDS
        .iter()
        .find(|f| path.starts_with(*f))
        .copied()
        .unwrap_or("body")
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
    region: Option<String>,
    user_id: Option<String>,
    genres: Option<String>,
    content_types: Option<String>,
    platforms: Option<String>,
    year_from: Option<i32>,
    year_to: Option<i32>,
    mode: Option<String>,
}

fn list(s: &Option<String>) -> Option<Vec<String>> {
    s.as_ref().map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
}

#[tracing::instrument(skip_all)]
async fn search_get(
    State(svc): State<Arc<SearchService>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ApiError> {
    let user_id = match q.user_id.as_deref() {
        None | Some("") => None,
        Some(u) => Some(Uuid::parse_str(u).map_err(|_| bad("user_id", "must be a UUID"))?),
    };
    personalised_for(&caller, user_id)?;
    let mode = match q.mode.as_deref() {
        None | Some("hybrid") => SearchMode::Hybrid,
        Some("dense") => SearchMode::Dense,
        Some("keyword") => SearchMode::Keyword,
        Some(_) => return Err(bad("mode", "must be hybrid, dense or keyword")),
    };
    let year_range = match (q.year_from, q.year_to) {
        (None, None) => None,
        (a, b) => Some((a.unwrap_or(1800), b.unwrap_or(2200))),
    };
    let req = SearchRequest {
        query: q.q.ok_or_else(|| bad("q", "is required"))?,
        filters: Some(SearchFilters {
            genres: list(&q.genres),
            content_types: list(&q.content_types),
            year_range,
            rating_range: None,
            platforms: list(&q.platforms),
        }),
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(20),
        user_id,
        region: q.region,
        mode,
    };
    let (resp, hit) = svc.search(req, wants_cache(&headers), "rest").await?;
    Ok(respond(resp, hit))
}

#[derive(Debug, Deserialize)]
struct SuggestQuery {
    prefix: Option<String>,
    limit: Option<usize>,
}

async fn suggestions(
    State(svc): State<Arc<SearchService>>,
    Query(q): Query<SuggestQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let prefix = q.prefix.ok_or_else(|| bad("prefix", "is required"))?;
    let s = svc.suggestions(&prefix, q.limit.unwrap_or(8)).await?;
    Ok(Json(
        serde_json::json!({ "prefix": prefix, "suggestions": s }),
    ))
}

#[derive(Debug, Deserialize)]
struct TrendingParams {
    limit: Option<i64>,
}

async fn trending(
    State(svc): State<Arc<SearchService>>,
    Query(q): Query<TrendingParams>,
) -> Result<Json<Trending>, ApiError> {
    Ok(Json(svc.trending(q.limit.unwrap_or(10)).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: serde_json::Value) -> SearchRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let e = |v| match validate(req(v), "US") {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert_eq!(e(serde_json::json!({"query": "  "})), "query");
        assert_eq!(e(serde_json::json!({"query": "x", "page": 0})), "page");
        assert_eq!(
            e(serde_json::json!({"query": "x", "page_size": 101})),
            "page_size"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "region": "Mars"})),
            "region"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "filters": {"content_types": ["opera"]}})),
            "filters.content_types"
        );
        assert_eq!(
            e(serde_json::json!({"query": "x", "filters": {"year_range": [2000, 1990]}})),
            "filters.year_range"
        );
        let ok = validate(
            req(serde_json::json!({"query": " the   matrix ", "filters": {"genres": ["Sci  Fi"], "platforms": ["Disney+"]}})),
            "US",
        )
        .unwrap();
        assert_eq!(ok.query, "the matrix");
        assert_eq!(ok.genres, vec!["sci fi"]);
        assert_eq!(ok.platforms, vec!["disney_plus"]);
        assert_eq!(ok.region, "US");
    }

    #[test]
    fn suggestions_rank_prefixes_first() {
        assert!(suggestion_score("godf", "The Godfather") >= 2.0);
        assert!(suggestion_score("father", "The Godfather") < 2.0);
        assert!(suggestion_score("godfathr", "The Godfather") > 0.35);
        assert!(suggestion_score("zzz", "The Godfather") < 0.35);
    }

    #[test]
    fn ranges_intersect() {
        assert_eq!(
            intersect(Some((1990, 2000)), Some((1995, 2010))),
            Some((1995, 2000))
        );
        assert_eq!(intersect(None, Some((1, 2))), Some((1, 2)));
    }
}
