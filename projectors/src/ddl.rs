//! Idempotent DDL for projection schemas (recreated by replay, so not versioned migrations), run only
//! when it changed. `CREATE INDEX IF NOT EXISTS`, `CREATE OR REPLACE
//! TRIGGER` or `ALTER TABLE … IF NOT EXISTS` take table locks even when there is nothing to do, and
//! a process starting next to busy writers can then deadlock with them; so each DDL bundle is
//! applied once per digest, recorded in `<schema>.mediagw_ddl` (dropped with its schema).

use sqlx::PgPool;

fn digest(text: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Applies `ddl` unless this exact text was already applied in `schema`. `lock` serialises
/// processes applying the same bundle.
pub async fn apply_once(
    pool: &PgPool,
    lock: i64,
    schema: &str,
    ddl: &str,
) -> Result<(), sqlx::Error> {
    let digest = digest(ddl);
    let marker = format!("{schema}.mediagw_ddl");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&marker)
        .fetch_one(pool)
        .await?;
    if exists {
        let hit: Option<String> =
            sqlx::query_scalar(&format!("SELECT digest FROM {marker} WHERE digest = $1"))
                .bind(&digest)
                .fetch_optional(pool)
                .await?;
        if hit.is_some() {
            return Ok(());
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock)
        .execute(&mut *tx)
        .await?;
    sqlx::Executor::execute(&mut *tx, ddl).await?;
    sqlx::Executor::execute(
        &mut *tx,
        format!(
            "CREATE TABLE IF NOT EXISTS {marker} (digest text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO {marker} (digest) VALUES ('{digest}') ON CONFLICT DO NOTHING"
        )
        .as_str(),
    )
    .await?;
    tx.commit().await
}
