//! Wiring: builds the adapters once and hands them to each role.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mediagw_commands::relay::{Relay, RelayConfig};
use mediagw_commands::TitleService;
use mediagw_projectors::catalog::CatalogProjection;
use mediagw_projectors::{Projection, ProjectorConfig, ProjectorRunner};
use mediagw_schemas::bus::{EventBus, KafkaBus};
use mediagw_schemas::registry::RegistryStore;
use mediagw_schemas::EventCodec;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::config::Config;
use crate::role::ProjectorName;
use mediagw_auth::oauth::AuthSettings;
use mediagw_auth::{KeySettings, KeyStore, TokenService};
use mediagw_commands::sync::SyncService;
use mediagw_projectors::playback::PlaybackProjection;
use mediagw_projectors::profiles::ProfileProjection;
use mediagw_projectors::search::SearchProjection;
use mediagw_projectors::search_activity::SearchActivityProjection;
use mediagw_projectors::sync::SyncProjection;
use mediagw_query_api::gateway::limits::{GateStore, RedisGate};
use mediagw_query_api::search::SearchSettings;
use mediagw_query_api::sync::hub::{Fanout, HubSettings, LocalFanout, SyncHub};
use mediagw_query_api::sync::pubsub::RedisFanout;
use mediagw_search_adapters::cache::{Cache, RedisCache};
use mediagw_search_adapters::embed::distilled::Distilled;
use mediagw_search_adapters::embed::{Embedder, OnnxConfig, OnnxEmbedder};
use mediagw_search_adapters::index::edge::EdgeIndex;
use mediagw_search_adapters::index::qdrant::{QdrantConfig, QdrantIndex};
use mediagw_search_adapters::index::SearchIndex;
use secrecy::ExposeSecret;

/// The key-encryption key from `auth.key_encryption_key` (base64 of 32 bytes; empty: none).
fn kek(raw: &secrecy::SecretString) -> anyhow::Result<Option<[u8; 32]>> {
    use base64::Engine;
    let raw = raw.expose_secret().trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .context("auth.key_encryption_key must be base64")?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        anyhow::anyhow!("auth.key_encryption_key must be 32 bytes (base64 of 32 random bytes)")
    })?;
    Ok(Some(key))
}
use tokio_util::sync::CancellationToken;

pub struct App {
    pub config: Config,
    pub pool: PgPool,
    pub codec: Arc<EventCodec>,
    search: tokio::sync::OnceCell<SearchParts>,
}

/// The search adapters, built once per process and shared by the indexer and the query side
/// (an embedded index may be opened by one holder only).
#[derive(Clone)]
pub struct SearchParts {
    pub index: Arc<dyn SearchIndex>,
    /// Documents (the indexer): the full model.
    pub embedder: Arc<dyn Embedder>,
    /// Queries: the full model or its distilled token table (`search.query_encoder`).
    pub query_embedder: Arc<dyn Embedder>,
    /// The distilled query encoder, when that is the one in use (the API warms it).
    pub distilled: Option<Arc<Distilled>>,
    pub cache: Option<Arc<dyn Cache>>,
}

impl App {
    pub async fn connect(config: Config) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(config.database.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(config.database_url())
            .await
            .context("connecting to PostgreSQL (database.url)")?;
        let codec = Arc::new(EventCodec::new(
            &config.registry.url,
            &config.kafka.topic_prefix,
        ));
        Ok(Self {
            config,
            pool,
            codec,
            search: tokio::sync::OnceCell::new(),
        })
    }

