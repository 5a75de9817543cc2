//! One device's WebSocket: subscribe, catch up, then relay operations both ways.
//!
//! Delivery is by log sequence: the socket remembers the contiguous prefix of the user's log it
//! has delivered (`upto`) plus positions above it already handled (its own acknowledged
//! operations). A delta that skips a position makes it read the gap from the event store, so a
//! lost pub/sub message costs latency, never an operation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use mediagw_auth::Caller;
use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, Recorded, Since};
use tokio::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use super::hub::{Push, SyncHub};
use super::port::SyncWriteError;
use super::protocol::{AckStatus, ClientMessage, DeviceEvent, ServerMessage};
use crate::gateway::revocations::Revocations;

const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket went away (or must be closed).
struct Closed;

struct Session {
    hub: Arc<SyncHub>,
    /// The socket closes as soon as the token that opened it is revoked.
    revocations: Option<Revocations>,
    ws: WebSocket,
    user_id: Uuid,
    device_id: Uuid,
    /// What the access token allows (checked per operation).
    scopes: mediagw_domain::auth::Scopes,
    /// When the access token expires: the socket is closed then (the device reconnects with a
    /// fresh token and resumes from its cursor).
    token_expires: Instant,
    upto: i64,
    upto_cursor: Option<Hlc>,
    above: BTreeMap<i64, Hlc>,
    /// Heartbeats answered; every `VERIFY_EVERY`th reads the log even when nothing seems missed
    /// (covers a delta whose publish failed on another instance).
    beats: u64,
    /// This connection, for presence: only the connection that brought a device online may
    /// take it offline.
    session: Uuid,
}

const VERIFY_EVERY: u64 = 4;

pub async fn serve(
    hub: Arc<SyncHub>,
    caller: Caller,
    revocations: Option<Revocations>,
    mut ws: WebSocket,
) {
    let first = tokio::time::timeout(SUBSCRIBE_TIMEOUT, next_message(&mut ws)).await;
    let (user_id, device_id, last_seen, profile) = match first {
        Ok(Some(Ok(ClientMessage::Subscribe {
            user_id,
            device_id,
            last_seen,
            device_name,
            platform,
        }))) => {
            // PostgreSQL's JSON cannot hold NUL; a name is not worth refusing a device over.
            let clean = |s: Option<String>| s.map(|s| s.replace('\0', ""));
            (
                user_id,
                device_id,
                last_seen,
                serde_json::json!({"name": clean(device_name), "platform": clean(platform)}),
            )
        }
        Ok(Some(Ok(_))) => {
            return refuse(ws, "not_subscribed", "the first message must be Subscribe").await
        }
        Ok(Some(Err(msg))) => return refuse(ws, "invalid_message", msg).await,
        Ok(None) => return,
        Err(_) => return refuse(ws, "timeout", "no Subscribe within 10 s").await,
    };
    if caller.require_self(user_id).is_err() {
        return refuse(
            ws,
            "forbidden",
            "a device may only subscribe to its own user",
        )
        .await;
    }
    if hub.sockets_of(user_id) >= MAX_SOCKETS_PER_USER {
        metrics::counter!("sync_sockets_refused_total", "reason" => "too_many").increment(1);
        return refuse(
            ws,
            "too_many_sockets",
            "this account has too many open sync sockets; close one",
        )
        .await;
    }
    if device_id.is_nil() {
        return refuse(
            ws,
            "invalid_message",
            "`device_id` must not be the nil UUID",
        )
        .await;
    }
    if caller.exp <= chrono::Utc::now().timestamp() {
        return refuse(
            ws,
            "token_expired",
            "the access token expired; reconnect with a fresh one",
        )
        .await;
    }
    let scopes = caller.scopes.clone();
    // The socket lives no longer than the token that opened it.
    let token_left = Duration::from_secs(
        u64::try_from(caller.exp - chrono::Utc::now().timestamp()).unwrap_or(0),
    );
    let (conn_id, rx) = match hub.register(user_id, device_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot register socket");
            return refuse(ws, "unavailable", "sync is temporarily unavailable").await;
        }
    };
    let span = tracing::info_span!("sync_socket", %user_id, %device_id, conn_id);
    session(
        hub,
        ws,
        user_id,
        device_id,
        scopes,
        Instant::now() + token_left,
        last_seen,
        profile,
        conn_id,
        rx,
        revocations,
    )
    .instrument(span)
    .await
}

