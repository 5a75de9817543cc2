//! The recommendation contracts (seed §4): request and response bodies of `/v1/recommendations`,
//! `/v1/recommendations/cold-start` and `/v1/user/{id}/{feedback,profile,services}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::search::{ContentSummary, Offer};

/// Seed `RecommendationContext`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendationContext {
    /// `relaxing`, `intense`, `funny`, `sad`, `thoughtful`, `scary`.
    #[serde(default)]
    pub mood: Option<String>,
    /// `morning`, `afternoon`, `evening`, `night`.
    #[serde(default)]
    pub time_of_day: Option<String>,
    /// `tv`, `mobile`, `tablet`, `web`, `desktop`.
    #[serde(default)]
    pub device_type: Option<String>,
    /// `family`, `kids`, `partner`, `friends`, `alone`.
    #[serde(default)]
    pub viewing_with: Option<Vec<String>>,
}

/// Seed `RecommendationRequest`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendationRequest {
    pub user_id: Uuid,
    #[serde(default)]
    pub context: Option<RecommendationContext>,
    /// 1–20 (default 10).
    #[serde(default = "ten")]
    pub limit: usize,
    /// Leave out titles the user watched or rated (default true).
    #[serde(default = "yes")]
    pub exclude_watched: bool,
    /// MMR trade-off, 0.0 (pure relevance) … 1.0 (most diverse); default 0.2.
    #[serde(default = "diversity")]
    pub diversity_threshold: f32,
    /// Where the user watches (ISO 3166-1 alpha-2); default: the region of their services, or US.
    #[serde(default)]
    pub region: Option<String>,
    /// Evaluation only: run just these stages (`collaborative`, `content`, `graph`, `context`,
    /// `adapter`, `mmr`); bypasses the cache.
    #[serde(default)]
    pub stages: Option<Vec<String>>,
}

fn ten() -> usize {
    10
}
fn yes() -> bool {
    true
}
fn diversity() -> f32 {
    0.2
}

/// Seed `RecommendationType`, plus `Popular` and `Contextual` for titles no personal signal reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RecommendationType {
    Collaborative,
    ContentBased,
    Graph,
    Popular,
    Contextual,
}

/// Seed `Recommendation`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recommendation {
    pub content: ContentSummary,
    pub confidence_score: f32,
    pub recommendation_type: RecommendationType,
    pub based_on: Vec<String>,
    pub explanation: String,
}

/// Seed `RecommendationResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecommendationResponse {
    pub recommendations: Vec<Recommendation>,
    pub generated_at: DateTime<Utc>,
    pub ttl_seconds: u32,
    /// Version of the collaborative model that ranked them (null: none trained yet).
    pub model_version: Option<i64>,
}

/// `POST /v1/recommendations/cold-start`: onboarding picks for a user without history.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColdStartRequest {
    /// The signed-in user (optional; when given it must be the caller).
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Titles the person says they like.
    #[serde(default)]
    pub liked_titles: Vec<Uuid>,
    /// Genres the person picked (`comedy`, `science fiction`).
    #[serde(default)]
    pub genres: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub context: Option<RecommendationContext>,
    #[serde(default = "ten")]
    pub limit: usize,
}

/// Seed `FeedbackEvent`, plus `event_id` (idempotence) and `rating_scale`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackEvent {
    /// The client's id for this event: a retry with the same id is acknowledged, not doubled.
    /// When absent it is derived from (user, content, type, timestamp, rating, completion).
    #[serde(default)]
    pub event_id: Option<Uuid>,
    pub content_id: Uuid,
    /// `Watched`, `Rated`, `Dismissed` or `Added`.
    pub event_type: FeedbackType,
    /// Watched: 0.0–1.0.
    #[serde(default)]
    pub completion_rate: Option<f32>,
    /// Rated: 1–5 (`rating_scale` 5, the default) or 0–10 (`rating_scale` 10).
    #[serde(default)]
    pub rating: Option<u8>,
    #[serde(default)]
    pub rating_scale: Option<u8>,
    /// When it happened (default: now).
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum FeedbackType {
    Watched,
    Rated,
    Dismissed,
    Added,
}

/// One event, or a batch.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBatch {
    pub events: Vec<FeedbackEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedbackResponse {
    /// Events newly recorded.
    pub recorded: usize,
    /// Events whose id was already recorded (acknowledged, not recorded again).
    pub duplicates: usize,
    /// The id of each event, in request order (derived ones included).
    pub event_ids: Vec<Uuid>,
}

/// `PUT /v1/user/{id}/services`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicesRequest {
    #[serde(default)]
    pub region: Option<String>,
    pub services: Vec<ServiceSubscription>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSubscription {
    /// Platform slug as in availability (`netflix`, `max`, `disney_plus`).
    pub platform: String,
    #[serde(default)]
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServicesResponse {
    pub user_id: Uuid,
    pub region: Option<String>,
    pub services: Vec<ServiceSubscription>,
    /// Whether this request changed them.
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenreAffinity {
    pub genre: String,
    /// −1 … +1: the mean preference of the user's titles in the genre, shrunk towards 0 when few.
    pub affinity: f32,
    pub titles: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileTitle {
    pub content_id: Uuid,
    pub title: Option<String>,
    /// −1 … +1.
    pub preference: f32,
    /// Its share of the preference vector (recency-weighted |preference|, sums to 1).
    pub weight: f32,
    pub rating: Option<String>,
    pub last_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemporalPattern {
    /// Interactions per UTC hour of day (0–23).
    pub hours: Vec<u32>,
    /// Interactions per day of week (Monday first).
    pub days: Vec<u32>,
    pub peak_hour: Option<usize>,
    pub peak_day: Option<String>,
}

/// `GET /v1/user/{id}/profile`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileResponse {
    pub user_id: Uuid,
    pub interactions: i64,
    pub last_active: Option<DateTime<Utc>>,
    pub top_genres: Vec<GenreAffinity>,
    /// The titles behind the preference vector, heaviest first.
    pub top_titles: Vec<ProfileTitle>,
    /// Recency-weighted mean of the title embeddings (negative feedback subtracts), unit length;
    /// empty when no title of the profile is in the search index.
    pub preference_vector: Vec<f32>,
    pub temporal: TemporalPattern,
    pub watched: Vec<Uuid>,
    pub dismissed: Vec<Uuid>,
    pub region: Option<String>,
    pub services: Vec<ServiceSubscription>,
}
