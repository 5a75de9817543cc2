//! The search service: settings, caching by index generation, and `run`, which calls the stages in
//! order (each stage's I/O half is an `impl SearchService` block in its own file).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use mediagw_domain::search::fuse::Candidates;
use mediagw_domain::search::fuse::ChannelWeights;
use mediagw_domain::search::related::{Expansion, Related};
use mediagw_domain::search::rerank::{Known, Ranker};
use mediagw_domain::search::text::title_trigrams;
use mediagw_domain::search::{self as rules, Bm25};
use mediagw_search_adapters::cache::{Cache, CACHE_GENERATION_KEY};
use mediagw_search_adapters::embed::Embedder;
use mediagw_search_adapters::index::SearchIndex;
use sqlx::PgPool;
use uuid::Uuid;

use super::contract::*;
use super::plan::{validate, Plan};
use crate::error::ApiError;

/// Schema of the search projection (index generation) and of the activity projection.
pub(super) const SEARCH_SCHEMA: &str = "search";
pub(super) const ACTIVITY_SCHEMA: &str = "search_activity";

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
    /// RRF votes per channel (dense, keyword, title, graph, cast, browse) and the RRF constant.
    pub weights: ChannelWeights,
    pub rrf_k: f32,
    /// Reorders the fused top titles (depth 0: fused order).
    pub ranker: Ranker,
    /// How stale the per-title engagement and sequel counts behind the prior may get.
    pub engagement_refresh: Duration,
    /// Related words in the hybrid keyword channel: their weight (0: off) and how many per word.
    pub expansion_weight: f32,
    pub expansion_words: usize,
}

/// The related-word lists (`config/related-words-hand.txt`, then `config/related-words.txt`,
/// compiled in), parsed once (before the API reports ready: [`SearchService::load_known`]).
pub(super) fn related_words() -> &'static Related {
    static RELATED: std::sync::OnceLock<Related> = std::sync::OnceLock::new();
    RELATED.get_or_init(|| {
        Related::layered(&[
            include_str!("../../../config/related-words-hand.txt"),
            include_str!("../../../config/related-words.txt"),
        ])
    })
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
            ranker: Ranker::default(),
            engagement_refresh: Duration::from_secs(60),
            expansion_weight: 0.3,
            expansion_words: 5,
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

/// Engagement and sequel counts for the ranker, as last read (see `rerank`).
#[derive(Default)]
pub(super) struct KnownCache {
    pub known: Arc<Known>,
    pub read_at: Option<Instant>,
    pub refreshing: bool,
    /// The catalog the sequel counts were read from.
    pub catalog: Option<CatalogVersion>,
    /// The search projection's documents the surnames were read from (they are re-read when
    /// it moves: it trails the catalog).
    pub documents: Option<DocumentsVersion>,
}

/// Live and retired documents and the sum of their event sequences: any write moves one.
pub(super) type DocumentsVersion = (i64, i64, i64);

/// Titles in the catalog and its latest change: the sequel counts are re-read when it moves.
pub(super) type CatalogVersion = (i64, Option<chrono::DateTime<Utc>>);

pub(super) type SharedKnown = Arc<Mutex<KnownCache>>;

