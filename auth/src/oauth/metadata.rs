//! Discovery: server metadata (RFC 8414) and the published signing keys (JWKS), so clients and
//! other validators find the endpoints and verify tokens without asking us.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mediagw_domain::auth::Scope;
use serde_json::json;

use super::server::{AuthServer, DEVICE_GRANT};

pub(super) async fn jwks(State(s): State<Arc<AuthServer>>) -> Response {
    let mut r = Json(s.tokens.keys().jwks()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

pub(super) async fn metadata(State(s): State<Arc<AuthServer>>) -> Json<serde_json::Value> {
    let i = &s.settings.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth/authorize"),
        "token_endpoint": format!("{i}/oauth/token"),
        "device_authorization_endpoint": format!("{i}/oauth/device"),
        "revocation_endpoint": format!("{i}/oauth/revoke"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{i}/v1/docs"),
    }))
}
