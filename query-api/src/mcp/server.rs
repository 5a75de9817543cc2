//! The rmcp server: 14 tools, 4 resources and 3 prompts over the REST API.
//!
//! Who the agent is comes from the request (Streamable HTTP: the gateway's [`Caller`] and the
//! bearer token it checked) or from the process (stdio: `MEDIAGW_TOKEN`, resolved once through
//! `/v1/auth/me`). Every tool checks the scopes the registry gives it before anything else, and an
//! acting tool asks for the person's consent first (`POST /v1/mcp/consent`).

use std::sync::Arc;

use axum::http::request::Parts;
use mediagw_auth::Caller;
use mediagw_domain::auth::Scopes;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::api::{ApiClient, ApiFailure};
use super::registry;

/// The agent behind a call: the person it acts for and what its token allows.
#[derive(Debug, Clone)]
pub struct Agent {
    pub token: String,
    pub user_id: Uuid,
    pub client_id: String,
    pub scopes: Scopes,
}

impl Agent {
    /// Resolves a token through `GET /v1/auth/me` (stdio: once per process).
    pub async fn resolve(api: &ApiClient, token: &str) -> Result<Agent, ApiFailure> {
        let me = api.get("/v1/auth/me", token).await?;
        let bad = |what: &str| ApiFailure {
            status: 401,
            code: "invalid_token".into(),
            message: format!("/v1/auth/me answered without `{what}`"),
            body: me.clone(),
        };
        Ok(Agent {
            token: token.to_string(),
            user_id: me["user_id"]
                .as_str()
                .and_then(|u| Uuid::parse_str(u).ok())
                .ok_or_else(|| bad("user_id"))?,
            client_id: me["client_id"].as_str().unwrap_or_default().to_string(),
            scopes: Scopes::parse(me["scope"].as_str().unwrap_or_default())
                .map_err(|_| bad("scope"))?,
        })
    }
}

#[derive(Clone)]
pub struct MediaGatewayMcp {
    api: ApiClient,
    /// stdio: the one agent of this process; HTTP: `None` (each request brings its own).
    fixed: Option<Arc<Agent>>,
    tool_router: ToolRouter<Self>,
}

fn text_result(text: String, structured: Value) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(structured);
    r
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn api_error(tool: &str, e: ApiFailure) -> CallToolResult {
    let mut r = tool_error(format!(
        "{tool} failed ({} {}): {}",
        e.status, e.code, e.message
    ));
    r.structured_content = Some(
        json!({"error": {"status": e.status, "code": e.code, "message": e.message, "details": e.body["error"]}}),
    );
    r
}

