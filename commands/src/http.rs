//! HTTP routes that accept commands. The binary mounts them behind the gateway layers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mediagw_domain::title::TitleError;
use serde_json::json;

use crate::error::CommandError;
use crate::resolution::ReviewDecision;
use crate::titles::{IngestRequest, TitleService};

pub fn router(service: Arc<TitleService>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/internal/ingest", post(ingest))
        .route("/internal/resolution/pending", get(pending))
        .route("/internal/resolution/{id}/{decision}", post(decide))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(service)
}

#[tracing::instrument(skip_all, fields(content_id))]
async fn ingest(
    State(service): State<Arc<TitleService>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rej) => {
            let status = rej.status();
            return error(
                status,
                "body_rejected",
                &format!("request body: {}", rej.body_text()),
                None,
            );
        }
    };
    let req: IngestRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                &format!("request body is not a valid IngestRequest: {e}"),
                None,
            )
        }
    };
    match service.ingest(&req).await {
        Ok(resp) => {
            tracing::Span::current().record("content_id", tracing::field::display(resp.content_id));
            (StatusCode::OK, Json(resp)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct PendingQuery {
    limit: Option<i64>,
}

/// `GET /internal/resolution/pending?limit=`: grey-zone matches, oldest first, with both fingerprints.
async fn pending(
    State(service): State<Arc<TitleService>>,
    Query(q): Query<PendingQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "`limit` must be between 1 and 500",
            Some(json!([{"field": "limit", "message": "must be between 1 and 500"}])),
        );
    }
    match service.pending_reviews(limit).await {
        Ok(p) => Json(json!({ "pending": p })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /internal/resolution/{id}/accept` (merge the pair) or `/reject` (keep both).
#[tracing::instrument(skip(service))]
async fn decide(
    State(service): State<Arc<TitleService>>,
    Path((id, decision)): Path<(String, String)>,
) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "`id` is not a UUID",
            Some(json!([{"field": "id", "message": "must be a UUID"}])),
        );
    };
    let decision = match decision.as_str() {
        "accept" => ReviewDecision::Accept,
        "reject" => ReviewDecision::Reject,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "use /accept or /reject",
                None,
            )
        }
    };
    match service.decide_review(id, decision).await {
        Ok(survivor) => {
            Json(json!({"review_id": id, "decision": decision, "survivor_id": survivor}))
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    fields: Option<serde_json::Value>,
) -> Response {
    let mut body = json!({"error": {"code": code, "message": message}});
    if let Some(f) = fields {
        body["error"]["fields"] = f;
    }
    (status, Json(body)).into_response()
}

impl IntoResponse for CommandError {
    fn into_response(self) -> Response {
        match self {
            CommandError::Validation(errs) => {
                let fields = serde_json::to_value(&errs.0).unwrap_or_default();
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    &errs.to_string(),
                    Some(fields),
                )
            }
            CommandError::Rejected(TitleError::NotFound) => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "title does not exist",
                None,
            ),
            CommandError::Rejected(e) => error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                &e.to_string(),
                None,
            ),
            CommandError::NotFound(what) => error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("{what} not found"),
                None,
            ),
            CommandError::Conflict(why) => error(StatusCode::CONFLICT, "conflict", &why, None),
            CommandError::Forbidden(why) => error(StatusCode::FORBIDDEN, "forbidden", &why, None),
            CommandError::Contention => {
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "contention",
                    "the title is being changed concurrently; retry",
                    None,
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                r
            }
            CommandError::Db(e) => {
                tracing::error!(error = %e, "command failed on the database");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                    None,
                )
            }
            CommandError::Store(e) => {
                tracing::error!(error = %e, "command failed in the event store");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                    None,
                )
            }
        }
    }
}
