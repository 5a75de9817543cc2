//! The OAuth 2.0 authorization server: authorization code + PKCE (RFC 6749, 7636), device
//! authorization grant (RFC 8628), refresh-token rotation with reuse detection, revocation
//! (RFC 7009), server metadata (RFC 8414) and JWKS; plus user registration and client
//! registration (`/admin/clients`).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Form, Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mediagw_domain::auth::{
    self as rules, AuditEvent, RevocationReason, Role, Scope, Scopes, Tier,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::pages;
use super::store::{self, Client, User};
use super::tokens::{Grant, TokenService};
use super::{AuthError, Caller};
use crate::error::ApiError;
use crate::gateway::limits::{Admission, GateStore, RateTiers};
use crate::gateway::ClientIp;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const SESSION_COOKIE: &str = "mg_session";
const LOGIN_COOKIE: &str = "mg_login";

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of every token and the base of the endpoints in the metadata document.
    pub issuer: String,
    pub audience: String,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    pub device_ttl: Duration,
    pub device_interval_s: u32,
    pub session_ttl: Duration,
}

pub struct AuthServer {
    pub pool: PgPool,
    pub tokens: Arc<TokenService>,
    pub gate: Arc<dyn GateStore>,
    pub tiers: RateTiers,
    pub settings: AuthSettings,
}

pub fn router(server: Arc<AuthServer>) -> Router {
    let admin = Router::new()
        .route("/admin/clients", post(create_client))
        .route_layer(middleware::from_fn(super::admin_policy));
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/oauth/token", post(token))
        // The seed's names for the same endpoint (§7).
        .route("/oauth/refresh", post(token))
        .route("/oauth/device/token", post(token))
        .route("/oauth/device", post(device_authorization))
        .route("/oauth/revoke", post(revoke))
        .route("/device", get(device_page).post(device_submit))
        .route("/device/approve", post(device_approve))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/me", get(me))
        .merge(admin)
        .with_state(server)
}

// ---------------------------------------------------------------------------------------------
// Errors in the shape RFC 6749 §5.2 prescribes.

#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            error,
            description: description.into(),
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "auth database error");
        OAuthError::new("server_error", "internal error")
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        tracing::error!(error = %e, "auth error");
        OAuthError::new("server_error", "internal error")
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(r.headers_mut());
        if self.error == "invalid_client" {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mediagw\""),
            );
        }
        r
    }
}

/// The body of a token, device or revocation request (`application/x-www-form-urlencoded`).
fn read_form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, OAuthError> {
    form.map(|Form(f)| f)
        .map_err(|e| OAuthError::new("invalid_request", format!("the body must be a form: {e}")))
}

fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

