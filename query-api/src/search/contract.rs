//! The search contracts (seed §3): request and response bodies of `/v1/search`, suggestions and
//! trending, shared by the routes and the stages that fill them.

use mediagw_domain::search::plan::Mode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub content_types: Option<Vec<String>>,
    /// `[from, to]`, inclusive.
    #[serde(default)]
    #[schema(value_type = Option<Vec<i32>>)]
    pub year_range: Option<(i32, i32)>,
    /// `[min, max]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<f32>>)]
    pub rating_range: Option<(f32, f32)>,
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
}

/// Which channels run: `hybrid` (the product) or one raw channel, for evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    #[default]
    Hybrid,
    Dense,
    Keyword,
}

impl From<SearchMode> for Mode {
    fn from(m: SearchMode) -> Self {
        match m {
            SearchMode::Hybrid => Mode::Hybrid,
            SearchMode::Dense => Mode::Dense,
            SearchMode::Keyword => Mode::Keyword,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default)]
    pub filters: Option<SearchFilters>,
    #[serde(default = "one")]
    pub page: u32,
    #[serde(default = "twenty")]
    pub page_size: u32,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub mode: SearchMode,
    /// Each result also carries the reranker's features (`ranking_features`): how a ranking was
    /// reached, and what `mediagw train search-ranker` learns from.
    #[serde(default)]
    pub explain: bool,
}

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Offer {
    pub platform: String,
    pub availability_type: String,
    pub deep_link: String,
    pub web_url: String,
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContentSummary {
    pub id: Uuid,
    pub title: String,
    pub content_type: String,
    pub release_year: i64,
    pub genres: Vec<String>,
    pub overview: Option<String>,
    /// Audience rating 0–10 where a provider rated it (ADR 0027), else `null`.
    pub average_rating: Option<f32>,
    /// Where to watch it in the request's region.
    pub availability: Vec<Offer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub content: ContentSummary,
    pub relevance_score: f32,
    pub match_reasons: Vec<String>,
    pub vector_similarity: f32,
    pub graph_score: f32,
    pub keyword_score: f32,
    pub title_score: f32,
    /// With `explain`: the reranker's features (name → value in [0, 1]), taken before reranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking_features: Option<std::collections::BTreeMap<String, f32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reference {
    pub query: String,
    pub id: Option<Uuid>,
    pub title: Option<String>,
    pub year: Option<i64>,
}

/// Seed `ParsedIntent`, plus what the query resolved to.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueryParsed {
    pub original: String,
    pub text: String,
    pub references: Vec<Reference>,
    pub genres: Vec<String>,
    pub moods: Vec<String>,
    #[schema(value_type = Option<Vec<i32>>)]
    pub year_range: Option<(i32, i32)>,
    /// Longest runtime asked for ("under 90 minutes"), minutes.
    #[serde(default)]
    pub max_runtime: Option<u16>,
    pub content_types: Vec<String>,
    pub platforms: Vec<String>,
    pub region: String,
    pub mode: SearchMode,
    /// What the query's words asked for that nothing matched, lifted so the search answers
    /// (`platforms`: no match is offered there, so these results are on any platform;
    /// `content_types`: no title of that kind matched, so these are of any kind).
    #[serde(default)]
    pub relaxed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub results: Vec<SearchResult>,
    pub total_count: usize,
    pub page: u32,
    pub page_size: u32,
    pub query_parsed: QueryParsed,
    pub search_time_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: Uuid,
    pub title: String,
    pub release_year: i64,
    pub content_type: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrendingQuery {
    pub query: String,
    pub searches: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trending {
    pub window_minutes: i64,
    pub generated_at: String,
    pub queries: Vec<TrendingQuery>,
}
