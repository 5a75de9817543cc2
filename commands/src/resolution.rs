//! Entity resolution on the write side: the fingerprint index that finds candidates, the review
//! queue for grey-zone matches, and the merge of two titles.
//!
//! Scoring is pure (`mediagw_domain::resolution`); this module only stores and fetches. The index is
//! kept by the command side (like `title_identity`) so a decision never waits for a projection.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use mediagw_domain::resolution::{compare, Fingerprint, Match, Verdict};
use mediagw_domain::title::TitleCommand;
use serde::Serialize;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::error::CommandError;
use crate::titles::TitleService;

pub(crate) const DDL: &str = r#"
-- Entity-resolution index: one fingerprint per live title, found through blocking keys.
CREATE TABLE IF NOT EXISTS title_fingerprint (
    content_id  uuid PRIMARY KEY,
    fingerprint jsonb NOT NULL
);
-- Blocking keys as 64-bit hashes (`Fingerprint::blocking_hashes`), with the title's year. No index
-- by title on purpose (bulk imports write ~6 rows per title): a retired title's rows stay and
-- lead to no fingerprint, so lookups skip them.
CREATE TABLE IF NOT EXISTS title_match_key (
    hash       bigint  NOT NULL,
    year       integer NOT NULL,
    content_id uuid    NOT NULL,
    PRIMARY KEY (hash, year, content_id)
);
-- Grey-zone matches waiting for a person.
CREATE TABLE IF NOT EXISTS resolution_review (
    id           uuid PRIMARY KEY,
    content_id   uuid NOT NULL,
    candidate_id uuid NOT NULL,
    confidence   real NOT NULL,
    reasons      text[] NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz,
    UNIQUE (content_id, candidate_id)
);
CREATE INDEX IF NOT EXISTS resolution_review_pending ON resolution_review (created_at) WHERE status = 'pending';
-- Every decision with its reasons (merged automatically, queued, accepted, rejected).
CREATE TABLE IF NOT EXISTS resolution_decision (
    id           bigserial PRIMARY KEY,
    content_id   uuid NOT NULL,
    candidate_id uuid NOT NULL,
    decision     text NOT NULL,
    confidence   real NOT NULL,
    reasons      text[] NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now()
);
"#;

/// Candidates taken per blocking key. A key shared by more titles than this within three years
/// (a common 4-letter prefix) says little; the record's other keys still find its twin, and one
/// unselective key cannot make a lookup scan thousands of rows.
const MAX_PER_KEY: i64 = 16;

/// The best candidate for each fingerprint (same order), or `None` when nothing scored above
/// "different".
pub(crate) async fn best_matches(
    conn: &mut PgConnection,
    fps: &[&Fingerprint],
) -> Result<Vec<Option<(Uuid, Match)>>, sqlx::Error> {
    let (mut idx, mut keys, mut years) = (Vec::new(), Vec::new(), Vec::new());
    for (i, fp) in fps.iter().enumerate() {
        for k in fp.blocking_hashes() {
            idx.push(i as i32);
            keys.push(k);
            years.push(fp.year);
        }
    }
    let mut out: Vec<Option<(Uuid, Match)>> = vec![None; fps.len()];
    if idx.is_empty() {
        return Ok(out);
    }
    // Which candidates each record shares a key with, then each candidate's fingerprint once.
    let pairs: Vec<(i32, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT k.i, b.content_id
         FROM UNNEST($1::int[], $2::int8[], $3::int[]) AS k(i, hash, year)
         CROSS JOIN LATERAL (
             SELECT content_id FROM title_match_key b
             WHERE b.hash = k.hash AND b.year BETWEEN k.year - 1 AND k.year + 1
             LIMIT $4
         ) b",
    )
    .bind(&idx)
    .bind(&keys)
    .bind(&years)
    .bind(MAX_PER_KEY)
    .fetch_all(&mut *conn)
    .await?;
    if pairs.is_empty() {
        return Ok(out);
    }
    let mut ids: Vec<Uuid> = pairs.iter().map(|p| p.1).collect();
    ids.sort_unstable();
    ids.dedup();
    let fingerprints: HashMap<Uuid, Fingerprint> = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT content_id, fingerprint::text FROM title_fingerprint WHERE content_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, text)| Some((id, serde_json::from_str(&text).ok()?)))
    .collect();
    for (i, id) in pairs {
        let i = i as usize;
        let Some(candidate) = fingerprints.get(&id) else {
            continue;
        };
        let m = compare(fps[i], candidate);
        if m.verdict == Verdict::Different {
            continue;
        }
        let better = match &out[i] {
            None => true,
            Some((cur, best)) => {
                m.confidence > best.confidence || (m.confidence == best.confidence && id < *cur)
            }
        };
        if better {
            out[i] = Some((id, m));
        }
    }
    Ok(out)
}

