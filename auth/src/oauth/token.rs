//! The token endpoint: the authorization-code (PKCE), refresh-token (rotation with reuse
//! detection) and device-code grants, and the issuing of access and refresh tokens they share.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use mediagw_domain::auth::{self as rules, AuditEvent, RevocationReason, Role, Scopes};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::error::{no_store, read_form, OAuthError};
use super::server::{AuthServer, DEVICE_GRANT};
use crate::audit::audit;
use crate::store::{self, Client};
use crate::tokens::Grant;

impl AuthServer {
    /// Issues an access token and a refresh token of `family_id` inside `tx`, and commits.
    /// `granted` is what the sign-in allows (kept with the refresh token); `scopes` what this
    /// access token carries (a refresh may narrow it for one token, RFC 6749 §6).
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        user_id: Uuid,
        client: &Client,
        granted: &Scopes,
        scopes: &Scopes,
        device_id: Option<&str>,
        family_id: Uuid,
        grant_type: &str,
    ) -> Result<Response, OAuthError> {
        let client_id = client.client_id.as_str();
        let user = store::user_by_id(&mut *tx, user_id)
            .await?
            .ok_or_else(|| OAuthError::new("invalid_grant", "the user no longer exists"))?;
        // Operator power only through our own interactive apps: never to third-party clients,
        // and never through the device grant (a phished TV code must not lend it).
        let roles = if client.first_party && !client.allows_grant("device_code") {
            user.roles.clone()
        } else {
            vec![Role::User]
        };
        let issued = self.tokens.issue(&Grant {
            user_id,
            client_id: client_id.to_string(),
            scopes: scopes.clone(),
            roles,
            tier: user.tier,
            device_id: device_id.map(str::to_string),
        })?;
        // Only clients registered for the refresh grant get refresh tokens; the row is kept
        // anyway: it ties the access token to its family for revocation.
        let refresh = store::insert_refresh(
            &mut tx,
            &store::NewRefresh {
                family_id,
                user_id,
                client_id,
                scope: granted,
                device_id,
                access_jti: issued.jti,
                access_exp: issued.expires_at,
                ttl: chrono::Duration::from_std(self.settings.refresh_ttl).unwrap_or_default(),
            },
        )
        .await?;
        let refresh = client.allows_grant("refresh_token").then_some(refresh);
        audit(
            &mut tx,
            &AuditEvent::TokensIssued {
                user_id,
                client_id: client_id.to_string(),
                grant_type: grant_type.to_string(),
                family_id,
            },
        )
        .await?;
        tx.commit().await?;
        let mut body = json!({
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": self.tokens.ttl().as_secs(),
            "scope": scopes.to_string(),
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        let mut r = Json(body).into_response();
        no_store(r.headers_mut());
        Ok(r)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    device_code: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn token(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let f = read_form(form)?;
    let client = s
        .client(&headers, f.client_id.as_deref(), f.client_secret.as_deref())
        .await?;
    let grant_type = f
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
    let grant_name = if grant_type == DEVICE_GRANT {
        "device_code"
    } else {
        grant_type
    };
    if !matches!(
        grant_type,
        "authorization_code" | "refresh_token" | DEVICE_GRANT
    ) {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type `{grant_type}` is not supported"),
        ));
    }
    if !client.allows_grant(grant_name) && !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client may not use the {grant_name} grant"),
        ));
    }
    match grant_type {
        "authorization_code" => code_grant(&s, &client, &f).await,
        "refresh_token" => refresh_grant(&s, &client, &f).await,
        _ => device_grant(&s, &client, &f).await,
    }
}