pub struct SearchService {
    pub pool: PgPool,
    pub index: Arc<dyn SearchIndex>,
    pub embedder: Arc<dyn Embedder>,
    pub cache: Option<Arc<dyn Cache>>,
    pub events: Option<Arc<dyn SearchEvents>>,
    pub settings: SearchSettings,
    pub(super) bm25: Bm25,
    pub(super) generation: Mutex<Option<(Instant, i64)>>,
    pub(super) known_cache: SharedKnown,
}

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
            known_cache: Default::default(),
        }
    }

    /// The index generation the search projection feeds (re-read at most once a second). When
    /// a replay swapped in a new one, the old generation is dropped.
    pub(crate) async fn generation(&self) -> Result<i64, ApiError> {
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

    pub(super) async fn cache_get(&self, key: &str) -> Option<Vec<u8>> {
        let cache = self.cache.as_ref()?;
        match cache.get(key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cache read failed; answering uncached");
                None
            }
        }
    }

    pub(super) async fn cache_put(&self, key: &str, value: &[u8], ttl: Duration) {
        if let Some(cache) = &self.cache {
            if let Err(e) = cache.set(key, value, ttl).await {
                tracing::warn!(error = %e, "cache write failed");
            }
        }
    }

    /// A cache key valid until the index changes. The plan is hashed with SHA-256: with a fast
    /// non-cryptographic hash a caller could craft a plan whose key collides with another's
    /// (personalised) search and read or poison its cached answer.
    pub(super) async fn cache_key(&self, kind: &str, body: &str) -> Option<String> {
        use sha2::{Digest, Sha256};
        let cache = self.cache.as_ref()?;
        let counter = cache.counter(CACHE_GENERATION_KEY).await.ok()?;
        let generation = self.generation().await.ok()?;
        let digest = Sha256::digest(body.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("{kind}:{generation}.{counter}:{hex}"))
    }

    pub async fn search(
        &self,
        req: SearchRequest,
        use_cache: bool,
        source: &'static str,
    ) -> Result<(SearchResponse, bool), ApiError> {
        let started = Instant::now();
        let plan = validate(req, &self.settings.default_region)?;
        metrics::counter!("search_queries_total",
            "query_type" => format!("{:?}", plan.mode).to_lowercase())
        .increment(1);
        // An explained search is a diagnosis of the ranking as it is now: never from the cache.
        let key = if use_cache && !plan.explain {
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
    pub(super) fn publish(&self, plan: &Plan, resp: &SearchResponse, source: &'static str) {
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

    /// The stages, in order (see the module documentation); once more without them when the
    /// platforms or kinds of title the query's words named hold nothing that matches.
    pub(super) async fn run(&self, plan: &Plan) -> Result<SearchResponse, ApiError> {
        let (mut resp, mut intent) = self.run_stages(plan, &[]).await?;
        // What the words asked for, kept only where something of it is let go.
        let mut read = None;
        let mut relaxed = Vec::new();
        while let Some(next) = rules::plan::widen(&plan.constraints, &intent, resp.total_count) {
            let q = resp.query_parsed;
            read.get_or_insert((q.platforms, q.content_types));
            relaxed.push(next);
            (resp, intent) = self.run_stages(plan, &relaxed).await?;
        }
        if let Some((platforms, content_types)) = read {
            resp.query_parsed.platforms = platforms;
            resp.query_parsed.content_types = content_types;
            resp.query_parsed.relaxed = relaxed.iter().map(|r| r.to_string()).collect();
        }
        Ok(resp)
    }

    async fn run_stages(
        &self,
        plan: &Plan,
        relaxed: &[&str],
    ) -> Result<(SearchResponse, rules::ParsedIntent), ApiError> {
        let generation = self.generation().await?;
        let mut intent = rules::plan::intent(plan.mode.into(), &plan.query, Utc::now().year());
        // A title that reads as a request ("Some Like It Hot" as "like It Hot") is the title.
        if !intent.references.is_empty() && self.names_a_title(generation, &plan.query).await? {
            intent = rules::plan::as_typed(&plan.query);
        }
        rules::plan::relax(&mut intent, relaxed);
        let region = rules::plan::region(&intent, &plan.region);
        let mut filter = rules::plan::filter(&plan.constraints, &intent, &region);
        let depth = rules::plan::depth(self.settings.depth, plan.page, plan.page_size);

        let (references, referenced) = self.references(generation, &intent).await?;
        filter.exclude = referenced.iter().map(|r| r.id).collect();
        let text = rules::references::searched_text(
            &intent.text,
            references
                .iter()
                .filter(|r| r.id.is_none())
                .map(|r| r.query.as_str()),
        );

        let title_query = title_trigrams(&intent.title_query);
        let known = self.known();
        // "the dark night": the catalog's titles the typed one sounds like, probed as spelled;
        // not a franchise's name typed right ("kingsman" is no misspelled "The King's Man").
        let family_head = known.sequels.head_named(&plan.query);
        let meant = match plan.mode {
            SearchMode::Hybrid if references.is_empty() && family_head.is_none() => {
                known.soundalikes.correction(&intent.title_query)
            }
            _ => None,
        };
        let sounds_like: Vec<_> = meant.map(title_trigrams).into_iter().collect();
        let people = match plan.mode {
            SearchMode::Hybrid => known.surnames.named(&text),
            _ => Vec::new(),
        };
        let planned = rules::probes::probes(
            &rules::probes::Search {
                mode: plan.mode.into(),
                query: &plan.query,
                intent: &intent,
                text: &text,
                title_query: &title_query,
                sounds_like: &sounds_like,
                referenced: &referenced,
                people: &people,
                filter: &filter,
                depth,
                expansion: (self.settings.expansion_weight > 0.0).then(|| Expansion {
                    related: related_words(),
                    per_word: self.settings.expansion_words,
                    weight: self.settings.expansion_weight.min(1.0),
                }),
            },
            &self.bm25,
        );
        let (channels, results) = self.probe(generation, planned, &referenced).await?;
        // The plan decides whether titles are probed ("scary movies" is a kind, not a title):
        // without a title probe there is no title heard, for coverage or reasons either.
        let meant = meant.filter(|_| channels.contains(&rules::fuse::Channel::Title));
        let wanted = rules::references::wanted_genres(&intent.genres, &referenced);

        let number = rules::text::typed_number(&intent.title_query);
        let title_queries: Vec<_> = std::iter::once(title_query).chain(sounds_like).collect();
        let Candidates { lists, payloads } = rules::fuse::candidates(
            &channels,
            results,
            &title_queries,
            number.as_deref(),
            &self.settings.weights,
            &wanted,
        );
        let k = self.settings.rrf_k;
        let max_score = rules::boost::max_score(&lists, k);
        let mut fused = rules::fuse(&lists, k);

        let taste = self.taste(plan).await?;
        rules::boost::apply(&mut fused, &payloads, &intent.genres, &taste);
        rules::fuse::sort(&mut fused);
        let held = if plan.mode == SearchMode::Hybrid {
            let head = self.settings.ranker.depth.min(fused.len());
            let texts: Vec<&str> = std::iter::once(text.as_str()).chain(meant).collect();
            self.coverage(generation, &fused[..head], &texts).await
        } else {
            Default::default()
        };
        let asked = rules::rerank::Asked {
            coverage: Some(&held),
            family_head,
            ..rules::rerank::Asked::new(&plan.query, &wanted)
        };
        let features = if plan.explain {
            rules::rerank::explain(&fused, &payloads, &lists, &asked, &known)
        } else {
            Default::default()
        };
        // A raw channel is measured as it ranks (`mediagw eval search` compares them with hybrid).
        if plan.mode == SearchMode::Hybrid {
            rules::rerank::apply(
                &mut fused,
                &payloads,
                &lists,
                &asked,
                &known,
                &self.settings.ranker,
            );
        }

        let (total_count, page) = rules::page::page(fused, plan.page, plan.page_size);

        let explain = rules::details::Explain::new(
            &intent,
            references
                .iter()
                .filter_map(|r| Some((r.title.as_deref()?, r.year?))),
            &referenced,
            &taste,
            &filter,
        )
        .with_people(&people)
        .with_sounds_like(meant);
        let results = self
            .details(
                generation,
                mediagw_domain::search::page::RankedPage {
                    hits: page,
                    max_score,
                    features,
                },
                payloads,
                &region,
                &explain,
            )
            .await?;
        let resp = SearchResponse {
            results,
            total_count,
            page: plan.page,
            page_size: plan.page_size,
            query_parsed: QueryParsed {
                original: plan.query.clone(),
                text,
                genres: intent.genres.clone(),
                moods: intent.moods.clone(),
                year_range: filter.year_range.map(|(a, b)| (a as i32, b as i32)),
                max_runtime: intent.max_runtime,
                content_types: filter.content_types.clone(),
                platforms: filter
                    .offers_any
                    .iter()
                    .filter_map(|o| o.split(':').next().map(str::to_string))
                    .collect(),
                references,
                region,
                mode: plan.mode,
                relaxed: Vec::new(),
            },
            search_time_ms: 0,
        };
        Ok((resp, intent))
    }
}
