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

#[derive(Debug, Clone)]
pub struct KeySettings {
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
            insert_key(&mut tx, Duration::ZERO).await?;
        } else if stale {
            rotate_in(&mut tx, self.settings.prepublish).await?;
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
        let kid = rotate_in(&mut tx, self.settings.prepublish).await?;
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
                let der: Vec<u8> = row.get("private_der");
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
) -> Result<String, AuthError> {
    let kid = insert_key(tx, prepublish).await?;
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
    .bind(der.as_bytes())
    .bind(&n)
    .bind(&e)
    .bind(prepublish.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(kid)
}
