//! Search activity projection: folds answered searches (`SearchesPerformed` batches) into
//! per-minute query counts (trending searches over sliding 5-minute windows) and each user's genre
//! affinity (the personalisation signal search boosts with until recommendations exist).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use mediagw_schemas::dto::SearchDto;
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
        self.apply_many(tx, vec![record]).await
    }

    /// Set-based: one statement per table for the whole batch, whatever the number of searches
    /// (the API publishes a batch of searches per record; ADR 0013).
    async fn apply_many(
        &self,
        tx: &mut PgConnection,
        records: Vec<EventRecord>,
    ) -> Result<(), ApplyError> {
        let mut counts: HashMap<(DateTime<Utc>, String), i32> = HashMap::new();
        // (user, genre) → (searches mentioning it, time of the last one in log order).
        let mut genres: HashMap<(Uuid, String), (f32, DateTime<Utc>)> = HashMap::new();
        for record in records {
            for search in searches(record)? {
                let at = DateTime::<Utc>::from_timestamp_millis(search.occurred_at_ms)
                    .ok_or_else(|| ApplyError::Poison("occurred_at_ms out of range".into()))?;
                let minute = at
                    .duration_trunc(TimeDelta::minutes(1))
                    .map_err(|e| ApplyError::Poison(e.to_string()))?;
                let query = search.query.trim();
                if query.is_empty() || query.chars().count() > 500 {
                    return Err(ApplyError::Poison(
                        "query empty or longer than 500 characters".into(),
                    ));
                }
                *counts.entry((minute, query.to_string())).or_default() += 1;
                if let Some(user) = search.user_id.as_deref() {
                    let user = Uuid::parse_str(user)
                        .map_err(|e| ApplyError::Poison(format!("user_id: {e}")))?;
                    let distinct: HashSet<&String> = search.genres.iter().collect();
                    for g in distinct {
                        let e = genres.entry((user, g.clone())).or_insert((0.0, at));
                        e.0 += 1.0;
                        e.1 = at;
                    }
                }
            }
        }
        let s = &self.schema;
        if !counts.is_empty() {
            let (mut minutes, mut queries, mut n) = (Vec::new(), Vec::new(), Vec::new());
            for ((m, q), c) in counts {
                minutes.push(m);
                queries.push(q);
                n.push(c);
            }
            sqlx::query(&format!(
                "INSERT INTO {s}.query_counts (minute, query, searches)
                 SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::int[])
                 ON CONFLICT (minute, query)
                   DO UPDATE SET searches = {s}.query_counts.searches + EXCLUDED.searches"
            ))
            .bind(&minutes)
            .bind(&queries)
            .bind(&n)
            .execute(&mut *tx)
            .await?;
        }
        if !genres.is_empty() {
            let (mut users, mut names, mut weights, mut ats) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for ((u, g), (w, at)) in genres {
                users.push(u);
                names.push(g);
                weights.push(w);
                ats.push(at);
            }
            sqlx::query(&format!(
                "INSERT INTO {s}.user_genres (user_id, genre, weight, updated_at)
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::real[], $4::timestamptz[])
                 ON CONFLICT (user_id, genre) DO UPDATE
                   SET weight = {s}.user_genres.weight + EXCLUDED.weight,
                       updated_at = EXCLUDED.updated_at"
            ))
            .bind(&users)
            .bind(&names)
            .bind(&weights)
            .bind(&ats)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

/// The searches a record carries: one (`SearchPerformed`, older logs) or a batch.
fn searches(record: EventRecord) -> Result<Vec<SearchDto>, ApplyError> {
    match record {
        EventRecord::SearchesPerformed(b) => Ok(b.searches),
        EventRecord::SearchPerformed(r) => Ok(vec![SearchDto {
            event_id: r.event_id,
            occurred_at_ms: r.occurred_at_ms,
            source: r.source,
            query: r.query,
            user_id: r.user_id,
            genres: r.genres,
            result_ids: r.result_ids,
        }]),
        other => Err(ApplyError::Poison(format!(
            "{} does not belong on {}",
            other.full_name(),
            topics::SEARCH_QUERIES
        ))),
    }
}
