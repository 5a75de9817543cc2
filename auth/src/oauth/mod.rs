//! The OAuth 2.0 authorization server: authorization code + PKCE (RFC 6749, 7636), device
//! authorization grant (RFC 8628), refresh-token rotation with reuse detection, revocation
//! (RFC 7009), server metadata (RFC 8414) and JWKS; plus user registration and client
//! registration (`/admin/clients`). One module per endpoint family; [`router`] mounts them all.

pub mod accounts;
mod authorize;
mod client_auth;
pub mod clients;
mod device;
mod error;
mod metadata;
mod revoke;
mod router;
mod server;
mod session;
mod token;

pub use router::router;
pub use server::{AuthServer, AuthSettings, DEVICE_GRANT};
