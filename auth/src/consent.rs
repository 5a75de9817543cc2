//! Agents' consents (MCP, seed §8): an action tool (playback, watchlist writes) runs only after the
//! person approved that client for that scope. A request is a device code shown on the existing
//! `/device` page (sign-in, client name, scope, allow/deny); approval is remembered per (user,
//! client, scope) until revoked; one client's approval never carries over to another.

use mediagw_domain::auth::{AuditEvent, Scope, Scopes};
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::audit::{audit, audit_now};
use crate::error::AuthError;
use crate::store;

/// How long a person has to approve a request.
const REQUEST_TTL_MIN: i64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Consent {
    Granted,
    Pending {
        user_code: String,
        verification_uri: String,
        verification_uri_complete: String,
        expires_in: i64,
    },
}

fn marker(user_id: Uuid) -> String {
    format!("mcp-consent:{user_id}")
}

/// Whether `client_id` may act for `user_id` with `scope`; when not yet, the pending request to
/// show the person (created on first ask, reused until it expires).
pub async fn check_or_request(
    pool: &PgPool,
    issuer: &str,
    user_id: Uuid,
    client_id: &str,
    scope: Scope,
) -> Result<Consent, AuthError> {
    let granted: Option<bool> = sqlx::query_scalar(
        "SELECT true FROM auth.agent_consents
         WHERE user_id = $1 AND client_id = $2 AND scope = $3 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scope.as_str())
    .fetch_optional(pool)
    .await?;
    if granted.is_some() {
        return Ok(Consent::Granted);
    }
    // An approval by this very user on the device page turns into a remembered consent.
    let mut tx = pool.begin().await?;
    let approved = sqlx::query(
        "UPDATE auth.device_codes SET status = 'used'
         WHERE device_id = $1 AND client_id = $2 AND scope = $3 AND status = 'approved' AND user_id = $4
         RETURNING user_code",
    )
    .bind(marker(user_id))
    .bind(client_id)
    .bind(scope.as_str())
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if approved.is_some() {
        sqlx::query(
            "INSERT INTO auth.agent_consents (user_id, client_id, scope) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, client_id, scope) DO UPDATE SET granted_at = now(), revoked_at = NULL",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Consent::Granted);
    }
    tx.commit().await?;
    let pending = sqlx::query(
        "SELECT user_code, EXTRACT(EPOCH FROM expires_at - now())::bigint FROM auth.device_codes
         WHERE device_id = $1 AND client_id = $2 AND scope = $3 AND status = 'pending' AND expires_at > now()
         ORDER BY expires_at DESC LIMIT 1",
    )
    .bind(marker(user_id))
    .bind(client_id)
    .bind(scope.as_str())
    .fetch_optional(pool)
    .await?;
    let (user_code, expires_in) = match pending {
        Some(r) => (r.get::<String, _>(0), r.get::<i64, _>(1)),
        None => {
            let scopes = Scopes::parse(scope.as_str()).unwrap_or_default();
            let device_id = marker(user_id);
            let (_device_code, user_code) = store::create_device_code(
                pool,
                &store::NewDeviceCode {
                    client_id,
                    scope: &scopes,
                    device_id: &device_id,
                    ttl: chrono::Duration::minutes(REQUEST_TTL_MIN),
                    interval_s: 5,
                },
            )
            .await?;
            (user_code, REQUEST_TTL_MIN * 60)
        }
    };
    let shown = mediagw_domain::auth::user_code::display(&user_code);
    Ok(Consent::Pending {
        verification_uri: format!("{issuer}/device"),
        verification_uri_complete: format!("{issuer}/device?user_code={shown}"),
        user_code: shown,
        expires_in,
    })
}

/// Records that an agent acted under a consent (the audit trail of every action).
pub async fn acted(
    pool: &PgPool,
    user_id: Uuid,
    client_id: &str,
    tool: &str,
    scope: Scope,
) -> Result<(), AuthError> {
    audit_now(
        pool,
        &AuditEvent::AgentActed {
            user_id,
            client_id: client_id.to_string(),
            tool: tool.to_string(),
            scope: scope.as_str().to_string(),
        },
    )
    .await
}

/// A remembered consent, for the user's own listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentConsent {
    pub client_id: String,
    pub scope: String,
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<AgentConsent>, AuthError> {
    let rows = sqlx::query(
        "SELECT client_id, scope, granted_at FROM auth.agent_consents
         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY client_id, scope",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| AgentConsent {
            client_id: r.get(0),
            scope: r.get(1),
            granted_at: r.get(2),
        })
        .collect())
}

/// Withdraws every consent the user gave `client_id` (and its pending requests); how many.
pub async fn revoke(pool: &PgPool, user_id: Uuid, client_id: &str) -> Result<u64, AuthError> {
    let mut tx = pool.begin().await?;
    let n = sqlx::query(
        "UPDATE auth.agent_consents SET revoked_at = now()
         WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(client_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE auth.device_codes SET status = 'denied'
         WHERE device_id = $1 AND client_id = $2 AND status IN ('pending', 'approved')",
    )
    .bind(marker(user_id))
    .bind(client_id)
    .execute(&mut *tx)
    .await?;
    if n > 0 {
        audit(
            &mut tx,
            &AuditEvent::AgentConsentRevoked {
                user_id,
                client_id: client_id.to_string(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n)
}
