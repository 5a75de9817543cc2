//! An event declared once — one `declare_events!` entry, its `.avsc`, its mapping — travels the
//! whole path with no other edit: appended to the event store, relayed by the real relay through
//! the outbox, its schema registered in the real registry, and decoded back off the broker.

mod common;

use std::sync::Arc;
use std::time::Duration;

use mediagw_commands::relay::{Relay, RelayConfig};
use mediagw_domain::event::Event;
use mediagw_eventstore::Appended;
use mediagw_schemas::bus::KafkaBus;
use mediagw_schemas::{declare_events, Envelope, EventCodec, EventMeta, ToRecord};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use common::Stack;

/// The domain event, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum PingEvent {
    Pinged { note: String },
}

impl Event for PingEvent {
    fn event_type(&self) -> &'static str {
        "Pinged"
    }
    fn event_version(&self) -> &'static str {
        "1.0"
    }
}

/// Its wire DTO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PingedV1 {
    event_id: String,
    content_id: String,
    sequence: i64,
    occurred_at_ms: i64,
    note: String,
}

impl Envelope for PingedV1 {
    fn event_id(&self) -> &str {
        &self.event_id
    }
    fn key(&self) -> &str {
        &self.content_id
    }
    fn sequence(&self) -> i64 {
        self.sequence
    }
    fn occurred_at_ms(&self) -> i64 {
        self.occurred_at_ms
    }
}

const PING_STREAM: &str = "test_ping";

declare_events! {
    pub enum TestRecord;
    events {
        Pinged {
            namespace: "mediagw.test",
            topic: "test.pinged",
            dto: PingedV1,
            schema: "tests/fixtures/Pinged.avsc",
        },
    }
    streams {
        PING_STREAM => PingEvent,
    }
}

impl ToRecord<TestRecord> for PingEvent {
    fn to_record(&self, meta: &EventMeta) -> TestRecord {
        let PingEvent::Pinged { note } = self;
        TestRecord::Pinged(PingedV1 {
            event_id: meta.event_id.to_string(),
            content_id: meta.content_id.to_string(),
            sequence: meta.sequence,
            occurred_at_ms: meta.occurred_at.timestamp_millis(),
            note: note.clone(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_only_event_round_trips_the_store_relay_registry_and_codec() {
    let mut s = Stack::new("declared").await;
    s.run_ok(&["migrate"]);
    s.start("registry");
    s.wait_http(&format!("{}/subjects", s.registry)).await;

    let topic = s.topic("test.pinged");
    let mut kafka = ClientConfig::new();
    kafka.set("bootstrap.servers", common::brokers());
    let admin: AdminClient<DefaultClientContext> = kafka.create().unwrap();
    admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();

    // Stored through the event store's one append…
    let id = Uuid::now_v7();
    let event = PingEvent::Pinged {
        note: "hello".into(),
    };
    let mut conn = s.pool.acquire().await.unwrap();
    // (Before it, an event of a stream this set does not declare: the relay parks it, never blocks.)
    mediagw_eventstore::append(
        &mut conn,
        "undeclared_stream",
        &[Appended {
            aggregate_id: Uuid::now_v7().to_string(),
            sequence: 1,
            event: &event,
        }],
    )
    .await
    .unwrap();
    mediagw_eventstore::append(
        &mut conn,
        PING_STREAM,
        &[Appended {
            aggregate_id: id.to_string(),
            sequence: 1,
            event: &event,
        }],
    )
    .await
    .unwrap();
    drop(conn);

    // …relayed by the real relay over the declared set…
    // A set of one's own registers its schemas through the registry's internal listener (the
    // public one only lets operators add versions).
    let codec = Arc::new(EventCodec::<TestRecord>::for_events(
        &s.registry_ops,
        &s.prefix,
    ));
    let relay = Relay::new(
        s.pool.clone(),
        Arc::new(KafkaBus::new(&kafka).unwrap()),
        codec.clone(),
        RelayConfig {
            batch_size: 100,
            poll_interval: Duration::from_millis(100),
        },
    );
    assert_eq!(relay.publish_batch().await.unwrap(), 1);
    assert_eq!(s.count("SELECT count(*) FROM event_outbox").await, 0);
    assert_eq!(
        s.count(
            "SELECT count(*) FROM event_outbox_failed
             WHERE aggregate_type = 'undeclared_stream' AND event_version = '1.0'
               AND error LIKE '%unknown aggregate type%'"
        )
        .await,
        1,
        "the undeclared event is parked with its reason"
    );

    // …its schema registered under the topic-record subject…
    let (status, subjects) = {
        let r = s
            .http
            .get(format!("{}/subjects", s.registry))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Vec<String>>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(
        subjects.contains(&format!("{topic}-mediagw.test.Pinged")),
        "{subjects:?}"
    );

    // …and decoded back off the broker, keyed by its aggregate.
    let records = common::read_topic(&topic).await;
    assert_eq!(records.len(), 1);
    let m = &records[0];
    assert_eq!(m.key(), Some(id.to_string().as_bytes()));
    let event_type = m
        .headers()
        .unwrap()
        .iter()
        .find(|h| h.key == "event_type")
        .and_then(|h| h.value)
        .unwrap();
    assert_eq!(event_type, b"mediagw.test.Pinged");
    let decoded = codec.decode(m.payload().unwrap()).await.unwrap();
    let TestRecord::Pinged(dto) = decoded;
    assert_eq!(dto.note, "hello");
    assert_eq!(dto.content_id, id.to_string());
    assert_eq!(dto.sequence, 1);
    assert_eq!(
        dto.event_id,
        EventMeta::new(id, 1, chrono::Utc::now())
            .event_id
            .to_string()
    );
}
