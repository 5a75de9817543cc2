//! The background jobs: each enabled provider's jobs on their intervals, plus the expiry sweep.
//! Runs are recorded in `connector_runs`, so a restarted process waits for what is still due
//! instead of hammering every provider on each start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediagw_domain::catalog::{IngestSource, Offer};
use mediagw_domain::title::TitleCommand;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{run_job, Connector, ConnectorsConfig, Job, RunReport};
use crate::error::CommandError;
use crate::titles::TitleService;

async fn last_run(pool: &PgPool, provider: &str, job: &str) -> Option<DateTime<Utc>> {
    sqlx::query_scalar(
        "SELECT max(finished_at) FROM connector_runs WHERE provider = $1 AND job = $2",
    )
    .bind(provider)
    .bind(job)
    .fetch_one(pool)
    .await
    .ok()
    .flatten()
}

pub async fn record_run(pool: &PgPool, started: DateTime<Utc>, report: &RunReport) {
    let r = sqlx::query(
        "INSERT INTO connector_runs (provider, job, started_at, finished_at, report) VALUES ($1, $2, $3, now(), $4)",
    )
    .bind(&report.provider)
    .bind(&report.job)
    .bind(started)
    .bind(sqlx::types::Json(report))
    .execute(pool)
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "could not record connector run");
    }
}

/// Runs until `shutdown`: one task per enabled (provider, job) and one for the expiry sweep.
pub async fn run(service: Arc<TitleService>, cfg: ConnectorsConfig, shutdown: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for source in IngestSource::ALL {
        let Some(pc) = cfg.provider(source).filter(|p| p.enabled) else {
            continue;
        };
        let connector = match Connector::new(source, pc) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                tracing::error!(provider = source.as_str(), error = %e, "connector disabled");
                continue;
            }
        };
        for job in Job::ALL {
            let every = Duration::from_secs(match job {
                Job::CatalogRefresh => cfg.schedule.catalog_refresh_secs,
                Job::AvailabilitySync => cfg.schedule.availability_sync_secs,
                Job::MetadataEnrichment => cfg.schedule.metadata_enrichment_secs,
            });
            let (service, connector, cfg, shutdown) = (
                service.clone(),
                connector.clone(),
                cfg.clone(),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                loop {
                    let last = last_run(service.pool(), source.as_str(), job.as_str()).await;
                    let due = last.map_or(Duration::ZERO, |t| {
                        (t + chrono::Duration::from_std(every).unwrap_or_default() - Utc::now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                    });
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(due) => {}
                    }
                    let started = Utc::now();
                    let report = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        r = run_job(&service, &connector, job, &cfg.regions, cfg.max_pages) => r,
                    };
                    tracing::info!(
                        provider = source.as_str(),
                        job = job.as_str(),
                        records = report.records,
                        created = report.created,
                        rejected = report.rejected,
                        "connector job finished"
                    );
                    record_run(service.pool(), started, &report).await;
                }
            });
        }
    }
    let every = Duration::from_secs(cfg.schedule.expiry_sweep_secs.max(1));
    let sweeper = service.clone();
    let stop = shutdown.clone();
    tasks.spawn(async move {
        loop {
            match sweeper.expire_offers(Utc::now()).await {
                Ok(n) if n > 0 => tracing::info!(offers = n, "expired offers removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
    while tasks.join_next().await.is_some() {}
}

impl TitleService {
    /// The expiry sweep: offers whose `expires_at` has passed leave the catalog
    /// (`AvailabilityLeft`), without waiting for the provider's next sync. Also publishes how many
    /// offers expire within 7 days (`offers_expiring_soon`, the "leaving soon" warning).
    pub async fn expire_offers(&self, now: DateTime<Utc>) -> Result<usize, CommandError> {
        let soon: Option<i64> = sqlx::query_scalar(
            "SELECT count(*) FROM catalog.platform_availability WHERE expires_at > $1 AND expires_at <= $1 + interval '7 days'",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await
        .ok();
        if let Some(n) = soon {
            metrics::gauge!("offers_expiring_soon").set(n as f64);
        }
        // Candidates come from the read model; the aggregate re-checks each against its own state.
        let ids: Vec<Uuid> = match sqlx::query_scalar(
            "SELECT DISTINCT content_id FROM catalog.platform_availability WHERE expires_at <= $1 LIMIT 1000",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await
        {
            Ok(ids) => ids,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for id in ids {
            let Ok(title) = self.load(id).await else {
                continue;
            };
            // Per (source, region): the offers that are still valid.
            let mut groups: BTreeMap<(String, String), (Vec<Offer>, usize)> = BTreeMap::new();
            for (source, offer) in title.offers.values() {
                let g = groups
                    .entry((source.clone(), offer.region.clone()))
                    .or_default();
                if offer.expires_at.is_some_and(|e| e <= now) {
                    g.1 += 1;
                } else {
                    g.0.push(offer.clone());
                }
            }
            for ((source, region), (keep, expired)) in groups {
                if expired == 0 {
                    continue;
                }
                let cmd = TitleCommand::ChangeAvailability {
                    source,
                    region,
                    offers: keep,
                };
                let (_, n) = self.execute(id, cmd).await?;
                removed += n;
            }
        }
        Ok(removed)
    }
}
