//! A user's rights over their data, where every store that holds it meets (ADR 0024): export
//! (event store + account tables + every read model), import (through the command side) and
//! erasure (key shredded, streams and rows deleted, cache keys and live tokens dropped). Serves
//! both the HTTP routes (`mediagw_query_api::account`) and `mediagw export|import|erase user`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediagw_commands::imports::HistoryImporter;
use mediagw_commands::CommandError;
use mediagw_domain::history::{
    self, Entry, ErasureReport, ExportTitle, HistoryFormat, HistoryRecord, ImportReport, ListKind,
    PositionRecord, ServicesExport, UserExport, WatchlistRecord,
};
use mediagw_domain::interaction::{InteractionEvent, Signal, UserInteractions};
use mediagw_domain::playback::device::{DeviceEvent, UserDevices};
use mediagw_domain::sync::{Hlc, SyncEvent, SyncState, UserSync};
use mediagw_eventstore::privacy;
use mediagw_query_api::account::{AccountError, Accounts};
use mediagw_query_api::gateway::limits::GateStore;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

pub struct AccountStore {
    pub pool: PgPool,
    pub importer: HistoryImporter,
    /// Redis and its key prefix: cached answers and rate buckets keyed by the user.
    pub redis: Option<(redis::Client, String)>,
    /// Where live access tokens of an erased user are denied.
    pub gate: Option<Arc<dyn GateStore>>,
}

fn unavailable(e: impl std::fmt::Display) -> AccountError {
    AccountError::Unavailable(e.to_string())
}

fn command_error(e: CommandError) -> AccountError {
    match e {
        CommandError::Validation(v) => AccountError::Invalid(v),
        CommandError::Contention => AccountError::Contention,
        other => unavailable(other),
    }
}

fn at(h: &Hlc) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(h.physical_ms as i64).unwrap_or_default()
}

/// A table holding rows about users, found by its `user_id` column.
struct UserTable {
    schema: String,
    table: String,
    uuid: bool,
    /// Columns never shown (hashes, keys, CSRF secrets).
    secret: Vec<String>,
}

impl UserTable {
    fn name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
    fn quoted(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.table))
    }
    fn matches(&self) -> &'static str {
        if self.uuid {
            "user_id = $1::uuid"
        } else {
            "user_id::text = $1"
        }
    }
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Every base table with a `user_id` column, in every schema (rebuilt projections included).
async fn user_tables(conn: &mut PgConnection) -> Result<Vec<UserTable>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.table_schema, c.table_name, c.data_type = 'uuid',
                COALESCE((SELECT array_agg(s.column_name::text) FROM information_schema.columns s
                          WHERE s.table_schema = c.table_schema AND s.table_name = c.table_name
                            AND (s.data_type = 'bytea' OR s.column_name LIKE '%hash%'
                                 OR s.column_name IN ('csrf', 'password'))), '{}')
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'
           AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
         ORDER BY 1, 2",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UserTable {
            schema: r.get(0),
            table: r.get(1),
            uuid: r.get(2),
            secret: r.get(3),
        })
        .collect())
}

