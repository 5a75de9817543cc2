//! The HTTP side every connector shares: a per-provider token bucket (the provider's published
//! request budget), an optional daily quota, and retries with exponential backoff and jitter on 429,
//! 5xx and transport errors (a 429's `Retry-After` is honoured).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{Datelike, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

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

/// Tokens refill continuously at `rate` per second up to `burst`; `acquire` waits for one.
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: rate_per_second.max(0.001),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let tokens =
                    (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
                if tokens >= 1.0 {
                    *s = (tokens - 1.0, now);
                    return;
                }
                *s = (tokens, now);
                Duration::from_secs_f64((1.0 - tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

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
    bucket: TokenBucket,
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
            bucket: TokenBucket::new(policy.requests_per_second, policy.burst),
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

    /// `GET base_url + path` with `query`, as JSON. Query values may hold secrets (API keys), so
    /// errors and logs name only the path.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, ConnectorError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        loop {
            self.spend_quota()?;
            self.bucket.acquire().await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("connector_requests_total", "provider" => self.provider).increment(1);
            let sent = self
                .client
                .get(&url)
                .headers(self.headers.clone())
                .query(query)
                .send()
                .await;
            let retry_after = match sent {
                Ok(resp) if resp.status().is_success() => {
                    return resp
                        .json::<Value>()
                        .await
                        .map_err(|e| ConnectorError::Shape {
                            provider: self.provider,
                            path: path.to_string(),
                            message: e.without_url().to_string(),
                        });
                }
                Ok(resp) => {
                    let status = resp.status();
                    let retryable =
                        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable || attempt >= self.policy.max_retries {
                        return Err(ConnectorError::Status {
                            provider: self.provider,
                            status: status.as_u16(),
                            path: path.to_string(),
                        });
                    }
                    resp.headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s.min(300)))
                }
                Err(e) => {
                    if attempt >= self.policy.max_retries {
                        return Err(ConnectorError::Transport {
                            provider: self.provider,
                            path: path.to_string(),
                            message: e.without_url().to_string(),
                        });
                    }
                    None
                }
            };
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("connector_retries_total", "provider" => self.provider).increment(1);
            let backoff = self.policy.base_backoff * 2u32.saturating_pow(attempt - 1);
            let jitter =
                Duration::from_millis(u64::from(Utc::now().timestamp_subsec_millis()) % 50);
            let wait = retry_after
                .unwrap_or(backoff + jitter)
                .min(Duration::from_secs(300));
            tracing::warn!(
                provider = self.provider,
                path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_spaces_requests_at_the_budget() {
        let b = TokenBucket::new(10.0, 2);
        let start = Instant::now();
        for _ in 0..12 {
            b.acquire().await;
        }
        // 2 from the burst, then 10 at 10/s.
        let took = start.elapsed().as_secs_f64();
        assert!((0.99..1.1).contains(&took), "{took}");
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
