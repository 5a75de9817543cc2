//! Rerank stage, the I/O half. Per search: which of the query's keyword terms each candidate of
//! the reranked head holds (its stored terms, from the index). Per title, apart from any query:
//! how many distinct users engaged with it (the profiles projection's `user_items`) and how many
//! later catalog titles continue it (`catalog.content`), read once before the API serves, then
//! re-read at most once a minute (by default) in the background, so a search never waits for
//! them. Beside them, whom each surname stands for (the search projection's credits). The pure
//! half is `mediagw_domain::search::rerank`, `::sequels` and `::people`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use mediagw_domain::search::people::{Credits, Surnames, MIN_CREDITS};
use mediagw_domain::search::rerank::{coverage, Engagement, Known};
use mediagw_domain::search::sequels::Sequels;
use mediagw_domain::search::soundalike::Soundalikes;
use mediagw_domain::search::text::MAX_CAST;
use mediagw_domain::search::Fused;
use sqlx::PgPool;
use uuid::Uuid;

use super::service::{CatalogVersion, DocumentsVersion, SearchService, SharedKnown};

impl SearchService {
    /// Reads the counts (and the related-word list) now: called at start-up, so the first
    /// searches after a restart rank with the same features as the rest.
    pub async fn load_known(&self) {
        // 20k lines: parsed here rather than by the first search.
        super::service::related_words();
        self.known_cache.lock().expect("known").refreshing = true;
        refresh(&self.pool, &self.known_cache).await;
    }

    /// How much of the keyword text each candidate of the reranked head holds, or of a title the
    /// typed one sounds like (whichever it holds more of). Read from the index (the candidates'
    /// stored terms); a failure only costs the feature, not the search.
    pub(super) async fn coverage(
        &self,
        generation: i64,
        head: &[Fused],
        texts: &[&str],
    ) -> HashMap<Uuid, f32> {
        let queries: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.bm25.query(t).indices)
            .filter(|q| !q.is_empty())
            .collect();
        if queries.is_empty() || head.len() < 2 {
            return HashMap::new();
        }
        let ids = head.iter().map(|f| f.id).collect();
        match self.index.text_terms(generation, ids).await {
            Ok(docs) => docs
                .into_iter()
                .map(|(id, terms)| {
                    let held = queries
                        .iter()
                        .map(|q| coverage(q, &terms))
                        .fold(0.0, f32::max);
                    (id, held)
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "candidate terms not read; ranking without coverage");
                HashMap::new()
            }
        }
    }

    /// The latest counts; starts a background refresh when they are stale.
    pub(super) fn known(&self) -> Arc<Known> {
        let mut c = self.known_cache.lock().expect("known");
        let stale = c
            .read_at
            .is_none_or(|t| t.elapsed() >= self.settings.engagement_refresh);
        if stale && !c.refreshing {
            c.refreshing = true;
            let (pool, shared) = (self.pool.clone(), self.known_cache.clone());
            tokio::spawn(async move { refresh(&pool, &shared).await });
        }
        c.known.clone()
    }
}

async fn refresh(pool: &PgPool, shared: &SharedKnown) {
    let engaged: Result<Vec<(Uuid, i64)>, sqlx::Error> = sqlx::query_as(
        "SELECT content_id, count(*) FROM profiles.user_items WHERE engaged GROUP BY content_id",
    )
    .fetch_all(pool)
    .await;
    // Either may be missing (an api-only database, or not migrated yet): keep what was read last.
    let engagement = match engaged {
        Ok(rows) => Some(Engagement::new(
            rows.into_iter().map(|(id, n)| (id, n as u64)).collect(),
        )),
        Err(e) => {
            tracing::debug!(error = %e, "engagement counts not read");
            None
        }
    };
    let (last, documents) = {
        let c = shared.lock().expect("known");
        (c.catalog, c.documents)
    };
    let sequels = match sequels(pool, last).await {
        Ok(read) => read,
        Err(e) => {
            tracing::debug!(error = %e, "catalog titles not read");
            None
        }
    };
    let surnames = match surnames(pool, documents).await {
        Ok(read) => read,
        Err(e) => {
            tracing::debug!(error = %e, "credited people not read");
            None
        }
    };
    let mut c = shared.lock().expect("known");
    c.refreshing = false;
    c.read_at = Some(Instant::now());
    let mut known = Known::clone(&c.known);
    if let Some((s, version)) = surnames {
        known.surnames = s;
        c.documents = Some(version);
    }
    if let Some(e) = engagement {
        known.engagement = e;
    }
    if let Some((s, soundalikes, version)) = sequels {
        known.sequels = s;
        known.soundalikes = Arc::new(soundalikes);
        c.catalog = Some(version);
    }
    c.known = Arc::new(known);
}

