//! Passwords: argon2id hashing off the async runtime, and verification that takes as long whether
//! or not the account exists.

use std::sync::LazyLock;

use crate::error::AuthError;

/// Argon2id with the crate's defaults (19 MiB, 2 passes): ≈ 20-40 ms of one core, off the runtime.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Internal(format!("hashing: {e}")))
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))?
}

/// Verifies against the stored hash, or against a dummy hash when the user does not exist so the
/// answer takes as long either way.
pub(crate) async fn verify_password(password: String, stored: Option<String>) -> bool {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
        argon2::Argon2::default()
            .hash_password(
                b"not a password anyone has",
                &SaltString::generate(&mut OsRng),
            )
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let exists = stored.is_some();
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let stored = stored.unwrap_or_else(|| DUMMY.clone());
        PasswordHash::new(&stored)
            .map(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
            && exists
    })
    .await
    .unwrap_or(false)
}
