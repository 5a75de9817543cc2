//! Gateway layers every HTTP route goes through: request ids (generated when absent, echoed, and on
//! every span), access logging, metrics per route, CORS, body limits, and for the API the bearer
//! token check and the rate limits of the caller's tier ([`limits`]).

pub mod limits;
pub mod revocations;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use mediagw_auth::{AuthError, Caller, ClientIp, Gatekeeper, SignInAttempt, TokenService};
use mediagw_domain::auth::Tier;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::error::ApiError;
use limits::{Admission, GateStore, RatePolicy, RateTiers};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Gate {
    pub tokens: Arc<TokenService>,
    pub store: Arc<dyn GateStore>,
    /// This instance's copy of the revoked tokens (from PostgreSQL): revocation holds without Redis.
    pub denied: Arc<revocations::DenyList>,
    pub tiers: RateTiers,
    /// Behind a load balancer: take the client address from the last `X-Forwarded-For` hop.
    pub trust_forwarded_for: bool,
}

/// The auth server's view of the gate: its sign-in budget (tier `sign_in`, per IP) and the deny
/// list, both in the gate's store.
#[async_trait::async_trait]
impl Gatekeeper for Gate {
    async fn sign_in_attempt(
        &self,
        ip: &str,
        account: Option<&str>,
    ) -> Result<SignInAttempt, AuthError> {
        let ip = ip.parse().map_or(ip.to_string(), rate_key_ip);
        let policy = self.tiers.sign_in;
        let mut buckets = vec![];
        match account {
            Some(a) => {
                // Guessing one account from one address is the sign-in tier; an address trying
                // many accounts (spraying) has ten times that in all.
                buckets.push((format!("ip:{ip}:signin:{a}"), policy));
                buckets.push((
                    format!("ip:{ip}:signin"),
                    RatePolicy {
                        requests_per_minute: policy.requests_per_minute.saturating_mul(10),
                        burst: policy.burst.saturating_mul(10),
                    },
                ));
            }
            None => buckets.push((format!("ip:{ip}:signin"), policy)),
        }
        for (key, policy) in buckets {
            match self.store.admit(&key, policy, None).await {
                Ok(Admission::Limited { retry_after_s, .. }) => {
                    return Ok(SignInAttempt::Limited { retry_after_s })
                }
                Ok(_) => {}
                Err(e) => return Err(AuthError::Gate(e.to_string())),
            }
        }
        Ok(SignInAttempt::Allowed)
    }

    /// Effective on this instance at once; spread to the others through Redis, retried in the
    /// background while Redis is down (they load it from PostgreSQL within a second anyway).
    async fn deny(&self, jti: Uuid, until: DateTime<Utc>) -> Result<(), AuthError> {
        self.denied.insert(jti);
        if let Err(e) = self.store.revoke(jti, until).await {
            metrics::counter!("gateway_deny_writes_retried_total").increment(1);
            let store = self.store.clone();
            tokio::spawn(async move {
                let mut wait = Duration::from_millis(500);
                while Utc::now() < until {
                    tokio::time::sleep(wait).await;
                    if store.revoke(jti, until).await.is_ok() {
                        return;
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            });
            return Err(AuthError::Gate(e.to_string()));
        }
        Ok(())
    }
}

pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser (`*` for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
}

/// Request ids, tracing and metrics: every router (the schema registry too).
pub fn layer(router: Router) -> Router {
    router
        .layer(middleware::from_fn(track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            let route = req.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
            let span = tracing::info_span!("http", otel.name = %format_args!("{} {}", req.method(), route), otel.kind = "server", method = %req.method(), path = %req.uri().path(), request_id = %id, user_id = tracing::field::Empty);
            // A caller's W3C `traceparent` is continued: the request joins the caller's trace.
            mediagw_trace::continue_from(&span, |k| req.headers().get(k)?.to_str().ok());
            span
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn(sanitize_request_id))
}

/// The public API: [`layer`] plus CORS, body limits, bearer tokens and rate limits.
pub fn api_layer(router: Router, gate: Arc<Gate>, http: &HttpSettings) -> Router {
    let router = router
        .layer(middleware::from_fn_with_state(gate, admit))
        .layer(middleware::from_fn(json_errors))
        .layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        .layer(axum::extract::DefaultBodyLimit::max(http.max_body_bytes));
    let router = if http.cors_origins.is_empty() {
        router
    } else {
        router.layer(cors(&http.cors_origins))
    };
    layer(router)
}

/// Every error of the `/v1` and `/internal` routes in the API's JSON shape, including the ones
/// the framework answers by itself in plain text (a query string that does not parse, an unknown
/// route, a wrong method, a body over the limit). `/oauth/*` keeps RFC 6749 bodies, `/mcp` its
/// JSON-RPC ones.
async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || !(path.starts_with("/v1/") || path.starts_with("/internal/"))
        || path.starts_with("/v1/sync/ws")
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_parameter",
        429 => "rate_limited",
        s if s >= 500 => "internal",
        _ => "invalid_request",
    };
    let message = if status.is_server_error() || text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(Duration::from_secs(600))
}

/// A client-supplied request id is echoed only when it is short and printable; otherwise a fresh
/// one is generated (ids end up in logs).
async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let bad = req
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|v| v.len() > 128 || !v.as_bytes().iter().all(|b| b.is_ascii_graphic()));
    if bad {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// The address a rate bucket is keyed by: IPv4 as it is, IPv6 by its /64 (one subscriber's whole
/// allocation: rotating addresses inside it must not buy a fresh budget).
pub fn rate_key_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn client_ip(req: &Request, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let hop = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse().ok());
        if let Some(ip) = hop {
            return ip;
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The bearer token of a request: the `Authorization` header, or (WebSocket upgrades only, where
/// browsers cannot set headers) the `access_token` query parameter.
pub fn bearer(req: &Request) -> Result<Option<String>, ApiError> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        let v = v
            .to_str()
            .map_err(|_| ApiError::InvalidToken("malformed Authorization header".into()))?;
        return match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(Some(token.trim().to_string()))
            }
            _ => Err(ApiError::InvalidToken(
                "use `Authorization: Bearer <token>`".into(),
            )),
        };
    }
    // Browsers cannot set headers on a WebSocket: the socket route alone takes the token from
    // the query string (anywhere else it would land in logs and histories).
    if req.headers().contains_key(header::UPGRADE) && req.uri().path() == "/v1/sync/ws" {
        if let Some(q) = req.uri().query() {
            for pair in q.split('&') {
                if let Some(t) = pair.strip_prefix("access_token=") {
                    return Ok(Some(t.to_string()));
                }
            }
        }
    }
    Ok(None)
}

