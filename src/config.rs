//! One typed configuration: defaults (`config/default.toml`, then the learned search ranker in
//! `config/search-ranker.toml`, both compiled in) → optional file → `MEDIAGW__SECTION__KEY`
//! environment variables.

use std::net::SocketAddr;
use std::path::Path;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULTS: &str = include_str!("../config/default.toml");
/// `[search.ranker]` as `mediagw train search-ranker` prints it (weights and trees belong together).
const RANKER: &str = include_str!("../config/search-ranker.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub http: HttpConfig,
    pub grpc: GrpcConfig,
    pub database: DatabaseConfig,
    pub kafka: KafkaConfig,
    pub registry: RegistryConfig,
    pub relay: RelaySettings,
    pub projector: ProjectorSettings,
    pub connectors: mediagw_commands::connectors::ConnectorsConfig,
    pub search: SearchConfig,
    pub redis: RedisConfig,
    pub sync: SyncConfig,
    pub recommend: RecommendConfig,
    pub auth: AuthConfig,
    pub gateway: GatewayConfig,
    pub log: LogConfig,
    pub otel: OtelConfig,
}

/// Recommendations (seed §4): the model job and the serving side.
#[derive(Debug, Clone, Deserialize)]
pub struct RecommendConfig {
    /// How often `projector:user-profiles` checks whether to retrain the model.
    pub train_check_s: u64,
    /// Retrain once this many interactions arrived since the last model.
    pub retrain_after: i64,
    /// EASE over this many most-interacted titles.
    pub max_items: usize,
    pub lambda: f64,
    /// Item-item weights kept per title for serving.
    pub neighbours: usize,
    /// How often API instances look for a newer model.
    pub model_refresh_ms: u64,
    pub cache_ttl_s: u64,
    pub default_region: String,
}

/// The OAuth 2.0 server and its tokens (seed §7).
#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// `iss` of every token and the public base URL of the auth endpoints.
    pub issuer: String,
    pub audience: String,
    pub access_ttl_s: u64,
    pub refresh_ttl_days: u64,
    pub code_ttl_s: u64,
    pub device_ttl_s: u64,
    pub device_interval_s: u32,
    pub session_ttl_s: u64,
    /// Clock skew tolerated on `exp`/`nbf`.
    pub leeway_s: u64,
    /// Rotate the signing key once it is this old (0 = only `mediagw auth rotate-key`).
    pub key_rotation_days: u64,
    /// A new key is published this long before it signs.
    pub key_prepublish_s: u64,
    /// How often each instance re-reads the published keys.
    pub key_reload_s: u64,
    /// 32 bytes, base64: signing keys are stored encrypted with it (empty: stored as they are).
    pub key_encryption_key: SecretString,
}