#[allow(clippy::too_many_arguments)]
async fn session(
    hub: Arc<SyncHub>,
    ws: WebSocket,
    user_id: Uuid,
    device_id: Uuid,
    scopes: mediagw_domain::auth::Scopes,
    token_expires: Instant,
    last_seen: Option<Hlc>,
    profile: serde_json::Value,
    conn_id: u64,
    mut rx: tokio::sync::mpsc::Receiver<Push>,
    revocations: Option<Revocations>,
) {
    let mut s = Session {
        revocations,
        hub: hub.clone(),
        ws,
        user_id,
        device_id,
        scopes,
        token_expires,
        upto: 0,
        upto_cursor: last_seen,
        above: BTreeMap::new(),
        beats: conn_id, // spreads the verifying heartbeats of many sockets
        session: Uuid::new_v4(),
    };
    let since = last_seen.map_or(Since::Start, Since::Cursor);
    // Runs until the socket closes, times out or the process shuts down (all end the same way).
    let _closed: Result<(), Closed> = async {
        s.catch_up(since).await?;
        s.presence(true, profile).await;
        s.run(&mut rx).await
    }
    .await;
    drop(rx);
    if hub.unregister(user_id, conn_id).await {
        s.presence(false, serde_json::Value::Null).await;
    }
    let _ = s.ws.send(Message::Close(None)).await;
}

async fn refuse(mut ws: WebSocket, code: &str, message: impl Into<String>) {
    let _ = send(&mut ws, &ServerMessage::error(code, message)).await;
    let _ = ws.send(Message::Close(None)).await;
}

/// The next protocol message; `Err` carries a readable reason for a malformed one.
async fn next_message(ws: &mut WebSocket) -> Option<Result<ClientMessage, String>> {
    loop {
        match ws.recv().await? {
            Ok(Message::Text(t)) => return Some(parse(t.as_str())),
            Ok(Message::Binary(_)) => return Some(Err("binary frames are not supported".into())),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue, // ping/pong
        }
    }
}

/// Parses a client message, naming the offending field. The `type` tag is read first because
/// serde buffers tagged enums, which hides the path of an error inside them.
fn parse(text: &str) -> Result<ClientMessage, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if value.get("type").and_then(|t| t.as_str()) == Some("StateUpdate") {
        let ops = value
            .get("operations")
            .cloned()
            .ok_or("`operations`: missing field")?;
        let operations: Vec<CrdtOperation> = serde_path_to_error::deserialize(ops)
            .map_err(|e| format!("`operations{}`: {}", e.path(), e.inner()))?;
        return Ok(ClientMessage::StateUpdate { operations });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("`{path}`: {}", e.inner())
        }
    })
}

/// Open sockets one account may hold on one instance (a household's devices fit many times over;
/// a script opening thousands does not).
pub const MAX_SOCKETS_PER_USER: usize = 32;

/// Messages a socket may send: a burst of [`MESSAGE_BURST`], refilled at [`MESSAGES_PER_S`].
pub const MESSAGE_BURST: f64 = 120.0;
pub const MESSAGES_PER_S: f64 = 20.0;

/// A token bucket of client messages.
struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn new() -> Self {
        Self {
            tokens: MESSAGE_BURST,
            at: Instant::now(),
        }
    }

    /// Spends one message; false when the budget is spent.
    fn spend(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * MESSAGES_PER_S;
        self.tokens = (self.tokens + refill).min(MESSAGE_BURST);
        self.at = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Resolves when the socket's token is revoked (never without a revocation watch).
async fn revoked(r: Option<&Revocations>) {
    match r {
        Some(r) => r.revoked().await,
        None => std::future::pending().await,
    }
}

async fn send(ws: &mut WebSocket, msg: &ServerMessage) -> Result<(), Closed> {
    let text = serde_json::to_string(msg).expect("server messages serialise");
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|_| Closed)
}

