//! Liveness, readiness (every dependency answers) and Prometheus metrics.

use std::sync::Arc;
use std::time::Duration;

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

#[derive(Clone)]
pub struct Readiness {
    pub probes: Vec<Arc<dyn ReadinessProbe>>,
    /// Renders the Prometheus exposition text.
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
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

async fn ready(State(r): State<Readiness>) -> impl IntoResponse {
    let checks = run_probes(&r.probes).await;
    let ok = checks.iter().all(|(_, res)| res.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, res)| {
            let v = match res {
                Ok(()) => json!({"status": "ok"}),
                Err(e) => json!({"status": "down", "error": e}),
            };
            (name.to_string(), v)
        })
        .collect();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if ok { "ready" } else { "not_ready" }, "checks": body})),
    )
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