/// "Heat (1995) [id …] — netflix (subscription), apple_tv (rent $3.99)".
fn title_line(c: &Value) -> String {
    let offers: Vec<String> = c["availability"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| match o["price_amount"].as_str() {
            Some(p) => format!(
                "{} ({} {p} {})",
                o["platform"].as_str().unwrap_or("?"),
                o["availability_type"].as_str().unwrap_or("?"),
                o["price_currency"].as_str().unwrap_or("")
            ),
            None => format!(
                "{} ({})",
                o["platform"].as_str().unwrap_or("?"),
                o["availability_type"].as_str().unwrap_or("?")
            ),
        })
        .collect();
    let year = c["release_year"]
        .as_i64()
        .map(|y| y.to_string())
        .or_else(|| {
            c["release_date"]
                .as_str()
                .map(|d| d[..4.min(d.len())].to_string())
        })
        .unwrap_or_default();
    format!(
        "{} ({year}) [id {}] — {}",
        c["title"].as_str().unwrap_or("?"),
        c["id"].as_str().unwrap_or("?"),
        if offers.is_empty() {
            "not streaming anywhere we know of".to_string()
        } else {
            offers.join(", ")
        }
    )
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- tool arguments (their JSON Schemas are generated from these types) ----

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// What the person is looking for, in their words ("funny space movies from the 90s").
    pub query: String,
    /// Optional filters: genres, platforms, content_types, year_range [from, to], rating_range
    /// [min, max] (audience rating 0–10; unrated titles are in no range).
    #[serde(default)]
    pub filters: Option<SearchFiltersArg>,
    /// How many results (1–50, default 10).
    #[serde(default)]
    pub limit: Option<u32>,
    /// ISO 3166-1 country (alpha-2 or alpha-3, default the person's region or `US`).
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SearchFiltersArg {
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    #[serde(default)]
    pub content_types: Option<Vec<String>>,
    #[serde(default)]
    pub year_range: Option<(i32, i32)>,
    #[serde(default)]
    pub rating_range: Option<(f32, f32)>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ContentArgs {
    /// The title's content id (as returned by search).
    #[serde(alias = "content_id")]
    pub entity_id: String,
    /// ISO 3166-1 country for availability (alpha-2 or alpha-3; default `USA`).
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RegionArgs {
    /// ISO 3166-1 country (alpha-2 or alpha-3; default `USA`).
    #[serde(default)]
    pub region: Option<String>,
    /// Only this platform (`netflix`).
    #[serde(default)]
    pub platform: Option<String>,
    /// How far ahead / back, in days (default 7).
    #[serde(default)]
    pub days: Option<i64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LimitArgs {
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SimilarArgs {
    /// The title to find neighbours of.
    #[serde(alias = "content_id")]
    pub entity_id: String,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RecommendArgs {
    /// Free-text situation ("date night", "after work").
    #[serde(default)]
    pub context: Option<String>,
    /// relaxing, exciting, thoughtful, funny, …
    #[serde(default)]
    pub mood: Option<String>,
    /// Ages of the viewers; anyone under 13 keeps it family-friendly.
    #[serde(default)]
    pub age_appropriate: Option<Vec<u32>>,
    /// 1–20, default 5.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WatchlistArgs {
    #[serde(alias = "content_id")]
    pub entity_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DevicesArgs {
    /// all (default), online or offline.
    #[serde(default)]
    pub status_filter: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PlaybackArgs {
    #[serde(alias = "content_id")]
    pub entity_id: String,
    /// One of the person's devices (see `list_devices`).
    pub device_id: String,
    /// Preferred platform slug.
    #[serde(default)]
    pub platform: Option<String>,
    /// Resume from the synced position (default true).
    #[serde(default)]
    pub resume: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ControlArgs {
    pub session_id: String,
    /// play, pause, seek or stop.
    pub command: String,
    /// Where to seek to, in milliseconds.
    #[serde(default)]
    pub position_ms: Option<i64>,
}

/// The region argument, alpha-2 (default `US`); the error names the field.
fn region_param(r: &Option<String>) -> Result<String, String> {
    match r.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok("US".into()),
        Some(raw) => mediagw_domain::catalog::normalize_region(raw).ok_or_else(|| {
            format!("`region`: `{raw}` is not an ISO 3166-1 country code (`US` or `USA`)")
        }),
    }
}

impl MediaGatewayMcp {
    /// Over HTTP: the agent comes with each request.
    pub fn for_http(api: ApiClient) -> Self {
        Self {
            api,
            fixed: None,
            tool_router: Self::tool_router(),
        }
    }

    /// Over stdio: one agent for the process.
    pub fn for_agent(api: ApiClient, agent: Agent) -> Self {
        Self {
            api,
            fixed: Some(Arc::new(agent)),
            tool_router: Self::tool_router(),
        }
    }

    /// Every tool the router serves (for the listings and the registry check).
    pub fn tools() -> Vec<Tool> {
        let mut t = Self::tool_router().list_all();
        t.sort_by(|a, b| a.name.cmp(&b.name));
        t
    }

    fn agent_of(&self, ctx: &RequestContext<RoleServer>) -> Option<Agent> {
        if let Some(a) = &self.fixed {
            return Some((**a).clone());
        }
        let parts = ctx.extensions.get::<Parts>()?;
        let caller = parts.extensions.get::<Caller>()?;
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .to_string();
        Some(Agent {
            token,
            user_id: caller.user_id,
            client_id: caller.client_id.clone(),
            scopes: caller.scopes.clone(),
        })
    }

    /// The agent, allowed to run `tool`: its scopes, then (acting tools) the person's consent.
    async fn admit(
        &self,
        ctx: &RequestContext<RoleServer>,
        tool: &str,
    ) -> Result<Agent, CallToolResult> {
        let spec = registry::spec(tool).expect("every tool is registered");
        let agent = self.agent_of(ctx).ok_or_else(|| {
            tool_error("no access token: send `Authorization: Bearer <token>` (or set MEDIAGW_TOKEN for stdio)")
        })?;
        if let Some(missing) = spec.scopes.iter().find(|s| !agent.scopes.contains(**s)) {
            metrics::counter!("mcp_tool_refused_total", "tool" => spec.name, "why" => "scope")
                .increment(1);
            let mut r = tool_error(format!(
                "`{tool}` needs the `{}` scope; this token has `{}`. Sign in again asking for it.",
                missing.as_str(),
                agent.scopes
            ));
            r.structured_content =
                Some(json!({"error": {"code": "insufficient_scope", "scope": missing.as_str()}}));
            return Err(r);
        }
        if spec.requires_user_consent {
            let answer = self
                .api
                .post("/v1/mcp/consent", &agent.token, &json!({"tool": tool}))
                .await
                .map_err(|e| api_error(tool, e))?;
            if answer["status"] != "granted" {
                metrics::counter!("mcp_tool_refused_total", "tool" => spec.name, "why" => "consent")
                    .increment(1);
                let text = format!(
                    "Nothing was done yet: the person must first allow this assistant to `{tool}`. \
                     Ask them to open {} and enter the code {} (valid {} minutes), then call `{tool}` again.",
                    answer["verification_uri"].as_str().unwrap_or("/device"),
                    answer["user_code"].as_str().unwrap_or("?"),
                    answer["expires_in"].as_i64().unwrap_or(600) / 60
                );
                return Err(text_result(text, json!({"consent": answer, "done": false})));
            }
        }
        metrics::counter!("mcp_tool_calls_total", "tool" => spec.name).increment(1);
        Ok(agent)
    }
}

macro_rules! admit {
    ($self:ident, $ctx:ident, $tool:literal) => {
        match $self.admit(&$ctx, $tool).await {
            Ok(a) => a,
            Err(r) => return Ok(r),
        }
    };
}

macro_rules! call {
    ($tool:literal, $e:expr) => {
        match $e.await {
            Ok(v) => v,
            Err(e) => return Ok(api_error($tool, e)),
        }
    };
}

#[tool_router(router = tool_router)]
impl MediaGatewayMcp {
    #[tool(
        description = "Search for movies and TV shows using natural language. Each result has its content id and where to watch it.",
        annotations(read_only_hint = true)
    )]
    async fn semantic_search(
        &self,
        Parameters(a): Parameters<SearchArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "semantic_search");
        let region = match a
            .region
            .as_ref()
            .map(|_| region_param(&a.region))
            .transpose()
        {
            Ok(r) => r,
            Err(m) => return Ok(tool_error(m)),
        };
        let limit = a.limit.unwrap_or(10).clamp(1, 50);
        let f = a.filters.unwrap_or_default();
        let mut filters = serde_json::Map::new();
        if let Some(g) = f.genres {
            filters.insert("genres".into(), json!(g));
        }
        if let Some(p) = f.platforms {
            filters.insert("platforms".into(), json!(p));
        }
        if let Some(t) = f.content_types {
            filters.insert("content_types".into(), json!(t));
        }
        if let Some(y) = f.year_range {
            filters.insert("year_range".into(), json!([y.0, y.1]));
        }
        if let Some(r) = f.rating_range {
            filters.insert("rating_range".into(), json!([r.0, r.1]));
        }
        let mut body = json!({"query": a.query, "page_size": limit});
        if !filters.is_empty() {
            body["filters"] = Value::Object(filters);
        }
        if let Some(r) = region {
            body["region"] = json!(r);
        }
        let v = call!(
            "semantic_search",
            self.api.post("/v1/search", &agent.token, &body)
        );
        let items: Vec<Value> = v["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r["content"].clone())
            .collect();
        let text = if items.is_empty() {
            format!("No titles found for “{}”.", a.query)
        } else {
            items
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{}. {}", i + 1, title_line(c)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(text_result(
            text,
            json!({"results": items, "query_parsed": v["query_parsed"]}),
        ))
    }

    #[tool(
        description = "Detailed information about one title: overview, genres, runtime, external ids and every offer in the region.",
        annotations(read_only_hint = true)
    )]
    async fn get_content_details(
        &self,
        Parameters(a): Parameters<ContentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "get_content_details");
        let region = match region_param(&a.region) {
            Ok(r) => r,
            Err(m) => return Ok(tool_error(m)),
        };
        let v = call!(
            "get_content_details",
            self.api.get(
                &format!("/v1/content/{}?region={region}", enc(&a.entity_id)),
                &agent.token
            )
        );
        let text = format!(
            "{}\n{}\nGenres: {}. Runtime: {} min.",
            title_line(&v),
            v["overview"].as_str().unwrap_or(""),
            v["genres"]
                .as_array()
                .map(|g| g
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            v["runtime_minutes"]
                .as_i64()
                .map(|m| m.to_string())
                .unwrap_or_else(|| "?".into())
        );
        Ok(text_result(text, v))
    }

    #[tool(
        description = "Where a title can be watched in a region: platform, subscription/rent/buy/free, price, until when, links.",
        annotations(read_only_hint = true)
    )]
    async fn get_availability(
        &self,
        Parameters(a): Parameters<ContentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "get_availability");
        let region = match region_param(&a.region) {
            Ok(r) => r,
            Err(m) => return Ok(tool_error(m)),
        };
        let v = call!(
            "get_availability",
            self.api.get(
                &format!(
                    "/v1/content/{}/availability?region={region}",
                    enc(&a.entity_id)
                ),
                &agent.token
            )
        );
        let offers = v.get("availability").cloned().unwrap_or_else(|| v.clone());
        let lines: Vec<String> = offers
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                format!(
                    "- {} ({}{}){}: {}",
                    o["platform"].as_str().unwrap_or("?"),
                    o["availability_type"].as_str().unwrap_or("?"),
                    o["price_amount"]
                        .as_str()
                        .map(|p| format!(" {p} {}", o["price_currency"].as_str().unwrap_or("")))
                        .unwrap_or_default(),
                    o["expires_at"]
                        .as_str()
                        .map(|e| format!(", until {e}"))
                        .unwrap_or_default(),
                    o["web_url"].as_str().unwrap_or("")
                )
            })
            .collect();
        let text = if lines.is_empty() {
            format!("Not available in {region} [id {}].", a.entity_id)
        } else {
            format!("In {region} [id {}]:\n{}", a.entity_id, lines.join("\n"))
        };
        Ok(text_result(
            text,
            json!({"content_id": a.entity_id, "region": region, "availability": offers}),
        ))
    }

    #[tool(
        description = "Titles leaving streaming platforms soon in a region (default: the next 7 days).",
        annotations(read_only_hint = true)
    )]
    async fn what_is_leaving(
        &self,
        Parameters(a): Parameters<RegionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "what_is_leaving");
        let region = match region_param(&a.region) {
            Ok(r) => r,
            Err(m) => return Ok(tool_error(m)),
        };
        let mut path = format!(
            "/v1/availability/leaving-soon?region={region}&within_days={}",
            a.days.unwrap_or(7).clamp(1, 90)
        );
        if let Some(p) = &a.platform {
            path.push_str(&format!("&platform={}", enc(p)));
        }
        let v = call!("what_is_leaving", self.api.get(&path, &agent.token));
        let items = v
            .get("titles")
            .or_else(|| v.get("leaving"))
            .cloned()
            .unwrap_or_else(|| v.clone());
        let lines: Vec<String> = items
            .as_array()
            .into_iter()
            .flatten()
            .take(a.limit.unwrap_or(50) as usize)
            .map(|t| {
                format!(
                    "- {} [id {}] leaves {} ({}) on {}",
                    t["title"].as_str().unwrap_or("?"),
                    t["content_id"].as_str().unwrap_or("?"),
                    t["platform"].as_str().unwrap_or("?"),
                    t["availability_type"].as_str().unwrap_or("?"),
                    t["expires_at"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let text = if lines.is_empty() {
            format!("Nothing is leaving in {region} soon.")
        } else {
            lines.join("\n")
        };
        Ok(text_result(
            text,
            json!({"region": region, "leaving": items}),
        ))
    }

    #[tool(
        description = "New arrivals on streaming platforms in a region (default: the last 7 days).",
        annotations(read_only_hint = true)
    )]
    async fn new_arrivals(
        &self,
        Parameters(a): Parameters<RegionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "new_arrivals");
        let region = match region_param(&a.region) {
            Ok(r) => r,
            Err(m) => return Ok(tool_error(m)),
        };
        let since = chrono::Utc::now() - chrono::Duration::days(a.days.unwrap_or(7).clamp(1, 90));
        let mut path = format!(
            "/v1/availability/changes?region={region}&change=arrived&limit={}&since={}",
            a.limit.unwrap_or(50).clamp(1, 500),
            enc(&since.to_rfc3339())
        );
        if let Some(p) = &a.platform {
            path.push_str(&format!("&platform={}", enc(p)));
        }
        let v = call!("new_arrivals", self.api.get(&path, &agent.token));
        let lines: Vec<String> = v["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "- {} [id {}] on {} ({}) since {}",
                    c["title"].as_str().unwrap_or("?"),
                    c["content_id"].as_str().unwrap_or("?"),
                    c["platform"].as_str().unwrap_or("?"),
                    c["availability_type"].as_str().unwrap_or("?"),
                    c["occurred_at"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let text = if lines.is_empty() {
            format!("No new arrivals in {region}.")
        } else {
            lines.join("\n")
        };
        Ok(text_result(
            text,
            json!({"region": region, "arrivals": v["changes"]}),
        ))
    }

    #[tool(
        description = "What people are searching for right now.",
        annotations(read_only_hint = true)
    )]
    async fn get_trending(
        &self,
        Parameters(a): Parameters<LimitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "get_trending");
        let v = call!(
            "get_trending",
            self.api.get(
                &format!(
                    "/v1/search/trending?limit={}",
                    a.limit.unwrap_or(10).clamp(1, 50)
                ),
                &agent.token
            )
        );
        let lines: Vec<String> = v["queries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|q| {
                format!(
                    "- “{}” ({} searches)",
                    q["query"].as_str().unwrap_or("?"),
                    q["searches"]
                )
            })
            .collect();
        let text = if lines.is_empty() {
            "Nothing is trending yet.".to_string()
        } else {
            lines.join("\n")
        };
        Ok(text_result(text, v))
    }

    #[tool(
        description = "Titles similar to one title (shared taste of the people who liked it, genres, cast), with where to watch.",
        annotations(read_only_hint = true)
    )]
    async fn find_similar(
        &self,
        Parameters(a): Parameters<SimilarArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "find_similar");
        let body =
            json!({"liked_titles": [a.entity_id], "limit": a.limit.unwrap_or(10).clamp(1, 20)});
        let v = call!(
            "find_similar",
            self.api
                .post("/v1/recommendations/cold-start", &agent.token, &body)
        );
        Ok(recommendation_result(v))
    }

    #[tool(
        description = "Personalised recommendations for the person, explained, with where to watch each.",
        annotations(read_only_hint = true)
    )]
    async fn get_recommendations(
        &self,
        Parameters(a): Parameters<RecommendArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "get_recommendations");
        let limit = a.limit.unwrap_or(5);
        if !(1..=20).contains(&limit) {
            return Ok(tool_error("`limit`: must be between 1 and 20"));
        }
        let mut context = serde_json::Map::new();
        if let Some(m) = &a.mood {
            context.insert("mood".into(), json!(m));
        }
        if let Some(c) = &a.context {
            context.insert("time_of_day".into(), json!(c));
        }
        if a.age_appropriate
            .as_ref()
            .is_some_and(|ages| ages.iter().any(|x| *x < 13))
        {
            context.insert("viewing_with".into(), json!(["family"]));
        }
        let body = json!({"user_id": agent.user_id, "limit": limit, "context": context});
        let v = call!(
            "get_recommendations",
            self.api.post("/v1/recommendations", &agent.token, &body)
        );
        Ok(recommendation_result(v))
    }

    #[tool(
        description = "The person's watchlist (synced across their devices).",
        annotations(read_only_hint = true)
    )]
    async fn get_watchlist(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "get_watchlist");
        let v = call!(
            "get_watchlist",
            self.api
                .get(&format!("/v1/sync/state/{}", agent.user_id), &agent.token)
        );
        let ids: Vec<String> = v["watchlist"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["content_id"].as_str().map(str::to_string))
            .collect();
        let text = if ids.is_empty() {
            "The watchlist is empty.".to_string()
        } else {
            format!("{} titles: {}", ids.len(), ids.join(", "))
        };
        Ok(text_result(text, json!({"watchlist": v["watchlist"]})))
    }

    #[tool(
        description = "Adds a title to the person's watchlist (needs their consent once).",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    async fn add_to_watchlist(
        &self,
        Parameters(a): Parameters<WatchlistArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "add_to_watchlist");
        let Ok(content) = Uuid::parse_str(&a.entity_id) else {
            return Ok(tool_error("`entity_id`: must be a content id (UUID)"));
        };
        let op = self.operation(
            &agent,
            json!({"type": "WatchlistAdd", "content_id": content, "tag": Uuid::new_v4()}),
        );
        call!(
            "add_to_watchlist",
            self.api.post("/v1/sync/merge", &agent.token, &op)
        );
        Ok(text_result(
            format!("Added {content} to the watchlist."),
            json!({"added": content}),
        ))
    }

    #[tool(
        description = "Removes a title from the person's watchlist (needs their consent once).",
        annotations(destructive_hint = true, idempotent_hint = true)
    )]
    async fn remove_from_watchlist(
        &self,
        Parameters(a): Parameters<WatchlistArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "remove_from_watchlist");
        let Ok(content) = Uuid::parse_str(&a.entity_id) else {
            return Ok(tool_error("`entity_id`: must be a content id (UUID)"));
        };
        let state = call!(
            "remove_from_watchlist",
            self.api
                .get(&format!("/v1/sync/state/{}", agent.user_id), &agent.token)
        );
        let tags = state["watchlist"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["content_id"] == json!(content))
            .map(|w| w["tags"].clone());
        let Some(tags) = tags else {
            return Ok(text_result(
                format!("{content} is not on the watchlist."),
                json!({"removed": null}),
            ));
        };
        let op = self.operation(
            &agent,
            json!({"type": "WatchlistRemove", "content_id": content, "tags": tags}),
        );
        call!(
            "remove_from_watchlist",
            self.api.post("/v1/sync/merge", &agent.token, &op)
        );
        Ok(text_result(
            format!("Removed {content} from the watchlist."),
            json!({"removed": content}),
        ))
    }

    #[tool(
        description = "The person's registered devices with status (Online, Offline, Watching).",
        annotations(read_only_hint = true)
    )]
    async fn list_devices(
        &self,
        Parameters(a): Parameters<DevicesArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "list_devices");
        let filter = a
            .status_filter
            .as_deref()
            .unwrap_or("all")
            .to_ascii_lowercase();
        if !["all", "online", "offline"].contains(&filter.as_str()) {
            return Ok(tool_error(
                "`status_filter`: must be `all`, `online` or `offline`",
            ));
        }
        let v = call!("list_devices", self.api.get("/v1/devices", &agent.token));
        let devices: Vec<Value> = v["devices"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|d| {
                let online = d["status"] != "Offline";
                match filter.as_str() {
                    "online" => online,
                    "offline" => !online,
                    _ => true,
                }
            })
            .collect();
        let text = if devices.is_empty() {
            "No devices.".to_string()
        } else {
            devices
                .iter()
                .map(|d| {
                    format!(
                        "- {} ({}) [device_id {}]: {}",
                        d["device_name"].as_str().unwrap_or("?"),
                        d["device_type"].as_str().unwrap_or("?"),
                        d["device_id"].as_str().unwrap_or("?"),
                        d["status"].as_str().unwrap_or("?")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(text_result(text, json!({"devices": devices})))
    }

    #[tool(
        description = "Starts a title on one of the person's devices on the best platform they can use (needs their consent once).",
        annotations(destructive_hint = false)
    )]
    async fn initiate_playback(
        &self,
        Parameters(a): Parameters<PlaybackArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "initiate_playback");
        let mut body = json!({"content_id": a.entity_id, "device_id": a.device_id, "resume": a.resume.unwrap_or(true)});
        if let Some(p) = &a.platform {
            body["preferred_platform"] = json!(p);
        }
        let v = call!(
            "initiate_playback",
            self.api.post("/v1/playback/initiate", &agent.token, &body)
        );
        let text = format!(
            "Started on {} ({}): {} [session {}]{}",
            v["platform"].as_str().unwrap_or("?"),
            v["reason"].as_str().unwrap_or(""),
            v["deep_link"].as_str().unwrap_or(""),
            v["session_id"].as_str().unwrap_or("?"),
            v["resume_position_ms"]
                .as_u64()
                .map(|p| format!(", resuming at {} min", p / 60_000))
                .unwrap_or_default()
        );
        Ok(text_result(text, v))
    }

    #[tool(
        description = "Play, pause, seek or stop a playback session on the person's device (needs their consent once).",
        annotations(destructive_hint = false)
    )]
    async fn control_playback(
        &self,
        Parameters(a): Parameters<ControlArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let agent = admit!(self, ctx, "control_playback");
        let body =
            json!({"session_id": a.session_id, "command": a.command, "position_ms": a.position_ms});
        let v = call!(
            "control_playback",
            self.api.post("/v1/playback/control", &agent.token, &body)
        );
        Ok(text_result(
            format!(
                "Session {} is {}.",
                v["session_id"].as_str().unwrap_or("?"),
                v["state"].as_str().unwrap_or("?")
            ),
            v,
        ))
    }
}

