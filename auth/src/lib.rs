//! Auth service: accounts, the OAuth 2.0 authorization server ([`oauth`]) and the access tokens it
//! issues ([`tokens`], signed with [`keys`]). The gateway in front of the API verifies tokens with
//! [`TokenService`] and puts a [`Caller`] into each request; handlers of every service take a
//! `Caller` (signed in) or a [`MaybeCaller`] (anonymous allowed) and never look at headers.
//!
//! State lives in plain tables (schema `auth`, [`store`]); every sign-in, grant and revocation is
//! also appended to the event store ([`audit`]). What the auth server needs from the gateway (the
//! sign-in budget, the deny list of revoked tokens) it asks through the [`Gatekeeper`] port.
//!
//! Files depend on each other one way: `error` ← `audit` ← `store`, `keys` ← `tokens` ← `oauth`.

pub mod audit;
pub mod caller;
pub mod consent;
pub mod error;
pub mod gate;
pub mod keys;
pub mod oauth;
mod pages;
pub mod passwords;
pub mod store;
pub mod tokens;

pub use caller::{admin_policy, catalog_policy, Caller, ClientIp, MaybeCaller};
pub use error::AuthError;
pub use gate::{Gatekeeper, SignInAttempt};
pub use keys::{KeySettings, KeyStore};
pub use tokens::{Claims, Grant, Issued, TokenService};

/// Creates or upgrades the auth tables: versioned, checksummed migrations `3001…` in the shared
/// `_sqlx_migrations` table (other crates' versions there are not ours to check).
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), AuthError> {
    let mut m = sqlx::migrate!("./migrations");
    m.set_ignore_missing(true);
    m.run(pool).await?;
    Ok(())
}