// ---------------------------------------------------------------------------------------------
// Passwords.

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
async fn verify_password(password: String, stored: Option<String>) -> bool {
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

impl AuthServer {
    /// Spends one attempt of the per-IP sign-in budget (passwords and user codes).
    async fn sign_in_budget(&self, ip: Option<Extension<ClientIp>>) -> Result<(), u64> {
        let ip = ip
            .map(|Extension(ClientIp(ip))| ip.to_string())
            .unwrap_or_default();
        match self
            .gate
            .admit(&format!("ip:{ip}:signin"), self.tiers.sign_in, None)
            .await
        {
            Ok(Admission::Limited { retry_after_s, .. }) => Err(retry_after_s),
            Ok(_) => Ok(()),
            // Unlike the API's tiers this one fails closed: no password guessing while the
            // budget cannot be counted.
            Err(e) => {
                tracing::warn!(error = %e, "sign-in budget unavailable; refusing");
                Err(30)
            }
        }
    }

    async fn password_sign_in(
        &self,
        email: &str,
        password: &str,
        client_id: Option<&str>,
    ) -> Result<Option<User>, AuthError> {
        let email = rules::normalize_email(email).unwrap_or_default();
        let user = store::user_by_email(&self.pool, &email).await?;
        let ok = verify_password(
            password.to_string(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await;
        let event = match (&user, ok) {
            (Some(u), true) => AuditEvent::SignedIn {
                user_id: u.id,
                client_id: client_id.map(str::to_string),
            },
            (u, _) => AuditEvent::SignInFailed {
                user_id: u.as_ref().map(|u| u.id),
                client_id: client_id.map(str::to_string),
            },
        };
        store::audit_now(&self.pool, &event).await?;
        Ok(if ok { user } else { None })
    }

    /// The signed-in user of a browser, and the session's CSRF token.
    async fn session(&self, headers: &HeaderMap) -> Result<Option<(User, String)>, AuthError> {
        match cookie(headers, SESSION_COOKIE) {
            Some(token) => Ok(store::session(&self.pool, &token).await?),
            None => Ok(None),
        }
    }

    async fn start_session(&self, user: &User) -> Result<(HeaderValue, String), AuthError> {
        let ttl = chrono::Duration::from_std(self.settings.session_ttl).unwrap_or_default();
        let (token, csrf) = store::create_session(&self.pool, user.id, ttl).await?;
        let secure = if self.settings.issuer.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.settings.session_ttl.as_secs()
        );
        Ok((
            HeaderValue::from_str(&cookie).map_err(|e| AuthError::Internal(e.to_string()))?,
            csrf,
        ))
    }

    /// Client authentication: HTTP Basic or `client_secret` in the body for confidential clients,
    /// `client_id` alone for public ones.
    async fn client(
        &self,
        headers: &HeaderMap,
        form_id: Option<&str>,
        form_secret: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .map(|b| {
                let raw = STANDARD
                    .decode(b.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                let (id, secret) = raw
                    .as_deref()
                    .and_then(|r| r.split_once(':'))
                    .unwrap_or(("", ""));
                (percent_decode(id), percent_decode(secret))
            });
        let (id, secret) = match (&basic, form_id) {
            (Some((id, secret)), _) => (id.clone(), Some(secret.clone()).filter(|s| !s.is_empty())),
            (None, Some(id)) => (id.to_string(), form_secret.map(str::to_string)),
            (None, None) => {
                return Err(OAuthError::new(
                    "invalid_client",
                    "client authentication is required",
                ))
            }
        };
        let unknown = || OAuthError::new("invalid_client", "unknown client or wrong secret");
        let client = store::client(&self.pool, &id).await?.ok_or_else(unknown)?;
        match (&client.secret_hash, secret) {
            (Some(h), Some(s)) if rules::constant_time_eq(h, &store::hash(&s)) => Ok(client),
            (None, None) => Ok(client),
            _ => Err(unknown()),
        }
    }

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
        store::audit(
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

    /// Revokes a refresh-token family and denies its live access tokens at the gateway.
    async fn revoke_family(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        family_id: Uuid,
        user_id: Uuid,
        client_id: &str,
        reason: RevocationReason,
    ) -> Result<(), OAuthError> {
        let live = store::revoke_family(&mut tx, family_id).await?;
        store::audit(
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
            if let Err(e) = self.gate.revoke(jti, exp).await {
                tracing::error!(error = %e, "could not deny a revoked access token");
            }
        }
        tracing::info!(%family_id, ?reason, "refresh-token family revoked");
        Ok(())
    }
}

/// The pre-session CSRF token: the browser's `mg_login` cookie, or a new one to set.
fn login_token(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(t) = cookie(headers, LOGIN_COOKIE).filter(|t| t.len() == 43) {
        return (t, None);
    }
    let (token, _) = store::new_secret();
    let set = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600{}",
        if secure { "; Secure" } else { "" }
    ))
    .ok();
    (token, set)
}

/// A password form must carry the token its page set as a cookie (double submit).
fn login_csrf_ok(headers: &HeaderMap, form: Option<&str>) -> bool {
    match (cookie(headers, LOGIN_COOKIE), form) {
        (Some(c), Some(f)) => rules::constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}

fn with_cookie(mut r: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `application/x-www-form-urlencoded` decoding of a Basic credential part (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Authorization code + PKCE.

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    device_id: Option<String>,
    // The form's own fields.
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    decision: Option<String>,
}

struct Authorization {
    client: Client,
    redirect_uri: String,
    scopes: Scopes,
    state: Option<String>,
    challenge: String,
    device_id: Option<String>,
}

impl AuthorizeParams {
    /// The request's parameters again, for the form.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        let mut f = vec![];
        for (k, v) in [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("device_id", &self.device_id),
        ] {
            if let Some(v) = v {
                f.push((k, v.as_str()));
            }
        }
        f
    }
}

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return pages::error(StatusCode::BAD_REQUEST, "invalid redirect URI"),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

impl AuthServer {
    /// Checks an authorization request. Errors about the client or redirect URI are shown on a
    /// page (never redirected to an unverified URI); the rest go back to the client (§4.1.2.1).
    async fn check_authorize(&self, p: &AuthorizeParams) -> Result<Authorization, Response> {
        let client_id = p.client_id.as_deref().unwrap_or_default();
        let client = match store::client(&self.pool, client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(pages::error(StatusCode::BAD_REQUEST, "unknown client_id")),
            Err(e) => return Err(ApiError::Db(e).into_response()),
        };
        let redirect_uri = match p.redirect_uri.as_deref() {
            Some(r) if client.redirect_uris.iter().any(|u| u == r) => r.to_string(),
            Some(_) => {
                return Err(pages::error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri does not match a registered redirect URI of this client",
                ))
            }
            None => {
                return Err(pages::error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri is required",
                ))
            }
        };
        let state = p.state.clone();
        let fail = |error: &str, description: &str| {
            let mut params = vec![
                ("error", error),
                ("error_description", description),
                ("iss", self.settings.issuer.as_str()),
            ];
            if let Some(s) = &state {
                params.push(("state", s.as_str()));
            }
            redirect_with(&redirect_uri, &params)
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be `code`",
            ));
        }
        if !client.allows_grant("authorization_code") {
            return Err(fail(
                "unauthorized_client",
                "this client may not use the authorization code grant",
            ));
        }
        let Some(challenge) = p.code_challenge.as_deref() else {
            return Err(fail("invalid_request", "code_challenge is required (PKCE)"));
        };
        if p.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256 (`plain` is not supported)",
            ));
        }
        if !rules::pkce::valid_challenge(challenge) {
            return Err(fail(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            ));
        }
        let scopes = match Scopes::grant(p.scope.as_deref(), &client.scopes) {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => return Err(fail("invalid_scope", "no scope requested")),
            Err(why) => return Err(fail("invalid_scope", &why)),
        };
        Ok(Authorization {
            client,
            redirect_uri,
            scopes,
            state,
            challenge: challenge.to_string(),
            device_id: p
                .device_id
                .clone()
                .filter(|d| !d.is_empty() && d.len() <= 128),
        })
    }
}

