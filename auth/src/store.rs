//! Auth state in plain PostgreSQL tables (schema `auth`, created by `migrations/3001_auth.sql`):
//! users, clients, sessions, codes, device codes, refresh tokens. Secrets are stored as SHA-256
//! hashes (they are random and long) or argon2 (passwords). Changes that matter are audited
//! (`audit`) in the same transaction.

use chrono::{DateTime, Utc};
use mediagw_domain::auth::{AuditEvent, Role, Scopes, Tier};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::audit::audit;
use crate::error::AuthError;

/// A random secret (256 bits, base64url) and the hash that is stored instead of it.
pub fn new_secret() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    let hash = hash(&secret);
    (secret, hash)
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub tier: Tier,
}

fn user(row: &sqlx::postgres::PgRow) -> User {
    let roles: Vec<String> = row.get("roles");
    User {
        id: row.get("id"),
        email: row.get("email"),
        password_hash: row.get("password_hash"),
        roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
        tier: Tier::parse(row.get::<&str, _>("tier")).unwrap_or(Tier::Free),
    }
}

pub async fn user_by_email(pool: &PgPool, email: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, email, password_hash, roles, tier FROM auth.users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(user))
}

pub async fn user_by_id<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<User>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, email, password_hash, roles, tier FROM auth.users WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.as_ref().map(user))
}

/// Creates a user; `None` when the address is taken.
pub async fn create_user(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
    roles: &[Role],
    tier: Tier,
) -> Result<Option<Uuid>, AuthError> {
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let inserted = sqlx::query(
        "INSERT INTO auth.users (id, email, password_hash, display_name, roles, tier)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(display_name)
    .bind(&roles)
    .bind(tier.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    audit(&mut tx, &AuditEvent::UserRegistered { user_id: id }).await?;
    tx.commit().await?;
    Ok(Some(id))
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Scopes,
    /// Our own apps (registered by operators): their tokens carry the user's roles. Tokens of
    /// third-party clients carry `user` only, so an admin signing in elsewhere lends no power.
    pub first_party: bool,
}

impl Client {
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    pub fn is_confidential(&self) -> bool {
        self.secret_hash.is_some()
    }
}

pub async fn client(pool: &PgPool, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT client_id, name, secret_hash, redirect_uris, grant_types, scopes, first_party FROM auth.clients WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Client {
        client_id: r.get("client_id"),
        name: r.get("name"),
        secret_hash: r.get("secret_hash"),
        redirect_uris: r.get("redirect_uris"),
        grant_types: r.get("grant_types"),
        scopes: Scopes::parse(r.get::<&str, _>("scopes")).unwrap_or_default(),
        first_party: r.get("first_party"),
    }))
}

pub struct NewClient<'a> {
    pub client_id: Option<&'a str>,
    pub name: &'a str,
    pub confidential: bool,
    pub redirect_uris: &'a [String],
    pub grant_types: &'a [String],
    pub scopes: &'a Scopes,
    pub first_party: bool,
    pub created_by: Option<Uuid>,
}