/// The catalog's sequel counts and titles by sound, unless the catalog is as it was at `last`
/// (titles and latest change): the whole title list is read and matched only after the catalog
/// changed, and off the async workers, so searches running meanwhile do not wait behind it.
async fn sequels(
    pool: &PgPool,
    last: Option<CatalogVersion>,
) -> Result<Option<(Sequels, Soundalikes, CatalogVersion)>, sqlx::Error> {
    let version: CatalogVersion =
        sqlx::query_as("SELECT count(*), max(last_updated) FROM catalog.content")
            .fetch_one(pool)
            .await?;
    if last == Some(version) {
        return Ok(None);
    }
    let rows: Vec<(Uuid, String, i32)> =
        sqlx::query_as("SELECT id, title, release_year FROM catalog.content")
            .fetch_all(pool)
            .await?;
    let (sequels, soundalikes) = tokio::task::spawn_blocking(move || {
        (
            Sequels::from_titles(
                rows.iter()
                    .map(|(id, title, year)| (*id, title.as_str(), i64::from(*year))),
            ),
            Soundalikes::from_titles(rows.iter().map(|(_, title, _)| title.as_str())),
        )
    })
    .await
    .unwrap_or_default();
    Ok(Some((sequels, soundalikes, version)))
}

/// Whom each surname stands for, unless the search projection's documents are as they were at
/// `last`: every person credited (leading cast or director) on at least [`MIN_CREDITS`] live
/// titles with the people who engaged with those titles (none where the profiles projection is
/// not in this database), and the catalog's titles (a surname that is a common title word stays
/// a word). Built off the async workers.
async fn surnames(
    pool: &PgPool,
    last: Option<DocumentsVersion>,
) -> Result<Option<(Surnames, DocumentsVersion)>, sqlx::Error> {
    let version: DocumentsVersion = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT retired), count(*) FILTER (WHERE retired), \
         coalesce(sum(sequence), 0)::int8 FROM search.documents",
    )
    .fetch_one(pool)
    .await?;
    if last == Some(version) {
        return Ok(None);
    }
    const CREDITED: &str = "SELECT DISTINCT d.content_id, name FROM search.documents d \
         CROSS JOIN LATERAL unnest(d.\"cast\"[1:$1] || d.directors) AS name WHERE NOT d.retired";
    let engaged = format!(
        "WITH e AS (SELECT content_id, count(*) AS n FROM profiles.user_items WHERE engaged \
         GROUP BY content_id), p AS ({CREDITED}) \
         SELECT name, count(*), coalesce(sum(e.n), 0)::int8 FROM p LEFT JOIN e USING (content_id) \
         GROUP BY name HAVING count(*) >= $2"
    );
    let alone = format!(
        "SELECT name, count(*), 0::int8 FROM ({CREDITED}) p GROUP BY name HAVING count(*) >= $2"
    );
    let read = |sql: String| async move {
        sqlx::query_as::<_, (String, i64, i64)>(&sql)
            .bind(MAX_CAST as i32)
            .bind(i64::from(MIN_CREDITS))
            .fetch_all(pool)
            .await
    };
    let credits = match read(engaged).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::debug!(error = %e, "engagement per person not read; credits alone");
            read(alone).await?
        }
    };
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM catalog.content")
        .fetch_all(pool)
        .await?;
    let surnames = tokio::task::spawn_blocking(move || {
        Surnames::from_credits(
            credits.iter().map(|(n, titles, engaged)| {
                let c = Credits {
                    titles: u32::try_from(*titles).unwrap_or(u32::MAX),
                    engaged: u64::try_from(*engaged).unwrap_or(0),
                };
                (n.as_str(), c)
            }),
            titles.iter().map(String::as_str),
        )
    })
    .await
    .unwrap_or_default();
    Ok(Some((surnames, version)))
}
