//! Who is calling, and what they may do. The gateway verifies the bearer token with
//! `TokenService` and puts a [`Caller`] (and the [`ClientIp`]) into the request; handlers
//! take a `Caller` (signed in) or a [`MaybeCaller`] (anonymous allowed) and never look at headers
//! themselves. The route policies here are applied by whoever mounts the routes.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mediagw_api_error::ApiError;
use mediagw_domain::auth::{Role, Scope, Scopes, Tier};
use uuid::Uuid;

/// The client address a request is rate-limited by (from the socket, or from `X-Forwarded-For`
/// behind a trusted proxy), set by the gateway; the sign-in budget is counted per address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The verified identity of a request (from the access token's claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub scopes: Scopes,
    pub roles: Vec<Role>,
    pub tier: Tier,
    pub client_id: String,
    pub device_id: Option<String>,
    pub jti: Uuid,
    /// Expiry, epoch seconds (a revocation is kept this long).
    pub exp: i64,
}

impl Caller {
    /// Refuses access to another user's resources (IDOR).
    pub fn require_self(&self, user_id: Uuid) -> Result<(), ApiError> {
        if self.user_id == user_id {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "a user may only read or change their own data".into(),
            ))
        }
    }

    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Unauthorized("this endpoint needs a bearer access token".into())
        })
    }
}

/// A caller who may be anonymous.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

/// Route policy for the catalog (content, availability, search): anonymous callers are welcome
/// (at the anonymous rate tier); a token, when sent, must carry `read:content`.
pub async fn catalog_policy(req: Request, next: Next) -> Response {
    if let Some(c) = req.extensions().get::<Caller>() {
        if let Err(e) = c.require_scope(Scope::ReadContent) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Route policy for operators' routes (`/admin/*`, `/internal/*`): the `admin` role.
pub async fn admin_policy(req: Request, next: Next) -> Response {
    match req.extensions().get::<Caller>() {
        None => ApiError::Unauthorized("this endpoint needs a bearer access token".into())
            .into_response(),
        Some(c) if !c.is_admin() => {
            ApiError::Forbidden("this endpoint needs the `admin` role".into()).into_response()
        }
        Some(_) => next.run(req).await,
    }
}