/// Registers a client; returns its id and (confidential clients only) its secret, shown once.
/// `None` when the requested id is taken.
pub async fn create_client(
    pool: &PgPool,
    c: &NewClient<'_>,
) -> Result<Option<(String, Option<String>)>, AuthError> {
    let client_id = c
        .client_id
        .map(str::to_string)
        .unwrap_or_else(|| format!("mgc_{}", Uuid::new_v4().simple()));
    let (secret, secret_hash) = if c.confidential {
        let (s, h) = new_secret();
        (Some(s), Some(h))
    } else {
        (None, None)
    };
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO auth.clients (client_id, name, secret_hash, redirect_uris, grant_types, scopes, created_by, first_party)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(&client_id)
    .bind(c.name)
    .bind(secret_hash)
    .bind(c.redirect_uris)
    .bind(c.grant_types)
    .bind(c.scopes.to_string())
    .bind(c.created_by)
    .bind(c.first_party)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    audit(
        &mut tx,
        &AuditEvent::ClientRegistered {
            client_id: client_id.clone(),
            by: c.created_by,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some((client_id, secret)))
}

/// A browser session: the cookie value is returned, its hash stored.
pub async fn create_session(
    pool: &PgPool,
    user_id: Uuid,
    ttl: chrono::Duration,
) -> Result<(String, String), sqlx::Error> {
    let (token, hash) = new_secret();
    let (csrf, _) = new_secret();
    sqlx::query(
        "INSERT INTO auth.sessions (token_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(&csrf)
    .bind(Utc::now() + ttl)
    .execute(pool)
    .await?;
    Ok((token, csrf))
}

/// The session's user and CSRF token, if the cookie is a live session.
pub async fn session(pool: &PgPool, token: &str) -> Result<Option<(User, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.id, u.email, u.password_hash, u.roles, u.tier, s.csrf
         FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now()",
    )
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (user(&r), r.get("csrf"))))
}

/// Ends a browser session (sign-out).
pub async fn delete_session(pool: &PgPool, token: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM auth.sessions WHERE token_hash = $1")
            .bind(hash(token))
            .execute(pool)
            .await?
            .rows_affected()
            > 0,
    )
}

/// Rows that can no longer be used: expired sessions, used or expired codes, refresh tokens past
/// their expiry, revocations of tokens that expired anyway, sign-in failures idle for a day.
/// Returns how many rows went, per table.
pub async fn purge_expired(pool: &PgPool) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let statements: [(&str, &str); 6] = [
        (
            "auth.sessions",
            "DELETE FROM auth.sessions WHERE expires_at < now()",
        ),
        (
            "auth.authorization_codes",
            "DELETE FROM auth.authorization_codes WHERE expires_at < now() - interval '1 hour'",
        ),
        (
            "auth.device_codes",
            "DELETE FROM auth.device_codes WHERE expires_at < now() - interval '1 hour'",
        ),
        (
            "auth.refresh_tokens",
            "DELETE FROM auth.refresh_tokens WHERE expires_at < now() AND access_exp < now()",
        ),
        (
            "auth.revoked_access_tokens",
            "DELETE FROM auth.revoked_access_tokens WHERE expires_at < now()",
        ),
        (
            "auth.sign_in_failures",
            "DELETE FROM auth.sign_in_failures WHERE last_failure_at < now() - interval '1 day'
               AND (locked_until IS NULL OR locked_until < now())",
        ),
    ];
    let mut out = Vec::new();
    for (table, sql) in statements {
        out.push((table, sqlx::query(sql).execute(pool).await?.rows_affected()));
    }
    Ok(out)
}

pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub user_id: Uuid,
    pub redirect_uri: &'a str,
    pub scope: &'a Scopes,
    pub code_challenge: &'a str,
    pub device_id: Option<&'a str>,
    pub ttl: chrono::Duration,
}

pub async fn create_code(pool: &PgPool, c: &NewCode<'_>) -> Result<String, sqlx::Error> {
    let (code, hash) = new_secret();
    sqlx::query(
        "INSERT INTO auth.authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, code_challenge, device_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hash)
    .bind(c.client_id)
    .bind(c.user_id)
    .bind(c.redirect_uri)
    .bind(c.scope.to_string())
    .bind(c.code_challenge)
    .bind(c.device_id)
    .bind(Utc::now() + c.ttl)
    .execute(pool)
    .await?;
    Ok(code)
}

/// An authorization code, locked for redemption.
pub struct CodeRow {
    pub client_id: String,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: String,
    pub device_id: Option<String>,
    pub expired: bool,
    pub used: bool,
    pub family_id: Option<Uuid>,
}

pub async fn lock_code(
    tx: &mut Transaction<'_, Postgres>,
    code: &str,
) -> Result<Option<CodeRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT client_id, user_id, redirect_uri, scope, code_challenge, device_id,
                expires_at <= now() AS expired, used_at IS NOT NULL AS used, family_id
         FROM auth.authorization_codes WHERE code_hash = $1 FOR UPDATE",
    )
    .bind(hash(code))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| CodeRow {
        client_id: r.get("client_id"),
        user_id: r.get("user_id"),
        redirect_uri: r.get("redirect_uri"),
        scope: r.get("scope"),
        code_challenge: r.get("code_challenge"),
        device_id: r.get("device_id"),
        expired: r.get("expired"),
        used: r.get("used"),
        family_id: r.get("family_id"),
    }))
}

