//! Redis pub/sub adapter of the [`Fanout`] port: channel `user.{id}.sync` per user (subscribed while
//! a socket of that user is connected here) and `device.{id}.presence`.

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

use super::hub::{Delta, Fanout, FanoutError, Inbound};

pub struct RedisFanout {
    prefix: String,
    publisher: ConnectionManager,
    sink: RwLock<Option<PubSubSink>>,
    /// Sockets per user here; subscribed while above zero. Held across (un)subscribe so the
    /// Redis-side state follows the counts in order.
    joined: tokio::sync::Mutex<HashMap<Uuid, usize>>,
}

impl RedisFanout {
    /// Connects and starts the subscriber task; deltas for joined users arrive on `inbound`.
    pub async fn start(
        url: &str,
        prefix: &str,
        inbound: mpsc::UnboundedSender<Inbound>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, FanoutError> {
        let client = redis::Client::open(url).map_err(|e| FanoutError(e.to_string()))?;
        let publisher = ConnectionManager::new(client.clone())
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
                            for u in joined.keys() {
                                if let Err(e) = sink.subscribe(this.channel(*u)).await {
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

    async fn join(&self, user_id: Uuid) -> Result<(), FanoutError> {
        let mut joined = self.joined.lock().await;
        let n = joined.entry(user_id).or_insert(0);
        *n += 1;
        if *n > 1 {
            return Ok(());
        }
        match self.sink() {
            Some(mut sink) => {
                let res = sink.subscribe(self.channel(user_id)).await;
                if res.is_err() {
                    joined.remove(&user_id);
                }
                res.map_err(|e| FanoutError(e.to_string()))
            }
            // Not connected yet: the subscriber subscribes every joined user when it connects.
            None => Ok(()),
        }
    }

    async fn leave(&self, user_id: Uuid) {
        let mut joined = self.joined.lock().await;
        let Some(n) = joined.get_mut(&user_id) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            joined.remove(&user_id);
            if let Some(mut sink) = self.sink() {
                let _ = sink.unsubscribe(self.channel(user_id)).await;
            }
        }
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
