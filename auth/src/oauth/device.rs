//! The device authorization grant's front half (RFC 8628): a TV asks for a device and user code,
//! and a person enters the user code on the verification page, signs in and approves. The TV's
//! polling is a grant at the token endpoint ([`super::token`]).

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use mediagw_api_error::ApiError;
use mediagw_domain::auth::{self as rules, Scopes};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::error::{no_store, read_form, OAuthError};
use super::server::{AuthServer, DEVICE_GRANT};
use super::session::{login_csrf_ok, login_token, rate_limited_page, with_cookie, SignIn};
use crate::caller::ClientIp;
use crate::pages;
use crate::store;

#[derive(Debug, Default, Deserialize)]
pub struct DeviceForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    device_id: Option<String>,
}

pub(super) async fn device_authorization(
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

pub(super) async fn device_page(
    State(s): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Query(q): Query<DeviceEntry>,
) -> Response {
    let signed_in = matches!(s.session(&headers).await, Ok(Some(_)));
    let (login, set) = login_token(&headers, s.secure_cookies());
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
pub(super) async fn device_submit(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<DeviceEntry>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    // Every guess at a user code spends the per-IP sign-in budget.
    if let Err(wait) = s.sign_in_budget(ip, None).await {
        return rate_limited_page(wait);
    }
    let typed = f.user_code.clone().unwrap_or_default();
    let session = match s.session(&headers).await {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (login, set_login) = login_token(&headers, s.secure_cookies());
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
            if !login_csrf_ok(&headers, s.secure_cookies(), f.csrf.as_deref()) {
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
                Ok(SignIn::Ok(u)) => Some(u),
                Ok(SignIn::Wrong) => None,
                Ok(SignIn::Wait(wait)) => return rate_limited_page(wait),
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
pub(super) async fn device_approve(
    State(s): State<Arc<AuthServer>>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<DeviceEntry>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return pages::error(StatusCode::BAD_REQUEST, "the form could not be read");
    };
    // The code is named again here, so this is a guess as well.
    if let Err(wait) = s.sign_in_budget(ip, None).await {
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
    // An AI assistant's consent request (MCP) rides the same codes: say what was decided.
    let agent = matches!(
        store::device_by_user_code(&s.pool, &code).await,
        Ok(Some(r)) if r.device_id.starts_with("mcp-consent:")
    );
    match store::decide_device(&s.pool, &code, user.id, approve).await {
        Ok(Some((_, true))) if agent => pages::done(
            "The assistant may now do this for you. You can take it back at any time (DELETE /v1/mcp/consents/<client>).",
        ),
        Ok(Some((_, false))) if agent => pages::done("Denied. The assistant may not do this."),
        Ok(Some((_, true))) => pages::done("Your device is connected. You can return to it now."),
        Ok(Some((_, false))) => pages::done("Access denied. The device was not connected."),
        Ok(None) => pages::error(
            StatusCode::BAD_REQUEST,
            "That code is not valid or has expired.",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}
