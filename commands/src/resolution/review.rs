//! The review queue for grey-zone matches and the merge of two titles: operator decisions on what
//! ingestion queued (`/internal/resolution/*`).

use chrono::{DateTime, Utc};
use mediagw_domain::resolution::{Fingerprint, Match, Verdict};
use mediagw_domain::title::TitleCommand;
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

use super::index::{index, record_decision};
use crate::error::CommandError;
use crate::titles::TitleService;

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
        let title = self.repo().load(&id.to_string()).await?;
        if !title.exists() {
            return Err(CommandError::NotFound("title"));
        }
        Ok(title)
    }
}