fn recommendation_result(v: Value) -> CallToolResult {
    let items = v["recommendations"].as_array().cloned().unwrap_or_default();
    let text = if items.is_empty() {
        "No recommendations yet.".to_string()
    } else {
        items
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "{}. {} — {}",
                    i + 1,
                    title_line(&r["content"]),
                    r["explanation"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    text_result(
        text,
        json!({"recommendations": items, "model_version": v["model_version"]}),
    )
}

impl MediaGatewayMcp {
    /// A sync operation from the agent's own device id (stable per client).
    fn operation(&self, agent: &Agent, operation_type: Value) -> Value {
        let device = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("mcp:{}:{}", agent.user_id, agent.client_id).as_bytes(),
        );
        let now = chrono::Utc::now().timestamp_millis();
        json!({"device_id": device, "operations": [{
            "operation_id": Uuid::new_v4(),
            "operation_type": operation_type,
            "timestamp": {"physical_ms": now, "logical": 0, "device_id": device},
            "device_id": device,
        }]})
    }

    async fn read(&self, uri: &str, agent: &Agent) -> Result<Value, McpError> {
        let fail = |e: ApiFailure| McpError::internal_error(e.message, None);
        match uri {
            "mediagw://config" => Ok(config_resource()),
            "mediagw://trending" => self
                .api
                .get("/v1/search/trending?limit=20", &agent.token)
                .await
                .map_err(fail),
            "mediagw://watchlist" => {
                if !agent
                    .scopes
                    .contains(mediagw_domain::auth::Scope::ReadPreferences)
                {
                    return Err(McpError::invalid_params(
                        "the watchlist needs the `read:preferences` scope",
                        None,
                    ));
                }
                let v = self
                    .api
                    .get(&format!("/v1/sync/state/{}", agent.user_id), &agent.token)
                    .await
                    .map_err(fail)?;
                Ok(json!({"watchlist": v["watchlist"]}))
            }
            other => match other.strip_prefix("mediagw://content/") {
                Some(id) => self
                    .api
                    .get(&format!("/v1/content/{}", enc(id)), &agent.token)
                    .await
                    .map_err(|e| {
                        if e.status == 404 || e.status == 400 {
                            McpError::resource_not_found(e.message, Some(json!({"uri": other})))
                        } else {
                            fail(e)
                        }
                    }),
                None => Err(McpError::resource_not_found(
                    format!("no resource `{other}`"),
                    Some(json!({"uri": other})),
                )),
            },
        }
    }
}

/// Regions, platforms and scopes an agent can use.
pub fn config_resource() -> Value {
    json!({
        "regions": "ISO 3166-1 alpha-2 or alpha-3 (US, USA, GB, GBR, …)",
        "platforms": mediagw_domain::playback::deeplink::TABLE.iter().map(|p| json!({"slug": p.slug, "name": p.name})).collect::<Vec<_>>(),
        "scopes": mediagw_domain::auth::Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "tools": registry::TOOLS.iter().map(|t| json!({"name": t.name, "scopes": t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "requires_user_consent": t.requires_user_consent})).collect::<Vec<_>>(),
    })
}

pub fn resources() -> Vec<Resource> {
    vec![
        Resource::new("mediagw://config", "config")
            .with_description("Regions, platforms, scopes and tools")
            .with_mime_type("application/json"),
        Resource::new("mediagw://trending", "trending")
            .with_description("What people search for now")
            .with_mime_type("application/json"),
        Resource::new("mediagw://watchlist", "watchlist")
            .with_description("The person's watchlist (read:preferences)")
            .with_mime_type("application/json"),
    ]
}

pub fn resource_templates() -> Vec<ResourceTemplate> {
    vec![ResourceTemplate::new("mediagw://content/{id}", "content")
        .with_description("One title with where to watch it")
        .with_mime_type("application/json")]
}

/// A prompt: name, description, arguments (name, description, required).
type PromptSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
);