impl AccountStore {
    async fn titles(
        &self,
        conn: &mut PgConnection,
        ids: Vec<Uuid>,
    ) -> Result<HashMap<Uuid, ExportTitle>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT c.id, c.title, c.release_year,
                    (SELECT e.id_value FROM catalog.external_ids e
                     WHERE e.content_id = c.id AND e.id_type = 'imdb' LIMIT 1)
             FROM catalog.content c WHERE c.id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(conn)
        .await?;
        let mut out: HashMap<Uuid, ExportTitle> = rows
            .into_iter()
            .map(|r| {
                let id: Uuid = r.get(0);
                (
                    id,
                    ExportTitle {
                        content_id: id,
                        title: r.get(1),
                        year: r.get(2),
                        imdb: r.get(3),
                    },
                )
            })
            .collect();
        for id in ids {
            out.entry(id).or_insert(ExportTitle {
                content_id: id,
                title: None,
                year: None,
                imdb: None,
            });
        }
        Ok(out)
    }

    async fn export_user(&self, user_id: Uuid) -> Result<UserExport, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let id = [user_id.to_string()];
        let store = |e: mediagw_eventstore::StoreError| sqlx::Error::Protocol(e.to_string());
        let interactions =
            mediagw_eventstore::read::<InteractionEvent>(&mut conn, UserInteractions::TYPE, &id, 0)
                .await
                .map_err(store)?;
        let operations = mediagw_eventstore::read::<SyncEvent>(&mut conn, UserSync::TYPE, &id, 0)
            .await
            .map_err(store)?;
        let device_events =
            mediagw_eventstore::read::<DeviceEvent>(&mut conn, UserDevices::TYPE, &id, 0)
                .await
                .map_err(store)?;

        let mut services = ServicesExport::default();
        let mut feedback = Vec::new();
        for e in interactions {
            match e.event {
                InteractionEvent::FeedbackRecorded { feedback: f, .. } => feedback.push(f),
                InteractionEvent::ServicesSet {
                    region,
                    services: s,
                    ..
                } => {
                    services = ServicesExport {
                        region,
                        services: s,
                    }
                }
            }
        }
        let mut state = SyncState::default();
        for e in &operations {
            let SyncEvent::OperationRecorded { operation, .. } = &e.event;
            state.apply(operation);
        }
        let mut devices = UserDevices::default();
        for e in device_events {
            devices.apply(e.event);
        }

        let mut ids: Vec<Uuid> = feedback.iter().map(|f| f.content_id).collect();
        ids.extend(state.watchlist.elements().into_keys());
        ids.extend(state.positions.keys().copied());
        ids.sort_unstable();
        ids.dedup();
        let titles = self.titles(&mut conn, ids).await?;
        let title = |id: &Uuid| titles[id].clone();

        let history = feedback
            .into_iter()
            .map(|f| HistoryRecord {
                event_id: f.event_id,
                title: title(&f.content_id),
                entry: match f.signal {
                    Signal::Watched { completion } => Entry::Watched { completion },
                    Signal::Rated { rating, scale } => Entry::Rated { rating, scale },
                    Signal::Added => Entry::Added,
                    Signal::Dismissed => Entry::Dismissed,
                },
                at: DateTime::from_timestamp_millis(f.at_ms).unwrap_or_default(),
            })
            .collect();
        let watchlist = state
            .watchlist
            .elements()
            .into_iter()
            .map(|(id, added)| WatchlistRecord {
                title: title(&id),
                added_at: at(&added),
            })
            .collect();
        let positions = state
            .positions
            .iter()
            .map(|(id, p)| PositionRecord {
                title: title(id),
                position_ms: p.value.position_ms,
                duration_ms: p.value.duration_ms,
                updated_at: at(&p.stamp),
            })
            .collect();

        let profile: Option<serde_json::Value> = sqlx::query_scalar(
            "SELECT to_jsonb(u) - 'password_hash' FROM auth.users u WHERE u.id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
        let mut records = BTreeMap::new();
        let mut consents = Vec::new();
        for t in user_tables(&mut conn).await? {
            let rows: Vec<serde_json::Value> = sqlx::query_scalar(&format!(
                "SELECT to_jsonb(t) - $2::text[] FROM {} t WHERE {}",
                t.quoted(),
                t.matches()
            ))
            .bind(user_id.to_string())
            .bind(&t.secret)
            .fetch_all(&mut *conn)
            .await?;
            if t.name() == "auth.agent_consents" {
                consents = rows;
            } else if !rows.is_empty() {
                records.insert(t.name(), rows);
            }
        }
        Ok(UserExport {
            format: history::EXPORT_FORMAT.into(),
            version: history::EXPORT_VERSION,
            exported_at: Utc::now(),
            user_id,
            profile: profile.unwrap_or_default(),
            services,
            history,
            watchlist,
            positions,
            devices: devices
                .devices
                .values()
                .filter_map(|d| serde_json::to_value(d).ok())
                .collect(),
            consents,
            records,
        })
    }

    async fn erase_user(&self, user_id: Uuid) -> Result<ErasureReport, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let store = privacy::erase(&mut tx, &user_id.to_string())
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut report = ErasureReport {
            user_id,
            key_destroyed: store.subject.is_some(),
            events_deleted: store.events + store.snapshots + store.outbox,
            ..ErasureReport::default()
        };
        // Access tokens still live: denied at the gateway once the rows are gone.
        let live: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT access_jti, access_exp FROM auth.refresh_tokens
             WHERE user_id = $1 AND access_exp > now()",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        mediagw_auth::store::record_revoked(&mut tx, &live).await?;
        let tables = user_tables(&mut tx).await?;
        // Logs keyed by the user's own id or by their sessions' ids, not by a `user_id` column.
        for t in tables.iter().filter(|t| t.table == "sessions" && t.uuid) {
            let logs = format!("{}.{}", ident(&t.schema), ident("session_logs"));
            if table_exists(&mut tx, &t.schema, "session_logs").await? {
                let n = sqlx::query(&format!(
                    "DELETE FROM {logs} WHERE id IN (SELECT session_id FROM {} WHERE user_id = $1)",
                    t.quoted()
                ))
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                *report
                    .rows_deleted
                    .entry(format!("{}.session_logs", t.schema))
                    .or_default() += n;
            }
        }
        let schemas: std::collections::BTreeSet<&str> =
            tables.iter().map(|t| t.schema.as_str()).collect();
        for schema in schemas {
            if table_exists(&mut tx, schema, "device_logs").await? {
                let n = sqlx::query(&format!(
                    "DELETE FROM {}.{} WHERE id = $1",
                    ident(schema),
                    ident("device_logs")
                ))
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    report
                        .rows_deleted
                        .insert(format!("{schema}.device_logs"), n);
                }
            }
        }
        for t in &tables {
            let n = sqlx::query(&format!("DELETE FROM {} WHERE {}", t.quoted(), t.matches()))
                .bind(user_id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                report.rows_deleted.insert(t.name(), n);
            }
        }
        sqlx::query("UPDATE auth.clients SET created_by = NULL WHERE created_by = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM auth.users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            report.rows_deleted.insert("auth.users".into(), n);
        }
        tx.commit().await?;

        if let Some(gate) = &self.gate {
            for (jti, exp) in live {
                match gate.revoke(jti, exp).await {
                    Ok(()) => report.tokens_revoked += 1,
                    Err(e) => tracing::error!(error = %e, "could not deny an erased user's token"),
                }
            }
        }
        report.cache_keys_deleted = self.forget_cached(user_id).await;
        tracing::info!(
            events = report.events_deleted,
            key_destroyed = report.key_destroyed,
            "user erased"
        );
        Ok(report)
    }

    /// Deletes every Redis key under our prefix that names the user (cached recommendations,
    /// rate buckets). Best effort: what stays expires with its TTL.
    async fn forget_cached(&self, user_id: Uuid) -> u64 {
        let Some((client, prefix)) = &self.redis else {
            return 0;
        };
        let result: redis::RedisResult<u64> = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            let pattern = format!("{}*{user_id}*", escape_glob(prefix));
            let mut cursor: u64 = 0;
            let mut deleted = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await?;
                if !keys.is_empty() {
                    let n: u64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
                    deleted += n;
                }
                if next == 0 {
                    return Ok(deleted);
                }
                cursor = next;
            }
        }
        .await;
        result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not delete an erased user's cache keys");
            0
        })
    }
}

fn escape_glob(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '*' | '?' | '[' | ']' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

async fn table_exists(
    conn: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                        WHERE table_schema = $1 AND table_name = $2)",
    )
    .bind(schema)
    .bind(table)
    .fetch_one(conn)
    .await
}

#[async_trait]
impl Accounts for AccountStore {
    async fn export(&self, user_id: Uuid) -> Result<UserExport, AccountError> {
        self.export_user(user_id).await.map_err(unavailable)
    }

    async fn erase(&self, user_id: Uuid) -> Result<ErasureReport, AccountError> {
        self.erase_user(user_id).await.map_err(unavailable)
    }

    async fn import(
        &self,
        user_id: Uuid,
        format: HistoryFormat,
        list: Option<ListKind>,
        file: &str,
    ) -> Result<ImportReport, AccountError> {
        let parsed = history::parse(format, list, file).map_err(AccountError::Lines)?;
        self.importer
            .import(user_id, parsed)
            .await
            .map_err(command_error)
    }
}
