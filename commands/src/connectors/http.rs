//! The HTTP side every connector shares: a per-provider request budget (`governor`, the provider's
//! published rate), an optional daily quota, and retries (`backon`) with exponential backoff and
//! jitter on 429, 5xx and transport errors (a 429's `Retry-After` is honoured).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{Datelike, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{provider}: HTTP {status} from {path}")]
    Status {
        provider: &'static str,
        status: u16,
        path: String,
    },
    #[error("{provider}: {path}: {message}")]
    Transport {
        provider: &'static str,
        path: String,
        message: String,
    },
    #[error("{provider}: {path}: response is not the documented JSON: {message}")]
    Shape {
        provider: &'static str,
        path: String,
        message: String,
    },
    #[error("{0}: daily request quota used up")]
    QuotaExhausted(&'static str),
}

/// A provider's published request budget: `rate` per second, bursts up to `burst` (GCRA).
pub type RequestBudget = DefaultDirectRateLimiter;

pub fn request_budget(rate_per_second: f64, burst: u32) -> RequestBudget {
    let period = Duration::from_secs_f64(1.0 / rate_per_second.max(0.001));
    let quota = Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least one"));
    RateLimiter::direct(quota)
}

/// Why an attempt failed, and whether another one may help.
struct Failed {
    error: ConnectorError,
    retryable: bool,
    /// The provider's own `Retry-After`, which wins over our backoff.
    retry_after: Option<Duration>,
}

/// No single wait is longer than this, whatever a provider's `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Budget and retry policy of one provider.
#[derive(Debug, Clone)]
pub struct Policy {
    pub requests_per_second: f64,
    pub burst: u32,
    pub daily_quota: Option<u64>,
    pub max_retries: u32,
    pub base_backoff: Duration,
    pub timeout: Duration,
}

