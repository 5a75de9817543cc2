//! OAuth 2.0 server and gateway, end to end on the real stack, driven by a real OAuth client
//! library (`oauth2`) the way an app or a TV would use it: authorization code + PKCE, device grant,
//! refresh rotation with reuse detection, revocation; then the refusals a security review expects,
//! rate limits at the seed's tiers, and the gateway's cross-cutting layers.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::Stack;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mediagw_domain::auth::Tier;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl,
    PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope,
    StandardDeviceAuthorizationResponse, StandardRevocableToken, TokenResponse, TokenUrl,
};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use uuid::Uuid;

/// The public name the clients are configured with (TLS terminates in front of the API; the
/// library insists on https for revocation). The HTTP client maps it to the test server.
const PUBLIC: &str = "https://mediagw.test";
const PASSWORD: &str = "correct horse battery staple";

type HttpFuture = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>>>>;

/// `oauth2`'s async HTTP client over reqwest, without following redirects.
fn http_client(api: &str) -> impl Fn(oauth2::HttpRequest) -> HttpFuture {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let api = api.to_string();
    move |req: oauth2::HttpRequest| {
        let (client, api) = (client.clone(), api.clone());
        Box::pin(async move {
            let url = req.uri().to_string().replace(PUBLIC, &api);
            let mut rb = client
                .request(req.method().clone(), url)
                .body(req.body().clone());
            for (k, v) in req.headers() {
                rb = rb.header(k, v);
            }
            let resp = rb.send().await?;
            let mut b = oauth2::http::Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                b = b.header(k.as_str(), v.as_bytes());
            }
            Ok(b.body(resp.bytes().await?.to_vec()).unwrap())
        })
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn plain() -> reqwest::Client {
    reqwest::Client::new()
}

fn add_user(s: &Stack, email: &str, admin: bool) -> Uuid {
    let mut args = vec!["auth", "add-user", "--email", email];
    if admin {
        args.extend(["--role", "admin"]);
    }
    let out = s
        .command(&args)
        .env("MEDIAGW_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn add_client(s: &Stack, args: &[&str]) -> Value {
    let mut all = vec!["auth", "add-client"];
    all.extend(args);
    serde_json::from_str(&s.run_ok(&all)).unwrap()
}

/// A public client with every endpoint set, as an app would configure it.
macro_rules! oauth_client {
    ($id:expr, $redirect:expr) => {
        BasicClient::new(ClientId::new($id.to_string()))
            .set_auth_uri(AuthUrl::new(format!("{PUBLIC}/oauth/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(format!("{PUBLIC}/oauth/token")).unwrap())
            .set_revocation_url(RevocationUrl::new(format!("{PUBLIC}/oauth/revoke")).unwrap())
            .set_device_authorization_url(
                DeviceAuthorizationUrl::new(format!("{PUBLIC}/oauth/device")).unwrap(),
            )
            .set_redirect_uri(RedirectUrl::new($redirect.to_string()).unwrap())
    };
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The person in the browser: opens the authorization URL, signs in and allows. Returns the
/// redirect's query parameters.
async fn sign_in(
    s: &Stack,
    authorize_url: &str,
    email: &str,
    password: &str,
    decision: &str,
) -> (u16, Vec<(String, String)>) {
    let url = authorize_url.replace(PUBLIC, &s.api);
    let page = browser().get(&url).send().await.unwrap();
    let status = page.status().as_u16();
    if status != 200 {
        let location = page
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        return (status, location.map(|l| query(&l)).unwrap_or_default());
    }
    let (cookie, html) = cookie_and_page(page).await;
    assert!(html.contains("asks to"), "{html}");
    let mut form = query(&url);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    form.push(("decision".into(), decision.into()));
    // Without the page's CSRF token (a cross-site form), signing in is refused.
    let forged = browser()
        .post(format!("{}/oauth/authorize", s.api))
        .form(&form)
        .send()
        .await
        .unwrap();
    if decision == "approve" {
        assert_eq!(forged.status(), 403, "login CSRF");
    }
    form.push(("csrf".into(), hidden_value(&html, "csrf")));
    let r = browser()
        .post(format!("{}/oauth/authorize", s.api))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.map(|l| query(&l)).unwrap_or_default())
}

/// The `name=value` of the page's first cookie, and the page.
async fn cookie_and_page(r: reqwest::Response) -> (String, String) {
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .unwrap_or_default();
    (cookie, r.text().await.unwrap())
}

fn hidden_value(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

/// The whole code + PKCE flow through the library; returns (access, refresh).
async fn code_flow(
    s: &Stack,
    client_id: &str,
    redirect: &str,
    email: &str,
    scopes: &[&str],
) -> (String, String) {
    let client = oauth_client!(client_id, redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for sc in scopes {
        req = req.add_scope(Scope::new(sc.to_string()));
    }
    let (url, state) = req.url();
    let (status, params) = sign_in(s, url.as_str(), email, PASSWORD, "approve").await;
    assert_eq!(status, 303, "{params:?}");
    assert_eq!(
        param(&params, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(param(&params, "iss").as_deref(), Some(s.api.as_str()));
    let code = param(&params, "code").expect("a code");
    let http = http_client(&s.api);
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    (
        token.access_token().secret().clone(),
        token
            .refresh_token()
            .expect("refresh token")
            .secret()
            .clone(),
    )
}

async fn me(s: &Stack, token: &str) -> (u16, Value) {
    let r = plain()
        .get(format!("{}/v1/auth/me", s.api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn oauth_error<E, T>(e: RequestTokenError<E, oauth2::StandardErrorResponse<T>>) -> String
where
    E: std::error::Error + 'static,
    T: oauth2::ErrorResponseType + std::fmt::Display + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => r.error().to_string(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

fn claims(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&payload).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_with_pkce_refresh_rotation_and_revocation() {
    let mut s = Stack::new("auth_code").await;
    s.start_all().await;
    let admin = add_user(&s, "admin@example.com", true);
    add_client(
        &s,
        &[
            "--name",
            "Console",
            "--client-id",
            "console",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        ],
    );

    // An operator signs in and registers the phone app through the API.
    let (admin_token, _) = code_flow(
        &s,
        "console",
        "http://127.0.0.1:9/cb",
        "admin@example.com",
        &["read:content"],
    )
    .await;
    let (st, body) = me(&s, &admin_token).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["user_id"], admin.to_string());
    assert!(body["roles"].as_array().unwrap().contains(&json!("admin")));
    let r = plain()
        .post(format!("{}/admin/clients", s.api))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "Phone app", "redirect_uris": ["com.example.mg:/cb"], "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let phone: Value = r.json().await.unwrap();
    let phone_id = phone["client_id"].as_str().unwrap().to_string();
    assert!(
        phone["client_secret"].is_null(),
        "a public client has no secret"
    );
    let r = plain()
        .post(format!("{}/admin/clients", s.api))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "Bad", "redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"][0]["field"], "redirect_uris",
        "{body}"
    );

    // A person creates an account; bad input names the field.
    let register = |body: Value| {
        let api = s.api.clone();
        async move {
            let r = plain()
                .post(format!("{api}/v1/auth/register"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, created) = register(json!({"email": "Ann@Example.com", "password": PASSWORD})).await;
    assert_eq!(st, 201, "{created}");
    assert_eq!(created["email"], "ann@example.com");
    let ann: Uuid = created["user_id"].as_str().unwrap().parse().unwrap();
    let (st, _) = register(json!({"email": "ann@example.com", "password": PASSWORD})).await;
    assert_eq!(st, 409);
    let (st, body) = register(json!({"email": "ann", "password": PASSWORD})).await;
    assert_eq!(
        (st, body["error"]["fields"][0]["field"].clone()),
        (400, json!("email")),
        "{body}"
    );
    let (st, body) = register(json!({"email": "bob@example.com", "password": "short"})).await;
    assert_eq!(
        (st, body["error"]["fields"][0]["field"].clone()),
        (400, json!("password")),
        "{body}"
    );

    // Code + PKCE: the token carries the seed's claims.
    let scopes = ["read:content", "read:preferences", "write:playback"];
    let (access, refresh) = code_flow(
        &s,
        &phone_id,
        "com.example.mg:/cb",
        "ann@example.com",
        &scopes,
    )
    .await;
    let (header, payload) = claims(&access);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].as_str().unwrap().starts_with("auth-key-"));
    assert_eq!(payload["sub"], ann.to_string());
    assert_eq!(payload["iss"], s.api);
    assert_eq!(payload["aud"], json!(["media-gateway-api"]));
    assert_eq!(
        payload["scope"],
        "read:content read:preferences write:playback"
    );
    assert_eq!(payload["roles"], json!(["user"]));
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        3600
    );
    assert!(payload["jti"].as_str().unwrap().parse::<Uuid>().is_ok());
    let (st, body) = me(&s, &access).await;
    assert_eq!((st, body["user_id"].clone()), (200, json!(ann.to_string())));

    // Refresh rotates; presenting the old one again revokes the whole family.
    let client = oauth_client!(phone_id.as_str(), "com.example.mg:/cb");
    let http = http_client(&s.api);
    let rotated = client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .expect("refresh");
    let refresh2 = rotated.refresh_token().unwrap().secret().clone();
    let access2 = rotated.access_token().secret().clone();
    assert_ne!(refresh2, refresh);
    assert_eq!(me(&s, &access2).await.0, 200);
    let reuse = client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(reuse), "invalid_grant");
    let after = client
        .exchange_refresh_token(&RefreshToken::new(refresh2))
        .request_async(&http)
        .await
        .unwrap_err();
    assert_eq!(
        oauth_error(after),
        "invalid_grant",
        "the rotated token died with its family"
    );
    let (st, body) = me(&s, &access2).await;
    assert_eq!(
        (st, body["error"]["code"].clone()),
        (401, json!("invalid_token")),
        "{body}"
    );

    // RFC 7009: revoking a refresh token ends the sign-in; revoking an access token ends it too.
    let (access3, refresh3) = code_flow(
        &s,
        &phone_id,
        "com.example.mg:/cb",
        "ann@example.com",
        &scopes,
    )
    .await;
    client
        .revoke_token(StandardRevocableToken::RefreshToken(RefreshToken::new(
            refresh3.clone(),
        )))
        .unwrap()
        .request_async(&http)
        .await
        .expect("revoke");
    let dead = client
        .exchange_refresh_token(&RefreshToken::new(refresh3))
        .request_async(&http)
        .await
        .unwrap_err();
    assert_eq!(oauth_error(dead), "invalid_grant");
    assert_eq!(me(&s, &access3).await.0, 401);
    let (access4, _) = code_flow(
        &s,
        &phone_id,
        "com.example.mg:/cb",
        "ann@example.com",
        &scopes,
    )
    .await;
    assert_eq!(me(&s, &access4).await.0, 200);
    client
        .revoke_token(StandardRevocableToken::AccessToken(
            oauth2::AccessToken::new(access4.clone()),
        ))
        .unwrap()
        .request_async(&http)
        .await
        .expect("revoke");
    assert_eq!(me(&s, &access4).await.0, 401);

    // A family lives 90 days at most, however often it is refreshed (issue 22).
    let (_, old) = code_flow(
        &s,
        &phone_id,
        "com.example.mg:/cb",
        "ann@example.com",
        &scopes,
    )
    .await;
    sqlx::query("UPDATE auth.refresh_tokens SET created_at = created_at - interval '91 days' WHERE revoked_at IS NULL")
        .execute(&s.pool)
        .await
        .unwrap();
    let last = client
        .exchange_refresh_token(&RefreshToken::new(old))
        .request_async(&http)
        .await
        .expect("the family's last refresh")
        .refresh_token()
        .unwrap()
        .secret()
        .clone();
    let expired = client
        .exchange_refresh_token(&RefreshToken::new(last))
        .request_async(&http)
        .await
        .unwrap_err();
    assert_eq!(
        oauth_error(expired),
        "invalid_grant",
        "the family outlived its lifetime"
    );

    // Sign-ins, issuance and revocations are audit events, published on `auth.audit`.
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'auth_audit' ORDER BY aggregate_id",
    )
    .fetch_all(&s.pool)
    .await
    .unwrap();
    for k in [
        "UserRegistered",
        "ClientRegistered",
        "SignedIn",
        "TokensIssued",
        "RefreshFamilyRevoked",
        "AccessTokenRevoked",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let reuse_reasons: i64 = s
        .count("SELECT count(*) FROM events WHERE event_type = 'RefreshFamilyRevoked' AND payload->>'reason' = 'refresh_reuse'")
        .await;
    assert_eq!(reuse_reasons, 1);
    let n = kinds.len();
    let topic = s.topic("auth.audit");
    let records = s
        .eventually(30, "audit events on Kafka", || {
            let topic = topic.clone();
            async move {
                let r = common::read_topic(&topic).await;
                (r.len() >= n).then_some(r)
            }
        })
        .await;
    use rdkafka::message::{Headers, Message};
    let first = &records[0];
    let event_type = first
        .headers()
        .unwrap()
        .iter()
        .find(|h| h.key == "event_type")
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(event_type.as_deref(), Some("mediagw.auth.AuthAudit"));
    // No personal data in the audit trail.
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload::text FROM events WHERE aggregate_type = 'auth_audit'")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    assert!(payloads
        .iter()
        .all(|p| !p.contains("example.com") && !p.contains(PASSWORD)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_grant_for_a_tv() {
    let mut s = Stack::new("auth_device").await;
    s.set_env("MEDIAGW__AUTH__DEVICE_INTERVAL_S", "1");
    s.start_all().await;
    let user = add_user(&s, "tv-owner@example.com", false);
    add_client(
        &s,
        &[
            "--name",
            "Living-room TV",
            "--client-id",
            "tv",
            "--grant",
            "device_code",
            "--grant",
            "refresh_token",
        ],
    );
    let client = oauth_client!("tv", "http://127.0.0.1:9/unused");
    let http = http_client(&s.api);
    let (client_ref, http_ref) = (&client, &http);
    let start = || async move {
        let (client, http) = (client_ref, http_ref);
        client
            .exchange_device_code()
            .add_scope(Scope::new("read:content".into()))
            .add_scope(Scope::new("write:playback".into()))
            .request_async(&http)
            .await
            .expect("device authorization")
    };
    let details: StandardDeviceAuthorizationResponse = start().await;
    let code = details.user_code().secret().clone();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-");
    assert!(code
        .chars()
        .filter(|c| *c != '-')
        .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{}/device", s.api)
    );
    assert_eq!(details.expires_in(), Duration::from_secs(900));
    assert_eq!(details.interval(), Duration::from_secs(1));

    // Polling before approval: pending, and too fast → slow_down.
    let poll = |device_code: String| {
        let api = s.api.clone();
        async move {
            let r = plain()
                .post(format!("{api}/oauth/token"))
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &device_code),
                    ("client_id", "tv"),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }
    };
    let device_code = details.device_code().secret().clone();
    let (st, body) = poll(device_code.clone()).await;
    assert_eq!(
        (st, body["error"].clone()),
        (400, json!("authorization_pending"))
    );
    let (_, body) = poll(device_code.clone()).await;
    assert_eq!(body["error"], "slow_down");

    // The person: verification page, a wrong code, then the right one (typed in lower case).
    let page = browser()
        .get(format!("{}/device?user_code={code}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let (login_cookie, page) = cookie_and_page(page).await;
    assert!(page.contains(&code));
    let login_csrf = hidden_value(&page, "csrf");
    let wrong = browser()
        .post(format!("{}/device", s.api))
        .form(&[
            ("user_code", "BBBB-BBBB"),
            ("email", "tv-owner@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let entered = browser()
        .post(format!("{}/device", s.api))
        .header("cookie", &login_cookie)
        .form(&[
            ("user_code", code.to_lowercase().as_str()),
            ("email", "tv-owner@example.com"),
            ("password", PASSWORD),
            ("csrf", login_csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(entered.status(), 200);
    let cookie = entered.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = entered.text().await.unwrap();
    assert!(
        html.contains("Living-room TV") && html.contains("write:playback"),
        "{html}"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let forged = browser()
        .post(format!("{}/device/approve", s.api))
        .header("cookie", &cookie)
        .form(&[
            ("user_code", code.as_str()),
            ("csrf", "forged"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a cross-site form without the CSRF token is refused"
    );
    let approved = browser()
        .post(format!("{}/device/approve", s.api))
        .header("cookie", &cookie)
        .form(&[
            ("user_code", code.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert!(approved.text().await.unwrap().contains("connected"));

    // The TV's library loop gets its token.
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, Some(Duration::from_secs(20)))
        .await
        .expect("device token");
    let (_, payload) = claims(token.access_token().secret());
    assert_eq!(payload["sub"], user.to_string());
    assert_eq!(payload["scope"], "read:content write:playback");
    assert!(payload["device_id"].as_str().is_some_and(|d| !d.is_empty()));
    let (st, _) = poll(device_code).await;
    assert_eq!(st, 400, "a device code gives tokens once");

    // Denied, and expired.
    let denied = start().await;
    let dcode = denied.user_code().secret().clone();
    let approved = browser()
        .post(format!("{}/device/approve", s.api))
        .header("cookie", &cookie)
        .form(&[
            ("user_code", dcode.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let (_, body) = poll(denied.device_code().secret().clone()).await;
    assert_eq!(body["error"], "access_denied");
    let late = start().await;
    sqlx::query("UPDATE auth.device_codes SET expires_at = now() - interval '1 second' WHERE user_code = $1")
        .bind(late.user_code().secret().replace('-', ""))
        .execute(&s.pool)
        .await
        .unwrap();
    let (_, body) = poll(late.device_code().secret().clone()).await;
    assert_eq!(body["error"], "expired_token");
    let kinds: i64 = s
        .count("SELECT count(*) FROM events WHERE event_type = 'DeviceAuthorized'")
        .await;
    assert_eq!(kinds, 2);
}

/// Signs `claims` with the server's real private key under `kid` (or a chosen header).
async fn forge(s: &Stack, header: Header, claims: &Value) -> String {
    let der: Vec<u8> = sqlx::query_scalar("SELECT private_der FROM auth.signing_keys LIMIT 1")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_a_security_review_expects() {
    let mut s = Stack::new("auth_sec").await;
    s.start_all().await;
    let ann = add_user(&s, "ann@example.com", false);
    let bob = add_user(&s, "bob@example.com", false);
    add_client(
        &s,
        &[
            "--name",
            "App",
            "--client-id",
            "app",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        ],
    );
    add_client(
        &s,
        &[
            "--name",
            "Reader",
            "--client-id",
            "reader",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--scope",
            "read:content",
        ],
    );
    let secret = add_client(
        &s,
        &[
            "--name",
            "Backend",
            "--client-id",
            "backend",
            "--redirect-uri",
            "https://backend.example/cb",
            "--confidential",
        ],
    )["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let redirect = "http://127.0.0.1:9/cb";
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let authorize = |extra: &[(&str, &str)]| {
        let mut u = url::Url::parse(&format!("{PUBLIC}/oauth/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "app")
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "xyz")
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        let mut pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        let mut u = url::Url::parse(&format!("{PUBLIC}/oauth/authorize")).unwrap();
        u.query_pairs_mut().extend_pairs(pairs);
        u.to_string()
    };

    // PKCE is mandatory and S256 only; errors go back to the client with its state.
    let (st, p) = sign_in(
        &s,
        &authorize(&[("code_challenge", "")]),
        "ann@example.com",
        PASSWORD,
        "approve",
    )
    .await;
    assert_eq!(
        (st, param(&p, "error"), param(&p, "state")),
        (303, Some("invalid_request".into()), Some("xyz".into()))
    );
    let (_, p) = sign_in(
        &s,
        &authorize(&[("code_challenge_method", "plain")]),
        "ann@example.com",
        PASSWORD,
        "approve",
    )
    .await;
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_request"));
    // A redirect URI that is not registered exactly is never redirected to.
    let (st, p) = sign_in(
        &s,
        &authorize(&[("redirect_uri", "http://127.0.0.1:9/cb/evil")]),
        "ann@example.com",
        PASSWORD,
        "approve",
    )
    .await;
    assert_eq!((st, p.is_empty()), (400, true));
    let (st, _) = sign_in(
        &s,
        &authorize(&[("client_id", "nobody")]),
        "ann@example.com",
        PASSWORD,
        "approve",
    )
    .await;
    assert_eq!(st, 400);
    // Scope escalation beyond the client's registration.
    let (_, p) = sign_in(
        &s,
        &authorize(&[
            ("client_id", "reader"),
            ("scope", "read:content write:playback"),
        ]),
        "ann@example.com",
        PASSWORD,
        "approve",
    )
    .await;
    assert_eq!(param(&p, "error").as_deref(), Some("invalid_scope"));
    // Wrong password: no code; denial: access_denied.
    let (st, p) = sign_in(
        &s,
        &authorize(&[]),
        "ann@example.com",
        "wrong password!!",
        "approve",
    )
    .await;
    assert_eq!((st, param(&p, "code")), (401, None));
    let (_, p) = sign_in(&s, &authorize(&[]), "ann@example.com", PASSWORD, "deny").await;
    assert_eq!(param(&p, "error").as_deref(), Some("access_denied"));

    // Token endpoint: wrong verifier, missing verifier, other redirect URI; then code reuse.
    let (_, p) = sign_in(&s, &authorize(&[]), "ann@example.com", PASSWORD, "approve").await;
    let code = param(&p, "code").unwrap();
    let exchange = |form: Vec<(&'static str, String)>| {
        let api = s.api.clone();
        async move {
            let r = plain()
                .post(format!("{api}/oauth/token"))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let base = |verifier: &str, redirect: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("client_id", "app".to_string()),
            ("redirect_uri", redirect.to_string()),
            ("code_verifier", verifier.to_string()),
        ]
    };
    let (st, body) = exchange(base(&"x".repeat(43), redirect)).await;
    assert_eq!(
        (st, body["error"].clone()),
        (400, json!("invalid_grant")),
        "{body}"
    );
    let (_, body) = exchange(base(verifier.secret(), "http://127.0.0.1:9/other")).await;
    assert_eq!(body["error"], "invalid_grant");
    let mut no_verifier = base("", redirect);
    no_verifier.pop();
    let (_, body) = exchange(no_verifier).await;
    assert_eq!(body["error"], "invalid_request");
    let (st, first) = exchange(base(verifier.secret(), redirect)).await;
    assert_eq!(st, 200, "{first}");
    let (_, body) = exchange(base(verifier.secret(), redirect)).await;
    assert_eq!(body["error"], "invalid_grant", "a code is single-use");
    let first_access = first["access_token"].as_str().unwrap();
    assert_eq!(
        me(&s, first_access).await.0,
        401,
        "a replayed code revokes what it gave"
    );
    let (_, body) = exchange(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            first["refresh_token"].as_str().unwrap().into(),
        ),
        ("client_id", "app".into()),
    ])
    .await;
    assert_eq!(body["error"], "invalid_grant");

    // Confidential clients must authenticate; refresh cannot widen scopes.
    let backend = BasicClient::new(ClientId::new("backend".into()))
        .set_client_secret(ClientSecret::new("wrong".into()))
        .set_token_uri(TokenUrl::new(format!("{PUBLIC}/oauth/token")).unwrap());
    let e = backend
        .exchange_refresh_token(&RefreshToken::new("whatever".into()))
        .request_async(&http_client(&s.api))
        .await
        .unwrap_err();
    assert_eq!(oauth_error(e), "invalid_client");
    let (st, body) = exchange(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", "x".into()),
        ("client_id", "backend".into()),
    ])
    .await;
    assert_eq!((st, body["error"].clone()), (401, json!("invalid_client")));
    let _ = secret;
    let (access, refresh) =
        code_flow(&s, "app", redirect, "ann@example.com", &["read:content"]).await;
    let (_, body) = exchange(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", "app".into()),
        ("scope", "read:content write:playback".into()),
    ])
    .await;
    assert_eq!(body["error"], "invalid_scope");

    // Tokens the gateway must refuse, each signed with the real key where a signature applies.
    let kid: String = sqlx::query_scalar("SELECT kid FROM auth.signing_keys LIMIT 1")
        .fetch_one(&s.pool)
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": ann.to_string(), "iss": s.api, "aud": ["media-gateway-api"], "exp": now + 600, "iat": now, "nbf": now,
        "jti": Uuid::new_v4().to_string(), "scope": "read:content read:preferences", "roles": ["user"], "client_id": "app", "tier": "free"});
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let mut rs = Header::new(Algorithm::RS256);
    rs.kid = Some(kid.clone());
    let control = forge(&s, rs.clone(), &good).await;
    assert_eq!(
        me(&s, &control).await.0,
        200,
        "the forging harness itself is sound"
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let jwks: Value = plain()
        .get(format!("{}/.well-known/jwks.json", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_n = jwks["keys"][0]["n"].as_str().unwrap().to_string();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let confused =
        jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(public_n.as_bytes())).unwrap();
    let mut unknown = rs.clone();
    unknown.kid = Some("auth-key-unknown".into());
    let cases = [
        ("alg none", none),
        ("HS256 keyed with the public key", confused),
        ("unknown kid", forge(&s, unknown, &good).await),
        (
            "wrong aud",
            forge(&s, rs.clone(), &with("aud", json!(["another-api"]))).await,
        ),
        (
            "wrong iss",
            forge(&s, rs.clone(), &with("iss", json!("https://evil.example"))).await,
        ),
        (
            "expired",
            forge(&s, rs.clone(), &with("exp", json!(now - 120))).await,
        ),
        (
            "not yet valid",
            forge(&s, rs.clone(), &with("nbf", json!(now + 600))).await,
        ),
        ("tampered", format!("{}x", &control[..control.len() - 1])),
        ("garbage", "not-a-jwt".to_string()),
    ];
    for (what, token) in cases {
        let (st, body) = me(&s, &token).await;
        assert_eq!(st, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token", "{what}");
    }
    let r = plain()
        .get(format!("{}/v1/auth/me", s.api))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Scopes per route, and one user reading another's data (IDOR).
    let reader = s.token(ann, "read:content");
    let get = |token: String, path: String| {
        let api = s.api.clone();
        async move {
            let r = plain()
                .get(format!("{api}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, body) = get(reader.clone(), format!("/v1/sync/state/{ann}")).await;
    assert_eq!(
        (st, body["error"]["code"].clone()),
        (403, json!("insufficient_scope")),
        "{body}"
    );
    let (st, _) = get(access.clone(), "/v1/search/trending".into()).await;
    assert_eq!(st, 200, "read:content reads the catalog");
    let (st, body) = get(
        s.token(ann, "read:preferences"),
        "/v1/search/trending".into(),
    )
    .await;
    assert_eq!(
        (st, body["error"]["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    let ann_all = s.token(ann, "");
    let (st, _) = get(ann_all.clone(), format!("/v1/sync/state/{bob}")).await;
    assert_eq!(st, 403);
    let (st, _) = get(ann_all.clone(), format!("/v1/sync/devices/{bob}")).await;
    assert_eq!(st, 403);
    let (st, _) = get(
        ann_all.clone(),
        format!("/v1/search?q=matrix&user_id={bob}"),
    )
    .await;
    assert_eq!(st, 403, "personalising with another user's taste");
    let r = plain()
        .get(format!("{}/v1/search?q=matrix&user_id={bob}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let op = json!({"device_id": Uuid::new_v4(), "operations": [{"operation_id": Uuid::new_v4(),
        "operation_type": {"type": "PlaybackUpdate", "content_id": Uuid::new_v4(), "position_ms": 1000},
        "timestamp": {"physical_ms": now * 1000, "logical": 0, "device_id": Uuid::nil()}, "device_id": Uuid::nil()}]});
    let r = plain()
        .post(format!("{}/v1/sync/merge", s.api))
        .bearer_auth(s.token(ann, "write:preferences"))
        .json(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "playback needs write:playback");

    // Operator routes.
    let r = plain()
        .post(format!("{}/admin/clients", s.api))
        .bearer_auth(&ann_all)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = plain()
        .post(format!("{}/admin/clients", s.api))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = plain()
        .post(format!("{}/internal/ingest", s.api))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = plain()
        .post(format!("{}/internal/ingest", s.api))
        .bearer_auth(&ann_all)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// Fires `n` requests at once (many connections) and counts 200s and 429s; also how long it took
/// (the bucket refills meanwhile).
async fn burst(s: &Stack, n: usize, token: Option<String>) -> (usize, usize, f64) {
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (url, token) = (format!("{}/v1/search/trending", s.api), token.clone());
        tasks.spawn(async move {
            let mut rb = reqwest::Client::new().get(url);
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            rb.send().await.unwrap().status().as_u16()
        });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(st) = tasks.join_next().await {
        match st.unwrap() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, limited, started.elapsed().as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_rate_limits_and_gateway_layers() {
    let mut s = Stack::new("gateway").await;
    s.seed_rate_limits();
    s.set_env(
        "MEDIAGW__GATEWAY__CORS_ORIGINS",
        "[\"https://app.example\"]",
    );
    s.start_all().await;

    // Anonymous (per IP): burst 5, then 429 with Retry-After and RateLimit-*.
    let first = plain()
        .get(format!("{}/v1/search/trending", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "ratelimit-limit").as_deref(), Some("10"));
    assert_eq!(header(&first, "ratelimit-remaining").as_deref(), Some("4"));
    assert_eq!(
        header(&first, "ratelimit-policy").as_deref(),
        Some("10;w=60;burst=5")
    );
    let (ok, limited, took) = burst(&s, 49, None).await;
    assert!(took < 5.0, "the burst took {took} s");
    assert_eq!((ok, limited), (4, 45), "exactly the burst passes");
    let r = plain()
        .get(format!("{}/v1/search/trending", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("0"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // Signed-in users are limited per user, by tier, whatever the IP has spent.
    // Exactly the burst, plus what the sustained rate refilled while the burst was in flight.
    let (ok, limited, took) = burst(&s, 200, Some(s.token_of_tier(Tier::Free))).await;
    let refill = (took / 0.6).ceil() as usize;
    assert!(
        (20..=20 + refill).contains(&ok),
        "free: {ok} admitted in {took:.2} s"
    );
    assert_eq!(ok + limited, 200);
    let (ok, _, took) = burst(&s, 400, Some(s.token_of_tier(Tier::Premium))).await;
    let refill = (took / 0.06).ceil() as usize;
    assert!(
        (100..=100 + refill).contains(&ok),
        "premium: {ok} admitted in {took:.2} s"
    );

    // Guessing device codes spends the per-IP sign-in budget (burst 5).
    let mut statuses = vec![];
    for _ in 0..6 {
        let r = browser()
            .post(format!("{}/device", s.api))
            .form(&[
                ("user_code", "BBBB-BBBB"),
                ("email", "x@example.com"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 400, 400, 429]);

    // Request ids: echoed when sane, generated otherwise. CORS for the configured origin only.
    let premium = s.token_of_tier(Tier::Premium);
    let r = plain()
        .get(format!("{}/v1/auth/me", s.api))
        .bearer_auth(&premium)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-request-id").as_deref(), Some("req-42"));
    let r = plain()
        .get(format!("{}/v1/auth/me", s.api))
        .bearer_auth(&premium)
        .header("x-request-id", "x".repeat(300))
        .send()
        .await
        .unwrap();
    assert!(header(&r, "x-request-id").unwrap().parse::<Uuid>().is_ok());
    let r = plain()
        .get(format!("{}/v1/auth/me", s.api))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap();
    assert!(header(&r, "x-request-id").unwrap().parse::<Uuid>().is_ok());
    let preflight = |origin: &'static str| {
        let api = s.api.clone();
        async move {
            plain()
                .request(reqwest::Method::OPTIONS, format!("{api}/v1/search"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .send()
                .await
                .unwrap()
        }
    };
    let r = preflight("https://app.example").await;
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let r = preflight("https://evil.example").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);

    // Body limit (the harness sets 64 KiB).
    let r = plain()
        .post(format!("{}/v1/search", s.api))
        .bearer_auth(&premium)
        .header("content-type", "application/json")
        .body(format!("{{\"query\": \"{}\"}}", "a".repeat(70_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Discovery, JWKS and key rotation: tokens signed before a rotation stay valid.
    let meta: Value = plain()
        .get(format!("{}/.well-known/oauth-authorization-server", s.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], s.api);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", s.api));
    let api = s.api.clone();
    let jwks = || {
        let api = api.clone();
        async move {
            plain()
                .get(format!("{api}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(jwks().await["keys"].as_array().unwrap().len(), 1);
    let before = s.token_of_tier(Tier::Premium);
    let new_kid = s.run_ok(&["auth", "rotate-key"]).trim().to_string();
    s.tokens.keys().reload().await.unwrap();
    let after = s.token_of_tier(Tier::Premium);
    assert_eq!(claims(&after).0["kid"], new_kid);
    assert_eq!(
        me(&s, &after).await.0,
        200,
        "a key rotated elsewhere is picked up"
    );
    assert_eq!(
        me(&s, &before).await.0,
        200,
        "the old key still verifies its tokens"
    );
    let keys = s
        .eventually(70, "the rotated key published", || async {
            let k = jwks().await;
            (k["keys"].as_array().unwrap().len() == 2).then_some(k)
        })
        .await;
    assert!(keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == new_kid));

    // OpenAPI 3.1 for every route, and a docs page.
    // (Anonymous budget is spent by now: ask as a signed-in caller.)
    let doc: Value = plain()
        .get(format!("{}/v1/openapi.json", s.api))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/v1/search",
        "/v1/search/suggestions",
        "/v1/search/trending",
        "/v1/content/{id}",
        "/v1/content/batch",
        "/v1/content/{id}/availability",
        "/v1/content/by-external-id/{id_type}/{id_value}",
        "/v1/availability/changes",
        "/v1/availability/changes/stream",
        "/v1/availability/leaving-soon",
        "/v1/sync/ws",
        "/v1/sync/state/{user_id}",
        "/v1/sync/devices/{user_id}",
        "/v1/sync/merge",
        "/v1/auth/register",
        "/v1/auth/me",
        "/admin/clients",
        "/oauth/authorize",
        "/oauth/token",
        "/oauth/device",
        "/oauth/revoke",
        "/device",
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/internal/ingest",
        "/internal/resolution/pending",
        "/internal/resolution/{id}/{decision}",
        "/health/live",
        "/v1/openapi.json",
        "/v1/recommendations",
        "/v1/recommendations/cold-start",
        "/v1/user/{user_id}/feedback",
        "/v1/user/{user_id}/profile",
        "/v1/user/{user_id}/services",
        "/v1/user/{user_id}/export",
        "/v1/user/{user_id}/import",
        "/v1/user/{user_id}",
        "/v1/devices",
        "/v1/devices/register",
        "/v1/devices/{device_id}",
        "/v1/playback/initiate",
        "/v1/playback/control",
        "/v1/playback/session/{session_id}",
        "/v1/content/{content_id}/watch",
        "/mcp",
        "/mcp/tools",
        "/.well-known/arw-manifest.json",
        "/v1/mcp/consent",
        "/v1/mcp/consents/{client_id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let search = &doc["paths"]["/v1/search"]["post"];
    assert_eq!(
        search["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SearchRequest"
    );
    for field in ["results", "total_count", "query_parsed", "search_time_ms"] {
        assert!(
            doc["components"]["schemas"]["SearchResponse"]["properties"][field].is_object(),
            "{field}"
        );
    }
    let r = plain()
        .get(format!("{}/v1/docs", s.api))
        .bearer_auth(&premium)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The page's script is pinned (version and Subresource Integrity) and fenced by a CSP.
    let csp = header(&r, "content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("/v1/openapi.json"));
    assert!(
        html.contains("integrity=\"sha384-") && html.contains("@scalar/api-reference@1."),
        "{html}"
    );
}

/// Sign-in limits per account (issue 22): failed passwords make the account back off whatever
/// address the guesses come from, while someone else signing in from the same address (a NAT)
/// is not locked out by the guesser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_limits_are_per_account_with_backoff() {
    let mut s = Stack::new("auth_backoff").await;
    s.seed_rate_limits();
    s.start_all().await;
    add_user(&s, "ann@example.com", false);
    add_user(&s, "bob@example.com", false);
    add_client(
        &s,
        &[
            "--name",
            "App",
            "--client-id",
            "app",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        ],
    );
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let mut u = url::Url::parse(&format!("{PUBLIC}/oauth/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", "http://127.0.0.1:9/cb")
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let url = u.to_string();

    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(
            sign_in(&s, &url, "ann@example.com", "wrong password", "approve")
                .await
                .0,
        );
    }
    assert_eq!(statuses, [401; 5]);
    // Ann's account now waits, even for the right password…
    let (st, _) = sign_in(&s, &url, "ann@example.com", PASSWORD, "approve").await;
    assert_eq!(st, 429);
    // …while Bob, behind the same address, signs in (the old per-address budget of 5 was spent).
    let (st, p) = sign_in(&s, &url, "bob@example.com", PASSWORD, "approve").await;
    assert_eq!(st, 303, "{p:?}");
    assert!(param(&p, "code").is_some(), "{p:?}");
    // What is counted names nobody.
    let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT account FROM auth.sign_in_failures")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!String::from_utf8_lossy(&rows[0]).contains("ann"));
    // The backoff is short at first; a success clears it.
    let started = std::time::Instant::now();
    loop {
        let (st, _) = sign_in(&s, &url, "ann@example.com", PASSWORD, "approve").await;
        if st == 303 {
            break;
        }
        assert_eq!(st, 429);
        assert!(started.elapsed().as_secs() < 20, "Ann is still locked out");
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    assert_eq!(
        s.count("SELECT count(*) FROM auth.sign_in_failures").await,
        0
    );
}

/// A browser can sign out of the auth server (issue 22): the session row goes and its cookie is
/// cleared; a cross-site form without the session's CSRF token cannot do it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sessions_sign_out() {
    let mut s = Stack::new("auth_signout").await;
    s.start("api");
    s.wait_http(&format!("{}/health/live", s.api)).await;
    add_user(&s, "ann@example.com", false);
    add_client(
        &s,
        &[
            "--name",
            "App",
            "--client-id",
            "app",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
        ],
    );
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&state=s&code_challenge={}&code_challenge_method=S256",
        s.api,
        challenge.as_str()
    );
    // Sign in through the consent page: the answer sets the session cookie.
    let (login_cookie, html) =
        cookie_and_page(browser().get(&authorize).send().await.unwrap()).await;
    let mut form = query(&authorize);
    form.extend([
        ("email".to_string(), "ann@example.com".to_string()),
        ("password".to_string(), PASSWORD.to_string()),
        ("decision".to_string(), "approve".to_string()),
        ("csrf".to_string(), hidden_value(&html, "csrf")),
    ]);
    let r = browser()
        .post(format!("{}/oauth/authorize", s.api))
        .header("cookie", login_cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("mg_session="))
        .expect("a session cookie");
    assert_eq!(s.count("SELECT count(*) FROM auth.sessions").await, 1);
    // The signed-in page carries the session's CSRF token.
    let page = browser()
        .get(&authorize)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let csrf = hidden_value(&page.text().await.unwrap(), "csrf");

    let forged = browser()
        .post(format!("{}/oauth/signout", s.api))
        .header("cookie", &session)
        .form(&[("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(s.count("SELECT count(*) FROM auth.sessions").await, 1);
    let out = browser()
        .post(format!("{}/oauth/signout", s.api))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let cleared = header(&out, "set-cookie").unwrap_or_default();
    assert!(
        cleared.starts_with("mg_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(s.count("SELECT count(*) FROM auth.sessions").await, 0);

    // The cleanup job takes what can no longer be used and leaves what can.
    let ann: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM auth.users WHERE email = 'ann@example.com'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
    mediagw_auth::store::create_session(&s.pool, ann, chrono::Duration::seconds(-60))
        .await
        .unwrap();
    let (live, _) = mediagw_auth::store::create_session(&s.pool, ann, chrono::Duration::hours(1))
        .await
        .unwrap();
    mediagw_auth::store::record_revoked(
        &mut s.pool.acquire().await.unwrap(),
        &[
            (
                uuid::Uuid::new_v4(),
                chrono::Utc::now() - chrono::Duration::minutes(5),
            ),
            (
                uuid::Uuid::new_v4(),
                chrono::Utc::now() + chrono::Duration::minutes(5),
            ),
        ],
    )
    .await
    .unwrap();
    let purged = mediagw_auth::store::purge_expired(&s.pool).await.unwrap();
    let count = |t: &str| purged.iter().find(|(n, _)| *n == t).map_or(0, |(_, c)| *c);
    assert_eq!(count("auth.sessions"), 1, "{purged:?}");
    assert_eq!(count("auth.revoked_access_tokens"), 1, "{purged:?}");
    assert!(mediagw_auth::store::session(&s.pool, &live)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        s.count("SELECT count(*) FROM auth.revoked_access_tokens")
            .await,
        1
    );
}

/// Signing keys at rest are sealed with the key-encryption key (issue 22): the server signs with
/// them, the table holds no usable private key, and a process without the KEK refuses to start
/// rather than mint tokens with something else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_encrypted_at_rest() {
    let mut s = Stack::new("auth_kek").await;
    let kek = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    s.set_env("MEDIAGW__AUTH__KEY_ENCRYPTION_KEY", &kek);
    s.start("api,registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    // A key created after start is sealed too.
    s.run_ok(&["auth", "rotate-key"]);
    let keys: Vec<Vec<u8>> = sqlx::query_scalar("SELECT private_der FROM auth.signing_keys")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert!(keys.len() >= 2);
    for k in &keys {
        assert!(k.starts_with(b"MGK1"), "a private key stored in clear");
        // A PKCS#1 RSA private key in clear starts with a DER SEQUENCE (0x30 0x82).
        assert!(!k.windows(2).take(1).any(|w| w == [0x30, 0x82]));
    }
    // Without the key-encryption key nothing starts that would need the private keys.
    let out = s
        .command(&["auth", "rotate-key"])
        .env("MEDIAGW__AUTH__KEY_ENCRYPTION_KEY", "")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key_encryption_key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A malformed KEK is refused by name.
    let out = s
        .command(&["auth", "rotate-key"])
        .env("MEDIAGW__AUTH__KEY_ENCRYPTION_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 bytes"));
}
