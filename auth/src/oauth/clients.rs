//! Client registration by operators (`POST /admin/clients`, role `admin`), and the redirect-URI
//! rule the `mediagw auth add-client` command applies as well.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mediagw_api_error::ApiError;
use mediagw_domain::auth::Scopes;
use serde::{Deserialize, Serialize};

use super::error::json_body;
use super::server::AuthServer;
use crate::caller::Caller;
use crate::store;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ClientRequest {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Confidential clients get a secret (shown once); public ones (apps, TVs) use PKCE alone.
    #[serde(default)]
    pub confidential: bool,
    /// `authorization_code`, `refresh_token`, `device_code` (default: the first two).
    pub grant_types: Option<Vec<String>>,
    /// Space-delimited scopes the client may ask for (default: all).
    pub scope: Option<String>,
    /// Our own app: its tokens carry the user's roles (default false: `user` only).
    #[serde(default)]
    pub first_party: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientResponse {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
}

/// Redirect URIs: absolute, no fragment; `https`, `http` on loopback only, or a private-use
/// scheme with a dot (RFC 8252 §7.1, e.g. `com.example.app:/callback`).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|e| format!("`{uri}` is not an absolute URI ({e})"))?;
    if u.fragment().is_some() {
        return Err(format!("`{uri}` must not have a fragment"));
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "`{uri}`: plain http is allowed for loopback hosts only"
        )),
        s if s.contains('.') => Ok(()),
        _ => Err(format!(
            "`{uri}`: use https, http on loopback, or a reverse-DNS private scheme"
        )),
    }
}

/// Registers an OAuth client (admin role).
#[utoipa::path(post, path = "/admin/clients", tag = "admin", security(("bearer" = [])), request_body = ClientRequest,
    responses((status = 201, body = ClientResponse), (status = 400, description = "a field is invalid"), (status = 401), (status = 403, description = "not an admin")))]
pub async fn create_client(
    State(s): State<Arc<AuthServer>>,
    caller: Caller,
    body: Result<Json<ClientRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(body)?;
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest {
            field: "name",
            message: "must be 1-100 characters".into(),
        });
    }
    let grant_types = r
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    for g in &grant_types {
        if !matches!(
            g.as_str(),
            "authorization_code" | "refresh_token" | "device_code"
        ) {
            return Err(ApiError::BadRequest {
                field: "grant_types",
                message: format!("unknown grant type `{g}`"),
            });
        }
    }
    for u in &r.redirect_uris {
        check_redirect_uri(u).map_err(|m| ApiError::BadRequest {
            field: "redirect_uris",
            message: m,
        })?;
    }
    if grant_types.iter().any(|g| g == "authorization_code") && r.redirect_uris.is_empty() {
        return Err(ApiError::BadRequest {
            field: "redirect_uris",
            message: "the authorization_code grant needs at least one".into(),
        });
    }
    let scopes = match r.scope.as_deref() {
        None => Scopes::all(),
        Some(s) => Scopes::parse(s).map_err(|m| ApiError::BadRequest {
            field: "scope",
            message: m,
        })?,
    };
    let created = store::create_client(
        &s.pool,
        &store::NewClient {
            client_id: None,
            name,
            confidential: r.confidential,
            redirect_uris: &r.redirect_uris,
            grant_types: &grant_types,
            scopes: &scopes,
            first_party: r.first_party,
            created_by: Some(caller.user_id),
        },
    )
    .await?
    .ok_or_else(|| ApiError::Conflict("client id taken".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(ClientResponse {
            client_id: created.0,
            client_secret: created.1,
            name: name.to_string(),
            redirect_uris: r.redirect_uris,
            grant_types,
            scope: scopes.to_string(),
        }),
    )
        .into_response())
}
