//! Fan-out of recorded operations to the sockets of their user, on this instance and others.
//!
//! Every delta goes through the [`Fanout`] port, even to sockets on the instance that recorded it,
//! so one path serves one instance or many. The port is at-most-once (Redis pub/sub); sockets
//! detect gaps by log sequence and read what they missed from the event store (ADR 0010).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use mediagw_domain::sync::Recorded;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::port::SyncCommands;

/// A message between instances: operations newly recorded in one user's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delta {
    pub user_id: Uuid,
    pub recorded: Vec<Recorded>,
}

/// A remote-control command for one device's open sockets (playback, seed §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlFrame {
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub session_id: Uuid,
    pub command: String,
    pub position_ms: Option<u64>,
}

/// What a socket task receives.
#[derive(Debug, Clone)]
pub enum Push {
    Delta(Arc<Delta>),
    Control(Arc<ControlFrame>),
    /// The fan-out lost messages (reconnected): read the log for anything missed.
    Resync,
}

#[derive(Debug, thiserror::Error)]
#[error("fan-out: {0}")]
pub struct FanoutError(pub String);

/// Cross-instance delivery of deltas and control frames (port). Adapters: [`LocalFanout`] (one
/// process) and `RedisFanout` (pub/sub channels `user.{id}.sync` per user and
/// `device.{id}.control` per device).
#[async_trait]
pub trait Fanout: Send + Sync {
    async fn publish(&self, delta: &Delta) -> Result<(), FanoutError>;
    /// A control frame for a device whose socket is on another instance; whether any instance
    /// holding one of its sockets received it.
    async fn control(&self, frame: &ControlFrame) -> Result<bool, FanoutError>;
    /// A socket of this user's device opened here: receive the user's deltas and the device's
    /// control frames (counted per socket).
    async fn join(&self, user_id: Uuid, device_id: Uuid) -> Result<(), FanoutError>;
    /// One of the device's sockets here closed; the last one stops its messages.
    async fn leave(&self, user_id: Uuid, device_id: Uuid);
    /// `device.{id}.presence` notification for anyone else listening.
    async fn presence(&self, device_id: Uuid, online: bool);
}

/// What a fan-out adapter hands to the hub.
#[derive(Debug)]
pub enum Inbound {
    Delta(Delta),
    Control(ControlFrame),
    /// Messages may have been lost (the subscription was re-established).
    Lost,
}

/// In-process fan-out for a single instance.
pub struct LocalFanout(pub mpsc::UnboundedSender<Inbound>);

#[async_trait]
impl Fanout for LocalFanout {
    async fn publish(&self, delta: &Delta) -> Result<(), FanoutError> {
        self.0
            .send(Inbound::Delta(delta.clone()))
            .map_err(|_| FanoutError("hub stopped".into()))
    }

    /// One process: a device without a socket here has none anywhere.
    async fn control(&self, _: &ControlFrame) -> Result<bool, FanoutError> {
        Ok(false)
    }

    async fn join(&self, _: Uuid, _: Uuid) -> Result<(), FanoutError> {
        Ok(())
    }

    async fn leave(&self, _: Uuid, _: Uuid) {}

    async fn presence(&self, _: Uuid, _: bool) {}
}

struct Conn {
    device_id: Uuid,
    tx: mpsc::Sender<Push>,
}

/// Local sockets by user, and the services their tasks use.
pub struct SyncHub {
    pub service: Arc<dyn SyncCommands>,
    fanout: Arc<dyn Fanout>,
    conns: RwLock<HashMap<Uuid, HashMap<u64, Conn>>>,
    /// Highest log position fanned out per user with sockets here: a heartbeat from a socket
    /// that has delivered up to it needs no database read.
    heads: RwLock<HashMap<Uuid, i64>>,
    next_conn: AtomicU64,
    pub settings: HubSettings,
    /// Cancelled at process shutdown: sockets close (and their devices go offline).
    pub shutdown: CancellationToken,
}

#[derive(Debug, Clone)]
pub struct HubSettings {
    /// A socket silent for this long is closed and its device marked offline.
    pub heartbeat_timeout: std::time::Duration,
    /// Deltas a slow socket may have queued before it is dropped (it catches up on reconnect).
    pub socket_queue: usize,
}

impl SyncHub {
    /// Builds the hub and starts dispatching what `inbound` brings to local sockets.
    pub fn start(
        service: Arc<dyn SyncCommands>,
        fanout: Arc<dyn Fanout>,
        mut inbound: mpsc::UnboundedReceiver<Inbound>,
        settings: HubSettings,
        shutdown: CancellationToken,
    ) -> Arc<SyncHub> {
        let hub = Arc::new(SyncHub {
            service,
            fanout,
            conns: RwLock::new(HashMap::new()),
            heads: RwLock::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            settings,
            shutdown,
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(msg) = inbound.recv().await {
                let Some(hub) = weak.upgrade() else { break };
                match msg {
                    Inbound::Delta(d) => hub.dispatch(Arc::new(d)),
                    Inbound::Control(c) => {
                        hub.deliver_control(&Arc::new(c));
                    }
                    Inbound::Lost => hub.resync_all(),
                }
            }
        });
        hub
    }

