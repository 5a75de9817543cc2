//! Search index projection: folds title events into the hybrid index (dense embedding, BM25 terms,
//! title trigrams, filterable payload) behind the [`SearchIndex`] port.
//!
//! The index is not transactional, so exactly-once is "in effect": every write is an idempotent
//! upsert/overwrite derived from state kept in this projection's PostgreSQL schema (documents and
//! offers), the index is flushed before the batch transaction stores the offsets, and a redelivered
//! batch rewrites the same points. The schema also records which index *generation* it feeds, so a
//! blue/green replay fills a fresh generation and the schema swap switches readers and the live
//! projector to it together.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Datelike;
use mediagw_domain::catalog::TitleMetadata;
use mediagw_domain::search::prior::catalog_prior;
use mediagw_domain::search::text::{
    directors, document_text, embedding_text, fnv1a64, people_vector, title_trigrams, MAX_CAST,
};
use mediagw_domain::search::Bm25;
use mediagw_domain::title::TitleEvent;
use mediagw_schemas::{topics, EventMeta, EventRecord};
use mediagw_search_adapters::cache::{Cache, CACHE_GENERATION_KEY};
use mediagw_search_adapters::embed::Embedder;
use mediagw_search_adapters::index::{DocPayload, IndexDoc, SearchIndex};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const LIVE_SCHEMA: &str = "search";
/// The projector's name in its offsets table.
pub const NAME: &str = "search";
/// Not swapped by replays: embeddings survive rebuilds, and generation numbers never repeat.
pub const SHARED_SCHEMA: &str = "search_shared";

pub struct SearchProjection {
    schema: String,
    index: Arc<dyn SearchIndex>,
    embedder: Arc<dyn Embedder>,
    cache: Option<Arc<dyn Cache>>,
    bm25: Bm25,
}

fn transient(e: impl std::fmt::Display) -> ApplyError {
    ApplyError::Transient(e.to_string())
}

/// FNV-1a 64 of the model and text: the embedding cache key.
fn text_key(model: &str, text: &str) -> i64 {
    fnv1a64(model.bytes().chain([0u8]).chain(text.bytes())) as i64
}

#[derive(sqlx::FromRow)]
struct DocRow {
    id: Uuid,
    title: String,
    year: i32,
    content_type: String,
    genres: Vec<String>,
    cast: Vec<String>,
    /// Read from the overview ([`directors`]).
    directors: Vec<String>,
    /// How well known the title is (catalog signals), in [0, 1].
    prior: f32,
    /// Minutes, 0 when unknown.
    runtime: i32,
    /// Audience rating 0–10 from a provider, 0 when none (`filters.rating_range`).
    rating: f32,
}

impl SearchProjection {
    pub fn new(
        schema: &str,
        index: Arc<dyn SearchIndex>,
        embedder: Arc<dyn Embedder>,
        cache: Option<Arc<dyn Cache>>,
    ) -> Self {
        Self {
            schema: schema.to_string(),
            index,
            embedder,
            cache,
            bm25: Bm25::default(),
        }
    }
}

/// Creates the projection's tables in `schema` (idempotent); needs no index or model.
pub async fn migrate(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    crate::framework::run_ddl(pool, schema, ddl(schema)).await
}