async fn authorize_page(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    let a = match s.check_authorize(&p).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let session = match s.session(&headers).await {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (login, set) = login_token(&headers, s.settings.issuer.starts_with("https://"));
    let who = match &session {
        Some((u, csrf)) => pages::Who::Session {
            email: &u.email,
            csrf,
        },
        None => pages::Who::SigningIn { csrf: &login },
    };
    let page = pages::consent(
        "/oauth/authorize",
        &a.client.name,
        &a.scopes,
        who,
        &p.fields(),
        None,
        StatusCode::OK,
    );
    with_cookie(page, if session.is_some() { None } else { set })
}

async fn authorize_submit(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<AuthorizeParams>, FormRejection>,
) -> Response {
    let Ok(Form(p)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    let a = match s.check_authorize(&p).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let with_state = |mut params: Vec<(&'static str, String)>| {
        params.push(("iss", s.settings.issuer.clone()));
        if let Some(st) = &a.state {
            params.push(("state", st.clone()));
        }
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        redirect_with(&a.redirect_uri, &refs)
    };
    if p.decision.as_deref() == Some("deny") {
        return with_state(vec![
            ("error", "access_denied".into()),
            ("error_description", "the user denied the request".into()),
        ]);
    }
    // A live session with its CSRF token, or an e-mail and password.
    let session = match s.session(&headers).await {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut set_cookie = None;
    let user = match (session, p.password.as_deref()) {
        (Some((user, csrf)), None) => {
            if !p
                .csrf
                .as_deref()
                .is_some_and(|c| rules::constant_time_eq(c.as_bytes(), csrf.as_bytes()))
            {
                return pages::error(StatusCode::FORBIDDEN, "the form expired; reload the page");
            }
            user
        }
        (_, password) => {
            if !login_csrf_ok(&headers, p.csrf.as_deref()) {
                return pages::error(StatusCode::FORBIDDEN, "the form expired; reload the page");
            }
            if let Err(wait) = s.sign_in_budget(ip).await {
                return rate_limited_page(wait);
            }
            let found = match s
                .password_sign_in(
                    p.email.as_deref().unwrap_or_default(),
                    password.unwrap_or_default(),
                    Some(&a.client.client_id),
                )
                .await
            {
                Ok(u) => u,
                Err(e) => return ApiError::from(e).into_response(),
            };
            let Some(user) = found else {
                let (login, _) = login_token(&headers, s.settings.issuer.starts_with("https://"));
                return pages::consent(
                    "/oauth/authorize",
                    &a.client.name,
                    &a.scopes,
                    pages::Who::SigningIn { csrf: &login },
                    &p.fields(),
                    Some("Wrong e-mail address or password."),
                    StatusCode::UNAUTHORIZED,
                );
            };
            match s.start_session(&user).await {
                Ok((c, _)) => set_cookie = Some(c),
                Err(e) => return ApiError::from(e).into_response(),
            }
            user
        }
    };
    let code = store::create_code(
        &s.pool,
        &store::NewCode {
            client_id: &a.client.client_id,
            user_id: user.id,
            redirect_uri: &a.redirect_uri,
            scope: &a.scopes,
            code_challenge: &a.challenge,
            device_id: a.device_id.as_deref(),
            ttl: chrono::Duration::from_std(s.settings.code_ttl).unwrap_or_default(),
        },
    )
    .await;
    let code = match code {
        Ok(c) => c,
        Err(e) => return ApiError::Db(e).into_response(),
    };
    let mut r = with_state(vec![("code", code)]);
    if let Some(c) = set_cookie {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

fn rate_limited_page(retry_after_s: u64) -> Response {
    let mut r = pages::error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many attempts. Try again in {retry_after_s} seconds."),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, retry_after_s.into());
    r
}

// ---------------------------------------------------------------------------------------------
// Token endpoint.

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

async fn token(
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

// ---------------------------------------------------------------------------------------------
// Device authorization (RFC 8628).

#[derive(Debug, Default, Deserialize)]
pub struct DeviceForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    device_id: Option<String>,
}

async fn device_authorization(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    form: Result<Form<DeviceForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let f = read_form(form)?;
    let client = s
        .client(&headers, f.client_id.as_deref(), f.client_secret.as_deref())
        .await?;
    if !client.allows_grant("device_code") && !client.allows_grant(DEVICE_GRANT) {
        return Err(OAuthError::new(
            "unauthorized_client",
            "this client may not use the device grant",
        ));
    }
    let scopes = Scopes::grant(f.scope.as_deref(), &client.scopes)
        .map_err(|why| OAuthError::new("invalid_scope", why))?;
    let device_id = f
        .device_id
        .filter(|d| !d.is_empty() && d.len() <= 128)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let (device_code, user_code) = store::create_device_code(
        &s.pool,
        &store::NewDeviceCode {
            client_id: &client.client_id,
            scope: &scopes,
            device_id: &device_id,
            ttl: chrono::Duration::from_std(s.settings.device_ttl).unwrap_or_default(),
            interval_s: s.settings.device_interval_s as i32,
        },
    )
    .await?;
    let shown = rules::user_code::display(&user_code);
    let uri = format!("{}/device", s.settings.issuer);
    let mut r = Json(json!({
        "device_code": device_code,
        "user_code": shown,
        "verification_uri": uri,
        "verification_uri_complete": format!("{uri}?user_code={shown}"),
        "expires_in": s.settings.device_ttl.as_secs(),
        "interval": s.settings.device_interval_s,
    }))
    .into_response();
    no_store(r.headers_mut());
    Ok(r)
}

#[derive(Debug, Default, Deserialize)]
pub struct DeviceEntry {
    user_code: Option<String>,
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
    decision: Option<String>,
}

async fn device_page(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Query(q): Query<DeviceEntry>,
) -> Response {
    let signed_in = matches!(s.session(&headers).await, Ok(Some(_)));
    let (login, set) = login_token(&headers, s.settings.issuer.starts_with("https://"));
    let page = pages::device_entry(
        q.user_code.as_deref().unwrap_or_default(),
        signed_in,
        &login,
        None,
        StatusCode::OK,
    );
    with_cookie(page, if signed_in { None } else { set })
}

/// Step 1: the code (and, without a session, e-mail and password) → the consent page.
async fn device_submit(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<DeviceEntry>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    // Every guess at a user code spends the per-IP sign-in budget.
    if let Err(wait) = s.sign_in_budget(ip).await {
        return rate_limited_page(wait);
    }
    let typed = f.user_code.clone().unwrap_or_default();
    let session = match s.session(&headers).await {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (login, set_login) = login_token(&headers, s.settings.issuer.starts_with("https://"));
    let invalid = |signed_in: bool| {
        let page = pages::device_entry(
            &typed,
            signed_in,
            &login,
            Some("That code is not valid or has expired."),
            StatusCode::BAD_REQUEST,
        );
        with_cookie(page, if signed_in { None } else { set_login.clone() })
    };
    let Some(code) = rules::user_code::normalize(&typed) else {
        return invalid(session.is_some());
    };
    let row = match store::device_by_user_code(&s.pool, &code).await {
        Ok(Some(r)) if !r.expired && r.status == "pending" => r,
        Ok(_) => return invalid(session.is_some()),
        Err(e) => return ApiError::Db(e).into_response(),
    };
    let mut set_cookie = None;
    let (user, csrf) = match session {
        Some(x) => x,
        None => {
            if !login_csrf_ok(&headers, f.csrf.as_deref()) {
                return pages::error(StatusCode::FORBIDDEN, "the form expired; reload the page");
            }
            let found = match s
                .password_sign_in(
                    f.email.as_deref().unwrap_or_default(),
                    f.password.as_deref().unwrap_or_default(),
                    Some(&row.client_id),
                )
                .await
            {
                Ok(u) => u,
                Err(e) => return ApiError::from(e).into_response(),
            };
            let Some(user) = found else {
                return pages::device_entry(
                    &typed,
                    false,
                    &login,
                    Some("Wrong e-mail address or password."),
                    StatusCode::UNAUTHORIZED,
                );
            };
            match s.start_session(&user).await {
                Ok((c, csrf)) => {
                    set_cookie = Some(c);
                    (user, csrf)
                }
                Err(e) => return ApiError::from(e).into_response(),
            }
        }
    };
    let client_name = match store::client(&s.pool, &row.client_id).await {
        Ok(Some(c)) => c.name,
        _ => row.client_id.clone(),
    };
    let scopes = Scopes::parse(&row.scope).unwrap_or_default();
    let mut r = pages::consent(
        "/device/approve",
        &client_name,
        &scopes,
        pages::Who::Session {
            email: &user.email,
            csrf: &csrf,
        },
        &[("user_code", &code)],
        None,
        StatusCode::OK,
    );
    if let Some(c) = set_cookie {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// Step 2: the signed-in person allows or denies.
async fn device_approve(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<DeviceEntry>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    // The code is named again here, so this is a guess as well.
    if let Err(wait) = s.sign_in_budget(ip).await {
        return rate_limited_page(wait);
    }
    let (user, csrf) = match s.session(&headers).await {
        Ok(Some(x)) => x,
        Ok(None) => return pages::error(StatusCode::UNAUTHORIZED, "sign in first"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !f
        .csrf
        .as_deref()
        .is_some_and(|c| rules::constant_time_eq(c.as_bytes(), csrf.as_bytes()))
    {
        return pages::error(StatusCode::FORBIDDEN, "the form expired; start again");
    }
    let Some(code) = f.user_code.as_deref().and_then(rules::user_code::normalize) else {
        return pages::error(StatusCode::BAD_REQUEST, "missing user_code");
    };
    let approve = f.decision.as_deref() == Some("approve");
    match store::decide_device(&s.pool, &code, user.id, approve).await {
        Ok(Some((_, true))) => pages::done("Your device is connected. You can return to it now."),
        Ok(Some((_, false))) => pages::done("Access denied. The device was not connected."),
        Ok(None) => pages::error(
            StatusCode::BAD_REQUEST,
            "That code is not valid or has expired.",
        ),
        Err(e) => ApiError::Db(e).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation (RFC 7009).

#[derive(Debug, Default, Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn revoke(
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
                s.gate
                    .revoke(
                        c.jti,
                        chrono::DateTime::from_timestamp(c.exp, 0).unwrap_or_default(),
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "could not deny an access token");
                        OAuthError::new("temporarily_unavailable", "revocation store unavailable")
                    })?;
                store::audit_now(
                    &s.pool,
                    &AuditEvent::AccessTokenRevoked {
                        user_id: c.user_id,
                        jti: c.jti,
                    },
                )
                .await?;
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

// ---------------------------------------------------------------------------------------------
// Discovery.

async fn jwks(State(s): State<Arc<AuthServer>>) -> Response {
    let mut r = Json(s.tokens.keys().jwks()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

async fn metadata(State(s): State<Arc<AuthServer>>) -> Json<serde_json::Value> {
    let i = &s.settings.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth/authorize"),
        "token_endpoint": format!("{i}/oauth/token"),
        "device_authorization_endpoint": format!("{i}/oauth/device"),
        "revocation_endpoint": format!("{i}/oauth/revoke"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{i}/v1/docs"),
    }))
}

// ---------------------------------------------------------------------------------------------
// Users and clients.

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    pub user_id: Uuid,
    pub email: String,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError::BadRequest {
        field: "body",
        message: e.body_text(),
    })
}

/// Creates an account (role `user`, tier `free`).
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, description = "a field is invalid"), (status = 409, description = "the address is taken")))]
pub async fn register(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(body)?;
    // Each registration costs an argon2 hash: it spends the per-IP sign-in budget.
    if let Err(retry_after_s) = s.sign_in_budget(ip).await {
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let email = rules::normalize_email(&r.email).map_err(|m| ApiError::BadRequest {
        field: "email",
        message: m,
    })?;
    rules::check_password(&r.password).map_err(|m| ApiError::BadRequest {
        field: "password",
        message: m,
    })?;
    let display = r
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if display.is_some_and(|d| d.chars().count() > 100) {
        return Err(ApiError::BadRequest {
            field: "display_name",
            message: "must be at most 100 characters".into(),
        });
    }
    let hash = hash_password(r.password).await?;
    match store::create_user(&s.pool, &email, &hash, display, &[Role::User], Tier::Free).await? {
        Some(user_id) => Ok((
            StatusCode::CREATED,
            Json(RegisterResponse { user_id, email }),
        )
            .into_response()),
        None => Err(ApiError::Conflict(
            "an account with this e-mail address exists".into(),
        )),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub scope: String,
    pub roles: Vec<String>,
    pub tier: String,
    pub client_id: String,
    pub device_id: Option<String>,
    /// Access-token expiry, epoch seconds.
    pub expires_at: i64,
}

/// The caller as the access token describes them.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, description = "no or invalid token")))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user_id: caller.user_id,
        scope: caller.scopes.to_string(),
        roles: caller
            .roles
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        tier: caller.tier.as_str().to_string(),
        client_id: caller.client_id,
        device_id: caller.device_id,
        expires_at: caller.exp,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ClientRequest {
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Confidential clients get a secret (shown once); public ones (apps, TVs) use PKCE alone.
    #[serde(default)]
    pub confidential: bool,
    /// `authorization_code`, `refresh_token`, `device_code` (default: the first two).
    pub grant_types: Option<Vec<String>>,
    /// Space-delimited scopes the client may ask for (default: all).
    pub scope: Option<String>,
    /// Our own app: its tokens carry the user's roles (default false: `user` only).
    #[serde(default)]
    pub first_party: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientResponse {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scope: String,
}

/// Redirect URIs: absolute, no fragment; `https`, `http` on loopback only, or a private-use
/// scheme with a dot (RFC 8252 §7.1, e.g. `com.example.app:/callback`).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|e| format!("`{uri}` is not an absolute URI ({e})"))?;
    if u.fragment().is_some() {
        return Err(format!("`{uri}` must not have a fragment"));
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "`{uri}`: plain http is allowed for loopback hosts only"
        )),
        s if s.contains('.') => Ok(()),
        _ => Err(format!(
            "`{uri}`: use https, http on loopback, or a reverse-DNS private scheme"
        )),
    }
}

/// Registers an OAuth client (admin role).
#[utoipa::path(post, path = "/admin/clients", tag = "admin", security(("bearer" = [])), request_body = ClientRequest,
    responses((status = 201, body = ClientResponse), (status = 400, description = "a field is invalid"), (status = 401), (status = 403, description = "not an admin")))]
pub async fn create_client(
    State(s): State<Arc<AuthServer>>,
    caller: Caller,
    body: Result<Json<ClientRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(body)?;
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest {
            field: "name",
            message: "must be 1-100 characters".into(),
        });
    }
    let grant_types = r
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    for g in &grant_types {
        if !matches!(
            g.as_str(),
            "authorization_code" | "refresh_token" | "device_code"
        ) {
            return Err(ApiError::BadRequest {
                field: "grant_types",
                message: format!("unknown grant type `{g}`"),
            });
        }
    }
    for u in &r.redirect_uris {
        check_redirect_uri(u).map_err(|m| ApiError::BadRequest {
            field: "redirect_uris",
            message: m,
        })?;
    }
    if grant_types.iter().any(|g| g == "authorization_code") && r.redirect_uris.is_empty() {
        return Err(ApiError::BadRequest {
            field: "redirect_uris",
            message: "the authorization_code grant needs at least one".into(),
        });
    }
    let scopes = match r.scope.as_deref() {
        None => Scopes::all(),
        Some(s) => Scopes::parse(s).map_err(|m| ApiError::BadRequest {
            field: "scope",
            message: m,
        })?,
    };
    let created = store::create_client(
        &s.pool,
        &store::NewClient {
            client_id: None,
            name,
            confidential: r.confidential,
            redirect_uris: &r.redirect_uris,
            grant_types: &grant_types,
            scopes: &scopes,
            first_party: r.first_party,
            created_by: Some(caller.user_id),
        },
    )
    .await?
    .ok_or_else(|| ApiError::Conflict("client id taken".into()))?;
    Ok((
        StatusCode::CREATED,
        Json(ClientResponse {
            client_id: created.0,
            client_secret: created.1,
            name: name.to_string(),
            redirect_uris: r.redirect_uris,
            grant_types,
            scope: scopes.to_string(),
        }),
    )
        .into_response())
}