pub async fn mark_code_used(
    tx: &mut Transaction<'_, Postgres>,
    code: &str,
    family_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE auth.authorization_codes SET used_at = now(), family_id = $2 WHERE code_hash = $1",
    )
    .bind(hash(code))
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct RefreshRow {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub device_id: Option<String>,
    pub expired: bool,
    pub used: bool,
    pub revoked: bool,
}

/// Serialises everything that reads or changes one refresh-token family (rotation, revocation):
/// without it a revocation could miss a token a concurrent rotation is inserting.
async fn lock_family(
    tx: &mut Transaction<'_, Postgres>,
    family_id: Uuid,
) -> Result<(), sqlx::Error> {
    // Two-key form: its own namespace, apart from the single-key locks (relay leader, keys).
    sqlx::query("SELECT pg_advisory_xact_lock(7312, hashtext($1::text))")
        .bind(family_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn lock_refresh(
    tx: &mut Transaction<'_, Postgres>,
    token: &str,
) -> Result<Option<RefreshRow>, sqlx::Error> {
    // The family of a token never changes: read it, lock the family, then lock the row.
    let family: Option<Uuid> =
        sqlx::query_scalar("SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(&mut **tx)
            .await?;
    let Some(family) = family else {
        return Ok(None);
    };
    lock_family(tx, family).await?;
    let row = sqlx::query(
        "SELECT family_id, user_id, client_id, scope, device_id, expires_at <= now() AS expired,
                used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked
         FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash(token))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| RefreshRow {
        family_id: r.get("family_id"),
        user_id: r.get("user_id"),
        client_id: r.get("client_id"),
        scope: r.get("scope"),
        device_id: r.get("device_id"),
        expired: r.get("expired"),
        used: r.get("used"),
        revoked: r.get("revoked"),
    }))
}

pub async fn mark_refresh_used(
    tx: &mut Transaction<'_, Postgres>,
    token: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(hash(token))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub struct NewRefresh<'a> {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub client_id: &'a str,
    pub scope: &'a Scopes,
    pub device_id: Option<&'a str>,
    pub access_jti: Uuid,
    pub access_exp: DateTime<Utc>,
    pub ttl: chrono::Duration,
}

pub async fn insert_refresh(
    tx: &mut Transaction<'_, Postgres>,
    r: &NewRefresh<'_>,
) -> Result<String, sqlx::Error> {
    let (token, token_hash) = new_secret();
    sqlx::query(
        "INSERT INTO auth.refresh_tokens (token_hash, family_id, user_id, client_id, scope, device_id, access_jti, access_exp, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&token_hash)
    .bind(r.family_id)
    .bind(r.user_id)
    .bind(r.client_id)
    .bind(r.scope.to_string())
    .bind(r.device_id)
    .bind(r.access_jti)
    .bind(r.access_exp)
    .bind(Utc::now() + r.ttl)
    .execute(&mut **tx)
    .await?;
    // A family's tokens never outlive its absolute lifetime, however often it rotates.
    sqlx::query(
        "UPDATE auth.refresh_tokens SET expires_at = LEAST(expires_at,
             (SELECT min(created_at) FROM auth.refresh_tokens WHERE family_id = $2)
               + make_interval(days => $3))
         WHERE token_hash = $1",
    )
    .bind(&token_hash)
    .bind(r.family_id)
    .bind(mediagw_domain::auth::REFRESH_FAMILY_MAX_DAYS)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Revokes every refresh token of a family; returns the access tokens issued with them that have
/// not expired yet (jti, expiry), for the gateway's deny list.
pub async fn revoke_family(
    tx: &mut Transaction<'_, Postgres>,
    family_id: Uuid,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, sqlx::Error> {
    lock_family(tx, family_id).await?;
    sqlx::query("UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .execute(&mut **tx)
        .await?;
    let rows = sqlx::query("SELECT access_jti, access_exp FROM auth.refresh_tokens WHERE family_id = $1 AND access_exp > now()")
        .bind(family_id)
        .fetch_all(&mut **tx)
        .await?;
    let live: Vec<(Uuid, DateTime<Utc>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    record_revoked(tx, &live).await?;
    Ok(live)
}

/// Records revoked access tokens (jti, expiry) in the revoking transaction: what every API
/// instance's local deny list is loaded from, so revocation holds without Redis.
pub async fn record_revoked(
    conn: &mut sqlx::PgConnection,
    tokens: &[(Uuid, DateTime<Utc>)],
) -> Result<(), sqlx::Error> {
    if tokens.is_empty() {
        return Ok(());
    }
    let (jtis, exps): (Vec<Uuid>, Vec<DateTime<Utc>>) = tokens.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO auth.revoked_access_tokens (jti, expires_at)
         SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[]) ON CONFLICT (jti) DO NOTHING",
    )
    .bind(&jtis)
    .bind(&exps)
    .execute(conn)
    .await?;
    Ok(())
}

/// Seconds the account must still wait before its next sign-in attempt (0: none).
pub async fn sign_in_wait(pool: &PgPool, account: &[u8]) -> Result<u64, sqlx::Error> {
    let left: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 FROM auth.sign_in_failures
         WHERE account = $1 AND locked_until > now()",
    )
    .bind(account)
    .fetch_optional(pool)
    .await?;
    Ok(left.map_or(0, |s| s.ceil().max(1.0) as u64))
}

/// Counts a failed sign-in and sets the account's backoff; returns the wait now in force (s).
pub async fn sign_in_failed(pool: &PgPool, account: &[u8]) -> Result<u64, sqlx::Error> {
    let failures: i32 = sqlx::query_scalar(
        "INSERT INTO auth.sign_in_failures (account, failures) VALUES ($1, 1)
         ON CONFLICT (account) DO UPDATE SET failures = auth.sign_in_failures.failures + 1,
                                             last_failure_at = now()
         RETURNING failures",
    )
    .bind(account)
    .fetch_one(pool)
    .await?;
    let wait = mediagw_domain::auth::sign_in_backoff_s(failures.max(0) as u32);
    if wait > 0 {
        sqlx::query(
            "UPDATE auth.sign_in_failures SET locked_until = now() + make_interval(secs => $2)
             WHERE account = $1",
        )
        .bind(account)
        .bind(wait as f64)
        .execute(pool)
        .await?;
    }
    Ok(wait)
}

pub async fn sign_in_succeeded(pool: &PgPool, account: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM auth.sign_in_failures WHERE account = $1")
        .bind(account)
        .execute(pool)
        .await?;
    Ok(())
}

/// Revoked access tokens that have not expired yet (an API instance's deny list).
pub async fn revoked_access_tokens(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT jti FROM auth.revoked_access_tokens WHERE expires_at > now()")
        .fetch_all(pool)
        .await
}

/// The family an access token was issued in (for revoking a refresh token by its access token).
pub async fn refresh_by_hash_for_client(
    pool: &PgPool,
    token: &str,
) -> Result<Option<(Uuid, Uuid, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT family_id, user_id, client_id FROM auth.refresh_tokens WHERE token_hash = $1",
    )
    .bind(hash(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

pub struct NewDeviceCode<'a> {
    pub client_id: &'a str,
    pub scope: &'a Scopes,
    pub device_id: &'a str,
    pub ttl: chrono::Duration,
    pub interval_s: i32,
}

/// Creates a device authorization: (device_code, user_code).
pub async fn create_device_code(
    pool: &PgPool,
    d: &NewDeviceCode<'_>,
) -> Result<(String, String), AuthError> {
    sqlx::query("DELETE FROM auth.device_codes WHERE expires_at < now() - interval '1 day'")
        .execute(pool)
        .await?;
    for _ in 0..5 {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let Some(user_code) = mediagw_domain::auth::user_code::from_random(&bytes) else {
            continue;
        };
        let (device_code, hash) = new_secret();
        let inserted = sqlx::query(
            "INSERT INTO auth.device_codes (device_code_hash, user_code, client_id, scope, device_id, expires_at, interval_s)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_code) DO NOTHING",
        )
        .bind(hash)
        .bind(&user_code)
        .bind(d.client_id)
        .bind(d.scope.to_string())
        .bind(d.device_id)
        .bind(Utc::now() + d.ttl)
        .bind(d.interval_s)
        .execute(pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok((device_code, user_code));
        }
    }
    Err(AuthError::Internal("could not allocate a user code".into()))
}

pub struct DeviceRow {
    pub client_id: String,
    pub scope: String,
    pub device_id: String,
    pub expired: bool,
    pub status: String,
    pub user_id: Option<Uuid>,
    /// Seconds since the last poll (None: first poll).
    pub since_poll_s: Option<f64>,
    pub interval_s: i32,
}

fn device_row(r: &sqlx::postgres::PgRow) -> DeviceRow {
    DeviceRow {
        client_id: r.get("client_id"),
        scope: r.get("scope"),
        device_id: r.get("device_id"),
        expired: r.get("expired"),
        status: r.get("status"),
        user_id: r.get("user_id"),
        since_poll_s: r.get("since_poll_s"),
        interval_s: r.get("interval_s"),
    }
}

const DEVICE_COLUMNS: &str =
    "client_id, scope, device_id, expires_at <= now() AS expired, status, user_id,
     EXTRACT(EPOCH FROM now() - last_poll_at)::float8 AS since_poll_s, interval_s";

pub async fn lock_device_code(
    tx: &mut Transaction<'_, Postgres>,
    device_code: &str,
) -> Result<Option<DeviceRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM auth.device_codes WHERE device_code_hash = $1 FOR UPDATE"
    ))
    .bind(hash(device_code))
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(device_row))
}