async fn code_grant(
    s: &AuthServer,
    client: &Client,
    f: &TokenForm,
) -> Result<Response, OAuthError> {
    let code = f
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let mut tx = s.pool.begin().await?;
    let row = store::lock_code(&mut tx, code)
        .await?
        .ok_or_else(|| OAuthError::new("invalid_grant", "unknown authorization code"))?;
    if row.client_id != client.client_id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if row.used {
        // A replayed code: whoever redeemed it first may be an attacker; revoke what it gave.
        if let Some(family) = row.family_id {
            s.revoke_family(
                tx,
                family,
                row.user_id,
                &row.client_id,
                RevocationReason::CodeReuse,
            )
            .await?;
        }
        return Err(OAuthError::new(
            "invalid_grant",
            "the authorization code was already used",
        ));
    }
    if row.expired {
        return Err(OAuthError::new(
            "invalid_grant",
            "the authorization code expired",
        ));
    }
    if f.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = f
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "code_verifier is required (PKCE)"))?;
    if !rules::pkce::verify(verifier, &row.code_challenge) {
        return Err(OAuthError::new(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    let family = Uuid::now_v7();
    store::mark_code_used(&mut tx, code, family).await?;
    let scopes = Scopes::parse(&row.scope).unwrap_or_default();
    s.issue(
        tx,
        row.user_id,
        client,
        &scopes,
        &scopes,
        row.device_id.as_deref(),
        family,
        "authorization_code",
    )
    .await
}

async fn refresh_grant(
    s: &AuthServer,
    client: &Client,
    f: &TokenForm,
) -> Result<Response, OAuthError> {
    let token = f
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    let mut tx = s.pool.begin().await?;
    let row = store::lock_refresh(&mut tx, token)
        .await?
        .ok_or_else(|| OAuthError::new("invalid_grant", "unknown refresh token"))?;
    if row.client_id != client.client_id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    if row.revoked {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token was revoked",
        ));
    }
    if row.used {
        s.revoke_family(
            tx,
            row.family_id,
            row.user_id,
            &row.client_id,
            RevocationReason::RefreshReuse,
        )
        .await?;
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token was already used; every token of this sign-in is revoked",
        ));
    }
    if row.expired {
        return Err(OAuthError::new(
            "invalid_grant",
            "the refresh token expired",
        ));
    }
    let granted = Scopes::parse(&row.scope).unwrap_or_default();
    let scopes = Scopes::grant(f.scope.as_deref(), &granted)
        .map_err(|why| OAuthError::new("invalid_scope", why))?;
    store::mark_refresh_used(&mut tx, token).await?;
    s.issue(
        tx,
        row.user_id,
        client,
        &granted,
        &scopes,
        row.device_id.as_deref(),
        row.family_id,
        "refresh_token",
    )
    .await
}

async fn device_grant(
    s: &AuthServer,
    client: &Client,
    f: &TokenForm,
) -> Result<Response, OAuthError> {
    let code = f
        .device_code
        .as_deref()
        .ok_or_else(|| OAuthError::new("invalid_request", "device_code is required"))?;
    let mut tx = s.pool.begin().await?;
    let row = store::lock_device_code(&mut tx, code)
        .await?
        .ok_or_else(|| OAuthError::new("invalid_grant", "unknown device code"))?;
    if row.client_id != client.client_id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the device code was issued to another client",
        ));
    }
    if row.expired {
        return Err(OAuthError::new(
            "expired_token",
            "the device code expired; start again",
        ));
    }
    match row.status.as_str() {
        "denied" => Err(OAuthError::new(
            "access_denied",
            "the user denied the request",
        )),
        "consumed" => Err(OAuthError::new(
            "invalid_grant",
            "the device code was already used",
        )),
        "approved" => {
            store::set_device_status(&mut tx, code, "consumed").await?;
            let user_id = row
                .user_id
                .ok_or_else(|| OAuthError::new("invalid_grant", "no user approved this code"))?;
            let scopes = Scopes::parse(&row.scope).unwrap_or_default();
            s.issue(
                tx,
                user_id,
                client,
                &scopes,
                &scopes,
                Some(&row.device_id),
                Uuid::now_v7(),
                "device_code",
            )
            .await
        }
        _ => {
            // RFC 8628 §3.5: polling faster than the interval earns `slow_down` and 5 s more.
            let too_fast = row
                .since_poll_s
                .is_some_and(|since| since < f64::from(row.interval_s));
            let interval = if too_fast {
                row.interval_s + 5
            } else {
                row.interval_s
            };
            store::touch_device_poll(&mut tx, code, interval).await?;
            tx.commit().await?;
            if too_fast {
                Err(OAuthError::new(
                    "slow_down",
                    format!("poll at most every {interval} s"),
                ))
            } else {
                Err(OAuthError::new(
                    "authorization_pending",
                    "the user has not approved yet",
                ))
            }
        }
    }
}
