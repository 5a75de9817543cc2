//! Interaction command service: users' feedback and service subscriptions through the per-user
//! `UserInteractions` aggregate (snapshots every 100 events) onto `user.interaction`.

use std::time::Duration;

use mediagw_domain::interaction::{
    Feedback, InteractionCommand, InteractionError, InteractionEvent, Subscription,
    UserInteractions,
};
use mediagw_eventstore::{ExecuteError, Repository, RetryPolicy};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::CommandError;

const SNAPSHOT_EVERY: usize = 100;

/// One user's devices rarely write at once; an import never does for the same user.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 20,
    step: Duration::from_millis(2),
    jitter_ms: 5,
    conflicts_metric: "interaction_conflicts_retried_total",
};

/// What a feedback batch did: events newly recorded, and how many were repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    pub recorded: usize,
    pub duplicates: usize,
}

pub struct InteractionService {
    repo: Repository<UserInteractions>,
    pool: PgPool,
}

impl InteractionService {
    pub fn new(pool: PgPool) -> Self {
        Self {
            repo: Repository::with_snapshots(pool.clone(), SNAPSHOT_EVERY, RETRY),
            pool,
        }
    }

    /// Records a batch of feedback (all or nothing); event ids already recorded are counted as
    /// duplicates and not recorded again.
    pub async fn feedback(
        &self,
        user_id: Uuid,
        feedback: Vec<Feedback>,
    ) -> Result<Recorded, CommandError> {
        let total = feedback.len();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let committed = self
            .repo
            .execute(&user_id.to_string(), || InteractionCommand::Record {
                user_id,
                feedback: feedback.clone(),
                now_ms,
            })
            .await
            .map_err(from_execute)?;
        let recorded = committed.events.len();
        metrics::counter!("feedback_recorded_total").increment(recorded as u64);
        Ok(Recorded {
            recorded,
            duplicates: total - recorded,
        })
    }

    /// Replaces the services the user subscribes to; returns whether anything changed.
    pub async fn set_services(
        &self,
        user_id: Uuid,
        region: Option<String>,
        services: Vec<Subscription>,
    ) -> Result<bool, CommandError> {
        let committed = self
            .repo
            .execute(&user_id.to_string(), || InteractionCommand::SetServices {
                user_id,
                region: region.clone(),
                services: services.clone(),
            })
            .await
            .map_err(from_execute)?;
        Ok(!committed.events.is_empty())
    }

    /// The user's services and region as the aggregate holds them (the write side's truth).
    pub async fn services(
        &self,
        user_id: Uuid,
    ) -> Result<(Option<String>, Vec<Subscription>), CommandError> {
        let mut conn = self.pool.acquire().await?;
        let log = mediagw_eventstore::read::<InteractionEvent>(
            &mut conn,
            UserInteractions::TYPE,
            &[user_id.to_string()],
            0,
        )
        .await?;
        let mut out = (None, Vec::new());
        for row in log {
            if let InteractionEvent::ServicesSet {
                region, services, ..
            } = row.event
            {
                out = (region, services);
            }
        }
        Ok(out)
    }
}

fn from_execute(e: ExecuteError<InteractionError>) -> CommandError {
    match e {
        ExecuteError::Rejected(InteractionError::Invalid(v)) => CommandError::Validation(v),
        ExecuteError::Rejected(other) => CommandError::Store(other.to_string()),
        ExecuteError::Contention => CommandError::Contention,
        ExecuteError::Store(e) => CommandError::Store(e),
    }
}
