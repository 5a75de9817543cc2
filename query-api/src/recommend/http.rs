//! Routes of the recommendation service. Every route takes a [`Caller`] and serves only the
//! caller's own data (operators with role `admin` may read any user's, for evaluation and support).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use mediagw_auth::Caller;
use mediagw_domain::auth::Scope;
use mediagw_domain::interaction::{Feedback, Signal, Subscription};
use mediagw_domain::recommend::rank::{Context, Stages};
use mediagw_domain::ValidationErrors;
use uuid::Uuid;

use super::contract::*;
use super::port::FeedbackWriteError;
use super::service::{Ask, RecommendationService};
use crate::error::ApiError;

/// Most titles one answer carries (seed: max 20).
pub const MAX_LIMIT: usize = 20;

pub fn router(service: Arc<RecommendationService>) -> Router {
    Router::new()
        .route("/v1/recommendations", post(recommend))
        .route("/v1/recommendations/cold-start", post(cold_start))
        .route("/v1/user/{user_id}/feedback", post(feedback))
        .route("/v1/user/{user_id}/profile", get(profile))
        .route(
            "/v1/user/{user_id}/services",
            get(services).put(set_services),
        )
        .with_state(service)
}

use crate::error::json_body as parse;

fn parse_user(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        field: "user_id",
        message: "must be a UUID".into(),
    })
}

/// The caller themself, or an operator.
fn require_self_or_admin(caller: &Caller, user_id: Uuid) -> Result<(), ApiError> {
    if caller.is_admin() {
        return Ok(());
    }
    caller.require_self(user_id)
}

fn write_error(e: FeedbackWriteError) -> ApiError {
    match e {
        FeedbackWriteError::Invalid(v) => ApiError::Invalid(v),
        FeedbackWriteError::Contention => {
            ApiError::Conflict("too many concurrent writes; retry".into())
        }
        FeedbackWriteError::Unavailable(m) => ApiError::Backend(m),
    }
}

fn context(c: Option<RecommendationContext>) -> Context {
    let c = c.unwrap_or_default();
    let lower = |s: Option<String>| s.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    Context {
        mood: lower(c.mood),
        time_of_day: lower(c.time_of_day),
        device_type: lower(c.device_type),
        viewing_with: c
            .viewing_with
            .unwrap_or_default()
            .into_iter()
            .map(|w| w.trim().to_lowercase())
            .collect(),
        genres: vec![],
    }
}

fn check_limit(limit: usize, errors: &mut ValidationErrors) {
    if limit == 0 || limit > MAX_LIMIT {
        errors.push("limit", format!("must be between 1 and {MAX_LIMIT}"));
    }
}

fn check_region(region: &Option<String>, errors: &mut ValidationErrors) -> Option<String> {
    let raw = region.as_ref()?;
    let r = mediagw_domain::catalog::normalize_region(raw);
    if r.is_none() {
        errors.push(
            "region",
            "must be an ISO 3166-1 country code (`US` or `USA`)",
        );
    }
    r
}

