//! Every route of the authorization server and its account and client endpoints, in one place.

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{middleware, Router};

use super::accounts::{me, register};
use super::authorize::{authorize_page, authorize_submit};
use super::clients::create_client;
use super::device::{device_approve, device_authorization, device_page, device_submit};
use super::metadata::{jwks, metadata};
use super::revoke::revoke;
use super::server::AuthServer;
use super::token::token;
use crate::caller::admin_policy;

pub fn router(server: Arc<AuthServer>) -> Router {
    let admin = Router::new()
        .route("/admin/clients", post(create_client))
        .route_layer(middleware::from_fn(admin_policy));
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/oauth/token", post(token))
        // The seed's names for the same endpoint (§7).
        .route("/oauth/refresh", post(token))
        .route("/oauth/device/token", post(token))
        .route("/oauth/device", post(device_authorization))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/signout", post(super::session::sign_out))
        .route("/device", get(device_page).post(device_submit))
        .route("/device/approve", post(device_approve))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/me", get(me))
        .merge(admin)
        .with_state(server)
}
