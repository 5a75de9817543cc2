//! Accounts over the API: registration, and the caller as their access token describes them.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use mediagw_api_error::ApiError;
use mediagw_domain::auth::{self as rules, Role, Tier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::json_body;
use super::server::AuthServer;
use crate::caller::{Caller, ClientIp};
use crate::passwords::hash_password;
use crate::store;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    pub user_id: Uuid,
    pub email: String,
}

/// Creates an account (role `user`, tier `free`).
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, description = "a field is invalid"), (status = 409, description = "the address is taken")))]
pub async fn register(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(body)?;
    // Each registration costs an argon2 hash: it spends the per-IP sign-in budget.
    if let Err(retry_after_s) = s.sign_in_budget(ip, None).await {
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let email = rules::normalize_email(&r.email).map_err(|m| ApiError::BadRequest {
        field: "email",
        message: m,
    })?;
    rules::check_password(&r.password).map_err(|m| ApiError::BadRequest {
        field: "password",
        message: m,
    })?;
    let display = r
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if display.is_some_and(|d| d.chars().count() > 100) {
        return Err(ApiError::BadRequest {
            field: "display_name",
            message: "must be at most 100 characters".into(),
        });
    }
    let hash = hash_password(r.password).await?;
    match store::create_user(&s.pool, &email, &hash, display, &[Role::User], Tier::Free).await? {
        Some(user_id) => Ok((
            StatusCode::CREATED,
            Json(RegisterResponse { user_id, email }),
        )
            .into_response()),
        None => Err(ApiError::Conflict(
            "an account with this e-mail address exists".into(),
        )),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub scope: String,
    pub roles: Vec<String>,
    pub tier: String,
    pub client_id: String,
    pub device_id: Option<String>,
    /// Access-token expiry, epoch seconds.
    pub expires_at: i64,
}

/// The caller as the access token describes them.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, description = "no or invalid token")))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user_id: caller.user_id,
        scope: caller.scopes.to_string(),
        roles: caller
            .roles
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        tier: caller.tier.as_str().to_string(),
        client_id: caller.client_id,
        device_id: caller.device_id,
        expires_at: caller.exp,
    })
}
