//! `GET /v1/search/trending`: the queries searched most in the last minutes, from the
//! search-activity projection, above a privacy floor.

use chrono::Utc;

use super::contract::{Trending, TrendingQuery};
use super::errors::bad;
use super::service::{SearchService, ACTIVITY_SCHEMA};
use crate::error::ApiError;

impl SearchService {
    pub async fn trending(&self, limit: i64) -> Result<Trending, ApiError> {
        if !(1..=50).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 50"));
        }
        let key = format!("trending:{limit}");
        if let Some(v) = self.cache_get(&key).await {
            if let Ok(t) = serde_json::from_slice(&v) {
                return Ok(t);
            }
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT query, sum(searches)::bigint AS n FROM {ACTIVITY_SCHEMA}.query_counts
             WHERE minute >= date_trunc('minute', now()) - make_interval(mins => $1::int - 1)
             GROUP BY query HAVING sum(searches) >= $2
             ORDER BY n DESC, query LIMIT $3"
        ))
        .bind(self.settings.trending_window_minutes as i32)
        .bind(self.settings.trending_min_searches)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let t = Trending {
            window_minutes: self.settings.trending_window_minutes,
            generated_at: Utc::now().to_rfc3339(),
            queries: rows
                .into_iter()
                .map(|(query, searches)| TrendingQuery { query, searches })
                .collect(),
        };
        self.cache_put(
            &key,
            &serde_json::to_vec(&t).expect("serialises"),
            self.settings.trending_ttl,
        )
        .await;
        Ok(t)
    }
}
