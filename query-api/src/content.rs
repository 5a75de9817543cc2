//! `GET /v1/content/{id}`: seed §2 `GetContentResponse` from the catalog read model.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Serialize)]
pub struct PlatformAvailability {
    pub platform: String,
    pub region: String,
    pub availability_type: String,
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub deep_link: String,
    pub web_url: String,
    pub available_from: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Default)]
pub struct ContentImages {
    pub poster: Option<String>,
    pub backdrop: Option<String>,
}

#[derive(Debug, Serialize)]
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
    pub runtime_minutes: Option<i32>,
    pub availability: Vec<PlatformAvailability>,
    pub images: ContentImages,
    pub external_ids: BTreeMap<String, String>,
    pub last_updated: DateTime<Utc>,
}

pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/v1/content/{id}", get(get_content))
        .with_state(pool)
}

#[tracing::instrument(skip(pool))]
async fn get_content(
    State(pool): State<PgPool>,
    Path(id): Path<String>,
) -> Result<Json<GetContentResponse>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::BadRequest {
        field: "id",
        message: format!("`{id}` is not a UUID"),
    })?;
    fetch(&pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("content {id} not found")))
}

/// Reads one title with its ids and offers in a single round trip.
pub async fn fetch(pool: &PgPool, id: Uuid) -> Result<Option<GetContentResponse>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.content_type, c.title, c.original_title, c.overview, c.release_date, c.genres, c.runtime_minutes, c.last_updated,
                COALESCE((SELECT json_object_agg(e.id_type, e.id_value) FROM catalog.external_ids e WHERE e.content_id = c.id), '{}'::json) AS ids,
                COALESCE((SELECT json_agg(json_build_object(
                    'platform', a.platform, 'region', a.region, 'availability_type', a.availability_type,
                    'price_amount', a.price_amount::text, 'price_currency', a.price_currency, 'deep_link', a.deep_link,
                    'web_url', a.web_url, 'available_from', a.available_from, 'expires_at', a.expires_at)
                    ORDER BY a.region, a.platform, a.availability_type)
                  FROM catalog.platform_availability a WHERE a.content_id = c.id), '[]'::json) AS offers
         FROM catalog.content c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let ids: serde_json::Value = r.get("ids");
    let offers: serde_json::Value = r.get("offers");
    let title: String = r.get("title");
    Ok(Some(GetContentResponse {
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
        runtime_minutes: r.get("runtime_minutes"),
        availability: offers
            .as_array()
            .map(|a| a.iter().filter_map(offer_from_json).collect())
            .unwrap_or_default(),
        images: ContentImages::default(),
        external_ids: serde_json::from_value(ids).unwrap_or_default(),
        last_updated: r.get("last_updated"),
    }))
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
    })
}