    /// Creates every table the process may touch (idempotent, safe under concurrency).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        // Processes starting together on a fresh database would race on `CREATE … IF NOT EXISTS`
        // (a duplicate pg_namespace or pg_type row): one process migrates at a time. The lock is
        // held by its own connection and released when that connection ends, whatever happens.
        let mut lock = self.pool.acquire().await?.detach();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut lock)
            .await
            .context("waiting for the migration lock")?;
        // A deadlock with live writers (DDL changed under load) is retried, not fatal.
        let mut attempt = 0;
        let result = loop {
            match self.migrate_once().await {
                Err(e) if attempt < 5 && is_retryable(&e) => {
                    attempt += 1;
                    tracing::warn!(attempt, error = %e, "migration conflicted with live writers; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                other => break other,
            }
        };
        let _ = sqlx::Connection::close(lock).await;
        result
    }

    async fn migrate_once(&self) -> anyhow::Result<()> {
        mediagw_commands::migrate(&self.pool)
            .await
            .context("event store migration")?;
        CatalogProjection::live()
            .migrate(&self.pool)
            .await
            .context("catalog migration")?;
        let registry = RegistryStore::new(self.pool.clone())
            .await
            .context("registry migration")?;
        // The product's own schemas are registered here, so producers at run time only ever
        // look theirs up (registry writes need an operator: issue 22).
        let prefix = &self.config.kafka.topic_prefix;
        let mut topics: Vec<&str> = Vec::new();
        for s in mediagw_schemas::SCHEMAS {
            let subject = mediagw_schemas::subject(&format!("{prefix}{}", s.topic), s.full_name);
            registry
                .register(&subject, s.text, Some("AVRO"))
                .await
                .with_context(|| format!("registering {subject}"))?;
            if !topics.contains(&s.topic) {
                topics.push(s.topic);
            }
        }
        for topic in topics {
            let subject = mediagw_schemas::subject(
                &format!("{prefix}{topic}"),
                mediagw_schemas::sealed::FULL_NAME,
            );
            registry
                .register(&subject, mediagw_schemas::sealed::SCHEMA, Some("AVRO"))
                .await
                .with_context(|| format!("registering {subject}"))?;
        }
        mediagw_projectors::search::migrate(&self.pool, mediagw_projectors::search::LIVE_SCHEMA)
            .await
            .context("search index migration")?;
        SearchActivityProjection::live()
            .migrate(&self.pool)
            .await
            .context("search activity migration")?;
        SyncProjection::live()
            .migrate(&self.pool)
            .await
            .context("sync migration")?;
        ProfileProjection::live()
            .migrate(&self.pool)
            .await
            .context("user profile migration")?;
        PlaybackProjection::live()
            .migrate(&self.pool)
            .await
            .context("playback migration")?;
        mediagw_projectors::recommender::migrate(&self.pool)
            .await
            .context("recommendation model migration")?;
        mediagw_auth::migrate(&self.pool)
            .await
            .context("auth migration")?;
        Ok(())
    }

    /// Index, embedding model and cache, loaded on first use.
    pub async fn search_parts(&self) -> anyhow::Result<SearchParts> {
        self.search
            .get_or_try_init(|| async {
                let c = &self.config.search;
                let index: Arc<dyn SearchIndex> = match c.index.as_str() {
                    "edge" => Arc::new(EdgeIndex::new(&c.index_dir)),
                    "qdrant" => Arc::new(
                        QdrantIndex::connect(&QdrantConfig {
                            url: c.qdrant_url.clone(),
                            api_key: c
                                .qdrant_api_key
                                .as_ref()
                                .map(|k| k.expose_secret().to_string()),
                            collection_prefix: c.qdrant_collection_prefix.clone(),
                        })
                        .context("search.qdrant_url")?,
                    ),
                    other => anyhow::bail!("search.index must be `edge` or `qdrant`, not `{other}`"),
                };
                let cfg = OnnxConfig {
                    model_dir: c.model_dir.clone(),
                    sessions: c.embed_sessions,
                    batch: c.embed_batch,
                    max_tokens: c.embed_max_tokens,
                };
                let model = Arc::new(
                    tokio::task::spawn_blocking(move || OnnxEmbedder::load(&cfg))
                        .await?
                        .context(
                            "loading the embedding model (search.model_dir; `scripts/up` fetches it)",
                        )?,
                );
                let mut distilled = None;
                let query_embedder: Arc<dyn Embedder> = match c.query_encoder.as_str() {
                    "model" => model.clone(),
                    "distilled" => {
                        let d = Arc::new(Distilled::new(&model)?);
                        distilled = Some(d.clone());
                        d
                    }
                    other => anyhow::bail!(
                        "search.query_encoder must be `distilled` or `model`, not `{other}`"
                    ),
                };
                let embedder: Arc<dyn Embedder> = model;
                let url = self.config.redis.url.expose_secret();
                let cache: Option<Arc<dyn Cache>> = if url.is_empty() {
                    None
                } else {
                    Some(Arc::new(
                        RedisCache::connect(self.redis_client()?, &self.config.redis.key_prefix)
                            .await
                            .context("connecting to Redis (redis.url)")?,
                    ))
                };
                Ok(SearchParts {
                    index,
                    embedder,
                    query_embedder,
                    distilled,
                    cache,
                })
            })
            .await
            .cloned()
    }

    pub fn search_settings(&self) -> anyhow::Result<SearchSettings> {
        let c = &self.config.search;
        let unknown = c.ranker.unknown_features();
        anyhow::ensure!(
            unknown.is_empty(),
            "search.ranker.weights names no feature: {} (features: {})",
            unknown.join(", "),
            mediagw_domain::search::rerank::FEATURES.join(", ")
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&c.expansion_weight),
            "search.expansion_weight must be in [0, 1] (0 turns query expansion off), not {}",
            c.expansion_weight
        );
        Ok(SearchSettings {
            depth: c.depth,
            result_ttl: Duration::from_secs(c.result_ttl_s),
            suggestion_ttl: Duration::from_secs(c.suggestion_ttl_s),
            trending_ttl: Duration::from_secs(c.trending_ttl_s),
            trending_window_minutes: c.trending_window_minutes,
            trending_min_searches: c.trending_min_searches,
            default_region: c.default_region.clone(),
            weights: c.weights,
            rrf_k: c.rrf_k,
            ranker: c.ranker.clone(),
            engagement_refresh: Duration::from_secs(c.engagement_refresh_s.max(1)),
            expansion_weight: c.expansion_weight,
            expansion_words: c.expansion_words,
        })
    }

    pub fn bus(&self) -> anyhow::Result<Arc<KafkaBus>> {
        Ok(Arc::new(
            KafkaBus::new(&self.config.kafka_producer()).context("kafka producer")?,
        ))
    }

    /// Signing keys (creating the first one) and the token service over them.
    pub async fn tokens(&self) -> anyhow::Result<Arc<TokenService>> {
        let c = &self.config.auth;
        let keys = KeyStore::open(
            self.pool.clone(),
            KeySettings {
                kek: kek(&c.key_encryption_key)?,
                prepublish: Duration::from_secs(c.key_prepublish_s),
                rotate_after: Duration::from_secs(c.key_rotation_days * 86_400),
                // An instance may sign with a retired key until its next reload.
                retain: Duration::from_secs(c.access_ttl_s + c.leeway_s + c.key_reload_s),
            },
        )
        .await
        .context("loading signing keys")?;
        Ok(Arc::new(TokenService::new(
            keys,
            c.issuer.trim_end_matches('/'),
            &c.audience,
            Duration::from_secs(c.access_ttl_s),
            Duration::from_secs(c.leeway_s),
        )))
    }

    /// A Redis client for `redis.url`: `redis://`, or `rediss://` (TLS) trusting the system's roots
    /// or, with `redis.ca_file`, that CA only (a managed Redis with its own CA, e.g. Memorystore).
    pub fn redis_client(&self) -> anyhow::Result<redis::Client> {
        let url = self.config.redis.url.expose_secret();
        let ca_file = self.config.redis.ca_file.trim();
        if ca_file.is_empty() {
            return redis::Client::open(url).context("redis.url");
        }
        anyhow::ensure!(
            url.starts_with("rediss://"),
            "redis.ca_file is set but redis.url is not a rediss:// (TLS) URL"
        );
        let ca =
            std::fs::read(ca_file).with_context(|| format!("reading redis.ca_file {ca_file}"))?;
        redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca),
            },
        )
        .context("redis.url with redis.ca_file")
    }

    /// Rate buckets and the revoked-token list (Redis; required by the API).
    pub async fn gate_store(&self) -> anyhow::Result<Arc<dyn GateStore>> {
        let url = self.config.redis.url.expose_secret();
        anyhow::ensure!(
            !url.is_empty(),
            "redis.url is required for the API (rate limits and token revocation)"
        );
        Ok(Arc::new(
            RedisGate::connect(self.redis_client()?, &self.config.redis.key_prefix)
                .await
                .context("connecting to Redis (redis.url)")?,
        ))
    }

    pub fn auth_settings(&self) -> AuthSettings {
        let c = &self.config.auth;
        AuthSettings {
            issuer: c.issuer.trim_end_matches('/').to_string(),
            audience: c.audience.clone(),
            refresh_ttl: Duration::from_secs(c.refresh_ttl_days * 86_400),
            code_ttl: Duration::from_secs(c.code_ttl_s.min(600)),
            device_ttl: Duration::from_secs(c.device_ttl_s),
            device_interval_s: c.device_interval_s.max(1),
            session_ttl: Duration::from_secs(c.session_ttl_s),
        }
    }

    pub fn model_params(&self) -> mediagw_domain::recommend::model::ModelParams {
        let c = &self.config.recommend;
        mediagw_domain::recommend::model::ModelParams {
            max_items: c.max_items,
            lambda: c.lambda,
            neighbours: c.neighbours,
        }
    }

    pub fn recommend_settings(&self) -> mediagw_query_api::recommend::RecommendSettings {
        let c = &self.config.recommend;
        mediagw_query_api::recommend::RecommendSettings {
            model_refresh: Duration::from_millis(c.model_refresh_ms.max(100)),
            cache_ttl: Duration::from_secs(c.cache_ttl_s),
            weights: Default::default(),
            default_region: c.default_region.clone(),
        }
    }

    /// Export, import and erasure of a user's data; `gate` denies an erased user's live tokens.
    pub fn accounts(
        &self,
        gate: Option<Arc<dyn GateStore>>,
    ) -> anyhow::Result<crate::account::AccountStore> {
        let redis = if self.config.redis.url.expose_secret().is_empty() {
            None
        } else {
            Some((self.redis_client()?, self.config.redis.key_prefix.clone()))
        };
        let sync = Arc::new(SyncService::new(
            self.pool.clone(),
            Duration::from_millis(self.config.sync.max_clock_drift_ms),
        ));
        Ok(crate::account::AccountStore {
            pool: self.pool.clone(),
            importer: mediagw_commands::imports::HistoryImporter::new(
                self.pool.clone(),
                self.interactions(),
                sync,
            ),
            redis,
            gate,
        })
    }

    pub fn interactions(&self) -> Arc<mediagw_commands::interactions::InteractionService> {
        Arc::new(mediagw_commands::interactions::InteractionService::new(
            self.pool.clone(),
        ))
    }

    /// The playback routes' registrations and sessions, served by the command side.
    pub fn playback_port(&self) -> crate::ports::PlaybackPort {
        crate::ports::PlaybackPort {
            devices: Arc::new(mediagw_commands::playback::DeviceService::new(
                self.pool.clone(),
            )),
            sessions: Arc::new(mediagw_commands::playback::SessionService::new(
                self.pool.clone(),
            )),
        }
    }

    pub fn playback_settings(&self) -> mediagw_query_api::playback::PlaybackSettings {
        mediagw_query_api::playback::PlaybackSettings {
            default_region: self.config.recommend.default_region.clone(),
        }
    }

    /// MCP over HTTP: the tools call this instance's own listener.
    pub fn mcp_settings(&self) -> mediagw_query_api::mcp::http::McpSettings {
        let addr = self.config.http.addr;
        let host = if addr.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            addr.ip()
        };
        mediagw_query_api::mcp::http::McpSettings {
            issuer: self.config.auth.issuer.trim_end_matches('/').to_string(),
            api_url: format!("http://{}", std::net::SocketAddr::new(host, addr.port())),
            anonymous_per_minute: self
                .config
                .gateway
                .rate_limits
                .anonymous
                .requests_per_minute,
            authenticated_per_minute: self.config.gateway.rate_limits.free.requests_per_minute,
        }
    }

    pub fn titles(&self) -> Arc<TitleService> {
        Arc::new(TitleService::new(self.pool.clone()))
    }

    /// The sync hub: command service plus the configured fan-out (Redis pub/sub or local).
    pub async fn sync_hub(&self, shutdown: CancellationToken) -> anyhow::Result<Arc<SyncHub>> {
        let c = &self.config.sync;
        let service = Arc::new(crate::ports::SyncPort(Arc::new(SyncService::new(
            self.pool.clone(),
            Duration::from_millis(c.max_clock_drift_ms),
        ))));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let fanout: Arc<dyn Fanout> = match c.fanout.as_str() {
            "local" => Arc::new(LocalFanout(tx)),
            "redis" => {
                let url = self.config.redis.url.expose_secret();
                anyhow::ensure!(
                    !url.is_empty(),
                    "sync.fanout = \"redis\" needs redis.url (or set sync.fanout = \"local\")"
                );
                RedisFanout::start(
                    self.redis_client()?,
                    &self.config.redis.key_prefix,
                    tx,
                    shutdown.clone(),
                )
                .await
                .context("connecting the sync fan-out to Redis (redis.url)")?
            }
            other => anyhow::bail!("sync.fanout must be `redis` or `local`, not `{other}`"),
        };
        Ok(SyncHub::start(
            service,
            fanout,
            rx,
            HubSettings {
                heartbeat_timeout: Duration::from_secs(c.heartbeat_timeout_s.max(1)),
                socket_queue: c.socket_queue.max(1),
            },
            shutdown,
        ))
    }

    pub fn relay(&self, bus: Arc<dyn EventBus>) -> Relay {
        Relay::new(
            self.pool.clone(),
            bus,
            self.codec.clone(),
            RelayConfig {
                batch_size: self.config.relay.batch_size,
                poll_interval: Duration::from_millis(self.config.relay.poll_interval_ms),
            },
        )
    }

    pub async fn projector(
        &self,
        name: ProjectorName,
        bus: Arc<dyn EventBus>,
    ) -> anyhow::Result<ProjectorRunner> {
        let projection: Arc<dyn Projection> = match name {
            ProjectorName::Catalog => Arc::new(CatalogProjection::live()),
            ProjectorName::Search => {
                let p = self.search_parts().await?;
                Arc::new(SearchProjection::new(
                    mediagw_projectors::search::LIVE_SCHEMA,
                    p.index,
                    p.embedder,
                    p.cache,
                ))
            }
            ProjectorName::SearchActivity => Arc::new(SearchActivityProjection::live()),
            ProjectorName::Sync => Arc::new(SyncProjection::live()),
            ProjectorName::UserProfiles => Arc::new(ProfileProjection::live()),
            ProjectorName::Playback => Arc::new(PlaybackProjection::live()),
        };
        let mut kafka = self.config.kafka_consumer();
        if let Some(ms) = self.config.projector.fetch_wait_ms.get(name.as_str()) {
            kafka.set("fetch.wait.max.ms", ms.to_string());
        }
        Ok(ProjectorRunner::new(
            self.pool.clone(),
            projection,
            self.codec.clone(),
            bus,
            &kafka,
            ProjectorConfig {
                group_prefix: self.config.kafka.group_prefix.clone(),
                batch_size: self.config.projector.batch_size,
                batch_wait: Duration::from_millis(self.config.projector.batch_wait_ms),
                assignment: self.config.projector.assignment()?,
            },
        )?)
    }
}

/// Deadlock (40P01) or serialization failure (40001) anywhere in the error chain.
/// Advisory lock key serialising `migrate` across processes.
const MIGRATION_LOCK: i64 = 7_320;

fn is_retryable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .and_then(|s| s.as_database_error())
            .and_then(|d| d.code())
            .is_some_and(|code| code == "40P01" || code == "40001")
    })
}
