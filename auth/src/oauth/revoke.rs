//! Revocation (RFC 7009), and revoking a whole refresh-token family (also on code or refresh-token
//! reuse at the token endpoint): the rows, the audit event, and the gateway's deny list.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use mediagw_domain::auth::{AuditEvent, RevocationReason};
use serde::Deserialize;
use uuid::Uuid;

use super::error::{no_store, read_form, OAuthError};
use super::server::AuthServer;
use crate::audit::audit;
use crate::store;

impl AuthServer {
    /// Revokes a refresh-token family and denies its live access tokens at the gateway.
    pub(super) async fn revoke_family(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        family_id: Uuid,
        user_id: Uuid,
        client_id: &str,
        reason: RevocationReason,
    ) -> Result<(), OAuthError> {
        let live = store::revoke_family(&mut tx, family_id).await?;
        audit(
            &mut tx,
            &AuditEvent::RefreshFamilyRevoked {
                user_id,
                client_id: client_id.to_string(),
                family_id,
                reason,
            },
        )
        .await?;
        tx.commit().await?;
        for (jti, exp) in live {
            if let Err(e) = self.gate.deny(jti, exp).await {
                tracing::warn!(error = %e, "deny list store unavailable; the revocation holds through PostgreSQL");
            }
        }
        tracing::info!(%family_id, ?reason, "refresh-token family revoked");
        Ok(())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn revoke(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    form: Result<Form<RevokeForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let f = read_form(form)?;
    let client = s
        .client(&headers, f.client_id.as_deref(), f.client_secret.as_deref())
        .await?;
    let token = f
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    let access_first = f.token_type_hint.as_deref() == Some("access_token");
    let (s, client) = (&s, &client);
    let as_access = || async move {
        if let Ok(c) = s.tokens.validate(token).await {
            if c.client_id == client.client_id {
                let exp = chrono::DateTime::from_timestamp(c.exp, 0).unwrap_or_default();
                // Recorded first (every instance's deny list loads it), then spread through the
                // gate at once; a gate outage delays nothing but that instant spread.
                let mut tx = s.pool.begin().await?;
                store::record_revoked(&mut tx, &[(c.jti, exp)]).await?;
                audit(
                    &mut tx,
                    &AuditEvent::AccessTokenRevoked {
                        user_id: c.user_id,
                        jti: c.jti,
                    },
                )
                .await?;
                tx.commit().await?;
                if let Err(e) = s.gate.deny(c.jti, exp).await {
                    tracing::warn!(error = %e, "deny list store unavailable; the revocation holds through PostgreSQL");
                }
                return Ok::<bool, OAuthError>(true);
            }
        }
        Ok(false)
    };
    let as_refresh = || async move {
        if let Some((family, user_id, client_id)) =
            store::refresh_by_hash_for_client(&s.pool, token).await?
        {
            if client_id == client.client_id {
                s.revoke_family(
                    s.pool.begin().await?,
                    family,
                    user_id,
                    &client_id,
                    RevocationReason::Requested,
                )
                .await?;
                return Ok::<bool, OAuthError>(true);
            }
        }
        Ok(false)
    };
    // Unknown or foreign tokens are answered 200 as well (RFC 7009 §2.2): nothing to learn here.
    if access_first {
        if !as_access().await? {
            as_refresh().await?;
        }
    } else if !as_refresh().await? {
        as_access().await?;
    }
    let mut r = StatusCode::OK.into_response();
    no_store(r.headers_mut());
    Ok(r)
}
