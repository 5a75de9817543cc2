//! `GET /v1/content/{id}`: seed §2 `GetContentResponse` from the catalog read model.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlatformAvailability {
    pub platform: String,
    pub region: String,
    pub availability_type: String,
    /// Decimal as a string, e.g. "3.99".
    #[schema(value_type = Option<String>)]
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub deep_link: String,
    pub web_url: String,
    pub available_from: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub video_quality: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct ContentImages {
    pub poster: Option<String>,
    pub backdrop: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GetContentResponse {
    pub id: Uuid,
    pub content_type: String,
    pub title: String,
    pub original_title: String,
    pub overview: String,
    pub release_date: NaiveDate,
    pub genres: Vec<String>,
    /// Region → rating; filled once a ratings source is ingested.
    pub ratings: BTreeMap<String, String>,
    /// Audience rating 0–10 where a provider reports one (TMDb, Watchmode, Streaming
    /// Availability; `null` otherwise), and the votes behind it (0 where none are counted).
    pub average_rating: Option<f32>,
    pub vote_count: i32,
    pub runtime_minutes: Option<i32>,
    pub availability: Vec<PlatformAvailability>,
    pub images: ContentImages,
    pub external_ids: BTreeMap<String, String>,
    pub last_updated: DateTime<Utc>,
}

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/v1/content/{id}", get(get_content))
        .route("/v1/content/batch", post(batch))
        .route("/v1/content/{id}/availability", get(availability))
        .route(
            "/v1/content/by-external-id/{id_type}/{id_value}",
            get(by_external_id),
        )
        .with_state(pool)
}

#[tracing::instrument(skip(pool))]
async fn get_content(
    State(pool): State<PgPool>,
    Path(id): Path<String>,
) -> Result<Json<GetContentResponse>, ApiError> {
    let id = parse_id("id", &id)?;
    fetch(&pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("content {id} not found")))
}

/// Most ids one batch request may ask for.
pub const MAX_BATCH: usize = 100;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct BatchRequest {
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    pub content: Vec<GetContentResponse>,
    pub not_found: Vec<Uuid>,
}

fn parse_id(field: &'static str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest {
        field,
        message: format!("`{raw}` is not a UUID"),
    })
}

/// `POST /v1/content/batch {"ids": [...]}`: up to 100 titles, in request order.
async fn batch(
    State(pool): State<PgPool>,
    body: Result<Json<BatchRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<BatchResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::BadRequest {
        field: "ids",
        message: e.body_text(),
    })?;
    if req.ids.is_empty() || req.ids.len() > MAX_BATCH {
        return Err(ApiError::BadRequest {
            field: "ids",
            message: format!("must hold 1 to {MAX_BATCH} ids"),
        });
    }
    let mut ids = Vec::with_capacity(req.ids.len());
    for raw in &req.ids {
        let id = parse_id("ids", raw)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let found = fetch_resolved(&pool, &ids).await?;
    let not_found = ids
        .iter()
        .filter(|id| !found.iter().any(|(asked, _)| asked == *id))
        .copied()
        .collect();
    let content = found.into_iter().map(|(_, c)| c).collect();
    Ok(Json(BatchResponse { content, not_found }))
}

#[derive(Debug, serde::Deserialize)]
pub struct AvailabilityQuery {
    pub region: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AvailabilityResponse {
    pub content_id: Uuid,
    pub region: Option<String>,
    pub availability: Vec<PlatformAvailability>,
}

/// `GET /v1/content/{id}/availability?region=US`: where the title can be watched.
async fn availability(
    State(pool): State<PgPool>,
    Path(id): Path<String>,
    Query(q): Query<AvailabilityQuery>,
) -> Result<Json<AvailabilityResponse>, ApiError> {
    let id = parse_id("id", &id)?;
    let region = match q.region.as_deref() {
        None | Some("") => None,
        Some(r) => Some(mediagw_domain::catalog::normalize_region(r).ok_or_else(|| {
            ApiError::BadRequest {
                field: "region",
                message: format!("`{r}` is not an ISO 3166-1 alpha-2 code"),
            }
        })?),
    };
    let title = fetch(&pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("content {id} not found")))?;
    let availability = title
        .availability
        .into_iter()
        .filter(|a| region.as_ref().is_none_or(|r| &a.region == r))
        .collect();
    Ok(Json(AvailabilityResponse {
        content_id: id,
        region,
        availability,
    }))
}

/// `GET /v1/content/by-external-id/{type}/{value}`, e.g. `/imdb/tt0133093`.
async fn by_external_id(
    State(pool): State<PgPool>,
    Path((id_type, id_value)): Path<(String, String)>,
) -> Result<Json<GetContentResponse>, ApiError> {
    let id = by_external(&pool, &id_type, &id_value).await?;
    let missing = || ApiError::NotFound(format!("no content with {id_type} id `{id_value}`"));
    let id = id.ok_or_else(missing)?;
    fetch(&pool, id).await?.map(Json).ok_or_else(missing)
}

