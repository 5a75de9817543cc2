//! Provider connectors (seed §2 platform connectors): page through each aggregator's documented
//! API within its request budget and feed every record through the same ingest path as
//! `POST /internal/ingest` (validation, entity resolution, the title aggregate).
//!
//! Jobs and their default schedules (seed §2 background jobs): catalog refresh every 6 h,
//! availability sync every 1 h, metadata enrichment every 24 h, expiry sweep every 15 min. The base
//! URL of every provider is configuration, so tests point the unchanged code at local doubles.

pub mod http;
mod providers;
pub mod schedule;

use std::sync::atomic::Ordering;
use std::time::Duration;

use mediagw_domain::catalog::IngestSource;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use http::{ConnectorError, Policy, ProviderHttp};

use crate::titles::{IngestAction, IngestRequest, TitleService};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    CatalogRefresh,
    AvailabilitySync,
    MetadataEnrichment,
}

impl Job {
    pub const ALL: [Job; 3] = [
        Job::CatalogRefresh,
        Job::AvailabilitySync,
        Job::MetadataEnrichment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::CatalogRefresh => "catalog_refresh",
            Job::AvailabilitySync => "availability_sync",
            Job::MetadataEnrichment => "metadata_enrichment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

/// One provider's settings (`connectors.<provider>` in the config).
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderConfig {
    pub enabled: bool,
    pub base_url: String,
    /// API key or bearer token; never logged.
    pub api_key: Option<SecretString>,
    pub requests_per_second: f64,
    pub burst: u32,
    pub daily_quota: Option<u64>,
    pub max_retries: u32,
    /// YouTube: the playlists (e.g. channel uploads) to follow.
    #[serde(default)]
    pub playlist_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleConfig {
    pub catalog_refresh_secs: u64,
    pub availability_sync_secs: u64,
    pub metadata_enrichment_secs: u64,
    pub expiry_sweep_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorsConfig {
    /// Regions every record is ingested for.
    pub regions: Vec<String>,
    /// Upper bound of pages one job run reads (protects the budget from a runaway cursor).
    pub max_pages: u32,
    pub schedule: ScheduleConfig,
    pub tmdb: ProviderConfig,
    pub watchmode: ProviderConfig,
    pub streaming_availability: ProviderConfig,
    pub youtube: ProviderConfig,
    pub gracenote: ProviderConfig,
}

impl ConnectorsConfig {
    pub fn provider(&self, source: IngestSource) -> Option<&ProviderConfig> {
        Some(match source {
            IngestSource::Tmdb => &self.tmdb,
            IngestSource::Watchmode => &self.watchmode,
            IngestSource::StreamingAvailability => &self.streaming_availability,
            IngestSource::Youtube => &self.youtube,
            IngestSource::Gracenote => &self.gracenote,
            IngestSource::Generic => return None,
        })
    }
}

/// A provider's API client: knows its endpoints, pagination and authentication.
pub struct Connector {
    pub source: IngestSource,
    pub http: ProviderHttp,
    key: Option<SecretString>,
    playlists: Vec<String>,
}

/// Records of one page (with the region they were listed for, if the listing is per region) and
/// the cursor of the next page.
pub struct Page {
    pub records: Vec<(Option<String>, Value)>,
    pub next: Option<String>,
}

impl Connector {
    pub fn new(source: IngestSource, cfg: &ProviderConfig) -> Result<Self, ConnectorError> {
        let name: &'static str = source.as_str();
        let mut headers = HeaderMap::new();
        let key = cfg.api_key.clone();
        if let Some(k) = &key {
            let secret = |v: String| {
                let mut h = HeaderValue::from_str(&v).map_err(|_| ConnectorError::Transport {
                    provider: name,
                    path: String::new(),
                    message: "api_key is not a valid header value".into(),
                })?;
                h.set_sensitive(true);
                Ok::<_, ConnectorError>(h)
            };
            match source {
                IngestSource::Tmdb => {
                    headers.insert(
                        reqwest::header::AUTHORIZATION,
                        secret(format!("Bearer {}", k.expose_secret()))?,
                    );
                }
                IngestSource::StreamingAvailability => {
                    headers.insert(
                        HeaderName::from_static("x-rapidapi-key"),
                        secret(k.expose_secret().to_string())?,
                    );
                    let host = cfg
                        .base_url
                        .split("://")
                        .nth(1)
                        .unwrap_or_default()
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    if let Ok(h) = HeaderValue::from_str(&host) {
                        headers.insert(HeaderName::from_static("x-rapidapi-host"), h);
                    }
                }
                _ => {} // query-parameter keys
            }
        }
        let policy = Policy {
            requests_per_second: cfg.requests_per_second,
            burst: cfg.burst,
            daily_quota: cfg.daily_quota,
            max_retries: cfg.max_retries,
            base_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        };
        Ok(Self {
            source,
            http: ProviderHttp::new(name, &cfg.base_url, headers, policy),
            key,
            playlists: cfg.playlist_ids.clone(),
        })
    }

    fn key_param(&self, name: &'static str) -> Vec<(&'static str, String)> {
        self.key
            .as_ref()
            .map(|k| vec![(name, k.expose_secret().to_string())])
            .unwrap_or_default()
    }
}

/// What one job run did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RunReport {
    pub provider: String,
    pub job: String,
    pub pages: u32,
    pub records: u64,
    pub created: u64,
    pub updated: u64,
    pub merged: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub requests: u64,
    pub retries: u64,
    /// First rejection reasons (field names only: provider data, no secrets).
    pub reasons: Vec<String>,
    pub error: Option<String>,
}

/// Runs one job of one provider to the end of its listing (or `max_pages`).
pub async fn run_job(
    service: &TitleService,
    connector: &Connector,
    job: Job,
    regions: &[String],
    max_pages: u32,
) -> RunReport {
    let mut report = RunReport {
        provider: connector.source.as_str().into(),
        job: job.as_str().into(),
        ..RunReport::default()
    };
    let mut cursor: Option<String> = None;
    loop {
        let page = match connector.page(job, cursor.as_deref(), regions).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(provider = connector.source.as_str(), job = job.as_str(), error = %e, "connector job stopped");
                report.error = Some(e.to_string());
                break;
            }
        };
        report.pages += 1;
        let mut requests = Vec::new();
        for (region, raw) in page.records {
            report.records += 1;
            let targets: Vec<String> = match region {
                Some(r) => vec![r],
                None => regions.to_vec(),
            };
            for region in targets {
                requests.push(IngestRequest {
                    platform: connector.source.as_str().into(),
                    raw_content: raw.clone(),
                    region,
                });
            }
        }
        for result in service.ingest_many(&requests).await {
            match result {
                Ok(r) if r.events == 0 => report.unchanged += 1,
                Ok(r) => match r.action {
                    IngestAction::Created => report.created += 1,
                    IngestAction::Updated => report.updated += 1,
                    IngestAction::Merged => report.merged += 1,
                },
                Err(e) => {
                    report.rejected += 1;
                    if report.reasons.len() < 10 {
                        report.reasons.push(e.to_string());
                    }
                }
            }
        }
        cursor = page.next;
        if cursor.is_none() || report.pages >= max_pages {
            break;
        }
    }
    report.requests = connector.http.requests.load(Ordering::Relaxed);
    report.retries = connector.http.retries.load(Ordering::Relaxed);
    report
}
