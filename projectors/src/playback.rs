//! Playback read model (seed §6 `devices`, `playback_sessions`; schema `playback`): the device
//! registry from `playback.devices` and every session's current state from `playback.sessions`.
//!
//! Idempotent twice over: offsets commit with the rows (the framework), and each user's device
//! log position and each session's position are kept, so a re-published record changes nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mediagw_domain::playback::session::{Control, SessionEvent};
use mediagw_schemas::{topics, EventRecord};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::framework::{offsets_ddl, ApplyError, Projection};

pub const LIVE_SCHEMA: &str = "playback";
const TOPICS: &[&str] = &[topics::PLAYBACK_DEVICES, topics::PLAYBACK_SESSIONS];

pub struct PlaybackProjection {
    schema: String,
}

impl PlaybackProjection {
    pub fn new(schema: &str) -> Self {
        Self {
            schema: schema.to_string(),
        }
    }

    pub fn live() -> Self {
        Self::new(LIVE_SCHEMA)
    }

    /// Claims position `sequence` of a log; false when it was applied already.
    async fn claim(
        &self,
        tx: &mut PgConnection,
        table: &str,
        key: Uuid,
        sequence: i64,
    ) -> Result<bool, sqlx::Error> {
        let s = &self.schema;
        let done = sqlx::query(&format!(
            "INSERT INTO {s}.{table} (id, seq) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq WHERE {s}.{table}.seq < EXCLUDED.seq"
        ))
        .bind(key)
        .bind(sequence)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn poison(e: impl std::fmt::Display) -> ApplyError {
    ApplyError::Poison(e.to_string())
}

#[async_trait]
impl Projection for PlaybackProjection {
    fn name(&self) -> &'static str {
        "playback"
    }

    fn topics(&self) -> &'static [&'static str] {
        TOPICS
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    async fn migrate(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        crate::framework::run_ddl(
            pool,
            s,
            format!(
                r#"
CREATE TABLE IF NOT EXISTS {s}.devices (
    user_id              uuid NOT NULL,
    device_id            uuid NOT NULL,
    device_name          text NOT NULL,
    device_type          varchar(20) NOT NULL,
    supports_4k          boolean NOT NULL,
    supports_hdr         boolean NOT NULL,
    supports_dolby_atmos boolean NOT NULL,
    supported_platforms  text[] NOT NULL DEFAULT '{{}}',
    has_push_token       boolean NOT NULL DEFAULT false,
    registered_at        timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- A device id is the user's to choose: two users' ids never collide in here.
    PRIMARY KEY (user_id, device_id)
);
-- Last applied position of each user's device log.
CREATE TABLE IF NOT EXISTS {s}.device_logs (id uuid PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.sessions (
    session_id         uuid PRIMARY KEY,
    user_id            uuid NOT NULL,
    device_id          uuid NOT NULL,
    content_id         uuid NOT NULL,
    platform           varchar(50) NOT NULL,
    deep_link          text NOT NULL,
    web_fallback       text NOT NULL,
    state              varchar(10) NOT NULL,
    position_ms        bigint,
    resume_position_ms bigint,
    last_command       varchar(10),
    started_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    ended_at           timestamptz
);
CREATE INDEX IF NOT EXISTS sessions_live ON {s}.sessions (user_id, device_id) WHERE state <> 'ended';
-- Last applied position of each session's log.
CREATE TABLE IF NOT EXISTS {s}.session_logs (id uuid PRIMARY KEY, seq bigint NOT NULL);
{offsets};
"#,
                offsets = offsets_ddl(s)
            ),
        )
        .await
    }

    async fn apply(&self, tx: &mut PgConnection, record: EventRecord) -> Result<(), ApplyError> {
        let s = &self.schema;
        match record {
            EventRecord::DeviceRegistered(r) => {
                let seq = r.sequence;
                let d = r.into_domain().map_err(poison)?;
                if !self.claim(tx, "device_logs", d.user_id, seq).await? {
                    return Ok(());
                }
                sqlx::query(&format!(
                    "INSERT INTO {s}.devices (device_id, user_id, device_name, device_type, supports_4k,
                        supports_hdr, supports_dolby_atmos, supported_platforms, has_push_token,
                        registered_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
                     ON CONFLICT (user_id, device_id) DO UPDATE SET device_name = EXCLUDED.device_name, device_type = EXCLUDED.device_type,
                        supports_4k = EXCLUDED.supports_4k, supports_hdr = EXCLUDED.supports_hdr,
                        supports_dolby_atmos = EXCLUDED.supports_dolby_atmos,
                        supported_platforms = EXCLUDED.supported_platforms,
                        has_push_token = EXCLUDED.has_push_token, updated_at = now()"
                ))
                .bind(d.device_id)
                .bind(d.user_id)
                .bind(&d.device_name)
                .bind(d.device_type.as_str())
                .bind(d.capabilities.supports_4k)
                .bind(d.capabilities.supports_hdr)
                .bind(d.capabilities.supports_dolby_atmos)
                .bind(&d.capabilities.supported_platforms)
                .bind(d.has_push_token)
                .bind(at(d.registered_at_ms))
                .execute(&mut *tx)
                .await?;
            }
            EventRecord::DeviceRemoved(r) => {
                let seq = r.sequence;
                let (user_id, device_id) = r.into_domain().map_err(poison)?;
                if !self.claim(tx, "device_logs", user_id, seq).await? {
                    return Ok(());
                }
                sqlx::query(&format!(
                    "DELETE FROM {s}.devices WHERE device_id = $1 AND user_id = $2"
                ))
                .bind(device_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
            EventRecord::PlaybackStarted(r) => {
                let seq = r.sequence;
                let SessionEvent::PlaybackStarted(st) = r.into_domain().map_err(poison)? else {
                    unreachable!("a PlaybackStarted record maps to PlaybackStarted")
                };
                if !self.claim(tx, "session_logs", st.session_id, seq).await? {
                    return Ok(());
                }
                let resume = st.resume_position_ms.map(|p| p as i64);
                sqlx::query(&format!(
                    "INSERT INTO {s}.sessions (session_id, user_id, device_id, content_id, platform,
                        deep_link, web_fallback, state, position_ms, resume_position_ms, started_at,
                        updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'playing', $8, $8, $9, $9)
                     ON CONFLICT (session_id) DO NOTHING"
                ))
                .bind(st.session_id)
                .bind(st.user_id)
                .bind(st.device_id)
                .bind(st.content_id)
                .bind(&st.platform)
                .bind(&st.deep_link)
                .bind(&st.web_fallback)
                .bind(resume)
                .bind(at(st.at_ms))
                .execute(&mut *tx)
                .await?;
            }
            EventRecord::PlaybackControlled(r) => {
                let seq = r.sequence;
                let SessionEvent::PlaybackControlled {
                    session_id,
                    command,
                    position_ms,
                    at_ms,
                    ..
                } = r.into_domain().map_err(poison)?
                else {
                    unreachable!("a PlaybackControlled record maps to PlaybackControlled")
                };
                if !self.claim(tx, "session_logs", session_id, seq).await? {
                    return Ok(());
                }
                let state = match command {
                    Control::Play => Some("playing"),
                    Control::Pause => Some("paused"),
                    Control::Seek | Control::Stop => None,
                };
                sqlx::query(&format!(
                    "UPDATE {s}.sessions SET state = CASE WHEN state = 'ended' THEN state
                            ELSE COALESCE($2, state) END,
                        position_ms = COALESCE($3, position_ms), last_command = $4, updated_at = $5
                     WHERE session_id = $1"
                ))
                .bind(session_id)
                .bind(state)
                .bind(position_ms.map(|p| p as i64))
                .bind(command.as_str())
                .bind(at(at_ms))
                .execute(&mut *tx)
                .await?;
            }
            EventRecord::PlaybackEnded(r) => {
                let seq = r.sequence;
                let SessionEvent::PlaybackEnded {
                    session_id,
                    position_ms,
                    at_ms,
                    ..
                } = r.into_domain().map_err(poison)?
                else {
                    unreachable!("a PlaybackEnded record maps to PlaybackEnded")
                };
                if !self.claim(tx, "session_logs", session_id, seq).await? {
                    return Ok(());
                }
                sqlx::query(&format!(
                    "UPDATE {s}.sessions SET state = 'ended', position_ms = COALESCE($2, position_ms),
                        updated_at = $3, ended_at = $3
                     WHERE session_id = $1"
                ))
                .bind(session_id)
                .bind(position_ms.map(|p| p as i64))
                .bind(at(at_ms))
                .execute(&mut *tx)
                .await?;
            }
            other => {
                return Err(ApplyError::Poison(format!(
                    "{} does not belong on the playback topics",
                    other.full_name()
                )))
            }
        }
        Ok(())
    }
}
