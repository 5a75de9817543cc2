//! The recommendation model job (`mediagw train recommendations`, and periodically inside
//! `projector:user-profiles`): folds the profile read model's engaged interactions into the
//! collaborative model (`mediagw_domain::recommend::model`) and stores it as a new version in
//! `recommend.models`; API instances load the newest version (ADR 0017).

use std::collections::HashMap;
use std::time::Instant;

use mediagw_domain::recommend::model::{ItemInfo, Model, ModelParams, TrainingRow};
use sqlx::PgPool;
use uuid::Uuid;

pub const SCHEMA: &str = "recommend";

/// Versions kept (an API instance may still be loading the previous one).
const KEEP: i64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("training: {0}")]
    Job(String),
}

/// A title's catalog facts: id, title, year, genres, runtime, cast.
type FactRow = (
    Uuid,
    String,
    i32,
    Vec<String>,
    Option<i32>,
    Option<Vec<String>>,
);

/// What a training run did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub version: i64,
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    pub seconds: f64,
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    crate::framework::run_ddl(
        pool,
        SCHEMA,
        format!(
            r#"
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.models (
    version      bigserial PRIMARY KEY,
    trained_at   timestamptz NOT NULL DEFAULT now(),
    users        integer NOT NULL,
    items        integer NOT NULL,
    interactions integer NOT NULL,
    seconds      real NOT NULL,
    -- Sum of the profiles' interaction counts when trained: how stale a model is.
    observed     bigint NOT NULL DEFAULT 0,
    model        bytea NOT NULL
);
"#
        ),
    )
    .await
}

/// Trains on every engaged interaction in the profile read model and stores the model.
pub async fn train(pool: &PgPool, params: ModelParams) -> Result<TrainReport, TrainError> {
    let started = Instant::now();
    let observed: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(interactions), 0)::bigint FROM profiles.users")
            .fetch_one(pool)
            .await?;
    let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
        "SELECT user_id, content_id,
                COALESCE((signals->>'first_at')::bigint, (extract(epoch FROM last_at) * 1000)::bigint)
         FROM profiles.user_items WHERE engaged",
    )
    .fetch_all(pool)
    .await?;
    let rows: Vec<TrainingRow> = rows
        .into_iter()
        .map(|(user, item, at_ms)| TrainingRow { user, item, at_ms })
        .collect();
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.item).collect();
    ids.sort_unstable();
    ids.dedup();
    let facts: Vec<FactRow> = sqlx::query_as(
        "SELECT c.id, c.title, c.release_year, c.genres, c.runtime_minutes, d.\"cast\"
             FROM catalog.content c LEFT JOIN search.documents d ON d.content_id = c.id
             WHERE c.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut info: HashMap<Uuid, ItemInfo> = facts
        .into_iter()
        .map(|(id, title, year, genres, runtime_minutes, cast)| {
            (
                id,
                ItemInfo {
                    title,
                    year,
                    genres,
                    cast: cast.unwrap_or_default(),
                    runtime_minutes,
                },
            )
        })
        .collect();
    let model = tokio::task::spawn_blocking(move || {
        let model = Model::train(&rows, params, |id| info.remove(&id).unwrap_or_default());
        serde_json::to_vec(&model).map(|bytes| (model, bytes))
    })
    .await
    .map_err(|e| TrainError::Job(e.to_string()))?
    .map_err(|e| TrainError::Job(e.to_string()))?;
    let (model, bytes) = model;
    let seconds = started.elapsed().as_secs_f64();
    let version: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO {SCHEMA}.models (users, items, interactions, seconds, observed, model)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING version"
    ))
    .bind(model.users as i32)
    .bind(model.len() as i32)
    .bind(model.interactions as i32)
    .bind(seconds as f32)
    .bind(observed)
    .bind(&bytes)
    .fetch_one(pool)
    .await?;
    sqlx::query(&format!("DELETE FROM {SCHEMA}.models WHERE version <= $1"))
        .bind(version - KEEP)
        .execute(pool)
        .await?;
    metrics::histogram!("recommend_training_seconds").record(seconds);
    tracing::info!(
        version,
        users = model.users,
        items = model.len(),
        interactions = model.interactions,
        seconds,
        "recommendation model trained"
    );
    Ok(TrainReport {
        version,
        users: model.users,
        items: model.len(),
        interactions: model.interactions,
        seconds,
    })
}

/// Interactions recorded since the newest model was trained (the periodic job retrains past a
/// threshold).
pub async fn interactions_since_last_model(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT COALESCE(SUM(interactions), 0)::bigint
                - COALESCE((SELECT observed FROM {SCHEMA}.models ORDER BY version DESC LIMIT 1), 0)
         FROM profiles.users"
    ))
    .fetch_one(pool)
    .await
}
