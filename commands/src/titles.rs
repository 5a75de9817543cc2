//! Title command service: validates ingest requests, resolves which title a record belongs to, and
//! executes the command on the aggregate, retrying optimistic-concurrency conflicts.

use std::collections::HashMap;
use std::time::Duration;

use mediagw_domain::catalog::{normalize_region, CanonicalTitle, IngestSource};
use mediagw_domain::providers;
use mediagw_domain::resolution::{Fingerprint, Match, Verdict};
use mediagw_domain::title::{Title, TitleCommand, TitleError};
use mediagw_domain::ValidationErrors;
use mediagw_eventstore::{Repository, RetryPolicy};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::CommandError;
use crate::resolution::index as resolution;

/// Seed §2 `IngestRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    pub platform: String,
    pub raw_content: serde_json::Value,
    pub region: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngestAction {
    Created,
    Updated,
    Merged,
}

/// Seed §2 `IngestResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestResponse {
    pub content_id: Uuid,
    pub action: IngestAction,
    pub entity_confidence: f32,
    /// Number of events the ingest produced (0 = the record changed nothing).
    pub events: usize,
}

/// Ingest bursts of one title (several providers at once) back off a little longer than sync.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 20,
    step: Duration::from_millis(2),
    jitter_ms: 5,
    conflicts_metric: "commands_conflicts_retried_total",
};

pub struct TitleService {
    repo: Repository<Title>,
    pool: PgPool,
}

impl TitleService {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repo: Repository::new(pool.clone(), RETRY),
            pool,
        }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn repo(&self) -> &Repository<Title> {
        &self.repo
    }

    /// Validates a request without touching storage: every problem is reported with its field.
    pub fn validate(
        req: &IngestRequest,
    ) -> Result<(IngestSource, String, CanonicalTitle), ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let source = IngestSource::parse(&req.platform);
        if source.is_none() {
            errs.push(
                "platform",
                format!(
                    "unknown platform `{}` (supported: {})",
                    req.platform.chars().take(40).collect::<String>(),
                    IngestSource::ALL.map(IngestSource::as_str).join(", ")
                ),
            );
        }
        let region = normalize_region(&req.region);
        if region.is_none() {
            errs.push(
                "region",
                format!("`{}` is not an ISO 3166-1 alpha-2 region code", req.region),
            );
        }
        let (Some(source), Some(region)) = (source, region) else {
            return Err(errs);
        };
        let record = providers::normalize(source, &req.raw_content, &region)?;
        Ok((source, region, record))
    }

    pub async fn ingest(&self, req: &IngestRequest) -> Result<IngestResponse, CommandError> {
        let (source, region, record) = Self::validate(req)?;
        let fingerprint = Fingerprint::of(&record);
        let resolved = self.resolve(&record, &fingerprint).await?;
        let mut content_id = resolved.content_id;
        // A title merged away since its identifiers were read: follow it to the survivor.
        let mut hops = 0;
        let (existed, events) = loop {
            let cmd = TitleCommand::IngestRecord {
                content_id,
                source: source.as_str().to_string(),
                region: region.clone(),
                record: record.clone(),
            };
            match self.execute(content_id, cmd).await {
                Err(CommandError::Rejected(TitleError::Merged { survivor })) if hops < 5 => {
                    content_id = survivor;
                    hops += 1;
                }
                other => break other?,
            }
        };
        let merged = resolved.merged.is_some();
        let action = match (existed, merged) {
            (_, true) => IngestAction::Merged,
            (true, false) => IngestAction::Updated,
            (false, false) => IngestAction::Created,
        };
        Ok(IngestResponse {
            content_id,
            action,
            entity_confidence: resolved.confidence,
            events,
        })
    }

    /// Finds the title that owns any of the record's identifiers, or claims them for a new one.
    ///
    /// Claims are inserted before the command runs; a crash in between leaves a claim on an empty
    /// aggregate, which the next ingest of the same record simply fills (no duplicate, no loss).
    async fn resolve(
        &self,
        record: &CanonicalTitle,
        fingerprint: &Fingerprint,
    ) -> Result<Resolved, CommandError> {
        let keys = identity_keys(record);
        let (types, values): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
        let owners = self.owners(&types, &values).await?;
        let mut resolved = Resolved {
            content_id: Uuid::nil(),
            confidence: 1.0,
            merged: None,
            review: None,
        };
        let chosen = match majority(&owners) {
            Some(id) => id,
            None => {
                // No identifier known: is it a title we have under other identifiers?
                let mut conn = self.pool.acquire().await?;
                let best = resolution::best_matches(&mut conn, &[fingerprint]).await?;
                match best.into_iter().next().flatten() {
                    Some((id, m)) if m.verdict == Verdict::Same => {
                        resolved.confidence = m.confidence;
                        resolved.merged = Some(m);
                        id
                    }
                    Some((id, m)) => {
                        resolved.review = Some((id, m));
                        Uuid::now_v7()
                    }
                    None => Uuid::now_v7(),
                }
            }
        };
        resolved.content_id = chosen;
        // Claims, the resolution index and the decision commit together, before the command runs
        // (identifiers sorted, so concurrent claimers lock in one order).
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO title_identity (id_type, id_value, content_id)
             SELECT t, v, $3 FROM UNNEST($1::text[], $2::text[]) AS k(t, v)
             ON CONFLICT (id_type, id_value) DO NOTHING",
        )
        .bind(&types)
        .bind(&values)
        .bind(chosen)
        .execute(&mut *tx)
        .await?;
        if owners.is_empty() && resolved.merged.is_none() {
            // A concurrent ingest of the same record may have claimed first: follow the winner.
            let after = owners_in(&mut tx, &types, &values).await?;
            if let Some(winner) = majority(&after).filter(|w| *w != chosen) {
                resolved.content_id = winner;
                resolved.review = None;
            }
        }
        let id = resolved.content_id;
        resolution::index(&mut tx, &[(id, fingerprint, resolved.merged.is_none())]).await?;
        if let Some(m) = &resolved.merged {
            resolution::record_decision(&mut tx, id, id, "merged", m).await?;
        } else if let Some((candidate, m)) = &resolved.review {
            resolution::enqueue_review(&mut tx, id, *candidate, m).await?;
        }
        tx.commit().await?;
        Ok(resolved)
    }

    async fn owners(&self, types: &[String], values: &[String]) -> Result<Vec<Uuid>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        owners_in(&mut conn, types, values).await
    }

    /// Loads, decides and commits; on an optimistic-concurrency conflict reloads and decides again.
    /// Returns whether the title existed before and how many events were committed.
    pub async fn execute(
        &self,
        content_id: Uuid,
        cmd: TitleCommand,
    ) -> Result<(bool, usize), CommandError> {
        let committed = self
            .repo
            .execute(&content_id.to_string(), || cmd.clone())
            .await?;
        let n = committed.events.len();
        if n > 0 {
            metrics::counter!("commands_events_committed_total").increment(n as u64);
        }
        Ok((committed.existed, n))
    }
}

