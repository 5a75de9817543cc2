//! Catalog read model (seed §2 content schema): `content`, `external_ids`, `platform_availability`.
//!
//! Metadata events carry full snapshots and arrive on two topics, so their relative order is not
//! guaranteed: a row keeps the newest snapshot by aggregate sequence (`content.version`). Availability
//! events share one topic and key, so they arrive in order; `availability_versions` drops replays of
//! ones already applied. Availability rows do not reference `content` with a foreign key for the same
//! reason: they may be projected before the title row. A title retired by `TitlesMerged` leaves a
//! redirect to its survivor; its rows go, and late events of it (other topics) are ignored.

use std::collections::HashMap;

use async_trait::async_trait;
use mediagw_domain::catalog::{ExternalIds, Offer, OfferKey, TitleMetadata};
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
ALTER TABLE {s}.platform_availability ADD COLUMN IF NOT EXISTS video_quality varchar(10);
CREATE TABLE IF NOT EXISTS {s}.availability_versions (
    content_id uuid PRIMARY KEY,
    version    bigint NOT NULL
);
-- The availability change feed ("new arrivals", "leaving", price changes), one row per event.
CREATE TABLE IF NOT EXISTS {s}.availability_changes (
    content_id        uuid NOT NULL,
    sequence          bigint NOT NULL,
    change            varchar(10) NOT NULL,
    platform          varchar(50) NOT NULL,
    region            varchar(3) NOT NULL,
    availability_type varchar(20) NOT NULL,
    price_amount      decimal(10,2),
    price_currency    varchar(3),
    expires_at        timestamptz,
    occurred_at       timestamptz NOT NULL,
    PRIMARY KEY (content_id, sequence)
);
ALTER TABLE {s}.availability_changes ADD COLUMN IF NOT EXISTS video_quality varchar(10);
ALTER TABLE {s}.availability_changes ALTER COLUMN change TYPE varchar(20);
-- Titles retired by entity resolution: the old id resolves to the survivor.
CREATE TABLE IF NOT EXISTS {s}.content_redirects (
    old_id      uuid PRIMARY KEY,
    survivor_id uuid NOT NULL,
    confidence  real NOT NULL,
    reasons     text[] NOT NULL,
    merged_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_changes_region_time ON {s}.availability_changes (region, occurred_at, content_id, sequence);
{offsets};
"#,
            offsets = offsets_ddl(s)
        )
    }

    /// Metadata events: the newest snapshot per title in the batch, kept only if newer than the
    /// stored version; one upsert for all, then their external ids.
    async fn apply_metadata_set(
        &self,
        tx: &mut PgConnection,
        events: &[(EventMeta, TitleEvent)],
    ) -> Result<(), ApplyError> {
        let s = &self.schema;
        let mut newest: HashMap<Uuid, (&EventMeta, &TitleMetadata, &ExternalIds)> = HashMap::new();
        for (meta, ev) in events {
            if let TitleEvent::TitleIngested {
                metadata,
                external_ids,
                ..
            }
            | TitleEvent::TitleUpdated {
                metadata,
                external_ids,
                ..
            } = ev
            {
                let keep = newest
                    .get(&meta.content_id)
                    .is_none_or(|(m, _, _)| m.sequence < meta.sequence);
                if keep {
                    newest.insert(meta.content_id, (meta, metadata, external_ids));
                }
            }
        }
        let retired = self.retired(tx, newest.keys().copied().collect()).await?;
        newest.retain(|id, _| !retired.contains(id));
        if newest.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = newest.into_values().collect();
        let ids: Vec<Uuid> = rows.iter().map(|r| r.0.content_id).collect();
        let genres: Vec<String> = rows
            .iter()
            .map(|r| serde_json::to_string(&r.1.genres).unwrap_or_else(|_| "[]".into()))
            .collect();
        let applied: Vec<Uuid> = sqlx::query_scalar(&format!(
            "INSERT INTO {s}.content (id, content_type, title, original_title, overview, release_date, release_year,
                                      runtime_minutes, genres, average_rating, vote_count, version, last_updated)
             SELECT id, ct, t, ot, ov, rd, EXTRACT(YEAR FROM rd)::int, rt,
                    ARRAY(SELECT json_array_elements_text(g::json)), ar, vc, v, lu
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::int[], $8::text[],
                         $9::real[], $10::int[], $11::bigint[], $12::timestamptz[])
                  AS x(id, ct, t, ot, ov, rd, rt, g, ar, vc, v, lu)
             ON CONFLICT (id) DO UPDATE SET
                content_type = EXCLUDED.content_type, title = EXCLUDED.title, original_title = EXCLUDED.original_title,
                overview = EXCLUDED.overview, release_date = EXCLUDED.release_date, release_year = EXCLUDED.release_year,
                runtime_minutes = EXCLUDED.runtime_minutes, genres = EXCLUDED.genres,
                average_rating = EXCLUDED.average_rating, vote_count = EXCLUDED.vote_count, version = EXCLUDED.version,
                last_updated = EXCLUDED.last_updated
             WHERE {s}.content.version < EXCLUDED.version
             RETURNING id"
        ))
        .bind(&ids)
        .bind(rows.iter().map(|r| r.1.content_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.title.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.original_title.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.overview.as_deref()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.release_date).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.runtime_minutes.map(i32::from)).collect::<Vec<_>>())
        .bind(&genres)
        // Unrated titles keep the seed's defaults (0.0, 0 votes).
        .bind(rows.iter().map(|r| r.1.rating.map_or(0.0, |x| x.average())).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.rating.map_or(0, |x| i32::try_from(x.votes).unwrap_or(i32::MAX))).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0.sequence).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0.occurred_at).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        if applied.is_empty() {
            return Ok(());
        }
        let applied_set: std::collections::HashSet<Uuid> = applied.iter().copied().collect();
        sqlx::query(&format!(
            "DELETE FROM {s}.external_ids WHERE content_id = ANY($1)"
        ))
        .bind(&applied)
        .execute(&mut *tx)
        .await?;
        // One owner per identifier: when two titles of this batch claim one (a merge moved it),
        // the later commit wins, as it would one event at a time.
        let mut owners: HashMap<(&str, &str), &EventMeta> = HashMap::new();
        for r in rows
            .iter()
            .filter(|r| applied_set.contains(&r.0.content_id))
        {
            for (k, v) in r.2 {
                let cur = owners.entry((k.as_str(), v.as_str())).or_insert(r.0);
                if (r.0.occurred_at, r.0.content_id) > (cur.occurred_at, cur.content_id) {
                    *cur = r.0;
                }
            }
        }
        let (mut cid, mut ty, mut val) = (Vec::new(), Vec::new(), Vec::new());
        for ((k, v), m) in owners {
            cid.push(m.content_id);
            ty.push(k);
            val.push(v);
        }
        sqlx::query(&format!(
            "INSERT INTO {s}.external_ids (content_id, id_type, id_value)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])
             ON CONFLICT (id_type, id_value) DO UPDATE SET content_id = EXCLUDED.content_id"
        ))
        .bind(&cid)
        .bind(&ty)
        .bind(&val)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Which of `ids` were retired by a merge (their late events are dropped).
    async fn retired(
        &self,
        tx: &mut PgConnection,
        ids: Vec<Uuid>,
    ) -> Result<std::collections::HashSet<Uuid>, ApplyError> {
        let s = &self.schema;
        Ok(sqlx::query_scalar::<_, Uuid>(&format!(
            "SELECT old_id FROM {s}.content_redirects WHERE old_id = ANY($1)"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect())
    }

    /// `TitlesMerged`: remember the redirect and drop the retired title's rows. The survivor's own
    /// events (ids and offers it took over) arrive separately.
    async fn apply_merges(
        &self,
        tx: &mut PgConnection,
        events: &[(EventMeta, TitleEvent)],
    ) -> Result<(), ApplyError> {
        let s = &self.schema;
        for (meta, ev) in events {
            let TitleEvent::TitlesMerged {
                survivor_id,
                confidence,
                reasons,
            } = ev
            else {
                continue;
            };
            let old = meta.content_id;
            sqlx::query(&format!(
                "INSERT INTO {s}.content_redirects (old_id, survivor_id, confidence, reasons, merged_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (old_id) DO NOTHING"
            ))
            .bind(old)
            .bind(survivor_id)
            .bind(confidence)
            .bind(reasons)
            .bind(meta.occurred_at)
            .execute(&mut *tx)
            .await?;
            // Titles that were merged into `old` earlier now resolve to the survivor directly.
            sqlx::query(&format!(
                "UPDATE {s}.content_redirects SET survivor_id = $2 WHERE survivor_id = $1"
            ))
            .bind(old)
            .bind(survivor_id)
            .execute(&mut *tx)
            .await?;
            for table in ["content", "external_ids", "platform_availability"] {
                let col = if table == "content" {
                    "id"
                } else {
                    "content_id"
                };
                sqlx::query(&format!("DELETE FROM {s}.{table} WHERE {col} = $1"))
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Appends availability events to the change feed (idempotent by aggregate and sequence).
    async fn record_changes(
        &self,
        tx: &mut PgConnection,
        changes: &[(&EventMeta, &TitleEvent, &'static str)],
    ) -> Result<(), ApplyError> {
        if changes.is_empty() {
            return Ok(());
        }
        let s = &self.schema;
        let mut rows = Vec::with_capacity(changes.len());
        for (meta, ev, change) in changes {
            let (key, offer) = match ev {
                TitleEvent::AvailabilityArrived { offer, .. }
                | TitleEvent::AvailabilityUpdated { offer, .. } => (offer.key(), Some(offer)),
                TitleEvent::AvailabilityLeft { key, .. } => (key.clone(), None),
                _ => continue,
            };
            rows.push((meta, *change, key, offer));
        }
        sqlx::query(&format!(
            "INSERT INTO {s}.availability_changes (content_id, sequence, change, platform, region, availability_type,
                price_amount, price_currency, expires_at, occurred_at, video_quality)
             SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
                                  $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[])
             ON CONFLICT (content_id, sequence) DO NOTHING"
        ))
        .bind(rows.iter().map(|r| r.0.content_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0.sequence).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.platform.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.region.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.availability_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3.and_then(|o| o.price_amount)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3.and_then(|o| o.price_currency.as_deref())).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3.and_then(|o| o.expires_at)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0.occurred_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.3.and_then(|o| o.video_quality.as_deref())).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Availability events: fold each title's new events (above its stored
    /// version) into the final state of every offer they touch, then one delete and one upsert.
    async fn apply_availability_set(
        &self,
        tx: &mut PgConnection,
        events: &[(EventMeta, TitleEvent)],
    ) -> Result<(), ApplyError> {
        let s = &self.schema;
        let mut per_title: HashMap<Uuid, Vec<(&EventMeta, &TitleEvent)>> = HashMap::new();
        for (meta, ev) in events {
            if matches!(
                ev,
                TitleEvent::AvailabilityArrived { .. }
                    | TitleEvent::AvailabilityUpdated { .. }
                    | TitleEvent::AvailabilityLeft { .. }
            ) {
                per_title
                    .entry(meta.content_id)
                    .or_default()
                    .push((meta, ev));
            }
        }
        if per_title.is_empty() {
            return Ok(());
        }
        let retired = self
            .retired(tx, per_title.keys().copied().collect())
            .await?;
        per_title.retain(|id, _| !retired.contains(id));
        let ids: Vec<Uuid> = per_title.keys().copied().collect();
        let stored: HashMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(&format!(
            "SELECT content_id, version FROM {s}.availability_versions WHERE content_id = ANY($1) FOR UPDATE"
        ))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut finals: HashMap<(Uuid, OfferKey), Option<(&str, &Offer)>> = HashMap::new();
        let (mut vid, mut vver) = (Vec::new(), Vec::new());
        let mut changes: Vec<(&EventMeta, &TitleEvent, &'static str)> = Vec::new();
        for (id, mut evs) in per_title {
            evs.sort_by_key(|(m, _)| m.sequence);
            let mut version = stored.get(&id).copied().unwrap_or(0);
            for (meta, ev) in evs {
                if meta.sequence <= version {
                    continue;
                }
                version = meta.sequence;
                changes.push((meta, ev, change_kind(ev)));
                match ev {
                    TitleEvent::AvailabilityArrived { source, offer }
                    | TitleEvent::AvailabilityUpdated { source, offer, .. } => {
                        finals.insert((id, offer.key()), Some((source.as_str(), offer)));
                    }
                    TitleEvent::AvailabilityLeft { key, .. } => {
                        finals.insert((id, key.clone()), None);
                    }
                    _ => {}
                }
            }
            vid.push(id);
            vver.push(version);
        }
        self.record_changes(tx, &changes).await?;
        let (gone, present): (Vec<_>, Vec<_>) = finals.iter().partition(|(_, v)| v.is_none());
        if !gone.is_empty() {
            sqlx::query(&format!(
                "DELETE FROM {s}.platform_availability a USING UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[]) AS g(c, p, r, t)
                 WHERE a.content_id = g.c AND a.platform = g.p AND a.region = g.r AND a.availability_type = g.t"
            ))
            .bind(gone.iter().map(|((c, _), _)| *c).collect::<Vec<_>>())
            .bind(gone.iter().map(|((_, k), _)| k.platform.as_str()).collect::<Vec<_>>())
            .bind(gone.iter().map(|((_, k), _)| k.region.as_str()).collect::<Vec<_>>())
            .bind(gone.iter().map(|((_, k), _)| k.availability_type.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        if !present.is_empty() {
            let offers: Vec<(Uuid, &str, &Offer)> = present
                .iter()
                .filter_map(|((c, _), v)| v.map(|(src, o)| (*c, src, o)))
                .collect();
            sqlx::query(&format!(
                "INSERT INTO {s}.platform_availability (id, content_id, platform, region, availability_type, price_amount,
                    price_currency, deep_link, web_url, available_from, expires_at, source, video_quality)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[],
                                      $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
                 ON CONFLICT (content_id, platform, region, availability_type) DO UPDATE SET
                    price_amount = EXCLUDED.price_amount, price_currency = EXCLUDED.price_currency,
                    deep_link = EXCLUDED.deep_link, web_url = EXCLUDED.web_url, available_from = EXCLUDED.available_from,
                    expires_at = EXCLUDED.expires_at, source = EXCLUDED.source,
                    video_quality = EXCLUDED.video_quality"
            ))
            .bind(offers.iter().map(|(c, _, o)| offer_row_id(*c, &o.key())).collect::<Vec<_>>())
            .bind(offers.iter().map(|(c, _, _)| *c).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.platform.as_str()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.region.as_str()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.availability_type.as_str()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.price_amount).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.price_currency.as_deref()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.deep_link.as_str()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.web_url.as_str()).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.available_from).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.expires_at).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, src, _)| *src).collect::<Vec<_>>())
            .bind(offers.iter().map(|(_, _, o)| o.video_quality.as_deref()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(&format!(
            "INSERT INTO {s}.availability_versions (content_id, version) SELECT * FROM UNNEST($1::uuid[], $2::bigint[])
             ON CONFLICT (content_id) DO UPDATE SET version = GREATEST({s}.availability_versions.version, EXCLUDED.version)"
        ))
        .bind(&vid)
        .bind(&vver)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Feed kind of an availability event: `arrived`, `left`, or the update's own `change`
/// (`price_changed`, `expiry_set`, `updated`).
fn change_kind(ev: &TitleEvent) -> &'static str {
    match ev {
        TitleEvent::AvailabilityArrived { .. } => "arrived",
        TitleEvent::AvailabilityLeft { .. } => "left",
        TitleEvent::AvailabilityUpdated { change, .. } => change.as_str(),
        _ => "updated",
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
        crate::framework::run_ddl(pool, &self.schema, self.ddl()).await
    }

    async fn apply_many(
        &self,
        tx: &mut PgConnection,
        records: Vec<EventRecord>,
    ) -> Result<(), ApplyError> {
        let mut events = Vec::with_capacity(records.len());
        for r in records {
            events.push(
                r.into_domain()
                    .map_err(|e| ApplyError::Poison(e.to_string()))?,
            );
        }
        self.apply_merges(tx, &events).await?;
        self.apply_metadata_set(tx, &events).await?;
        self.apply_availability_set(tx, &events).await
    }

    /// One event is a batch of one: the same statements as the fast path, so the careful path
    /// (one savepoint per event) cannot diverge from it.
    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        self.apply_many(tx, vec![record]).await
    }
}
