//! Event bus port (publish records, acknowledged) and its Kafka adapter.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;

/// A record ready for the wire.
#[derive(Debug, Clone)]
pub struct OutRecord {
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("publish failed: {0}")]
pub struct BusError(pub String);

/// Publishes records so that, when `publish` returns `Ok`, the broker has acknowledged all of them,
/// and records with the same key keep their relative order.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, records: Vec<OutRecord>) -> Result<(), BusError>;
}

/// Idempotent, gapless Kafka producer. After any delivery failure the producer is rebuilt, since an
/// idempotent producer that lost a message in a sequence must not keep producing after it.
pub struct KafkaBus {
    config: ClientConfig,
    producer: RwLock<Arc<FutureProducer>>,
}

impl KafkaBus {
    /// `base` carries tuning (linger, compression…); the delivery guarantees are forced here.
    pub fn new(base: &ClientConfig) -> Result<Self, KafkaError> {
        let mut config = base.clone();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("enable.gapless.guarantee", "true")
            .set("message.timeout.ms", "60000");
        let producer = config.create()?;
        Ok(Self {
            config,
            producer: RwLock::new(Arc::new(producer)),
        })
    }

    fn producer(&self) -> Arc<FutureProducer> {
        self.producer.read().expect("producer lock").clone()
    }

    fn rebuild(&self) {
        match self.config.create::<FutureProducer>() {
            Ok(p) => *self.producer.write().expect("producer lock") = Arc::new(p),
            Err(e) => tracing::error!(error = %e, "could not rebuild Kafka producer"),
        }
    }

    /// Waits until everything enqueued is delivered (used at shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer().flush(timeout);
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, records: Vec<OutRecord>) -> Result<(), BusError> {
        let producer = self.producer();
        let mut pending = Vec::with_capacity(records.len());
        for r in &records {
            let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
            for (k, v) in &r.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            let mut record = FutureRecord::to(&r.topic)
                .key(&r.key)
                .payload(&r.payload)
                .headers(headers);
            loop {
                match producer.send_result(record) {
                    Ok(fut) => {
                        pending.push(fut);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), rec)) => {
                        record = rec;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        self.rebuild();
                        return Err(BusError(e.to_string()));
                    }
                }
            }
        }
        let mut failure = None;
        for res in futures::future::join_all(pending).await {
            match res {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => failure = Some(e.to_string()),
                Err(_) => failure = Some("delivery cancelled".into()),
            }
        }
        match failure {
            None => Ok(()),
            Some(e) => {
                self.rebuild();
                Err(BusError(e))
            }
        }
    }
}
