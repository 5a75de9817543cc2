//! The search routes (seed §3): `POST /v1/search`, `GET /v1/search`,
//! `GET /v1/search/suggestions`, `GET /v1/search/trending`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mediagw_auth::MaybeCaller;
use serde::Deserialize;
use uuid::Uuid;

use super::contract::*;
use super::errors::bad;
use super::service::SearchService;
use crate::error::ApiError;

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
        explain: false,
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
