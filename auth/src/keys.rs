//! RS256 signing keys: generated here, kept in `auth.signing_keys`, rotated without breaking
//! tokens in flight. Every instance loads the published set; the newest active key signs.
//!
//! Rotation: a new key is published `prepublish` before it starts signing (so validators that
//! cache the JWKS learn it first), and the old one stays published until the last token it signed
//! has expired (`retired_at + access TTL + leeway`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sqlx::{PgPool, Row};

use crate::audit::audit;
use crate::error::AuthError;

/// Serialises key creation across instances.
const KEY_LOCK: i64 = 7_311;

/// Prefix of a private key sealed with the key-encryption key (then a 96-bit nonce, then the
/// AES-256-GCM ciphertext of the PKCS#1 DER with the kid as associated data).
const SEALED_MAGIC: &[u8] = b"MGK1";

fn seal_key(kek: &[u8; 32], kid: &str, der: &[u8]) -> Result<Vec<u8>, AuthError> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    use ring::rand::{SecureRandom, SystemRandom};
    let internal = |m: &str| AuthError::Internal(format!("sealing a signing key: {m}"));
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).map_err(|_| internal("bad key"))?);
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| internal("no randomness"))?;
    let mut data = der.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(kid.as_bytes()),
        &mut data,
    )
    .map_err(|_| internal("encryption failed"))?;
    Ok([SEALED_MAGIC, &nonce[..], &data].concat())
}

/// The DER of a stored private key: opened with the key-encryption key when sealed.
fn open_key(kek: Option<&[u8; 32]>, kid: &str, stored: &[u8]) -> Result<Vec<u8>, AuthError> {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
    let Some(rest) = stored.strip_prefix(SEALED_MAGIC) else {
        return Ok(stored.to_vec());
    };
    let refuse = |m: &str| AuthError::Internal(format!("signing key {kid}: {m}"));
    let kek = kek
        .ok_or_else(|| refuse("stored encrypted, and auth.key_encryption_key is not configured"))?;
    if rest.len() < NONCE_LEN {
        return Err(refuse("truncated"));
    }
    let (nonce, data) = rest.split_at(NONCE_LEN);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).map_err(|_| refuse("bad key"))?);
    let mut data = data.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| refuse("bad nonce"))?,
            Aad::from(kid.as_bytes()),
            &mut data,
        )
        .map_err(|_| refuse("does not open with auth.key_encryption_key (wrong key?)"))?;
    Ok(plain.to_vec())
}

#[derive(Debug, Clone)]
pub struct KeySettings {
    /// Key-encryption key: private keys are stored sealed with it (AES-256-GCM); `None` stores
    /// them as they are (development; a warning at start).
    pub kek: Option<[u8; 32]>,
    /// How long a new key is published before it signs.
    pub prepublish: Duration,
    /// Rotate automatically once the signing key is this old (0 = never).
    pub rotate_after: Duration,
    /// Access-token lifetime plus leeway: how long a retired key stays published.
    pub retain: Duration,
}

/// The published keys of this moment.
struct Loaded {
    signing: Option<(String, Arc<EncodingKey>)>,
    verify: HashMap<String, Arc<DecodingKey>>,
    jwks: Value,
}

pub struct KeyStore {
    pool: PgPool,
    settings: KeySettings,
    loaded: RwLock<Loaded>,
    /// Last on-demand reload (ms since `epoch`), so unknown kids cannot stampede the database.
    last_demand: std::sync::atomic::AtomicU64,
    epoch: Instant,
}

impl KeyStore {
    /// Creates a first key when there is none, and loads the published set (the table comes
    /// from the auth migrations).
    pub async fn open(pool: PgPool, settings: KeySettings) -> Result<Arc<Self>, AuthError> {
        let store = Arc::new(Self {
            pool,
            settings,
            loaded: RwLock::new(Loaded {
                signing: None,
                verify: HashMap::new(),
                jwks: json!({"keys": []}),
            }),
            last_demand: std::sync::atomic::AtomicU64::new(0),
            epoch: Instant::now(),
        });
        store.ensure_key().await?;
        store.reload().await?;
        Ok(store)
    }

