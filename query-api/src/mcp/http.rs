//! MCP over HTTP: Streamable HTTP at `/mcp` (behind the gateway: a bearer token is required, 401
//! points at the protected-resource metadata), the JSON listings for non-MCP clients, the ARW
//! manifest, and the consent routes the tools use.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mediagw_auth::Caller;
use mediagw_domain::auth::Scope;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::api::ApiClient;
use super::registry::{self, ACTIONS, TOOLS};
use super::server::{self, MediaGatewayMcp};
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct McpSettings {
    /// Public base URL (the OAuth issuer).
    pub issuer: String,
    /// Where the tools call the REST API (this instance's own listener).
    pub api_url: String,
    /// Requests per minute of the anonymous and of the lowest signed-in tier (manifest).
    pub anonymous_per_minute: u32,
    pub authenticated_per_minute: u32,
}

#[derive(Clone)]
struct Ctx {
    pool: PgPool,
    settings: Arc<McpSettings>,
}

pub fn router(pool: PgPool, settings: McpSettings, shutdown: CancellationToken) -> Router {
    let api = ApiClient::new(&settings.api_url);
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_sse_keep_alive(Some(std::time::Duration::from_secs(15)))
        // The bearer token (checked below) protects it, not the Host header: any host name works.
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(MediaGatewayMcp::for_http(api.clone())),
        LocalSessionManager::default().into(),
        config,
    );
    let ctx = Ctx {
        pool,
        settings: Arc::new(settings),
    };
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(ctx.clone(), require_token));
    Router::new()
        .route("/mcp/tools", get(tools))
        .route("/mcp/resources", get(resources))
        .route("/mcp/prompts", get(prompts))
        .route("/.well-known/arw-manifest.json", get(manifest))
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(protected_resource),
        )
        .route("/v1/mcp/consent", post(consent))
        .route("/v1/mcp/consents", get(consents))
        .route("/v1/mcp/consents/{client_id}", delete(revoke))
        .with_state(ctx)
        .merge(mcp)
}

/// MCP authorization: no token → 401 naming the protected-resource metadata (RFC 9728).
async fn require_token(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    if req.extensions().get::<Caller>().is_some() {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"code": "unauthorized", "message": "MCP needs `Authorization: Bearer <access token>` from this server's OAuth endpoints"}})),
    )
        .into_response();
    let challenge = format!(
        "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
        ctx.settings.issuer
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

fn tool_json(t: &rmcp::model::Tool) -> Value {
    let spec = registry::spec(&t.name);
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let (Some(s), Some(o)) = (spec, v.as_object_mut()) {
        o.insert(
            "oauth_scopes".into(),
            json!(s.scopes.iter().map(|x| x.as_str()).collect::<Vec<_>>()),
        );
        o.insert(
            "requires_user_consent".into(),
            json!(s.requires_user_consent),
        );
    }
    v
}

async fn tools() -> Json<Value> {
    Json(json!({"tools": MediaGatewayMcp::tools().iter().map(tool_json).collect::<Vec<_>>()}))
}

async fn resources() -> Json<Value> {
    Json(
        json!({"resources": server::resources(), "resourceTemplates": server::resource_templates()}),
    )
}

async fn prompts() -> Json<Value> {
    Json(json!({"prompts": server::prompts()}))
}

/// The ARW manifest in the seed's shape, from the tool registry.
async fn manifest(State(ctx): State<Ctx>) -> Json<Value> {
    let s = &ctx.settings;
    let actions: Vec<Value> = ACTIONS
        .iter()
        .map(|(id, name)| {
            let tools: Vec<_> = TOOLS.iter().filter(|t| t.action == *id).collect();
            let mut scopes: Vec<&str> = tools
                .iter()
                .flat_map(|t| t.scopes.iter().map(|s| s.as_str()))
                .collect();
            scopes.sort();
            scopes.dedup();
            let mut a = json!({
                "id": id,
                "name": name,
                "oauth_scopes": scopes,
                "tools": tools.iter().map(|t| t.name).collect::<Vec<_>>(),
            });
            if tools.iter().any(|t| t.requires_user_consent) {
                a["requires_user_consent"] = json!(true);
            }
            a
        })
        .collect();
    Json(json!({
        "$schema": "https://arw.agentics.org/schemas/manifest-v1.json",
        "version": "1.0.0",
        "site": {
            "name": "Media Gateway",
            "description": "Unified cross-platform TV and movie discovery engine",
            "logo": format!("{}/logo.svg", s.issuer)
        },
        "capabilities": {
            "mcp": {
                "version": rmcp::model::ProtocolVersion::LATEST.to_string(),
                "transports": ["stdio", "streamable-http"],
                "endpoint": "/mcp",
                "tools_url": "/mcp/tools",
                "resources_url": "/mcp/resources",
                "prompts_url": "/mcp/prompts"
            },
            "actions": actions
        },
        "authentication": {
            "oauth2": {
                "authorization_endpoint": "/oauth/authorize",
                "token_endpoint": "/oauth/token",
                "device_authorization_endpoint": "/oauth/device",
                "scopes": Scope::ALL.iter().map(|x| x.as_str()).collect::<Vec<_>>()
            }
        },
        "rate_limits": {
            "unauthenticated": s.anonymous_per_minute,
            "authenticated": s.authenticated_per_minute,
            "window_seconds": 60
        }
    }))
}

/// RFC 9728 protected-resource metadata for the MCP endpoint.
async fn protected_resource(State(ctx): State<Ctx>) -> Json<Value> {
    let s = &ctx.settings;
    Json(json!({
        "resource": format!("{}/mcp", s.issuer),
        "authorization_servers": [s.issuer],
        "scopes_supported": Scope::ALL.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Media Gateway MCP"
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentAsk {
    tool: String,
}

/// `POST /v1/mcp/consent {"tool": …}`: 200 `granted` (and audited as an action), or 202 with the
/// code the person approves on `/device`.
async fn consent(
    State(ctx): State<Ctx>,
    caller: Caller,
    Json(ask): Json<ConsentAsk>,
) -> Result<Response, ApiError> {
    let spec = registry::spec(&ask.tool).ok_or_else(|| ApiError::BadRequest {
        field: "tool",
        message: format!("unknown tool `{}`", ask.tool),
    })?;
    let scope = spec.scopes[0];
    caller.require_scope(scope)?;
    if !spec.requires_user_consent {
        return Ok(Json(json!({"status": "granted"})).into_response());
    }
    let c = mediagw_auth::consent::check_or_request(
        &ctx.pool,
        &ctx.settings.issuer,
        caller.user_id,
        &caller.client_id,
        scope,
    )
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    match c {
        mediagw_auth::consent::Consent::Granted => {
            mediagw_auth::consent::acted(
                &ctx.pool,
                caller.user_id,
                &caller.client_id,
                spec.name,
                scope,
            )
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Json(json!({"status": "granted"})).into_response())
        }
        pending => Ok((StatusCode::ACCEPTED, Json(pending)).into_response()),
    }
}

async fn consents(State(ctx): State<Ctx>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let list = mediagw_auth::consent::list(&ctx.pool, caller.user_id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({"consents": list})))
}

async fn revoke(
    State(ctx): State<Ctx>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let n = mediagw_auth::consent::revoke(&ctx.pool, caller.user_id, &client_id)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json!({"revoked": n})))
}
