//! The user's rights over their data: `GET /v1/user/{id}/export` (everything held about them),
//! `POST /v1/user/{id}/import?format=trakt|letterboxd|imdb|mediagw[&list=…]` (a history file as
//! the request body) and `DELETE /v1/user/{id}` (erasure, ADR 0024). The user themself, or an
//! operator with role `admin`.

pub mod port;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mediagw_auth::Caller;
use mediagw_domain::auth::Scope;
use mediagw_domain::history::{ErasureReport, HistoryFormat, ImportReport, ListKind, UserExport};
use mediagw_domain::{FieldError, ValidationErrors};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
pub use port::{AccountError, Accounts};

/// Largest history file accepted over HTTP (a decade of Letterboxd diary is well under 2 MiB).
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

pub fn router(accounts: Arc<dyn Accounts>) -> Router {
    Router::new()
        .route("/v1/user/{user_id}/export", get(export))
        .route(
            "/v1/user/{user_id}/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/v1/user/{user_id}", delete(erase))
        .with_state(accounts)
}

fn parse_user(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        field: "user_id",
        message: "must be a UUID".into(),
    })
}

fn authorize(caller: &Caller, user_id: Uuid, scope: Scope) -> Result<(), ApiError> {
    if caller.is_admin() {
        return Ok(());
    }
    caller.require_scope(scope)?;
    caller.require_self(user_id)
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Lines(lines) => ApiError::Invalid(ValidationErrors(
                lines
                    .into_iter()
                    .map(|l| FieldError::new(format!("line {}", l.line), l.message))
                    .collect(),
            )),
            AccountError::Invalid(v) => ApiError::Invalid(v),
            AccountError::Contention => {
                ApiError::Conflict("too many concurrent writes; retry".into())
            }
            AccountError::Unavailable(m) => ApiError::Backend(m),
        }
    }
}

async fn export(
    State(accounts): State<Arc<dyn Accounts>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<Json<UserExport>, ApiError> {
    let user_id = parse_user(&user_id)?;
    authorize(&caller, user_id, Scope::ReadPreferences)?;
    Ok(Json(accounts.export(user_id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportParams {
    /// `trakt`, `letterboxd`, `imdb` or `mediagw`.
    pub format: String,
    /// Which list a CSV is when its header cannot tell (`diary`, `ratings`, `watched`,
    /// `watchlist`; Letterboxd's watched and watchlist files share one header).
    pub list: Option<String>,
}

async fn import(
    State(accounts): State<Arc<dyn Accounts>>,
    caller: Caller,
    Path(user_id): Path<String>,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let user_id = parse_user(&user_id)?;
    authorize(&caller, user_id, Scope::WritePreferences)?;
    let format = HistoryFormat::parse(&params.format).ok_or_else(|| ApiError::BadRequest {
        field: "format",
        message: "must be trakt, letterboxd, imdb or mediagw".into(),
    })?;
    let list = params
        .list
        .as_deref()
        .map(|l| {
            ListKind::parse(l).ok_or_else(|| ApiError::BadRequest {
                field: "list",
                message: "must be diary, ratings, watched or watchlist".into(),
            })
        })
        .transpose()?;
    let text = std::str::from_utf8(&body).map_err(|e| ApiError::BadRequest {
        field: "body",
        message: format!("the file is not UTF-8 text (byte {})", e.valid_up_to()),
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest {
            field: "body",
            message: "the file is empty".into(),
        });
    }
    Ok(Json(accounts.import(user_id, format, list, text).await?))
}

async fn erase(
    State(accounts): State<Arc<dyn Accounts>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> Result<(StatusCode, Json<ErasureReport>), ApiError> {
    let user_id = parse_user(&user_id)?;
    authorize(&caller, user_id, Scope::WritePreferences)?;
    Ok((StatusCode::OK, Json(accounts.erase(user_id).await?)))
}
