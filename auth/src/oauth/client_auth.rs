//! Client authentication at the token, device and revocation endpoints (RFC 6749 §2.3).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mediagw_domain::auth as rules;

use super::error::OAuthError;
use super::server::AuthServer;
use crate::store::{self, Client};

impl AuthServer {
    /// Client authentication: HTTP Basic or `client_secret` in the body for confidential clients,
    /// `client_id` alone for public ones.
    pub(super) async fn client(
        &self,
        headers: &HeaderMap,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .map(|b| {
                let raw = STANDARD
                    .decode(b.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                let (id, secret) = raw
                    .as_deref()
                    .and_then(|r| r.split_once(':'))
                    .unwrap_or(("", ""));
                (percent_decode(id), percent_decode(secret))
            });
        let (id, secret) = match (&basic, form_id) {
            (Some((id, secret)), _) => (id.clone(), Some(secret.clone()).filter(|s| !s.is_empty())),
            (None, Some(id)) => (id.to_string(), form_secret.map(str::to_string)),
            (None, None) => {
                return Err(OAuthError::new(
                    "invalid_client",
                    "client authentication is required",
                ))
            }
        };
        let unknown = || OAuthError::new("invalid_client", "unknown client or wrong secret");
        let client = store::client(&self.pool, &id).await?.ok_or_else(unknown)?;
        match (&client.secret_hash, secret) {
            (Some(h), Some(s)) if rules::constant_time_eq(h, &store::hash(&s)) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(unknown()),
        }
    }
}

/// `application/x-www-form-urlencoded` decoding of a Basic credential part (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
