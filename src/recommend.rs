//! The recommendation model job as a background task of `projector:user-profiles`: retrains when
//! enough new interactions arrived since the last model (`recommend.retrain_after`).

use std::time::Duration;

use mediagw_domain::recommend::model::ModelParams;
use mediagw_projectors::recommender;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub async fn retrain_periodically(
    pool: PgPool,
    params: ModelParams,
    every: Duration,
    threshold: i64,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
        match recommender::interactions_since_last_model(&pool).await {
            Ok(n) if n >= threshold.max(1) => {
                if let Err(e) = recommender::train(&pool, params).await {
                    tracing::warn!(error = %e, "recommendation training failed; retrying later");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for new interactions"),
        }
    }
}