async fn recommend(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<RecommendationResponse>, ApiError> {
    let req: RecommendationRequest = parse(body)?;
    caller.require_scope(Scope::ReadPreferences)?;
    require_self_or_admin(&caller, req.user_id)?;
    let mut errors = ValidationErrors::default();
    check_limit(req.limit, &mut errors);
    if !(0.0..=1.0).contains(&req.diversity_threshold) {
        errors.push("diversity_threshold", "must be between 0.0 and 1.0");
    }
    let region = check_region(&req.region, &mut errors);
    let stages = match &req.stages {
        None => Stages::ALL,
        Some(names) => match Stages::parse(names.iter().map(String::as_str)) {
            Ok(s) => s,
            Err(bad) => {
                errors.push(
                    "stages",
                    format!(
                        "unknown stage `{bad}` (known: {})",
                        Stages::NAMES.join(", ")
                    ),
                );
                Stages::ALL
            }
        },
    };
    errors.into_result(()).map_err(ApiError::Invalid)?;
    let no_cache = headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-cache"));
    let answer = service
        .recommend(Ask {
            user_id: Some(req.user_id),
            context: context(req.context),
            limit: req.limit,
            exclude_watched: req.exclude_watched,
            diversity: req.diversity_threshold,
            region,
            stages,
            liked: vec![],
            use_cache: req.stages.is_none() && !no_cache,
        })
        .await?;
    Ok(Json(answer))
}

async fn cold_start(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<RecommendationResponse>, ApiError> {
    let req: ColdStartRequest = parse(body)?;
    if let Some(u) = req.user_id {
        require_self_or_admin(&caller, u)?;
    }
    let mut errors = ValidationErrors::default();
    check_limit(req.limit, &mut errors);
    let region = check_region(&req.region, &mut errors);
    if req.liked_titles.len() > 50 {
        errors.push("liked_titles", "at most 50 titles");
    }
    if req.genres.len() > 20 {
        errors.push("genres", "at most 20 genres");
    }
    errors.into_result(()).map_err(ApiError::Invalid)?;
    let mut ctx = context(req.context);
    ctx.genres = req
        .genres
        .iter()
        .map(|g| g.trim().to_lowercase())
        .filter(|g| !g.is_empty())
        .collect();
    let answer = service
        .recommend(Ask {
            user_id: req.user_id,
            context: ctx,
            limit: req.limit,
            exclude_watched: true,
            diversity: 0.2,
            region,
            stages: Stages::ALL,
            liked: req.liked_titles,
            use_cache: false,
        })
        .await?;
    Ok(Json(answer))
}

/// The id a client did not give: the same event sent twice gets the same id.
fn derived_id(user: Uuid, e: &FeedbackEvent, at_ms: i64) -> Uuid {
    let name = format!(
        "{user}/{}/{:?}/{at_ms}/{:?}/{:?}/{:?}",
        e.content_id, e.event_type, e.rating, e.rating_scale, e.completion_rate
    );
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
}

fn to_domain(
    user: Uuid,
    i: usize,
    e: &FeedbackEvent,
    errors: &mut ValidationErrors,
) -> Option<Feedback> {
    let at_ms = e.timestamp.unwrap_or_else(Utc::now).timestamp_millis();
    let field = |f: &str| format!("feedback[{i}].{f}");
    let signal = match e.event_type {
        FeedbackType::Watched => match e.completion_rate {
            Some(c) => Signal::Watched { completion: c },
            None => {
                errors.push(field("completion_rate"), "is required for Watched");
                return None;
            }
        },
        FeedbackType::Rated => match e.rating {
            Some(r) => Signal::Rated {
                rating: r,
                scale: e.rating_scale.unwrap_or(5),
            },
            None => {
                errors.push(field("rating"), "is required for Rated");
                return None;
            }
        },
        FeedbackType::Dismissed => Signal::Dismissed,
        FeedbackType::Added => Signal::Added,
    };
    Some(Feedback {
        event_id: e.event_id.unwrap_or_else(|| derived_id(user, e, at_ms)),
        content_id: e.content_id,
        signal,
        at_ms,
    })
}

async fn feedback(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    Path(user_id): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::WritePreferences)?;
    caller.require_self(user_id)?;
    // One event, a batch object, or a bare array.
    let events: Vec<FeedbackEvent> = match body {
        Ok(Json(v)) if v.is_array() => parse(Ok(Json(v)))?,
        Ok(Json(v)) if v.get("events").is_some() => parse::<FeedbackBatch>(Ok(Json(v)))?.events,
        other => vec![parse::<FeedbackEvent>(other)?],
    };
    let mut errors = ValidationErrors::default();
    let feedback: Vec<Feedback> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| to_domain(user_id, i, e, &mut errors))
        .collect();
    errors.into_result(()).map_err(ApiError::Invalid)?;
    let event_ids = feedback.iter().map(|f| f.event_id).collect();
    let (recorded, duplicates) = service
        .commands
        .feedback(user_id, feedback)
        .await
        .map_err(write_error)?;
    Ok(Json(FeedbackResponse {
        recorded,
        duplicates,
        event_ids,
    }))
}

async fn profile(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Json<ProfileResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::ReadPreferences)?;
    require_self_or_admin(&caller, user_id)?;
    Ok(Json(service.profile(user_id).await?))
}

async fn services(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Json<ServicesResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::ReadPreferences)?;
    require_self_or_admin(&caller, user_id)?;
    let p = service.load_profile(user_id, false).await?;
    Ok(Json(ServicesResponse {
        user_id,
        region: p.region,
        services: p.services,
        changed: false,
    }))
}

async fn set_services(
    State(service): State<Arc<RecommendationService>>,
    caller: Caller,
    Path(user_id): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ServicesResponse>, ApiError> {
    let user_id = parse_user(&user_id)?;
    caller.require_scope(Scope::WritePreferences)?;
    caller.require_self(user_id)?;
    let req: ServicesRequest = parse(body)?;
    let subs: Vec<Subscription> = req
        .services
        .iter()
        .map(|s| Subscription {
            platform: s.platform.clone(),
            tier: s.tier.clone(),
        })
        .collect();
    let changed = service
        .commands
        .set_services(user_id, req.region.clone(), subs.clone())
        .await
        .map_err(write_error)?;
    // Answer with the normalised form the aggregate recorded.
    let mut services: Vec<ServiceSubscription> = subs
        .into_iter()
        .map(|s| ServiceSubscription {
            platform: s.platform.trim().to_ascii_lowercase(),
            tier: s
                .tier
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        })
        .collect();
    services.sort_by(|a, b| a.platform.cmp(&b.platform));
    Ok(Json(ServicesResponse {
        user_id,
        region: req.region.map(|r| r.trim().to_ascii_uppercase()),
        services,
        changed,
    }))
}