pub struct ProviderHttp {
    pub provider: &'static str,
    base_url: String,
    client: reqwest::Client,
    headers: HeaderMap,
    budget: RequestBudget,
    policy: Policy,
    /// (day number, requests made that day)
    used_today: AtomicU64,
    day: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

impl ProviderHttp {
    pub fn new(provider: &'static str, base_url: &str, headers: HeaderMap, policy: Policy) -> Self {
        mediagw_schemas::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent("mediagw-connector/0.1")
            .build()
            .unwrap_or_default();
        Self {
            provider,
            base_url: base_url.trim_end_matches('/').to_string(),
            client,
            headers,
            budget: request_budget(policy.requests_per_second, policy.burst),
            policy,
            used_today: AtomicU64::new(0),
            day: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    fn spend_quota(&self) -> Result<(), ConnectorError> {
        let Some(quota) = self.policy.daily_quota else {
            return Ok(());
        };
        let today = Utc::now().num_days_from_ce() as u64;
        if self.day.swap(today, Ordering::Relaxed) != today {
            self.used_today.store(0, Ordering::Relaxed);
        }
        if self.used_today.fetch_add(1, Ordering::Relaxed) >= quota {
            return Err(ConnectorError::QuotaExhausted(self.provider));
        }
        Ok(())
    }

    /// `GET base_url + path` with `query`, as JSON, retrying 429, 5xx and transport errors with
    /// exponential backoff and jitter. Query values may hold secrets (API keys), so errors and
    /// logs name only the path.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ConnectorError> {
        let url = format!("{}{path}", self.base_url);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.base_backoff)
            .with_factor(2.0)
            .with_max_delay(MAX_WAIT)
            .with_max_times(self.policy.max_retries as usize);
        let attempt = || self.attempt(&url, path, query);
        attempt
            .retry(backoff)
            .when(|f: &Failed| f.retryable)
            // The provider's Retry-After wins; our own backoff gets up to 49 ms of jitter.
            .adjust(|f: &Failed, next: Option<Duration>| {
                let jitter =
                    Duration::from_millis(u64::from(Utc::now().timestamp_subsec_millis()) % 50);
                next.map(|d| f.retry_after.unwrap_or(d + jitter).min(MAX_WAIT))
            })
            .notify(|f: &Failed, wait: Duration| {
                self.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("connector_retries_total", "provider" => self.provider)
                    .increment(1);
                tracing::warn!(
                    provider = self.provider,
                    path,
                    error = %f.error,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
            })
            .await
            .map_err(|f| f.error)
    }

    async fn attempt(
        &self,
        url: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, Failed> {
        self.spend_quota().map_err(|error| Failed {
            error,
            retryable: false,
            retry_after: None,
        })?;
        self.budget.until_ready().await;
        self.requests.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("connector_requests_total", "provider" => self.provider).increment(1);
        let sent = self
            .client
            .get(url)
            .headers(self.headers.clone())
            .query(query)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                resp.json::<Value>().await.map_err(|e| Failed {
                    error: ConnectorError::Shape {
                        provider: self.provider,
                        path: path.to_string(),
                        message: e.without_url().to_string(),
                    },
                    retryable: false,
                    retry_after: None,
                })
            }
            Ok(resp) => {
                let status = resp.status();
                Err(Failed {
                    error: ConnectorError::Status {
                        provider: self.provider,
                        status: status.as_u16(),
                        path: path.to_string(),
                    },
                    retryable: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
                    retry_after: resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs),
                })
            }
            Err(e) => Err(Failed {
                error: ConnectorError::Transport {
                    provider: self.provider,
                    path: path.to_string(),
                    message: e.without_url().to_string(),
                },
                retryable: true,
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budget_spaces_requests_at_the_rate() {
        let b = request_budget(10.0, 2);
        let start = std::time::Instant::now();
        for _ in 0..12 {
            b.until_ready().await;
        }
        // 2 from the burst, then 10 at 10/s.
        let took = start.elapsed().as_secs_f64();
        assert!((0.99..1.5).contains(&took), "{took}");
    }

    async fn serve(statuses: Vec<u16>) -> (String, std::sync::Arc<AtomicU64>) {
        use axum::routing::get;
        let calls = std::sync::Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let app = axum::Router::new().route(
            "/x",
            get(move || {
                let n = c.fetch_add(1, Ordering::SeqCst) as usize;
                let code = statuses.get(n).copied().unwrap_or(200);
                async move {
                    let mut r = axum::response::IntoResponse::into_response(axum::Json(
                        serde_json::json!({"ok": n}),
                    ));
                    *r.status_mut() = axum::http::StatusCode::from_u16(code).unwrap();
                    if code == 429 {
                        r.headers_mut()
                            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
                    }
                    r
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), calls)
    }

    fn policy(retries: u32) -> Policy {
        Policy {
            requests_per_second: 1000.0,
            burst: 10,
            daily_quota: None,
            max_retries: retries,
            base_backoff: Duration::from_millis(5),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn retries_429_and_5xx_then_succeeds_or_gives_up() {
        let (url, calls) = serve(vec![429, 503, 500]).await;
        let http = ProviderHttp::new("test", &url, HeaderMap::new(), policy(3));
        let v = http.get_json("/x", &[]).await.unwrap();
        assert_eq!(v["ok"], 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(http.retries.load(Ordering::Relaxed), 3);

        let (url, calls) = serve(vec![503, 503, 503]).await;
        let http = ProviderHttp::new("test", &url, HeaderMap::new(), policy(1));
        let e = http
            .get_json("/x", &[("api_key", "secret".into())])
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectorError::Status { status: 503, .. }));
        assert!(!e.to_string().contains("secret"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // 404 is the provider's answer, not a hiccup: no retry.
        let (url, calls) = serve(vec![404]).await;
        let http = ProviderHttp::new("test", &url, HeaderMap::new(), policy(3));
        assert!(http.get_json("/x", &[]).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn daily_quota_stops_requests() {
        let (url, calls) = serve(vec![]).await;
        let mut p = policy(0);
        p.daily_quota = Some(2);
        let http = ProviderHttp::new("test", &url, HeaderMap::new(), p);
        http.get_json("/x", &[]).await.unwrap();
        http.get_json("/x", &[]).await.unwrap();
        assert!(matches!(
            http.get_json("/x", &[]).await,
            Err(ConnectorError::QuotaExhausted(_))
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
