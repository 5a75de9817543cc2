//! Search activity projection: folds `SearchPerformed` events into per-minute query counts
//! (trending searches over sliding 5-minute windows) and each user's genre affinity (the
//! personalisation signal search boosts with until recommendations exist).

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use mediagw_schemas::{topics, EventRecord};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const LIVE_SCHEMA: &str = "search_activity";
const QUERY_TOPICS: &[&str] = &[topics::SEARCH_QUERIES];

pub struct SearchActivityProjection {
    schema: String,
}

impl SearchActivityProjection {
    pub fn new(schema: &str) -> Self {
        Self {
            schema: schema.to_string(),
        }
    }

    pub fn live() -> Self {
        Self::new(LIVE_SCHEMA)
    }
}

#[async_trait]
impl Projection for SearchActivityProjection {
    fn name(&self) -> &'static str {
        "search-activity"
    }

    fn topics(&self) -> &'static [&'static str] {
        QUERY_TOPICS
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        crate::framework::run_ddl(
            pool,
            s,
            format!(
                r#"
CREATE TABLE IF NOT EXISTS {s}.query_counts (
    minute   timestamptz NOT NULL,
    query    text NOT NULL,
    searches integer NOT NULL,
    PRIMARY KEY (minute, query)
);
CREATE TABLE IF NOT EXISTS {s}.user_genres (
    user_id    uuid NOT NULL,
    genre      text NOT NULL,
    weight     real NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, genre)
);
{offsets};
"#,
                offsets = offsets_ddl(s)
            ),
        )
        .await
    }

    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        let EventRecord::SearchPerformed(r) = record else {
            return Err(ApplyError::Poison(format!(
                "{} does not belong on {}",
                record.full_name(),
                topics::SEARCH_QUERIES
            )));
        };
        let s = &self.schema;
        let at = DateTime::<Utc>::from_timestamp_millis(r.occurred_at_ms)
            .ok_or_else(|| ApplyError::Poison("occurred_at_ms out of range".into()))?;
        let minute = at
            .duration_trunc(TimeDelta::minutes(1))
            .map_err(|e| ApplyError::Poison(e.to_string()))?;
        let query = r.query.trim();
        if query.is_empty() || query.chars().count() > 500 {
            return Err(ApplyError::Poison(
                "query empty or longer than 500 characters".into(),
            ));
        }
        sqlx::query(&format!(
            "INSERT INTO {s}.query_counts (minute, query, searches) VALUES ($1, $2, 1)
             ON CONFLICT (minute, query) DO UPDATE SET searches = {s}.query_counts.searches + 1"
        ))
        .bind(minute)
        .bind(query)
        .execute(&mut *tx)
        .await?;
        if let Some(user) = r.user_id.as_deref() {
            let user =
                Uuid::parse_str(user).map_err(|e| ApplyError::Poison(format!("user_id: {e}")))?;
            sqlx::query(&format!(
                "INSERT INTO {s}.user_genres (user_id, genre, weight, updated_at)
                 SELECT DISTINCT $1::uuid, g, 1::real, $3::timestamptz FROM UNNEST($2::text[]) AS t(g)
                 ON CONFLICT (user_id, genre) DO UPDATE
                   SET weight = {s}.user_genres.weight + 1, updated_at = EXCLUDED.updated_at"
            ))
            .bind(user)
            .bind(&r.genres)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
