//! Rerank stage, the I/O half: how many distinct users engaged with each title (the profiles
//! projection's `user_items`), held in memory and re-read at most once a minute (by default), in the
//! background, so a search never waits for it. The pure half is `mediagw_domain::search::rerank`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mediagw_domain::search::rerank::Engagement;
use uuid::Uuid;

use super::service::SearchService;

impl SearchService {
    /// The latest counts; starts a refresh when they are stale (the first search ranks without).
    pub(super) fn engagement(&self) -> Arc<Engagement> {
        let mut c = self.engagement.lock().expect("engagement");
        let stale = c
            .read_at
            .is_none_or(|t| t.elapsed() >= self.settings.engagement_refresh);
        if stale && !c.refreshing {
            c.refreshing = true;
            let (pool, shared) = (self.pool.clone(), self.engagement.clone());
            tokio::spawn(async move {
                let read: Result<Vec<(Uuid, i64)>, sqlx::Error> = sqlx::query_as(
                    "SELECT content_id, count(*) FROM profiles.user_items WHERE engaged
                     GROUP BY content_id",
                )
                .fetch_all(&pool)
                .await;
                let mut c = shared.lock().expect("engagement");
                c.refreshing = false;
                c.read_at = Some(Instant::now());
                match read {
                    Ok(rows) => {
                        let users: HashMap<Uuid, u64> =
                            rows.into_iter().map(|(id, n)| (id, n as u64)).collect();
                        c.counts = Arc::new(Engagement::new(users));
                    }
                    // No profiles projection here (an api-only database, or not migrated yet).
                    Err(e) => tracing::debug!(error = %e, "engagement counts not read"),
                }
            });
        }
        c.counts.clone()
    }
}