/// Authenticates the bearer token (if any), checks it against the deny list, spends one request
/// of the caller's tier (per user when signed in, per IP otherwise) and sets `RateLimit-*`.
async fn admit(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/health") || path == "/metrics" || path.starts_with("/.well-known/") {
        return next.run(req).await;
    }
    let client = client_ip(&req, gate.trust_forwarded_for);
    req.extensions_mut().insert(ClientIp(client));
    let ip = rate_key_ip(client);
    let auth_server = path.starts_with("/oauth/") || path.starts_with("/device");
    let caller: Option<Caller> = if auth_server {
        // Client authentication there is HTTP Basic, not a bearer token.
        None
    } else {
        match bearer(&req) {
            Err(e) => return e.into_response(),
            Ok(None) => None,
            Ok(Some(token)) => match gate.tokens.validate(&token).await {
                Ok(c) => Some(c),
                Err(e) => {
                    metrics::counter!("gateway_tokens_rejected_total").increment(1);
                    // Bad tokens spend the IP's anonymous budget: guessing is not free.
                    let spent = gate
                        .store
                        .admit(&format!("ip:{ip}"), gate.tiers.anonymous, None)
                        .await;
                    if let Ok(Admission::Limited { retry_after_s, .. }) = spent {
                        return ApiError::RateLimited { retry_after_s }.into_response();
                    }
                    return ApiError::from(e).into_response();
                }
            },
        }
    };
    if caller.as_ref().is_some_and(|c| gate.denied.contains(c.jti)) {
        metrics::counter!("gateway_tokens_rejected_total").increment(1);
        return ApiError::InvalidToken("token revoked".into()).into_response();
    }
    if let Some(c) = &caller {
        // Handlers that hold a connection open (sync sockets) watch for their token's revocation.
        req.extensions_mut().insert(revocations::Revocations {
            list: gate.denied.clone(),
            jti: c.jti,
        });
    }
    let (key, policy) = match &caller {
        _ if auth_server => (format!("ip:{ip}:oauth"), gate.tiers.oauth),
        Some(c) => (
            format!("user:{}", c.user_id),
            match c.tier {
                Tier::Free => gate.tiers.free,
                Tier::Premium => gate.tiers.premium,
            },
        ),
        None => (format!("ip:{ip}"), gate.tiers.anonymous),
    };
    let admission = match gate
        .store
        .admit(&key, policy, caller.as_ref().map(|c| c.jti))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            // Rate limits fail open (a Redis outage must not take the API down); revocation was
            // checked above against this instance's own copy of the deny list.
            tracing::warn!(error = %e, "rate-limit store unavailable; admitting");
            metrics::counter!("gateway_limit_store_errors_total").increment(1);
            Admission::Allowed {
                remaining: u64::from(policy.burst),
                reset_s: 0,
            }
        }
    };
    match admission {
        Admission::Revoked => ApiError::InvalidToken("token revoked".into()).into_response(),
        Admission::Limited {
            retry_after_s,
            reset_s,
        } => {
            metrics::counter!("gateway_rate_limited_total").increment(1);
            let mut resp = ApiError::RateLimited { retry_after_s }.into_response();
            set_limit_headers(&mut resp, policy, 0, reset_s);
            resp
        }
        Admission::Allowed { remaining, reset_s } => {
            if let Some(c) = caller {
                tracing::Span::current().record("user_id", tracing::field::display(c.user_id));
                req.extensions_mut().insert(c);
            }
            let mut resp = next.run(req).await;
            set_limit_headers(&mut resp, policy, remaining, reset_s);
            resp
        }
    }
}

fn set_limit_headers(resp: &mut Response, policy: RatePolicy, remaining: u64, reset_s: u64) {
    let h = resp.headers_mut();
    h.insert("ratelimit-limit", policy.requests_per_minute.into());
    h.insert("ratelimit-remaining", remaining.into());
    h.insert("ratelimit-reset", reset_s.into());
    if let Ok(v) = HeaderValue::from_str(&policy.header()) {
        h.insert("ratelimit-policy", v);
    }
}

async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::histogram!("http_request_duration_seconds", "endpoint" => route.clone(), "method" => method.clone())
        .record(start.elapsed().as_secs_f64());
    metrics::counter!("http_requests_total", "endpoint" => route, "method" => method, "status" => status).increment(1);
    resp
}

#[cfg(test)]
mod rate_key_tests {
    use super::rate_key_ip;

    #[test]
    fn ipv6_addresses_of_one_subscriber_share_a_bucket() {
        let a = rate_key_ip("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rate_key_ip("2001:db8:1:2:bbbb:cccc::9".parse().unwrap());
        let other = rate_key_ip("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(rate_key_ip("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(
            rate_key_ip("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7"
        );
    }
}