pub async fn device_by_user_code(
    pool: &PgPool,
    user_code: &str,
) -> Result<Option<DeviceRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {DEVICE_COLUMNS} FROM auth.device_codes WHERE user_code = $1"
    ))
    .bind(user_code)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(device_row))
}

pub async fn touch_device_poll(
    tx: &mut Transaction<'_, Postgres>,
    device_code: &str,
    interval_s: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth.device_codes SET last_poll_at = now(), interval_s = $2 WHERE device_code_hash = $1")
        .bind(hash(device_code))
        .bind(interval_s)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_device_status(
    tx: &mut Transaction<'_, Postgres>,
    device_code: &str,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth.device_codes SET status = $2 WHERE device_code_hash = $1")
        .bind(hash(device_code))
        .bind(status)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A person decided on a pending, unexpired device code; false when it was not pending anymore.
pub async fn decide_device(
    pool: &PgPool,
    user_code: &str,
    user_id: Uuid,
    approve: bool,
) -> Result<Option<(String, bool)>, AuthError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "UPDATE auth.device_codes SET status = $3, user_id = $2
         WHERE user_code = $1 AND status = 'pending' AND expires_at > now()
         RETURNING client_id",
    )
    .bind(user_code)
    .bind(user_id)
    .bind(if approve { "approved" } else { "denied" })
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let client_id: String = row.get(0);
    audit(
        &mut tx,
        &AuditEvent::DeviceAuthorized {
            user_id,
            client_id: client_id.clone(),
            approved: approve,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some((client_id, approve)))
}