/// The title that owns an external id, if any.
pub async fn by_external(
    pool: &PgPool,
    id_type: &str,
    id_value: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT content_id FROM catalog.external_ids WHERE id_type = $1 AND id_value = $2",
    )
    .bind(id_type)
    .bind(id_value)
    .fetch_optional(pool)
    .await
}

/// Reads one title with its ids and offers in a single round trip.
pub async fn fetch(pool: &PgPool, id: Uuid) -> Result<Option<GetContentResponse>, sqlx::Error> {
    Ok(fetch_many(pool, &[id]).await?.pop())
}

/// Reads titles with their ids and offers (order of `ids`, missing skipped). A title retired by
/// entity resolution resolves to the title it was merged into.
pub async fn fetch_many(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<Vec<GetContentResponse>, sqlx::Error> {
    Ok(fetch_resolved(pool, ids)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

/// Like [`fetch_many`], pairing each answer with the id that was asked for.
pub async fn fetch_resolved(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, GetContentResponse)>, sqlx::Error> {
    let redirects: std::collections::HashMap<Uuid, Uuid> = sqlx::query_as(
        "SELECT old_id, survivor_id FROM catalog.content_redirects WHERE old_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let effective: Vec<Uuid> = ids
        .iter()
        .map(|id| redirects.get(id).copied().unwrap_or(*id))
        .collect();
    let rows = sqlx::query(
        "SELECT c.id, c.content_type, c.title, c.original_title, c.overview, c.release_date, c.genres, c.runtime_minutes, c.last_updated,
                -- Unrated titles keep the seed's defaults (0.0, 0 votes): no rating to show.
                CASE WHEN c.average_rating > 0 OR c.vote_count > 0 THEN c.average_rating END AS average_rating,
                c.vote_count,
                COALESCE((SELECT json_object_agg(e.id_type, e.id_value) FROM catalog.external_ids e WHERE e.content_id = c.id), '{}'::json) AS ids,
                COALESCE((SELECT json_agg(json_build_object(
                    'platform', a.platform, 'region', a.region, 'availability_type', a.availability_type,
                    'price_amount', a.price_amount::text, 'price_currency', a.price_currency, 'deep_link', a.deep_link,
                    'web_url', a.web_url, 'available_from', a.available_from, 'expires_at', a.expires_at,
                    'video_quality', a.video_quality)
                    ORDER BY a.region, a.platform, a.availability_type)
                  FROM catalog.platform_availability a WHERE a.content_id = c.id), '[]'::json) AS offers
         FROM catalog.content c WHERE c.id = ANY($1)",
    )
    .bind(&effective)
    .fetch_all(pool)
    .await?;
    let mut found: std::collections::HashMap<Uuid, GetContentResponse> =
        std::collections::HashMap::new();
    for r in rows {
        let id: Uuid = r.get("id");
        let ext: serde_json::Value = r.get("ids");
        let offers: serde_json::Value = r.get("offers");
        let title: String = r.get("title");
        found.insert(
            id,
            GetContentResponse {
                id,
                content_type: r.get("content_type"),
                original_title: r
                    .get::<Option<String>, _>("original_title")
                    .unwrap_or_else(|| title.clone()),
                title,
                overview: r.get::<Option<String>, _>("overview").unwrap_or_default(),
                release_date: r.get("release_date"),
                genres: r.get("genres"),
                ratings: BTreeMap::new(),
                average_rating: r.get("average_rating"),
                vote_count: r.get("vote_count"),
                runtime_minutes: r.get("runtime_minutes"),
                availability: offers
                    .as_array()
                    .map(|a| a.iter().filter_map(offer_from_json).collect())
                    .unwrap_or_default(),
                images: ContentImages::default(),
                external_ids: serde_json::from_value(ext).unwrap_or_default(),
                last_updated: r.get("last_updated"),
            },
        );
    }
    Ok(ids
        .iter()
        .zip(&effective)
        .filter_map(|(asked, id)| found.get(id).map(|c| (*asked, c.clone())))
        .collect())
}

fn offer_from_json(v: &serde_json::Value) -> Option<PlatformAvailability> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let t = |k: &str| {
        s(k).and_then(|x| DateTime::parse_from_rfc3339(&x).ok())
            .map(|d| d.with_timezone(&Utc))
    };
    Some(PlatformAvailability {
        platform: s("platform")?,
        region: s("region")?,
        availability_type: s("availability_type")?,
        price_amount: s("price_amount").and_then(|p| p.parse().ok()),
        price_currency: s("price_currency"),
        deep_link: s("deep_link")?,
        web_url: s("web_url")?,
        available_from: t("available_from")?,
        expires_at: t("expires_at"),
        video_quality: s("video_quality"),
    })
}