async fn owners_in(
    conn: &mut sqlx::PgConnection,
    types: &[String],
    values: &[String],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT i.content_id FROM title_identity i
         JOIN UNNEST($1::text[], $2::text[]) AS k(t, v) ON i.id_type = k.t AND i.id_value = k.v",
    )
    .bind(types)
    .bind(values)
    .fetch_all(conn)
    .await
}

/// Where a record goes and why.
struct Resolved {
    content_id: Uuid,
    confidence: f32,
    /// Set when the record was matched (fuzzily) to an existing title.
    merged: Option<Match>,
    /// A grey-zone candidate to queue for review once the new title exists.
    review: Option<(Uuid, Match)>,
}

/// The identifiers a record is known by: its external ids, or, when it has none, a natural key of
/// type, normalised title and year, so re-sending an id-less record still finds its title.
pub fn identity_keys(record: &CanonicalTitle) -> Vec<(String, String)> {
    if !record.external_ids.is_empty() {
        return record
            .external_ids
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    let m = &record.metadata;
    let title: String = m
        .title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    vec![(
        "natural_key".into(),
        format!(
            "{}|{}|{}",
            m.content_type.as_str(),
            title,
            chrono::Datelike::year(&m.release_date)
        ),
    )]
}

/// The title most of the identifiers point at (ties → smallest id, for determinism).
pub(crate) fn majority(owners: &[Uuid]) -> Option<Uuid> {
    let mut counts: HashMap<Uuid, usize> = HashMap::new();
    owners
        .iter()
        .for_each(|o| *counts.entry(*o).or_default() += 1);
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(id, _)| id)
}