impl Session {
    async fn run(&mut self, rx: &mut tokio::sync::mpsc::Receiver<Push>) -> Result<(), Closed> {
        let timeout = self.hub.settings.heartbeat_timeout;
        let mut deadline = Instant::now() + timeout;
        let shutdown = self.hub.shutdown.clone();
        let revocations = self.revocations.clone();
        let mut budget = Budget::new();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Err(Closed),
                _ = revoked(revocations.as_ref()) => {
                    metrics::counter!("sync_sockets_revoked_total").increment(1);
                    let _ = send(&mut self.ws, &ServerMessage::error("token_revoked", "the access token was revoked")).await;
                    return Err(Closed);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::debug!("heartbeat timeout");
                    return Err(Closed);
                }
                _ = tokio::time::sleep_until(self.token_expires) => {
                    let _ = send(&mut self.ws, &ServerMessage::error("token_expired", "the access token expired; reconnect with a fresh one")).await;
                    return Err(Closed);
                }
                push = rx.recv() => match push {
                    Some(Push::Delta(d)) => self.deliver(&d.recorded, false).await?,
                    Some(Push::Resync) => self.fill(false).await?,
                    Some(Push::Control(c)) => {
                        metrics::counter!("playback_controls_delivered_total").increment(1);
                        send(&mut self.ws, &ServerMessage::PlaybackControl {
                            session_id: c.session_id,
                            command: c.command.clone(),
                            position_ms: c.position_ms,
                        }).await?
                    }
                    None => return Err(Closed),
                },
                msg = next_message(&mut self.ws) => {
                    deadline = Instant::now() + timeout;
                    if msg.is_some() && !budget.spend() {
                        metrics::counter!("sync_sockets_refused_total", "reason" => "message_budget").increment(1);
                        let _ = send(&mut self.ws, &ServerMessage::error("rate_limited", "too many messages on this socket; reconnect later")).await;
                        return Err(Closed);
                    }
                    match msg {
                        None => return Err(Closed),
                        Some(Err(reason)) => {
                            send(&mut self.ws, &ServerMessage::error("invalid_message", reason)).await?
                        }
                        Some(Ok(ClientMessage::Heartbeat)) => self.heartbeat().await?,
                        Some(Ok(ClientMessage::StateUpdate { operations })) => {
                            // Each update is a trace of its own (a socket lives for hours),
                            // following from the socket's span.
                            let span = if mediagw_trace::enabled() {
                                let span = tracing::info_span!(parent: None, "sync state_update", otel.kind = "server", operations = operations.len());
                                span.follows_from(tracing::Span::current());
                                span
                            } else {
                                tracing::Span::none()
                            };
                            self.update(operations).instrument(span).await?
                        }
                        Some(Ok(ClientMessage::Subscribe { .. })) => {
                            send(&mut self.ws, &ServerMessage::error("already_subscribed", "this socket is subscribed already")).await?
                        }
                    }
                }
            }
        }
    }

    /// Sends what the device missed since `since` and fixes the delivered prefix.
    async fn catch_up(&mut self, since: Since) -> Result<(), Closed> {
        let log = match self.hub.service.since(self.user_id, since).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "catch-up read failed");
                send(
                    &mut self.ws,
                    &ServerMessage::error("unavailable", "sync is temporarily unavailable"),
                )
                .await?;
                return Err(Closed);
            }
        };
        // Everything before the first missed operation counts as delivered.
        self.upto = log.operations.first().map_or(log.head, |r| r.sequence - 1);
        self.deliver(&log.operations, true).await
    }

    /// Answers a heartbeat with what was missed: from the log when this socket is behind what was
    /// fanned out (a dropped push) or on every `VERIFY_EVERY`th beat, otherwise from memory.
    async fn heartbeat(&mut self) -> Result<(), Closed> {
        self.beats += 1;
        if self.upto < self.hub.head(self.user_id) || self.beats.is_multiple_of(VERIFY_EVERY) {
            return self.fill(true).await;
        }
        send(
            &mut self.ws,
            &ServerMessage::StateDelta {
                operations: vec![],
                cursor: self.upto_cursor,
            },
        )
        .await
    }

    /// Reads the log after the delivered prefix; `always` answers even when nothing was missed.
    async fn fill(&mut self, always: bool) -> Result<(), Closed> {
        match self
            .hub
            .service
            .since(self.user_id, Since::Sequence(self.upto))
            .await
        {
            Ok(log) => self.deliver(&log.operations, always).await,
            Err(e) => {
                tracing::warn!(error = %e, "gap read failed");
                Ok(())
            }
        }
    }

    /// Delivers `recorded` (in log order) minus what this device has or wrote itself.
    async fn deliver(&mut self, recorded: &[Recorded], always: bool) -> Result<(), Closed> {
        let first_new = recorded
            .iter()
            .find(|r| r.sequence > self.upto && !self.above.contains_key(&r.sequence));
        if let Some(first) = first_new {
            let gap = (self.upto + 1..first.sequence).any(|s| !self.above.contains_key(&s));
            if gap {
                metrics::counter!("sync_gaps_filled_total").increment(1);
                return Box::pin(self.fill(always)).await;
            }
        }
        let mut operations: Vec<CrdtOperation> = Vec::new();
        let mut events = Vec::new();
        for r in recorded {
            if r.sequence <= self.upto || self.above.contains_key(&r.sequence) {
                continue;
            }
            self.above.insert(r.sequence, r.cursor);
            if r.operation.device_id != self.device_id {
                if let Some(e) = device_event(&r.operation) {
                    events.push(e);
                }
                operations.push(r.operation.clone());
            }
        }
        self.advance();
        if !operations.is_empty() || always {
            metrics::counter!("sync_operations_delivered_total").increment(operations.len() as u64);
            send(
                &mut self.ws,
                &ServerMessage::StateDelta {
                    operations,
                    cursor: self.upto_cursor,
                },
            )
            .await?;
        }
        for e in events {
            send(&mut self.ws, &e).await?;
        }
        Ok(())
    }

    fn advance(&mut self) {
        while let Some(c) = self.above.remove(&(self.upto + 1)) {
            self.upto += 1;
            self.upto_cursor = Some(c);
        }
        let upto = self.upto;
        self.above.retain(|s, _| *s > upto);
    }

    async fn update(&mut self, operations: Vec<CrdtOperation>) -> Result<(), Closed> {
        if operations.is_empty() {
            return Ok(());
        }
        if let Some(scope) = super::missing_scope(&self.scopes, &operations) {
            let message = format!(
                "these operations need the `{}` scope; none was recorded",
                scope.as_str()
            );
            return send(
                &mut self.ws,
                &ServerMessage::error("insufficient_scope", message),
            )
            .await;
        }
        let ids: Vec<Uuid> = operations.iter().map(|o| o.operation_id).collect();
        match self
            .hub
            .service
            .apply(self.user_id, self.device_id, operations)
            .await
        {
            Ok(outcome) => {
                let recorded: std::collections::HashSet<Uuid> = outcome
                    .recorded
                    .iter()
                    .map(|r| r.operation.operation_id)
                    .collect();
                for r in &outcome.recorded {
                    self.above.insert(r.sequence, r.cursor);
                }
                self.advance();
                // Tell the other devices first: it must not depend on this socket still being up.
                self.hub.publish(self.user_id, outcome.recorded).await;
                let mut acked = std::collections::HashSet::new();
                for id in ids {
                    if !acked.insert(id) {
                        continue;
                    }
                    let status = if recorded.contains(&id) {
                        AckStatus::Recorded
                    } else {
                        AckStatus::Duplicate
                    };
                    // Like every cursor the server sends: everything up to it has reached this
                    // device, so it is a safe `last_seen`.
                    let cursor = self.upto_cursor;
                    send(
                        &mut self.ws,
                        &ServerMessage::Acknowledge {
                            operation_id: id,
                            status,
                            cursor,
                        },
                    )
                    .await?;
                }
                Ok(())
            }
            Err(SyncWriteError::Invalid(errors)) => {
                send(
                    &mut self.ws,
                    &ServerMessage::Error {
                        code: "invalid_operation".into(),
                        message: errors.to_string(),
                        fields: errors.0,
                    },
                )
                .await
            }
            Err(e) => {
                tracing::error!(error = %e, "recording operations failed");
                send(
                    &mut self.ws,
                    &ServerMessage::error("unavailable", "not recorded; retry"),
                )
                .await
            }
        }
    }

    async fn presence(&mut self, online: bool, payload: serde_json::Value) {
        match self
            .hub
            .service
            .presence(self.user_id, self.device_id, self.session, online, payload)
            .await
        {
            Ok(recorded) => {
                for r in &recorded {
                    self.above.insert(r.sequence, r.cursor);
                }
                self.advance();
                self.hub.publish(self.user_id, recorded).await;
                self.hub.presence(self.device_id, online).await;
            }
            Err(e) => tracing::warn!(error = %e, online, "presence not recorded"),
        }
    }
}

/// What other devices are told about an operation, besides the operation itself.
fn device_event(op: &CrdtOperation) -> Option<ServerMessage> {
    let event = match &op.operation_type {
        OperationType::DeviceOnline => DeviceEvent::Online,
        OperationType::DeviceOffline => DeviceEvent::Offline,
        OperationType::PlaybackUpdate {
            content_id,
            position_ms,
            ..
        } => DeviceEvent::Watching {
            content_id: *content_id,
            position_ms: *position_ms,
        },
        _ => return None,
    };
    Some(ServerMessage::DeviceEvent {
        device_id: op.device_id,
        event,
    })
}