    fn dispatch(&self, delta: Arc<Delta>) {
        let conns = self.conns.read().expect("hub lock");
        if let Some(users) = conns.get(&delta.user_id) {
            // Only users with sockets here (the local fan-out sees every user's deltas).
            if let Some(last) = delta.recorded.iter().map(|r| r.sequence).max() {
                let mut heads = self.heads.write().expect("heads lock");
                let head = heads.entry(delta.user_id).or_insert(0);
                *head = (*head).max(last);
            }
            for conn in users.values() {
                // A full queue means a stuck socket: dropping the push is safe, the socket's gap
                // check reads the log.
                if conn.tx.try_send(Push::Delta(delta.clone())).is_err() {
                    metrics::counter!("sync_pushes_dropped_total").increment(1);
                }
            }
        }
    }

    /// Hands a control frame to the device's sockets here; whether any took it.
    fn deliver_control(&self, frame: &Arc<ControlFrame>) -> bool {
        let conns = self.conns.read().expect("hub lock");
        let mut delivered = false;
        if let Some(users) = conns.get(&frame.user_id) {
            for conn in users.values().filter(|c| c.device_id == frame.device_id) {
                delivered |= conn.tx.try_send(Push::Control(frame.clone())).is_ok();
            }
        }
        delivered
    }

    /// Sends a control frame to the device's open sockets, here or on another instance; false
    /// when the device has none (it is offline).
    pub async fn control(&self, frame: ControlFrame) -> Result<bool, FanoutError> {
        let frame = Arc::new(frame);
        if self.deliver_control(&frame) {
            return Ok(true);
        }
        self.fanout.control(&frame).await
    }

    /// Whether the device has a socket open on this instance.
    pub fn connected_here(&self, user_id: Uuid, device_id: Uuid) -> bool {
        self.conns
            .read()
            .expect("hub lock")
            .get(&user_id)
            .is_some_and(|u| u.values().any(|c| c.device_id == device_id))
    }

    fn resync_all(&self) {
        for users in self.conns.read().expect("hub lock").values() {
            for conn in users.values() {
                let _ = conn.tx.try_send(Push::Resync);
            }
        }
    }

    /// Registers a socket; the returned id unregisters it.
    /// Sockets of `user_id` open on this instance.
    pub fn sockets_of(&self, user_id: Uuid) -> usize {
        self.conns
            .read()
            .expect("hub lock")
            .get(&user_id)
            .map_or(0, |c| c.len())
    }

    pub async fn register(
        &self,
        user_id: Uuid,
        device_id: Uuid,
    ) -> Result<(u64, mpsc::Receiver<Push>), FanoutError> {
        let (tx, rx) = mpsc::channel(self.settings.socket_queue);
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        // A failed join has not counted this socket.
        self.fanout.join(user_id, device_id).await?;
        self.conns
            .write()
            .expect("hub lock")
            .entry(user_id)
            .or_default()
            .insert(id, Conn { device_id, tx });
        metrics::gauge!("sync_sockets").increment(1.0);
        Ok((id, rx))
    }

    /// Removes a socket; true when it was the device's last socket here.
    pub async fn unregister(&self, user_id: Uuid, id: u64) -> bool {
        let (device_id, device_gone) = {
            let mut conns = self.conns.write().expect("hub lock");
            let Some(users) = conns.get_mut(&user_id) else {
                return false;
            };
            let Some(conn) = users.remove(&id) else {
                return false;
            };
            let device_gone = !users.values().any(|c| c.device_id == conn.device_id);
            if users.is_empty() {
                conns.remove(&user_id);
                self.heads.write().expect("heads lock").remove(&user_id);
            }
            (conn.device_id, device_gone)
        };
        metrics::gauge!("sync_sockets").decrement(1.0);
        self.fanout.leave(user_id, device_id).await;
        device_gone
    }

    /// Tells every instance about newly recorded operations.
    pub async fn publish(&self, user_id: Uuid, recorded: Vec<Recorded>) {
        if recorded.is_empty() {
            return;
        }
        let delta = Delta { user_id, recorded };
        if let Err(e) = self.fanout.publish(&delta).await {
            // Durable already: devices pick it up at their next heartbeat or reconnect.
            tracing::warn!(%user_id, error = %e, "delta not fanned out");
            metrics::counter!("sync_fanout_failures_total").increment(1);
        }
    }

    pub async fn presence(&self, device_id: Uuid, online: bool) {
        self.fanout.presence(device_id, online).await;
    }

    /// Highest position of the user's log fanned out here so far (0: none seen).
    pub fn head(&self, user_id: Uuid) -> i64 {
        self.heads
            .read()
            .expect("heads lock")
            .get(&user_id)
            .copied()
            .unwrap_or(0)
    }
}