/// Stores fingerprints of live titles (`replace`: the title's own record) or adds the blocking keys
/// of a variant merged into it (`replace = false`), so later variants find it too.
pub(crate) async fn index(
    conn: &mut PgConnection,
    items: &[(Uuid, &Fingerprint, bool)],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    // One row per title (the last record of it in this batch): an upsert may touch a row once.
    let mut last: std::collections::HashMap<Uuid, &Fingerprint> = std::collections::HashMap::new();
    for (id, fp, replace) in items {
        if *replace {
            last.insert(*id, fp);
        }
    }
    let (replaced, fps): (Vec<Uuid>, Vec<String>) = last
        .into_iter()
        .map(|(id, fp)| (id, serde_json::to_string(fp).unwrap_or_default()))
        .unzip();
    sqlx::query(
        "INSERT INTO title_fingerprint (content_id, fingerprint)
         SELECT * FROM UNNEST($1::uuid[], $2::jsonb[])
         ON CONFLICT (content_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint ||
            CASE WHEN jsonb_array_length(EXCLUDED.fingerprint->'cast') = 0
                 THEN jsonb_build_object('cast', title_fingerprint.fingerprint->'cast')
                 ELSE '{}'::jsonb END",
    )
    .bind(&replaced)
    .bind(&fps)
    .execute(&mut *conn)
    .await?;
    let (mut keys, mut years, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (id, fp, _) in items {
        for k in fp.blocking_hashes() {
            keys.push(k);
            years.push(fp.year);
            ids.push(*id);
        }
    }
    sqlx::query(
        "INSERT INTO title_match_key (hash, year, content_id)
         SELECT * FROM UNNEST($1::int8[], $2::int[], $3::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(&keys)
    .bind(&years)
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn record_decision(
    conn: &mut PgConnection,
    content_id: Uuid,
    candidate_id: Uuid,
    decision: &str,
    m: &Match,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resolution_decision (content_id, candidate_id, decision, confidence, reasons)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(content_id)
    .bind(candidate_id)
    .bind(decision)
    .bind(m.confidence)
    .bind(&m.reasons)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn enqueue_review(
    conn: &mut PgConnection,
    content_id: Uuid,
    candidate_id: Uuid,
    m: &Match,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resolution_review (id, content_id, candidate_id, confidence, reasons)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (content_id, candidate_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(content_id)
    .bind(candidate_id)
    .bind(m.confidence)
    .bind(&m.reasons)
    .execute(&mut *conn)
    .await?;
    record_decision(conn, content_id, candidate_id, "queued_for_review", m).await
}

/// One grey-zone pair as `GET /internal/resolution/pending` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PendingReview {
    pub id: Uuid,
    pub content_id: Uuid,
    pub candidate_id: Uuid,
    pub confidence: f32,
    pub reasons: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub content: Option<serde_json::Value>,
    pub candidate: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Accept,
    Reject,
}

impl TitleService {
    pub async fn pending_reviews(&self, limit: i64) -> Result<Vec<PendingReview>, CommandError> {
        let rows = sqlx::query(
            "SELECT r.id, r.content_id, r.candidate_id, r.confidence, r.reasons, r.created_at,
                    a.fingerprint::text AS a, b.fingerprint::text AS b
             FROM resolution_review r
             LEFT JOIN title_fingerprint a ON a.content_id = r.content_id
             LEFT JOIN title_fingerprint b ON b.content_id = r.candidate_id
             WHERE r.status = 'pending' ORDER BY r.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        Ok(rows
            .into_iter()
            .map(|r| PendingReview {
                id: r.get(0),
                content_id: r.get(1),
                candidate_id: r.get(2),
                confidence: r.get(3),
                reasons: r.get(4),
                created_at: r.get(5),
                content: json(r.get(6)),
                candidate: json(r.get(7)),
            })
            .collect())
    }

    /// Accepting merges the queued title into its candidate; rejecting keeps both. Deciding an
    /// already-decided review the same way again is a no-op; the other way is refused.
    pub async fn decide_review(
        &self,
        review_id: Uuid,
        decision: ReviewDecision,
    ) -> Result<Option<Uuid>, CommandError> {
        let row = sqlx::query(
            "SELECT content_id, candidate_id, confidence, reasons, status FROM resolution_review WHERE id = $1",
        )
        .bind(review_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(CommandError::NotFound("review"))?;
        let (absorbed, survivor): (Uuid, Uuid) = (row.get(0), row.get(1));
        let m = Match {
            confidence: row.get(2),
            verdict: Verdict::Review,
            reasons: row.get(3),
        };
        let status: String = row.get(4);
        let wanted = match decision {
            ReviewDecision::Accept => "accepted",
            ReviewDecision::Reject => "rejected",
        };
        if status != "pending" && status != wanted {
            return Err(CommandError::Conflict(format!(
                "review was already {status}"
            )));
        }
        if decision == ReviewDecision::Accept {
            let mut reasons = m.reasons.clone();
            reasons.push("accepted in review".into());
            self.merge(absorbed, survivor, m.confidence, reasons)
                .await?;
        }
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE resolution_review SET status = $2, decided_at = now() WHERE id = $1 AND status = 'pending'",
        )
        .bind(review_id)
        .bind(wanted)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            record_decision(&mut tx, absorbed, survivor, wanted, &m).await?;
        }
        tx.commit().await?;
        Ok((decision == ReviewDecision::Accept).then_some(survivor))
    }

    /// Merges `absorbed` into `survivor`: the survivor takes over ids and offers, the absorbed title
    /// gets `TitlesMerged`, and every identifier and blocking key moves. Each step is idempotent,
    /// so a crash half-way is repaired by running the merge again.
    pub async fn merge(
        &self,
        absorbed: Uuid,
        survivor: Uuid,
        confidence: f32,
        reasons: Vec<String>,
    ) -> Result<(), CommandError> {
        let state = self.load(absorbed).await?;
        if state.merged_into.is_none() {
            let offers = state.offers.values().cloned().collect();
            let absorb = TitleCommand::Absorb {
                from: absorbed,
                external_ids: state.external_ids.clone(),
                offers,
            };
            self.execute(survivor, absorb).await?;
        }
        self.execute(
            absorbed,
            TitleCommand::MergeInto {
                survivor,
                confidence,
                reasons,
            },
        )
        .await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE title_identity SET content_id = $2 WHERE content_id = $1")
            .bind(absorbed)
            .bind(survivor)
            .execute(&mut *tx)
            .await?;
        // The survivor becomes findable under the retired title's keys too.
        let retired: Option<String> = sqlx::query_scalar(
            "SELECT fingerprint::text FROM title_fingerprint WHERE content_id = $1",
        )
        .bind(absorbed)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(fp) = retired.and_then(|t| serde_json::from_str::<Fingerprint>(&t).ok()) {
            index(&mut tx, &[(survivor, &fp, false)]).await?;
        }
        sqlx::query("DELETE FROM title_fingerprint WHERE content_id = $1")
            .bind(absorbed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn load(
        &self,
        id: Uuid,
    ) -> Result<mediagw_domain::title::Title, CommandError> {
        use cqrs_es::EventStore;
        let ctx = self
            .store()
            .load_aggregate(&id.to_string())
            .await
            .map_err(|e| CommandError::Store(e.to_string()))?;
        let title = ctx.aggregate.0;
        if !title.exists() {
            return Err(CommandError::NotFound("title"));
        }
        Ok(title)
    }
}
