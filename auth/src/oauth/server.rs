//! The authorization server's state and settings, shared by every endpoint module.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::gate::Gatekeeper;
use crate::tokens::TokenService;

/// `grant_type` of the device grant at the token endpoint (RFC 8628 §3.4).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of every token and the base of the endpoints in the metadata document.
    pub issuer: String,
    pub audience: String,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    pub device_ttl: Duration,
    pub device_interval_s: u32,
    pub session_ttl: Duration,
}

pub struct AuthServer {
    pub pool: PgPool,
    pub tokens: Arc<TokenService>,
    /// The gateway in front: sign-in budget and the deny list of revoked access tokens.
    pub gate: Arc<dyn Gatekeeper>,
    pub settings: AuthSettings,
}