fn ddl(s: &str) -> String {
    {
        format!(
            r#"
CREATE SCHEMA IF NOT EXISTS {SHARED_SCHEMA};
CREATE SEQUENCE IF NOT EXISTS {SHARED_SCHEMA}.generations;
CREATE TABLE IF NOT EXISTS {SHARED_SCHEMA}.embeddings (
    text_key bigint PRIMARY KEY,
    vector   real[] NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.index_generation (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    generation bigint NOT NULL
);
INSERT INTO {s}.index_generation (generation)
    SELECT nextval('{SHARED_SCHEMA}.generations')
    WHERE NOT EXISTS (SELECT 1 FROM {s}.index_generation);
CREATE TABLE IF NOT EXISTS {s}.documents (
    content_id   uuid PRIMARY KEY,
    sequence     bigint NOT NULL,
    title        text NOT NULL,
    year         integer NOT NULL,
    content_type text NOT NULL,
    genres       text[] NOT NULL,
    retired      boolean NOT NULL DEFAULT false
);
ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS "cast" text[] NOT NULL DEFAULT '{{}}';
ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS prior real NOT NULL DEFAULT 0;
ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS rating real NOT NULL DEFAULT 0;
ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS runtime integer NOT NULL DEFAULT 0;
ALTER TABLE {s}.documents ADD COLUMN IF NOT EXISTS directors text[] NOT NULL DEFAULT '{{}}';
CREATE TABLE IF NOT EXISTS {s}.offers (
    content_id        uuid NOT NULL,
    platform          text NOT NULL,
    region            text NOT NULL,
    availability_type text NOT NULL,
    PRIMARY KEY (content_id, platform, region, availability_type)
);
{offsets};
"#,
            offsets = offsets_ddl(s)
        )
    }
}

impl SearchProjection {
    /// Embeddings for texts: cached ones from PostgreSQL, the rest from the model (then cached).
    async fn embeddings(
        &self,
        tx: &mut PgConnection,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ApplyError> {
        let model = self.embedder.model().to_string();
        let keys: Vec<i64> = texts.iter().map(|t| text_key(&model, t)).collect();
        let cached: HashMap<i64, Vec<f32>> = sqlx::query_as::<_, (i64, Vec<f32>)>(&format!(
            "SELECT text_key, vector FROM {SHARED_SCHEMA}.embeddings WHERE text_key = ANY($1)"
        ))
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let missing: Vec<usize> = (0..texts.len())
            .filter(|i| !cached.contains_key(&keys[*i]))
            .collect();
        let fresh = if missing.is_empty() {
            Vec::new()
        } else {
            let started = std::time::Instant::now();
            let v = self
                .embedder
                .embed(missing.iter().map(|i| texts[*i].clone()).collect())
                .await
                .map_err(transient)?;
            metrics::counter!("search_embeddings_total").increment(v.len() as u64);
            metrics::histogram!("search_embed_batch_seconds")
                .record(started.elapsed().as_secs_f64());
            let mkeys: Vec<i64> = missing.iter().map(|i| keys[*i]).collect();
            // One row per key: two titles with the same text share it.
            let mut seen = HashSet::new();
            let (mut k2, mut v2) = (Vec::new(), Vec::new());
            for (k, vec) in mkeys.iter().zip(&v) {
                if seen.insert(*k) {
                    k2.push(*k);
                    v2.push(pg_vector(vec));
                }
            }
            sqlx::query(&format!(
                "INSERT INTO {SHARED_SCHEMA}.embeddings (text_key, vector)
                 SELECT k, string_to_array(v, ',')::real[] FROM UNNEST($1::bigint[], $2::text[]) AS t(k, v)
                 ON CONFLICT (text_key) DO NOTHING"
            ))
            .bind(&k2)
            .bind(&v2)
            .execute(&mut *tx)
            .await?;
            v
        };
        let mut fresh = fresh.into_iter();
        Ok((0..texts.len())
            .map(|i| match cached.get(&keys[i]) {
                Some(v) => v.clone(),
                None => fresh.next().expect("one embedding per missing text"),
            })
            .collect())
    }

    async fn payloads(
        &self,
        tx: &mut PgConnection,
        docs: &[DocRow],
    ) -> Result<HashMap<Uuid, DocPayload>, ApplyError> {
        let s = &self.schema;
        let ids: Vec<Uuid> = docs.iter().map(|d| d.id).collect();
        let offers: Vec<(Uuid, String, String)> = sqlx::query_as(&format!(
            "SELECT DISTINCT content_id, platform, region FROM {s}.offers WHERE content_id = ANY($1)
             ORDER BY 1, 2, 3"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut by_id: HashMap<Uuid, (Vec<String>, Vec<String>)> = HashMap::new();
        for (id, platform, region) in offers {
            let e = by_id.entry(id).or_default();
            if !e.0.contains(&platform) {
                e.0.push(platform.clone());
            }
            e.1.push(format!("{platform}:{region}"));
        }
        Ok(docs
            .iter()
            .map(|d| {
                let (platforms, offers) = by_id.remove(&d.id).unwrap_or_default();
                (
                    d.id,
                    DocPayload {
                        title: d.title.clone(),
                        year: i64::from(d.year),
                        content_type: d.content_type.clone(),
                        genres: d.genres.clone(),
                        platforms,
                        offers,
                        rating: f64::from(d.rating),
                        popularity: f64::from(d.prior),
                        cast: d.cast.clone(),
                        directors: d.directors.clone(),
                        runtime: i64::from(d.runtime),
                    },
                )
            })
            .collect())
    }
}

fn pg_vector(v: &[f32]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl Projection for SearchProjection {
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
        migrate(pool, &self.schema).await
    }

    async fn settle(&self, pool: &PgPool) -> Result<(), ApplyError> {
        let generation: i64 = sqlx::query_scalar(&format!(
            "SELECT generation FROM {}.index_generation",
            self.schema
        ))
        .fetch_one(pool)
        .await?;
        self.index.release(generation).await.map_err(transient)
    }

    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        self.apply_many(tx, vec![record]).await
    }

    async fn apply_many(
        &self,
        tx: &mut PgConnection,
        records: Vec<EventRecord>,
    ) -> Result<(), ApplyError> {
        let s = self.schema.clone();
        let mut events: Vec<(EventMeta, TitleEvent)> = Vec::with_capacity(records.len());
        for r in records {
            events.push(
                r.into_domain()
                    .map_err(|e| ApplyError::Poison(e.to_string()))?,
            );
        }
        let generation: i64 =
            sqlx::query_scalar(&format!("SELECT generation FROM {s}.index_generation"))
                .fetch_one(&mut *tx)
                .await?;

        // Merges retire titles; offers change payloads; metadata (newest per title) re-indexes.
        let mut retired: Vec<Uuid> = Vec::new();
        let mut touched: HashSet<Uuid> = HashSet::new();
        let mut newest: HashMap<Uuid, (&EventMeta, &TitleMetadata)> = HashMap::new();
        for (meta, ev) in &events {
            let id = meta.content_id;
            match ev {
                TitleEvent::TitlesMerged { .. } => retired.push(id),
                TitleEvent::AvailabilityArrived { offer, .. }
                | TitleEvent::AvailabilityUpdated { offer, .. } => {
                    sqlx::query(&format!(
                        "INSERT INTO {s}.offers (content_id, platform, region, availability_type)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
                    ))
                    .bind(id)
                    .bind(&offer.platform)
                    .bind(&offer.region)
                    .bind(offer.availability_type.as_str())
                    .execute(&mut *tx)
                    .await?;
                    touched.insert(id);
                }
                TitleEvent::AvailabilityLeft { key, .. } => {
                    sqlx::query(&format!(
                        "DELETE FROM {s}.offers WHERE content_id = $1 AND platform = $2
                         AND region = $3 AND availability_type = $4"
                    ))
                    .bind(id)
                    .bind(&key.platform)
                    .bind(&key.region)
                    .bind(key.availability_type.as_str())
                    .execute(&mut *tx)
                    .await?;
                    touched.insert(id);
                }
                TitleEvent::TitleIngested { metadata, .. }
                | TitleEvent::TitleUpdated { metadata, .. } => {
                    if newest
                        .get(&id)
                        .is_none_or(|(m, _)| m.sequence < meta.sequence)
                    {
                        newest.insert(id, (meta, metadata));
                    }
                }
            }
        }
        if !retired.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO {s}.documents (content_id, sequence, title, year, content_type, genres, retired)
                 SELECT id, 0, '', 0, '', '{{}}', true FROM UNNEST($1::uuid[]) AS t(id)
                 ON CONFLICT (content_id) DO UPDATE SET retired = true"
            ))
            .bind(&retired)
            .execute(&mut *tx)
            .await?;
        }

        // Metadata newer than what is indexed, for titles not retired.
        let ids: Vec<Uuid> = newest.keys().copied().collect();
        let stored: HashMap<Uuid, (i64, bool)> = sqlx::query_as::<_, (Uuid, i64, bool)>(&format!(
            "SELECT content_id, sequence, retired FROM {s}.documents WHERE content_id = ANY($1)"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, seq, r)| (id, (seq, r)))
        .collect();
        newest.retain(|id, (meta, _)| {
            stored
                .get(id)
                .is_none_or(|(seq, r)| !*r && *seq < meta.sequence)
        });
        let mut fresh: Vec<(&EventMeta, &TitleMetadata)> = newest.into_values().collect();
        fresh.sort_by_key(|(m, _)| m.content_id);
        let rows: Vec<DocRow> = fresh
            .iter()
            .map(|(m, md)| DocRow {
                id: m.content_id,
                title: md.title.clone(),
                year: md.release_date.year(),
                content_type: md.content_type.as_str().to_string(),
                genres: md.genres.clone(),
                cast: md.cast.iter().take(MAX_CAST).cloned().collect(),
                directors: md.overview.as_deref().map(directors).unwrap_or_default(),
                // Provider votes stay out of the prior: measured, they gave the reranker nothing
                // (docs/quality.md, tenth pass; ADR 0027).
                prior: catalog_prior(md.overview.as_deref(), md.cast.len()),
                runtime: md.runtime_minutes.map_or(0, i32::from),
                rating: md.rating.map_or(0.0, |r| r.average()),
            })
            .collect();
        if !rows.is_empty() {
            let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialise");
            let genres: Vec<String> = rows.iter().map(|r| json(&r.genres)).collect();
            let cast: Vec<String> = rows.iter().map(|r| json(&r.cast)).collect();
            let directed: Vec<String> = rows.iter().map(|r| json(&r.directors)).collect();
            sqlx::query(&format!(
                "INSERT INTO {s}.documents (content_id, sequence, title, year, content_type, genres, \"cast\", prior, runtime, rating, directors)
                 SELECT id, seq, title, year, ct, ARRAY(SELECT jsonb_array_elements_text(g::jsonb)),
                        ARRAY(SELECT jsonb_array_elements_text(c::jsonb)), prior, runtime, rating,
                        ARRAY(SELECT jsonb_array_elements_text(d::jsonb))
                 FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::real[], $9::int[], $10::real[], $11::text[])
                   AS t(id, seq, title, year, ct, g, c, prior, runtime, rating, d)
                 ON CONFLICT (content_id) DO UPDATE SET sequence = EXCLUDED.sequence,
                   title = EXCLUDED.title, year = EXCLUDED.year,
                   content_type = EXCLUDED.content_type, genres = EXCLUDED.genres,
                   \"cast\" = EXCLUDED.\"cast\", prior = EXCLUDED.prior,
                   runtime = EXCLUDED.runtime, rating = EXCLUDED.rating,
                   directors = EXCLUDED.directors"
            ))
            .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
            .bind(fresh.iter().map(|(m, _)| m.sequence).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.title.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.year).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.content_type.clone()).collect::<Vec<_>>())
            .bind(&genres)
            .bind(&cast)
            .bind(rows.iter().map(|r| r.prior).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.runtime).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.rating).collect::<Vec<_>>())
            .bind(&directed)
            .execute(&mut *tx)
            .await?;
        }
        let texts: Vec<String> = fresh.iter().map(|(_, md)| embedding_text(md)).collect();
        let vectors = self.embeddings(tx, &texts).await?;
        let mut payloads = self.payloads(tx, &rows).await?;
        let docs: Vec<IndexDoc> = fresh
            .iter()
            .zip(&rows)
            .zip(vectors)
            .map(|(((m, md), row), dense)| IndexDoc {
                id: m.content_id,
                dense,
                text: self.bm25.document(&document_text(md)),
                title: title_trigrams(&md.title),
                cast: people_vector(&md.cast, &row.directors),
                payload: payloads.remove(&m.content_id).expect("payload per row"),
            })
            .collect();

        // Offer changes of titles not re-indexed above: payload only.
        let indexed: HashSet<Uuid> = docs.iter().map(|d| d.id).collect();
        let others: Vec<Uuid> = touched.difference(&indexed).copied().collect();
        let other_rows: Vec<DocRow> = sqlx::query_as(&format!(
            "SELECT content_id AS id, title, year, content_type, genres, \"cast\", directors, prior, runtime, rating
             FROM {s}.documents WHERE content_id = ANY($1) AND NOT retired"
        ))
        .bind(&others)
        .fetch_all(&mut *tx)
        .await?;
        let updates: Vec<(Uuid, DocPayload)> =
            self.payloads(tx, &other_rows).await?.into_iter().collect();

        let changed = !docs.is_empty() || !updates.is_empty() || !retired.is_empty();
        self.index
            .upsert(generation, docs)
            .await
            .map_err(transient)?;
        self.index
            .set_payload(generation, updates)
            .await
            .map_err(transient)?;
        self.index
            .delete(generation, retired)
            .await
            .map_err(transient)?;
        if changed {
            // Durable before the offsets commit: a crash after this point redoes the same writes.
            self.index.flush(generation).await.map_err(transient)?;
            if let Some(cache) = &self.cache {
                if let Err(e) = cache.bump(CACHE_GENERATION_KEY).await {
                    tracing::warn!(error = %e, "could not invalidate cached search results");
                }
            }
        }
        Ok(())
    }
}