    /// A key exists (creating the first one, active at once, if not); rotates when the signing
    /// key is older than `rotate_after`.
    pub async fn ensure_key(&self) -> Result<(), AuthError> {
        let mut tx = self.locked().await?;
        let newest: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT max(created_at) FROM auth.signing_keys WHERE retired_at IS NULL",
        )
        .fetch_one(&mut *tx)
        .await?;
        let stale = newest.is_some_and(|t| {
            !self.settings.rotate_after.is_zero()
                && Utc::now() - t
                    > chrono::Duration::from_std(self.settings.rotate_after)
                        .unwrap_or(chrono::Duration::MAX)
        });
        if newest.is_none() {
            insert_key(&mut tx, Duration::ZERO, self.settings.kek.as_ref()).await?;
        } else if stale {
            rotate_in(
                &mut tx,
                self.settings.prepublish,
                self.settings.kek.as_ref(),
            )
            .await?;
        }
        if let Some(kek) = &self.settings.kek {
            // Keys stored before a key-encryption key was configured are sealed now.
            let clear: Vec<(String, Vec<u8>)> = sqlx::query_as(
                "SELECT kid, private_der FROM auth.signing_keys
                 WHERE substring(private_der FROM 1 FOR 4) <> $1",
            )
            .bind(SEALED_MAGIC)
            .fetch_all(&mut *tx)
            .await?;
            for (kid, der) in clear {
                sqlx::query("UPDATE auth.signing_keys SET private_der = $2 WHERE kid = $1")
                    .bind(&kid)
                    .bind(seal_key(kek, &kid, &der)?)
                    .execute(&mut *tx)
                    .await?;
            }
        } else {
            // Once per process: this runs at every key check (each minute).
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "auth.key_encryption_key is empty: signing keys are stored unencrypted"
                )
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// A transaction holding the key lock: one instance creates or rotates keys at a time.
    async fn locked(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, AuthError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Publishes a new key that signs after `prepublish`; returns its kid.
    pub async fn rotate(&self) -> Result<String, AuthError> {
        let mut tx = self.locked().await?;
        let kid = rotate_in(
            &mut tx,
            self.settings.prepublish,
            self.settings.kek.as_ref(),
        )
        .await?;
        tx.commit().await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Reads the published keys; drops private keys that no longer sign or verify anything.
    pub async fn reload(&self) -> Result<(), AuthError> {
        let retain = self.settings.retain.as_secs_f64();
        sqlx::query(
            "DELETE FROM auth.signing_keys
             WHERE retired_at < now() - make_interval(secs => $1)",
        )
        .bind(retain)
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT kid, private_der, n, e, active_from <= now() AS active,
                    (retired_at IS NULL OR retired_at > now()) AS current
             FROM auth.signing_keys ORDER BY active_from",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut signing = None;
        let mut verify = HashMap::new();
        let mut jwks = Vec::new();
        for row in rows {
            let kid: String = row.get("kid");
            let n: String = row.get("n");
            let e: String = row.get("e");
            let key = DecodingKey::from_rsa_components(&n, &e)
                .map_err(|e| AuthError::Internal(format!("key {kid}: {e}")))?;
            verify.insert(kid.clone(), Arc::new(key));
            jwks.push(
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
            );
            if row.get::<bool, _>("active") && row.get::<bool, _>("current") {
                let stored: Vec<u8> = row.get("private_der");
                let der = open_key(self.settings.kek.as_ref(), &kid, &stored)?;
                signing = Some((kid, Arc::new(EncodingKey::from_rsa_der(&der))));
            }
        }
        *self.loaded.write().expect("key lock") = Loaded {
            signing,
            verify,
            jwks: json!({ "keys": jwks }),
        };
        Ok(())
    }

    /// The key new tokens are signed with.
    pub fn signing(&self) -> Option<(String, Arc<EncodingKey>)> {
        self.loaded.read().expect("key lock").signing.clone()
    }

    pub fn verifier(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.loaded
            .read()
            .expect("key lock")
            .verify
            .get(kid)
            .cloned()
    }

    pub fn jwks(&self) -> Value {
        self.loaded.read().expect("key lock").jwks.clone()
    }

    /// Reloads for a token with an unknown `kid`, at most once a second across all requests;
    /// false when another request reloaded a moment ago.
    pub async fn reload_on_demand(&self) -> Result<bool, AuthError> {
        use std::sync::atomic::Ordering;
        let now = self.epoch.elapsed().as_millis() as u64 + 1_000;
        let last = self.last_demand.load(Ordering::Relaxed);
        if now < last + 1_000
            || self
                .last_demand
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Keeps the set fresh: reloads every `every` (a key rotated by another instance becomes
    /// active here on time) and rotates when due.
    pub async fn maintain(
        self: Arc<Self>,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.ensure_key().await {
                tracing::warn!(error = %e, "signing key check failed");
            }
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
        }
    }
}

async fn rotate_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    prepublish: Duration,
    kek: Option<&[u8; 32]>,
) -> Result<String, AuthError> {
    let kid = insert_key(tx, prepublish, kek).await?;
    sqlx::query(
        "UPDATE auth.signing_keys SET retired_at = now() + make_interval(secs => $2)
         WHERE retired_at IS NULL AND kid <> $1",
    )
    .bind(&kid)
    .bind(prepublish.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    audit(
        tx,
        &mediagw_domain::auth::AuditEvent::SigningKeyRotated { kid: kid.clone() },
    )
    .await?;
    tracing::info!(kid, "signing key rotated");
    Ok(kid)
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    prepublish: Duration,
    kek: Option<&[u8; 32]>,
) -> Result<String, AuthError> {
    let key = tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048))
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?
        .map_err(|e| AuthError::Internal(format!("generating a key: {e}")))?;
    let der = key
        .to_pkcs1_der()
        .map_err(|e| AuthError::Internal(format!("encoding a key: {e}")))?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let kid = format!(
        "auth-key-{}-{}",
        Utc::now().format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    sqlx::query(
        "INSERT INTO auth.signing_keys (kid, private_der, n, e, active_from)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(&kid)
    .bind(match kek {
        Some(kek) => seal_key(kek, &kid, der.as_bytes())?,
        None => der.as_bytes().to_vec(),
    })
    .bind(&n)
    .bind(&e)
    .bind(prepublish.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(kid)
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_kek_and_kid() {
        let (kek, other) = ([3u8; 32], [4u8; 32]);
        let der = b"0\x82private key bytes".to_vec();
        let sealed = seal_key(&kek, "k1", &der).unwrap();
        assert!(sealed.starts_with(SEALED_MAGIC));
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(open_key(Some(&kek), "k1", &sealed).unwrap(), der);
        assert!(open_key(Some(&other), "k1", &sealed).is_err());
        assert!(
            open_key(Some(&kek), "k2", &sealed).is_err(),
            "moved to another kid"
        );
        assert!(open_key(None, "k1", &sealed).is_err());
        assert_eq!(
            open_key(None, "k1", &der).unwrap(),
            der,
            "legacy rows read as they are"
        );
    }
}
