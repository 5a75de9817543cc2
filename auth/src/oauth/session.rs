//! Browser sessions on the auth server's own pages: the session and pre-session (login CSRF)
//! cookies, password sign-in with its per-IP budget, and the page shown when that budget is spent.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use mediagw_domain::auth::{self as rules, AuditEvent};

use super::server::AuthServer;
use crate::audit::audit_now;
use crate::caller::ClientIp;
use crate::error::AuthError;
use crate::gate::SignInAttempt;
use crate::pages;
use crate::passwords::verify_password;
use crate::store::{self, User};

const SESSION_COOKIE: &str = "mg_session";
const LOGIN_COOKIE: &str = "mg_login";

impl AuthServer {
    /// Spends one attempt of the per-IP sign-in budget (passwords and user codes).
    pub(super) async fn sign_in_budget(&self, ip: Option<Extension<ClientIp>>) -> Result<(), u64> {
        let ip = ip
            .map(|Extension(ClientIp(ip))| ip.to_string())
            .unwrap_or_default();
        match self.gate.sign_in_attempt(&ip).await {
            Ok(SignInAttempt::Limited { retry_after_s }) => Err(retry_after_s),
            Ok(SignInAttempt::Allowed) => Ok(()),
            // Unlike the API's tiers this one fails closed: no password guessing while the
            // budget cannot be counted.
            Err(e) => {
                tracing::warn!(error = %e, "sign-in budget unavailable; refusing");
                Err(30)
            }
        }
    }

    pub(super) async fn password_sign_in(
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
        audit_now(&self.pool, &event).await?;
        Ok(if ok { user } else { None })
    }

    /// The signed-in user of a browser, and the session's CSRF token.
    pub(super) async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(User, String)>, AuthError> {
        match cookie(headers, SESSION_COOKIE) {
            Some(token) => Ok(store::session(&self.pool, &token).await?),
            None => Ok(None),
        }
    }

    pub(super) async fn start_session(
        &self,
        user: &User,
    ) -> Result<(HeaderValue, String), AuthError> {
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
}

/// The pre-session CSRF token: the browser's `mg_login` cookie, or a new one to set.
pub(super) fn login_token(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
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
pub(super) fn login_csrf_ok(headers: &HeaderMap, form: Option<&str>) -> bool {
    match (cookie(headers, LOGIN_COOKIE), form) {
        (Some(c), Some(f)) => rules::constant_time_eq(c.as_bytes(), f.as_bytes()),
        _ => false,
    }
}

pub(super) fn with_cookie(mut r: Response, cookie: Option<HeaderValue>) -> Response {
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

pub(super) fn rate_limited_page(retry_after_s: u64) -> Response {
    let mut r = pages::error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many attempts. Try again in {retry_after_s} seconds."),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, retry_after_s.into());
    r
}
