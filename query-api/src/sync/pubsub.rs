//! Redis pub/sub adapter of the [`Fanout`] port: channel `user.{id}.sync` per user (subscribed while
//! a socket of that user is connected here), `device.{id}.control` per device (subscribed while a
//! socket of that device is: PUBLISH's receiver count says whether the device is online anywhere)
//! and `device.{id}.presence`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSubSink};
use redis::AsyncCommands;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::hub::{ControlFrame, Delta, Fanout, FanoutError, Inbound};

pub struct RedisFanout {
    prefix: String,
    publisher: ConnectionManager,
    sink: RwLock<Option<PubSubSink>>,
    /// Sockets per channel here; subscribed while above zero. Held across (un)subscribe so the
    /// Redis-side state follows the counts in order.
    joined: tokio::sync::Mutex<HashMap<String, usize>>,
}

impl RedisFanout {
    /// Connects and starts the subscriber task; deltas for joined users arrive on `inbound`.
    pub async fn start(
        client: redis::Client,
        prefix: &str,
        inbound: mpsc::UnboundedSender<Inbound>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, FanoutError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(2)
            // redis-rs retries through backon: the first wait is 1 s, then ×factor (default 100,
            // capped at 60 s), so a wrong password failed the start after about a minute.
            .set_factor(2)
            .set_max_delay(1000);
        let publisher = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| FanoutError(e.to_string()))?;
        let me = Arc::new(Self {
            prefix: prefix.to_string(),
            publisher,
            sink: RwLock::new(None),
            joined: tokio::sync::Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut first = true;
            loop {
                let Some(this) = weak.upgrade() else { break };
                match client.get_async_pubsub().await {
                    Ok(pubsub) => {
                        let (sink, mut stream) = pubsub.split();
                        {
                            let joined = this.joined.lock().await;
                            *this.sink.write().expect("sink lock") = Some(sink.clone());
                            let mut sink = sink;
                            for channel in joined.keys() {
                                if let Err(e) = sink.subscribe(channel).await {
                                    tracing::warn!(error = %e, "resubscribe failed");
                                }
                            }
                        }
                        if !first {
                            // Whatever was published while we were away is in the event store.
                            let _ = inbound.send(Inbound::Lost);
                        }
                        first = false;
                        backoff = Duration::from_millis(100);
                        drop(this);
                        loop {
                            let msg = tokio::select! {
                                _ = shutdown.cancelled() => return,
                                m = stream.next() => m,
                            };
                            let Some(msg) = msg else { break };
                            let Ok(payload) = msg.get_payload::<Vec<u8>>() else {
                                continue;
                            };
                            if msg.get_channel_name().ends_with(".control") {
                                match serde_json::from_slice::<ControlFrame>(&payload) {
                                    Ok(c) => {
                                        if inbound.send(Inbound::Control(c)).is_err() {
                                            return;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "undecodable control frame")
                                    }
                                }
                                continue;
                            }
                            match serde_json::from_slice::<Delta>(&payload) {
                                Ok(d) => {
                                    if inbound.send(Inbound::Delta(d)).is_err() {
                                        return;
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "undecodable sync delta"),
                            }
                        }
                        tracing::warn!("Redis subscription lost; reconnecting");
                    }
                    Err(e) => {
                        drop(this);
                        tracing::warn!(error = %e, "Redis pub/sub unavailable; retrying");
                    }
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Ok(me)
    }

    fn channel(&self, user_id: Uuid) -> String {
        format!("{}user.{user_id}.sync", self.prefix)
    }

    fn control_channel(&self, device_id: Uuid) -> String {
        format!("{}device.{device_id}.control", self.prefix)
    }

    /// Counts one more socket on `channel`; the first subscribes.
    async fn join_channel(&self, channel: String) -> Result<(), FanoutError> {
        let mut joined = self.joined.lock().await;
        let n = joined.entry(channel.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            return Ok(());
        }
        match self.sink() {
            Some(mut sink) => {
                let res = sink.subscribe(&channel).await;
                if res.is_err() {
                    joined.remove(&channel);
                }
                res.map_err(|e| FanoutError(e.to_string()))
            }
            // Not connected yet: the subscriber subscribes every joined channel when it connects.
            None => Ok(()),
        }
    }

    /// Counts one socket less on `channel`; the last unsubscribes.
    async fn leave_channel(&self, channel: String) {
        let mut joined = self.joined.lock().await;
        let Some(n) = joined.get_mut(&channel) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            joined.remove(&channel);
            if let Some(mut sink) = self.sink() {
                let _ = sink.unsubscribe(&channel).await;
            }
        }
    }

    fn sink(&self) -> Option<PubSubSink> {
        self.sink.read().expect("sink lock").clone()
    }
}

#[async_trait]
impl Fanout for RedisFanout {
    async fn publish(&self, delta: &Delta) -> Result<(), FanoutError> {
        let body = serde_json::to_vec(delta).map_err(|e| FanoutError(e.to_string()))?;
        let mut conn = self.publisher.clone();
        conn.publish::<_, _, ()>(self.channel(delta.user_id), body)
            .await
            .map_err(|e| FanoutError(e.to_string()))
    }

    async fn control(&self, frame: &ControlFrame) -> Result<bool, FanoutError> {
        let body = serde_json::to_vec(frame).map_err(|e| FanoutError(e.to_string()))?;
        let mut conn = self.publisher.clone();
        let receivers: i64 = conn
            .publish(self.control_channel(frame.device_id), body)
            .await
            .map_err(|e| FanoutError(e.to_string()))?;
        Ok(receivers > 0)
    }

    async fn join(&self, user_id: Uuid, device_id: Uuid) -> Result<(), FanoutError> {
        self.join_channel(self.channel(user_id)).await?;
        if let Err(e) = self.join_channel(self.control_channel(device_id)).await {
            self.leave_channel(self.channel(user_id)).await;
            return Err(e);
        }
        Ok(())
    }

    async fn leave(&self, user_id: Uuid, device_id: Uuid) {
        self.leave_channel(self.control_channel(device_id)).await;
        self.leave_channel(self.channel(user_id)).await;
    }

    async fn presence(&self, device_id: Uuid, online: bool) {
        let mut conn = self.publisher.clone();
        let body = serde_json::json!({"device_id": device_id, "online": online}).to_string();
        let channel = format!("{}device.{device_id}.presence", self.prefix);
        if let Err(e) = conn.publish::<_, _, ()>(channel, body).await {
            tracing::debug!(error = %e, "presence not published");
        }
    }
}
