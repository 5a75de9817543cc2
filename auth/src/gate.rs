//! What the auth server needs from the gateway in front of it, as a port: the gateway owns the
//! shared store (rate buckets, the deny list of revoked access tokens) and implements this; `serve`
//! wires it in. Auth decides when to spend and what to deny, the gateway how it is kept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AuthError;

/// The outcome of one attempt against the per-IP sign-in budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAttempt {
    Allowed,
    Limited { retry_after_s: u64 },
}

#[async_trait]
pub trait Gatekeeper: Send + Sync {
    /// Spends one attempt of the sign-in budget (passwords, user codes, registrations): of `ip`
    /// for `account` (an opaque key of the address signed into) when given, plus a wider one of
    /// `ip` alone; of `ip` alone otherwise.
    async fn sign_in_attempt(
        &self,
        ip: &str,
        account: Option<&str>,
    ) -> Result<SignInAttempt, AuthError>;

    /// Denies the access token `jti` at the gateway until it would have expired anyway.
    async fn deny(&self, jti: Uuid, until: DateTime<Utc>) -> Result<(), AuthError>;
}
