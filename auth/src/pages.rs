//! The few HTML pages of the auth server: sign-in and consent for the authorization-code flow, and
//! the device verification page. Everything interpolated is escaped; pages refuse framing.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use mediagw_domain::auth::Scopes;

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Media Gateway</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         input,button{{font-size:1rem;padding:.5rem;margin:.25rem 0;width:100%;box-sizing:border-box}}\
         .err{{color:#b00}}li{{margin:.2rem 0}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    let mut r = (status, Html(html)).into_response();
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn error(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Something is wrong",
        &format!("<p class=\"err\">{}</p>", esc(message)),
    )
}

fn hidden(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect()
}

fn scope_list(scopes: &Scopes) -> String {
    let items: String = scopes
        .iter()
        .map(|s| {
            format!(
                "<li><code>{}</code>: {}</li>",
                s.as_str(),
                esc(s.describe())
            )
        })
        .collect();
    format!("<ul>{items}</ul>")
}

/// E-mail and password fields, with the pre-session CSRF token (login CSRF: a cross-site form
/// must not sign the victim's browser into the attacker's account).
fn credentials(login_csrf: &str) -> String {
    format!(
        "{}<label>E-mail<input name=\"email\" type=\"email\" autocomplete=\"username\" required></label>\
         <label>Password<input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>",
        hidden(&[("csrf", login_csrf)])
    )
}

/// Who fills in a form: a signed-in person (e-mail, session CSRF token) or someone signing in
/// (pre-session CSRF token).
pub enum Who<'a> {
    Session { email: &'a str, csrf: &'a str },
    SigningIn { csrf: &'a str },
}

/// Sign in (unless there is a session) and allow `client` the `scopes`.
pub fn consent(
    action: &str,
    client: &str,
    scopes: &Scopes,
    who: Who<'_>,
    fields: &[(&str, &str)],
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let who = match who {
        Who::Session { email, csrf } => format!(
            "<p>Signed in as <b>{}</b>.</p>{}",
            esc(email),
            hidden(&[("csrf", csrf)])
        ),
        Who::SigningIn { csrf } => credentials(csrf),
    };
    let problem = problem
        .map(|p| format!("<p class=\"err\">{}</p>", esc(p)))
        .unwrap_or_default();
    let body = format!(
        "{problem}<p><b>{client}</b> asks to:</p>{scopes}<form method=\"post\" action=\"{action}\">{fields}{who}\
         <button name=\"decision\" value=\"approve\">Allow</button>\
         <button name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
        client = esc(client),
        scopes = scope_list(scopes),
        action = esc(action),
        fields = hidden(fields),
    );
    page(status, "Sign in to Media Gateway", &body)
}

/// Where a person types the code their TV shows.
pub fn device_entry(
    user_code: &str,
    signed_in: bool,
    login_csrf: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let problem = problem
        .map(|p| format!("<p class=\"err\">{}</p>", esc(p)))
        .unwrap_or_default();
    let body = format!(
        "{problem}<p>Enter the code shown on your device.</p><form method=\"post\" action=\"/device\">\
         <label>Code<input name=\"user_code\" value=\"{code}\" autocomplete=\"off\" required></label>{creds}\
         <button>Continue</button></form>",
        code = esc(user_code),
        creds = if signed_in { String::new() } else { credentials(login_csrf) },
    );
    page(status, "Connect a device", &body)
}

pub fn done(message: &str) -> Response {
    page(StatusCode::OK, "Done", &format!("<p>{}</p>", esc(message)))
}
