//! Browser sessions on the auth server's own pages: the session and pre-session (login CSRF)
//! cookies, password sign-in with its per-IP budget, and the page shown when that budget is spent.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// Cookie names: with the `__Host-` prefix wherever cookies are `Secure` (the browser then
/// refuses them unless set by this exact origin over HTTPS with `Path=/`, so a sibling subdomain
/// cannot plant a session or a login token); plain names on a loopback issuer (development).
fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-mg_session"
    } else {
        "mg_session"
    }
}

fn login_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-mg_login"
    } else {
        "mg_login"
    }
}

/// Cookies are `Secure` unless the issuer is a loopback address (local development over HTTP).
pub(super) fn secure_cookies(issuer: &str) -> bool {
    let host = issuer
        .split_once("://")
        .map_or(issuer, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    !(host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()))
}

/// What a password sign-in came to.
pub(super) enum SignIn {
    Ok(User),
    Wrong,
    /// The account is backing off after failed attempts: try again in this many seconds.
    Wait(u64),
}

/// The key an account's sign-in budget and backoff are counted under: a hash of the normalised
/// address (unknown addresses are throttled alike; nothing stored names anyone).
pub(super) fn account_key(email: &str) -> Vec<u8> {
    store::hash(&format!(
        "sign-in:{}",
        rules::normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase())
    ))
}

impl AuthServer {
    pub(super) fn secure_cookies(&self) -> bool {
        secure_cookies(&self.settings.issuer)
    }

    /// Spends one attempt of the sign-in budget: per address and account when the form names an
    /// account (so one address guessing one account does not lock out its neighbours behind the
    /// same NAT), per address otherwise (user codes, registrations).
    pub(super) async fn sign_in_budget(
        &self,
        ip: Option<Extension<ClientIp>>,
        email: Option<&str>,
    ) -> Result<(), u64> {
        let ip = ip
            .map(|Extension(ClientIp(ip))| ip.to_string())
            .unwrap_or_default();
        let account = email.filter(|e| !e.trim().is_empty()).map(|e| {
            account_key(e)[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        });
        match self.gate.sign_in_attempt(&ip, account.as_deref()).await {
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
    ) -> Result<SignIn, AuthError> {
        let account = account_key(email);
        let wait = store::sign_in_wait(&self.pool, &account).await?;
        if wait > 0 {
            return Ok(SignIn::Wait(wait));
        }
        let email = rules::normalize_email(email).unwrap_or_default();
        let user = store::user_by_email(&self.pool, &email).await?;
        let ok = verify_password(
            password.to_string(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await;
        if ok {
            store::sign_in_succeeded(&self.pool, &account).await?;
        } else {
            store::sign_in_failed(&self.pool, &account).await?;
        }
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
        Ok(match (ok, user) {
            (true, Some(u)) => SignIn::Ok(u),
            _ => SignIn::Wrong,
        })
    }

    /// The signed-in user of a browser, and the session's CSRF token.
    pub(super) async fn session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(User, String)>, AuthError> {
        match cookie(headers, session_cookie(self.secure_cookies())) {
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
        let secure = self.secure_cookies();
        let cookie = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            session_cookie(secure),
            self.settings.session_ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        );
        Ok((
            HeaderValue::from_str(&cookie).map_err(|e| AuthError::Internal(e.to_string()))?,
            csrf,
        ))
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SignOutForm {
    csrf: Option<String>,
}

/// `POST /oauth/signout`: ends the browser's session on the auth server (the form carries the
/// session's CSRF token, so another site cannot sign a user out) and clears its cookie.
pub(super) async fn sign_out(
    axum::extract::State(s): axum::extract::State<std::sync::Arc<AuthServer>>,
    headers: HeaderMap,
    form: Result<axum::Form<SignOutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let secure = s.secure_cookies();
    let Some(token) = cookie(&headers, session_cookie(secure)) else {
        return pages::done("You are signed out.");
    };
    let csrf = form.ok().and_then(|f| f.0.csrf);
    match store::session(&s.pool, &token).await {
        Ok(Some((_, expected))) => {
            if !csrf.is_some_and(|c| rules::constant_time_eq(c.as_bytes(), expected.as_bytes())) {
                return pages::error(StatusCode::FORBIDDEN, "the form expired; reload the page");
            }
        }
        Ok(None) => {}
        Err(e) => return mediagw_api_error::ApiError::Db(e).into_response(),
    }
    if let Err(e) = store::delete_session(&s.pool, &token).await {
        return mediagw_api_error::ApiError::Db(e).into_response();
    }
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        session_cookie(secure),
        if secure { "; Secure" } else { "" }
    );
    with_cookie(
        pages::done("You are signed out."),
        HeaderValue::from_str(&clear).ok(),
    )
}

/// The pre-session CSRF token: the browser's `mg_login` cookie, or a new one to set.
pub(super) fn login_token(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(t) = cookie(headers, login_cookie(secure)).filter(|t| t.len() == 43) {
        return (t, None);
    }
    let (token, _) = store::new_secret();
    let set = HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600{}",
        login_cookie(secure),
        if secure { "; Secure" } else { "" }
    ))
    .ok();
    (token, set)
}

/// A password form must carry the token its page set as a cookie (double submit).
pub(super) fn login_csrf_ok(headers: &HeaderMap, secure: bool, form: Option<&str>) -> bool {
    match (cookie(headers, login_cookie(secure)), form) {
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

#[cfg(test)]
mod cookie_tests {
    use super::*;

    #[test]
    fn cookies_are_secure_and_host_bound_everywhere_but_loopback() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            assert!(!secure_cookies(local), "{local}");
        }
        for public in [
            "https://auth.example.com",
            "http://10.0.0.7:8080",
            "https://[2001:db8::1]/",
        ] {
            assert!(secure_cookies(public), "{public}");
        }
        assert_eq!(session_cookie(true), "__Host-mg_session");
        assert_eq!(login_cookie(false), "mg_login");
    }
}