pub const PROMPTS: &[PromptSpec] = &[
    ("discovery_assistant", "Help the person find something to watch by asking about taste, mood and services, then searching.", &[("interests", "What they like or feel like", false)]),
    ("recommendation_guide", "Explain personalised recommendations and refine them with the person.", &[("mood", "Their mood", false), ("viewers", "Who is watching", false)]),
    ("tonight", "What can I watch tonight on my services? Uses recommendations and availability.", &[("mood", "Their mood", false), ("region", "Country (US or USA)", false)]),
];

pub fn prompts() -> Vec<Prompt> {
    PROMPTS
        .iter()
        .map(|(n, d, args)| {
            Prompt::new(
                *n,
                Some(*d),
                Some(
                    args.iter()
                        .map(|(a, ad, req)| {
                            PromptArgument::new(*a)
                                .with_description(*ad)
                                .with_required(*req)
                        })
                        .collect(),
                ),
            )
        })
        .collect()
}

fn prompt_text(name: &str, args: &serde_json::Map<String, Value>) -> Option<String> {
    let arg = |k: &str| {
        args.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    Some(match name {
        "discovery_assistant" => format!(
            "You are a film and TV discovery assistant for Media Gateway. The person is interested in: {}. \
             Ask at most two short questions (mood, who is watching, services they pay for), then call \
             `semantic_search` and present 3–5 titles with one line each on why, and where to watch them \
             (platform and whether it is included, free or to rent). Offer `add_to_watchlist` or \
             `initiate_playback` for a choice.",
            if arg("interests").is_empty() { "not said yet".into() } else { arg("interests") }
        ),
        "recommendation_guide" => format!(
            "Call `get_recommendations` (mood: {}, viewers: {}) and explain each pick in the words of its \
             `explanation`. If the person dislikes one, ask why and try again with another mood or \
             `find_similar` on a title they liked.",
            if arg("mood").is_empty() { "any".into() } else { arg("mood") },
            if arg("viewers").is_empty() { "not said".into() } else { arg("viewers") }
        ),
        "tonight" => format!(
            "The person wants something to watch tonight{}{}. Call `get_recommendations` with that mood, keep \
             only titles available on a service they have or free, check the top pick with \
             `get_availability`, list their devices with `list_devices`, and offer to start it with \
             `initiate_playback` on an online device.",
            if arg("mood").is_empty() { String::new() } else { format!(", feeling {}", arg("mood")) },
            if arg("region").is_empty() { String::new() } else { format!(" in {}", arg("region")) }
        ),
        _ => return None,
    })
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MediaGatewayMcp {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("media-gateway", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Media Gateway: find, track and start any movie or TV show, whatever service it is on. \
             Every title has a content id; tools that act for the person (watchlist edits, playback) \
             need their consent once per assistant.",
        )
    }

    async fn list_resources(
        &self,
        _r: Option<PaginatedRequestParams>,
        _c: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(resources()))
    }

    async fn list_resource_templates(
        &self,
        _r: Option<PaginatedRequestParams>,
        _c: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resource_templates(),
        ))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let agent = self
            .agent_of(&ctx)
            .ok_or_else(|| McpError::invalid_params("no access token", None))?;
        let v = self.read(&req.uri, &agent).await?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            serde_json::to_string_pretty(&v).unwrap_or_default(),
            req.uri.clone(),
        )
        .with_mime_type("application/json")])
        .into())
    }

    async fn list_prompts(
        &self,
        _r: Option<PaginatedRequestParams>,
        _c: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts()))
    }

    async fn get_prompt(
        &self,
        req: GetPromptRequestParams,
        _c: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = req.arguments.clone().unwrap_or_default();
        let text = prompt_text(&req.name, &args)
            .ok_or_else(|| McpError::invalid_params(format!("no prompt `{}`", req.name), None))?;
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).into())
    }
}
