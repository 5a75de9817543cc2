//! Bulk ingestion for data engineers (`mediagw ingest file`, the ingest benchmark): the same
//! validation, identity resolution and aggregate decisions as [`TitleService::ingest`], but many
//! titles per round trip and one event-store transaction per chunk.
//!
//! The events go through the event store's one append (`mediagw_eventstore::append`), in the shape
//! cqrs-es writes, so the outbox trigger, the relay and later cqrs-es loads see no difference. If
//! anything in the chunk conflicts (a concurrent writer
//! took a sequence number or an identifier), the chunk's transaction is rolled back and every record
//! in it goes through the one-by-one path instead, which retries conflicts.

use chrono::Datelike;
use std::collections::HashMap;

use mediagw_domain::catalog::CanonicalTitle;
use mediagw_domain::resolution::{Fingerprint, Match, Verdict};
use mediagw_domain::title::{Title, TitleCommand, TitleEvent};
use mediagw_eventstore::Appended;
use sqlx::Row;
use uuid::Uuid;

use crate::error::CommandError;
use crate::resolution::index as resolution;
use crate::titles::{
    identity_keys, majority, IngestAction, IngestRequest, IngestResponse, TitleService,
};

struct Planned {
    index: usize,
    content_id: Uuid,
    source: String,
    region: String,
    record: CanonicalTitle,
    keys: Vec<(String, String)>,
    fingerprint: Fingerprint,
    /// Fuzzy-matched to an existing title.
    merged: Option<Match>,
    review: Option<(Uuid, Match)>,
}

