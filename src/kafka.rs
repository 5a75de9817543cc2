//! Broker administration: topic creation (with DLQ twins) and a readiness probe.

use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::Config;

/// Every topic the product uses, deployed names.
pub fn all_topics(config: &Config) -> Vec<String> {
    <mediagw_schemas::EventRecord as mediagw_schemas::EventSet>::topics()
        .into_iter()
        .flat_map(|t| [t.to_string(), mediagw_schemas::topics::dlq(t)])
        .map(|t| format!("{}{}", config.kafka.topic_prefix, t))
        .collect()
}

/// Creates missing topics; existing ones are left as they are. Retries, since a broker that is
/// still starting (or busy) may not answer the first request.
pub async fn ensure_topics(config: &Config) -> anyhow::Result<()> {
    let mut last = None;
    for attempt in 0..5u64 {
        match tokio::time::timeout(Duration::from_secs(20), create_topics(config)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some(anyhow::anyhow!("no answer from the broker in 20 s")),
        }
        tracing::warn!(attempt, error = ?last, "creating topics failed; retrying");
        tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
    }
    Err(last.expect("at least one attempt"))
}

async fn create_topics(config: &Config) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = config
        .kafka_client()
        .create()
        .context("kafka admin client")?;
    let names = all_topics(config);
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| {
            NewTopic::new(
                n,
                config.kafka.partitions,
                TopicReplication::Fixed(config.kafka.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(15)));
    for res in admin
        .create_topics(&topics, &opts)
        .await
        .context("create topics")?
    {
        match res {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// Broker readiness: a metadata round trip.
pub struct BrokerProbe {
    consumer: std::sync::Arc<BaseConsumer>,
}

impl BrokerProbe {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = config.kafka_client().create()?;
        Ok(Self {
            consumer: std::sync::Arc::new(consumer),
        })
    }
}

#[async_trait::async_trait]
impl mediagw_query_api::ReadinessProbe for BrokerProbe {
    fn name(&self) -> &'static str {
        "broker"
    }

    async fn check(&self) -> Result<(), String> {
        let c = self.consumer.clone();
        tokio::task::spawn_blocking(move || {
            c.fetch_metadata(None, Duration::from_millis(1500))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
