//! Liveness, readiness (every dependency answers) and Prometheus metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// One dependency the process needs to serve (PostgreSQL, broker, registry…).
#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    fn name(&self) -> &'static str;
    async fn check(&self) -> Result<(), String>;
}

/// How long one readiness answer is reused: probes hit every dependency, so a flood of
/// `/health/ready` requests must not turn into a flood of database and broker round trips.
pub const READY_CACHE: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Readiness {
    probes: Vec<Arc<dyn ReadinessProbe>>,
    /// Renders the Prometheus exposition text.
    metrics: Arc<dyn Fn() -> String + Send + Sync>,
    /// The last answer and when it was computed; the lock also makes concurrent requests share
    /// one round of probes.
    last: Arc<tokio::sync::Mutex<Option<(Instant, bool, serde_json::Value)>>>,
}

impl Readiness {
    pub fn new(
        probes: Vec<Arc<dyn ReadinessProbe>>,
        metrics: Arc<dyn Fn() -> String + Send + Sync>,
    ) -> Self {
        Self {
            probes,
            metrics,
            last: Default::default(),
        }
    }
}

/// The public listener's one health route: the process answers.
pub fn live_router() -> Router {
    Router::new().route("/health/live", get(live))
}

/// The internal (operations) listener: liveness, readiness with each dependency's state, and the
/// Prometheus exposition. Not for the public network: readiness names the dependencies.
pub fn internal_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(readiness)
}

async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Status per dependency, never the error itself (that goes to the log): cached for
/// [`READY_CACHE`].
async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let mut last = r.last.lock().await;
    let fresh = last
        .as_ref()
        .filter(|(at, _, _)| at.elapsed() < READY_CACHE)
        .map(|(_, ok, body)| (*ok, body.clone()));
    let (ok, body) = match fresh {
        Some(answer) => answer,
        None => {
            let checks = run_probes(&r.probes).await;
            let ok = checks.iter().all(|(_, res)| res.is_ok());
            let mut body = serde_json::Map::new();
            for (name, res) in checks {
                let status = match res {
                    Ok(()) => "ok",
                    Err(e) => {
                        tracing::warn!(dependency = name, error = %e, "not ready");
                        "down"
                    }
                };
                body.insert(name.to_string(), json!({ "status": status }));
            }
            let body = json!({"status": if ok { "ready" } else { "not_ready" }, "checks": body});
            *last = Some((Instant::now(), ok, body.clone()));
            (ok, body)
        }
    };
    drop(last);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn run_probes(probes: &[Arc<dyn ReadinessProbe>]) -> Vec<(&'static str, Result<(), String>)> {
    let mut handles = Vec::new();
    for p in probes {
        let p = p.clone();
        handles.push(tokio::spawn(async move {
            let res = match tokio::time::timeout(Duration::from_secs(2), p.check()).await {
                Ok(r) => r,
                Err(_) => Err("timed out after 2 s".to_string()),
            };
            (p.name(), res)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        if let Ok(r) = h.await {
            out.push(r);
        }
    }
    out
}

async fn metrics(State(r): State<Readiness>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (r.metrics)(),
    )
}
