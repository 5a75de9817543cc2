//! Catalog read model (seed §2 content schema): `content`, `external_ids`, `platform_availability`.
//!
//! Metadata events carry full snapshots and arrive on two topics, so their relative order is not
//! guaranteed: a row keeps the newest snapshot by aggregate sequence (`content.version`). Availability
//! events share one topic and key, so they arrive in order; `availability_versions` drops replays of
//! ones already applied. Availability rows do not reference `content` with a foreign key for the same
//! reason: they may be projected before the title row.

use async_trait::async_trait;
use mediagw_domain::title::TitleEvent;
use mediagw_schemas::{topics, EventMeta, EventRecord};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const NAME: &str = "catalog";
/// The live schema; replays build into another one and swap.
pub const LIVE_SCHEMA: &str = "catalog";

pub struct CatalogProjection {
    schema: String,
}

impl CatalogProjection {
    /// `schema` must be a plain lower-case identifier (it is interpolated into DDL).
    pub fn new(schema: &str) -> Self {
        assert!(
            !schema.is_empty()
                && schema
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
            "invalid schema name {schema:?}"
        );
        Self {
            schema: schema.to_string(),
        }
    }

    pub fn live() -> Self {
        Self::new(LIVE_SCHEMA)
    }

    fn ddl(&self) -> String {
        let s = &self.schema;
        format!(
            r#"
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.content (
    id               uuid PRIMARY KEY,
    content_type     varchar(20) NOT NULL,
    title            text NOT NULL,
    original_title   text,
    overview         text,
    release_date     date NOT NULL,
    release_year     integer NOT NULL,
    runtime_minutes  integer,
    genres           text[] NOT NULL DEFAULT '{{}}',
    popularity_score real NOT NULL DEFAULT 0.5,
    average_rating   real NOT NULL DEFAULT 0.0,
    vote_count       integer NOT NULL DEFAULT 0,
    version          bigint NOT NULL,
    last_updated     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_content_type ON {s}.content (content_type);
CREATE INDEX IF NOT EXISTS idx_release_year ON {s}.content (release_year);
CREATE INDEX IF NOT EXISTS idx_popularity ON {s}.content (popularity_score DESC);
CREATE INDEX IF NOT EXISTS idx_last_updated ON {s}.content (last_updated);
CREATE INDEX IF NOT EXISTS idx_genres ON {s}.content USING gin (genres);
CREATE TABLE IF NOT EXISTS {s}.external_ids (
    content_id uuid NOT NULL,
    id_type    varchar(50) NOT NULL,
    id_value   varchar(255) NOT NULL,
    PRIMARY KEY (id_type, id_value)
);
CREATE INDEX IF NOT EXISTS idx_external_content ON {s}.external_ids (content_id);
CREATE TABLE IF NOT EXISTS {s}.platform_availability (
    id                uuid PRIMARY KEY,
    content_id        uuid NOT NULL,
    platform          varchar(50) NOT NULL,
    region            varchar(3) NOT NULL,
    availability_type varchar(20) NOT NULL,
    price_amount      decimal(10,2),
    price_currency    varchar(3),
    deep_link         text NOT NULL,
    web_url           text NOT NULL,
    available_from    timestamptz NOT NULL,
    expires_at        timestamptz,
    source            text NOT NULL,
    UNIQUE (content_id, platform, region, availability_type)
);
CREATE INDEX IF NOT EXISTS idx_content_platform ON {s}.platform_availability (content_id, platform);
CREATE INDEX IF NOT EXISTS idx_region ON {s}.platform_availability (region);
CREATE INDEX IF NOT EXISTS idx_expires_at ON {s}.platform_availability (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.availability_versions (
    content_id uuid PRIMARY KEY,
    version    bigint NOT NULL
);
{offsets};
"#,
            offsets = offsets_ddl(s)
        )
    }

    async fn apply_metadata(
        &self,
        tx: &mut PgConnection,
        meta: &EventMeta,
        metadata: &mediagw_domain::catalog::TitleMetadata,
        external_ids: &mediagw_domain::catalog::ExternalIds,
    ) -> Result<(), ApplyError> {
        let s = &self.schema;
        let applied: Option<Uuid> = sqlx::query_scalar(&format!(
            "INSERT INTO {s}.content (id, content_type, title, original_title, overview, release_date, release_year,
                                      runtime_minutes, genres, version, last_updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO UPDATE SET
                content_type = EXCLUDED.content_type, title = EXCLUDED.title, original_title = EXCLUDED.original_title,
                overview = EXCLUDED.overview, release_date = EXCLUDED.release_date, release_year = EXCLUDED.release_year,
                runtime_minutes = EXCLUDED.runtime_minutes, genres = EXCLUDED.genres, version = EXCLUDED.version,
                last_updated = EXCLUDED.last_updated
             WHERE {s}.content.version < EXCLUDED.version
             RETURNING id"
        ))
        .bind(meta.content_id)
        .bind(metadata.content_type.as_str())
        .bind(&metadata.title)
        .bind(&metadata.original_title)
        .bind(&metadata.overview)
        .bind(metadata.release_date)
        .bind(chrono::Datelike::year(&metadata.release_date))
        .bind(metadata.runtime_minutes.map(i32::from))
        .bind(&metadata.genres)
        .bind(meta.sequence)
        .bind(meta.occurred_at)
        .fetch_optional(&mut *tx)
        .await?;
        if applied.is_none() {
            return Ok(()); // an older snapshot than the one we hold
        }
        sqlx::query(&format!(
            "DELETE FROM {s}.external_ids WHERE content_id = $1"
        ))
        .bind(meta.content_id)
        .execute(&mut *tx)
        .await?;
        let (types, values): (Vec<&str>, Vec<&str>) = external_ids
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .unzip();
        sqlx::query(&format!(
            "INSERT INTO {s}.external_ids (content_id, id_type, id_value)
             SELECT $1, t, v FROM UNNEST($2::text[], $3::text[]) AS k(t, v)
             ON CONFLICT (id_type, id_value) DO UPDATE SET content_id = EXCLUDED.content_id"
        ))
        .bind(meta.content_id)
        .bind(&types)
        .bind(&values)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// True if this availability event is newer than the last one applied for the title.
    async fn claim_availability(
        &self,
        tx: &mut PgConnection,
        meta: &EventMeta,
    ) -> Result<bool, ApplyError> {
        let s = &self.schema;
        let row: Option<i64> = sqlx::query_scalar(&format!(
            "INSERT INTO {s}.availability_versions (content_id, version) VALUES ($1, $2)
             ON CONFLICT (content_id) DO UPDATE SET version = EXCLUDED.version
             WHERE {s}.availability_versions.version < EXCLUDED.version RETURNING version"
        ))
        .bind(meta.content_id)
        .bind(meta.sequence)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.is_some())
    }
}

/// Offer rows get ids derived from their identity, so a rebuilt projection is identical to the live one.
fn offer_row_id(content_id: Uuid, key: &mediagw_domain::catalog::OfferKey) -> Uuid {
    let name = format!(
        "{content_id}/{}/{}/{}",
        key.platform,
        key.region,
        key.availability_type.as_str()
    );
    Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
}

#[async_trait]
impl Projection for CatalogProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn topics(&self) -> &'static [&'static str] {
        topics::CATALOG_TOPICS
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        crate::framework::run_ddl(pool, self.ddl()).await
    }

    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        let (meta, event) = record
            .into_domain()
            .map_err(|e| ApplyError::Poison(e.to_string()))?;
        let s = &self.schema;
        match &event {
            TitleEvent::TitleIngested {
                metadata,
                external_ids,
                ..
            }
            | TitleEvent::TitleUpdated {
                metadata,
                external_ids,
                ..
            } => self.apply_metadata(tx, &meta, metadata, external_ids).await,
            TitleEvent::AvailabilityArrived { source, offer }
            | TitleEvent::AvailabilityUpdated { source, offer } => {
                if !self.claim_availability(tx, &meta).await? {
                    return Ok(());
                }
                sqlx::query(&format!(
                    "INSERT INTO {s}.platform_availability (id, content_id, platform, region, availability_type, price_amount,
                        price_currency, deep_link, web_url, available_from, expires_at, source)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (content_id, platform, region, availability_type) DO UPDATE SET
                        price_amount = EXCLUDED.price_amount, price_currency = EXCLUDED.price_currency,
                        deep_link = EXCLUDED.deep_link, web_url = EXCLUDED.web_url, available_from = EXCLUDED.available_from,
                        expires_at = EXCLUDED.expires_at, source = EXCLUDED.source"
                ))
                .bind(offer_row_id(meta.content_id, &offer.key()))
                .bind(meta.content_id)
                .bind(&offer.platform)
                .bind(&offer.region)
                .bind(offer.availability_type.as_str())
                .bind(offer.price_amount)
                .bind(&offer.price_currency)
                .bind(&offer.deep_link)
                .bind(&offer.web_url)
                .bind(offer.available_from)
                .bind(offer.expires_at)
                .bind(source)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            TitleEvent::AvailabilityLeft { key, .. } => {
                if !self.claim_availability(tx, &meta).await? {
                    return Ok(());
                }
                sqlx::query(&format!(
                    "DELETE FROM {s}.platform_availability
                     WHERE content_id = $1 AND platform = $2 AND region = $3 AND availability_type = $4"
                ))
                .bind(meta.content_id)
                .bind(&key.platform)
                .bind(&key.region)
                .bind(key.availability_type.as_str())
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
        }
    }
}
