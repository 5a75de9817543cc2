//! The authorization endpoint (code + PKCE, RFC 6749 §4.1, RFC 7636): the sign-in and consent page
//! and its submission, which redirects back to the client with a single-use code.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use mediagw_api_error::ApiError;
use mediagw_domain::auth::{self as rules, Scopes};
use serde::Deserialize;

use super::server::AuthServer;
use super::session::{login_csrf_ok, login_token, rate_limited_page, with_cookie, SignIn};
use crate::caller::ClientIp;
use crate::pages;
use crate::store::{self, Client};

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

pub(super) async fn authorize_page(
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
    let (login, set) = login_token(&headers, s.secure_cookies());
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

pub(super) async fn authorize_submit(
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
            if !login_csrf_ok(&headers, s.secure_cookies(), p.csrf.as_deref()) {
                return pages::error(StatusCode::FORBIDDEN, "the form expired; reload the page");
            }
            if let Err(wait) = s.sign_in_budget(ip, p.email.as_deref()).await {
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
                Ok(SignIn::Ok(u)) => Some(u),
                Ok(SignIn::Wrong) => None,
                Ok(SignIn::Wait(wait)) => return rate_limited_page(wait),
                Err(e) => return ApiError::from(e).into_response(),
            };
            let Some(user) = found else {
                let (login, _) = login_token(&headers, s.secure_cookies());
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