impl TitleService {
    /// Ingests `requests`; the result at position i answers request i.
    pub async fn ingest_many(
        &self,
        requests: &[IngestRequest],
    ) -> Vec<Result<IngestResponse, CommandError>> {
        let mut results: Vec<Option<Result<IngestResponse, CommandError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut planned = Vec::new();
        for (index, req) in requests.iter().enumerate() {
            match Self::validate(req) {
                Ok((source, region, record)) => {
                    let keys = identity_keys(&record);
                    let fingerprint = Fingerprint::of(&record);
                    planned.push(Planned {
                        index,
                        content_id: Uuid::nil(),
                        source: source.as_str().to_string(),
                        region,
                        record,
                        keys,
                        fingerprint,
                        merged: None,
                        review: None,
                    });
                }
                Err(e) => results[index] = Some(Err(e.into())),
            }
        }
        // A conflict usually means a concurrent chunk claimed an identifier or a sequence first:
        // planning again sees its commit. Only a chunk that keeps conflicting goes one by one.
        let mut fallback = Vec::new();
        for attempt in 0..3 {
            for p in planned.iter_mut() {
                (p.content_id, p.merged, p.review) = (Uuid::nil(), None, None);
            }
            match self.commit_chunk(&mut planned).await {
                Ok(done) => {
                    for (index, resp) in done {
                        results[index] = Some(Ok(resp));
                    }
                    break;
                }
                Err(e) if attempt < 2 && retryable(&e) => {
                    metrics::counter!("commands_bulk_replans_total").increment(1);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "bulk chunk fell back to one-by-one ingestion");
                    metrics::counter!("commands_bulk_fallbacks_total").increment(1);
                    fallback = planned.iter().map(|p| p.index).collect();
                    break;
                }
            }
        }
        for index in fallback {
            results[index] = Some(self.ingest(&requests[index]).await);
        }
        results
            .into_iter()
            .map(|r| r.expect("every request answered"))
            .collect()
    }

    async fn commit_chunk(
        &self,
        planned: &mut [Planned],
    ) -> Result<Vec<(usize, IngestResponse)>, CommandError> {
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        // 1. Resolve identities: existing owners first, then records earlier in this chunk.
        let (types, values): (Vec<String>, Vec<String>) =
            planned.iter().flat_map(|p| p.keys.iter().cloned()).unzip();
        let rows = sqlx::query(
            "SELECT i.id_type, i.id_value, i.content_id FROM title_identity i
             JOIN UNNEST($1::text[], $2::text[]) AS k(t, v) ON i.id_type = k.t AND i.id_value = k.v",
        )
        .bind(&types)
        .bind(&values)
        .fetch_all(self.pool())
        .await?;
        let mut owner: HashMap<(String, String), Uuid> = rows
            .into_iter()
            .map(|r| {
                (
                    (r.get::<String, _>(0), r.get::<String, _>(1)),
                    r.get::<Uuid, _>(2),
                )
            })
            .collect();
        // Records none of whose identifiers is known are compared with existing titles.
        let unknown: Vec<usize> = (0..planned.len())
            .filter(|&i| !planned[i].keys.iter().any(|k| owner.contains_key(k)))
            .collect();
        let mut matches = {
            let fps: Vec<&Fingerprint> = unknown.iter().map(|&i| &planned[i].fingerprint).collect();
            let mut conn = self.pool().acquire().await?;
            resolution::best_matches(&mut conn, &fps).await?
        };
        let mut fuzzy: HashMap<usize, (Uuid, Match)> = HashMap::new();
        for (slot, i) in unknown.into_iter().enumerate() {
            if let Some(found) = matches[slot].take() {
                fuzzy.insert(i, found);
            }
        }
        for (i, p) in planned.iter_mut().enumerate() {
            let owners: Vec<Uuid> = p
                .keys
                .iter()
                .filter_map(|k| owner.get(k).copied())
                .collect();
            p.content_id = match (majority(&owners), fuzzy.remove(&i)) {
                (Some(id), _) => id,
                (None, Some((id, m))) if m.verdict == Verdict::Same => {
                    p.merged = Some(m);
                    id
                }
                (None, review) => {
                    p.review = review;
                    Uuid::now_v7()
                }
            };
            for k in &p.keys {
                owner.entry(k.clone()).or_insert(p.content_id);
            }
        }
        // 2. Load every touched title once.
        let ids: Vec<String> = planned.iter().map(|p| p.content_id.to_string()).collect();
        let stored = {
            let mut conn = self.pool().acquire().await?;
            mediagw_eventstore::read::<TitleEvent>(&mut conn, Title::TYPE, &ids, 0).await?
        };
        let mut titles: HashMap<Uuid, (Title, i64)> = HashMap::new();
        for r in stored {
            let id =
                Uuid::parse_str(&r.aggregate_id).map_err(|e| CommandError::Store(e.to_string()))?;
            let entry = titles.entry(id).or_default();
            entry.0.apply(r.event);
            entry.1 = r.sequence;
        }
        // 3. Decide, in request order, on the in-memory aggregates.
        let mut appended: Vec<(String, i64, TitleEvent)> = Vec::new();
        let mut done = Vec::with_capacity(planned.len());
        for p in planned.iter() {
            let (title, last) = titles.entry(p.content_id).or_default();
            let existed = title.exists();
            let cmd = TitleCommand::IngestRecord {
                content_id: p.content_id,
                source: p.source.clone(),
                region: p.region.clone(),
                record: p.record.clone(),
            };
            let events = title.handle(cmd)?;
            let n = events.len();
            for e in events {
                *last += 1;
                appended.push((p.content_id.to_string(), *last, e.clone()));
                title.apply(e);
            }
            let (action, confidence) = match (&p.merged, existed) {
                (Some(m), _) => (IngestAction::Merged, m.confidence),
                (None, true) => (IngestAction::Updated, 1.0),
                (None, false) => (IngestAction::Created, 1.0),
            };
            done.push((
                p.index,
                IngestResponse {
                    content_id: p.content_id,
                    action,
                    entity_confidence: confidence,
                    events: n,
                },
            ));
        }
        // 4. Claim identifiers and append every event in one transaction; any conflict aborts it all.
        let mut tx = self.pool().begin().await?;
        let (ctypes, cvalues, cids): (Vec<String>, Vec<String>, Vec<Uuid>) = {
            let mut t = Vec::new();
            let mut v = Vec::new();
            let mut c = Vec::new();
            for ((ty, val), id) in &owner {
                t.push(ty.clone());
                v.push(val.clone());
                c.push(*id);
            }
            (t, v, c)
        };
        let claimed = sqlx::query(
            "INSERT INTO title_identity (id_type, id_value, content_id)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[])
             ON CONFLICT (id_type, id_value) DO UPDATE SET content_id = title_identity.content_id
             WHERE title_identity.content_id = EXCLUDED.content_id",
        )
        .bind(&ctypes)
        .bind(&cvalues)
        .bind(&cids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != ctypes.len() as u64 {
            return Err(CommandError::Contention); // an identifier now belongs to another title
        }
        let rows: Vec<Appended<'_, TitleEvent>> = appended
            .iter()
            .map(|(id, sequence, event)| Appended {
                aggregate_id: id.clone(),
                sequence: *sequence,
                event,
            })
            .collect();
        mediagw_eventstore::append(&mut tx, Title::TYPE, &rows).await?;
        // A title's stored fingerprint is the title as held after this chunk, not its last
        // record's: an edition or re-release in the same chunk as the work keeps the work's
        // name and date (domain/src/title.rs). Only where the two differ is the held one built,
        // and the record's own keys are added beside it so later records spelled like it still
        // find the title; every other record indexes as before (one entry, no extra keys).
        let held: Vec<Option<Fingerprint>> = planned
            .iter()
            .map(|p| {
                let title = &titles.get(&p.content_id)?.0;
                let m = title.metadata.as_ref()?;
                let renamed =
                    m.title != p.fingerprint.title || m.release_date.year() != p.fingerprint.year;
                (p.merged.is_none() && renamed).then(|| Fingerprint::held(m, &title.external_ids))
            })
            .collect();
        let mut plan: Vec<(Uuid, &Fingerprint, bool)> = Vec::with_capacity(planned.len());
        for (p, held) in planned.iter().zip(&held) {
            match held {
                Some(fp) => {
                    plan.push((p.content_id, fp, true));
                    plan.push((p.content_id, &p.fingerprint, false));
                }
                None => plan.push((p.content_id, &p.fingerprint, p.merged.is_none())),
            }
        }
        resolution::index(&mut tx, &plan).await?;
        for p in planned.iter() {
            if let Some(m) = &p.merged {
                resolution::record_decision(&mut tx, p.content_id, p.content_id, "merged", m)
                    .await?;
            } else if let Some((candidate, m)) = &p.review {
                resolution::enqueue_review(&mut tx, p.content_id, *candidate, m).await?;
            }
        }
        tx.commit().await?;
        metrics::counter!("commands_events_committed_total").increment(appended.len() as u64);
        Ok(done)
    }
}

/// Conflicts with a concurrent writer (taken identifier or sequence, serialization).
fn retryable(e: &CommandError) -> bool {
    match e {
        CommandError::Contention => true,
        CommandError::Db(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("23505" | "40001" | "40P01"))
        }
        _ => false,
    }
}