/// Cross-cutting HTTP behaviour of the API (seed §1).
#[derive(Debug, Clone, Deserialize)]
pub struct GatewayConfig {
    /// Browser origins allowed by CORS (`*` for any; empty: no CORS headers).
    pub cors_origins: Vec<String>,
    /// Behind a load balancer: rate-limit by the last `X-Forwarded-For` hop, not the socket.
    pub trust_forwarded_for: bool,
    pub rate_limits: mediagw_query_api::gateway::limits::RateTiers,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SyncConfig {
    /// Operations stamped further ahead of the server clock than this are refused.
    pub max_clock_drift_ms: u64,
    /// A socket silent this long is closed and its device marked offline (devices heartbeat
    /// well inside it).
    pub heartbeat_timeout_s: u64,
    /// Deltas queued per socket before a stuck one is dropped (it catches up on reconnect).
    pub socket_queue: usize,
    /// `redis` (pub/sub: deltas reach sockets on every instance) or `local` (one instance).
    pub fanout: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchConfig {
    /// `edge` (embedded qdrant-edge, default) or `qdrant` (a Qdrant server at `qdrant_url`).
    pub index: String,
    /// Where the embedded index keeps its generations.
    pub index_dir: std::path::PathBuf,
    /// Qdrant server (gRPC) when `index = "qdrant"`; one collection per generation.
    pub qdrant_url: String,
    pub qdrant_api_key: Option<SecretString>,
    pub qdrant_collection_prefix: String,
    /// Directory with model.onnx, tokenizer.json and libonnxruntime.so (`scripts/lib.sh ensure_model`).
    pub model_dir: std::path::PathBuf,
    /// ONNX sessions (parallel model calls; one per core).
    pub embed_sessions: usize,
    /// Texts per model call when indexing.
    pub embed_batch: usize,
    /// Tokens of each text the model reads (title, year, genres, then the overview).
    pub embed_max_tokens: usize,
    /// How queries are embedded: `distilled` (the model's own per-token vectors, averaged;
    /// microseconds) or `model` (a full model call, ≈ 5 ms of a core). ADR 0012.
    pub query_encoder: String,
    /// Fill the distilled table for the whole vocabulary at start (kept in `model_dir`).
    pub query_encoder_warm: bool,
    /// Candidates per retrieval channel.
    pub depth: usize,
    pub result_ttl_s: u64,
    pub suggestion_ttl_s: u64,
    pub trending_ttl_s: u64,
    pub trending_window_minutes: i64,
    pub trending_min_searches: i64,
    pub default_region: String,
    /// Build the ANN index once the projector has been idle this long with this many points
    /// unindexed.
    pub optimize_idle_s: u64,
    pub optimize_min_points: usize,
    /// RRF votes per retrieval channel and the RRF constant.
    pub weights: mediagw_query_api::search::ChannelWeights,
    pub rrf_k: f32,
    /// The learned reranker over the fused top titles (`mediagw train search-ranker`).
    pub ranker: mediagw_query_api::search::Ranker,
    /// How often the per-title engagement counts behind the ranking prior are re-read.
    pub engagement_refresh_s: u64,
    /// Weight of related words in the hybrid keyword channel (0: off) …
    pub expansion_weight: f32,
    /// … and how many of each typed word's related words it adds.
    pub expansion_words: usize,
    /// Answered searches are published as one record per window of this length (ADR 0013) …
    pub events_flush_ms: u64,
    /// … or as soon as this many are waiting.
    pub events_max_batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisConfig {
    /// May embed a password: kept secret, never logged. Empty disables caching.
    pub url: SecretString,
    /// Prepended to every key.
    pub key_prefix: String,
    /// PEM file of the CA that signed the server's certificate, for `rediss://` to a Redis with a
    /// private CA (Memorystore's `server_ca_certs`). Empty: the system's roots.
    pub ca_file: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    pub max_body_bytes: usize,
    /// Operations listener (metrics and health) of every process.
    pub internal_addr: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GrpcConfig {
    pub addr: SocketAddr,
    /// Server reflection (what `grpcurl list` asks): describes every method to anyone.
    pub reflection: bool,
    /// A call still running after this long is answered DEADLINE_EXCEEDED.
    pub timeout_ms: u64,
    /// Calls one connection may have in flight at once.
    pub max_concurrent_per_connection: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    /// May embed a password: kept secret, never logged.
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KafkaConfig {
    pub brokers: String,
    pub topic_prefix: String,
    pub group_prefix: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// librdkafka properties applied to consumers only.
    #[serde(default)]
    pub consumer: std::collections::BTreeMap<String, String>,
    /// librdkafka properties applied to the producer only.
    #[serde(default)]
    pub producer: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegistryConfig {
    pub listen: SocketAddr,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RelaySettings {
    pub batch_size: i64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectorSettings {
    pub batch_size: usize,
    pub batch_wait_ms: u64,
    /// Per projector, overrides `kafka.consumer."fetch.wait.max.ms"`: how long the broker holds an
    /// empty fetch. tansu re-reads every partition of a fetch once per wait whether or not data
    /// arrived, so idle polling costs CPU in proportion to 1 / wait; read models that need no
    /// sub-second freshness poll less often.
    #[serde(default)]
    pub fetch_wait_ms: std::collections::BTreeMap<String, u64>,
    pub assignment: String,
    pub instance_index: i32,
    pub instance_count: i32,
    pub instance_id: String,
}

impl ProjectorSettings {
    pub fn assignment(&self) -> anyhow::Result<mediagw_projectors::Assignment> {
        match self.assignment.as_str() {
            "static" => {
                anyhow::ensure!(
                    self.instance_count >= 1
                        && (0..self.instance_count).contains(&self.instance_index),
                    "projector.instance_index must be in 0..projector.instance_count"
                );
                Ok(mediagw_projectors::Assignment::Static {
                    index: self.instance_index,
                    count: self.instance_count,
                })
            }
            "group" => Ok(mediagw_projectors::Assignment::Group {
                instance_id: self.instance(),
            }),
            other => {
                anyhow::bail!("projector.assignment must be `static` or `group`, not `{other}`")
            }
        }
    }

    /// The configured instance id, else the host name.
    pub fn instance(&self) -> String {
        if !self.instance_id.is_empty() {
            return self.instance_id.clone();
        }
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "0".into())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    pub format: String,
    pub filter: String,
    pub mask_ips: bool,
}

/// OpenTelemetry traces (OTLP over gRPC). Off while `endpoint` is empty: no exporter, no layer,
/// no trace context stored or forwarded.
#[derive(Debug, Clone, Deserialize)]
pub struct OtelConfig {
    /// The collector's OTLP/gRPC address, e.g. `http://otel-collector:4317`.
    pub endpoint: String,
    /// Fraction of new traces recorded (0.0–1.0); a caller's sampled `traceparent` is always kept.
    pub sampling_ratio: f64,
    /// Export deadline per batch.
    pub timeout_ms: u64,
}

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Toml::string(DEFAULTS)).merge(Toml::string(RANKER));
        if let Some(f) = file {
            fig = fig.merge(Toml::file_exact(f));
        }
        fig.merge(Env::prefixed("MEDIAGW__").split("__"))
            .extract()
            .map_err(Box::new)
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }

    /// librdkafka settings shared by every client.
    pub fn kafka_client(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.kafka.brokers)
            .set("client.id", "mediagw");
        c
    }

    /// Client settings plus the producer-only properties.
    pub fn kafka_producer(&self) -> rdkafka::ClientConfig {
        let mut c = self.kafka_client();
        for (k, v) in &self.kafka.producer {
            c.set(k, v);
        }
        c
    }

    /// Client settings plus the consumer-only properties.
    pub fn kafka_consumer(&self) -> rdkafka::ClientConfig {
        let mut c = self.kafka_client();
        for (k, v) in &self.kafka.consumer {
            c.set(k, v);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn env_overrides_defaults_and_secrets_stay_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MEDIAGW__DATABASE__URL", "postgres://u:hunter2@db/x");
            jail.set_env("MEDIAGW__KAFKA__PARTITIONS", "6");
            let c = Config::load(None).expect("config");
            assert_eq!(c.kafka.partitions, 6);
            assert_eq!(c.database_url(), "postgres://u:hunter2@db/x");
            assert!(!format!("{c:?}").contains("hunter2"));
            assert_eq!(c.http.addr.port(), 8080);
            Ok(())
        });
    }
}
