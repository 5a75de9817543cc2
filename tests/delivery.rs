//! Delivery guarantees of the outbox relay and the projectors: nothing lost, nothing doubled, in
//! order per aggregate, including under concurrent writers and SIGKILL.

mod common;

use std::collections::{HashMap, HashSet};

use common::{offer, read_topic, title, Stack};
use futures::StreamExt;
use rdkafka::message::{Headers, Message};
use serde_json::json;

/// (aggregate id, sequence) of every record on the catalog topics, in log order per topic.
async fn published(s: &Stack) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for t in [
        "content.ingested",
        "content.updated",
        "availability.changed",
    ] {
        for m in read_topic(&s.topic(t)).await {
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let seq = m
                .headers()
                .unwrap()
                .iter()
                .find(|h| h.key == "sequence")
                .unwrap();
            let seq: i64 = std::str::from_utf8(seq.value.unwrap())
                .unwrap()
                .parse()
                .unwrap();
            out.push((t.to_string(), key, seq));
        }
    }
    out
}

async fn committed(s: &Stack) -> HashSet<(String, i64)> {
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT aggregate_id, sequence FROM events")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    rows.into_iter().collect()
}

async fn outbox_drained(s: &Stack) {
    s.eventually(60, "outbox drained", || async {
        (s.count("SELECT count(*) FROM event_outbox").await == 0).then_some(())
    })
    .await;
}

/// A `TitleIngested` as the aggregate would decide it, built from its stored JSON.
fn ingested(id: &str, name: &str) -> mediagw_domain::title::TitleEvent {
    serde_json::from_value(json!({"TitleIngested": {"content_id": id, "source": "generic", "external_ids": {},
        "metadata": {"content_type": "movie", "title": name, "original_title": null, "overview": null,
                     "release_date": "2000-01-01", "genres": [], "runtime_minutes": null}}}))
    .unwrap()
}

/// Appends a title's first event through the event store's one append, in the caller's session.
async fn append_first(conn: &mut sqlx::PgConnection, id: &str, name: &str) {
    let event = ingested(id, name);
    mediagw_eventstore::append(
        conn,
        mediagw_domain::title::Title::TYPE,
        &[mediagw_eventstore::Appended {
            aggregate_id: id.to_string(),
            sequence: 1,
            event: &event,
        }],
    )
    .await
    .unwrap();
}

/// The sequence-gap trap: a transaction that took its outbox position first but commits last must
/// still be published, after a later-positioned one already was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_committing_transaction_is_not_skipped() {
    let mut s = Stack::new("gap").await;
    s.start("registry,relay");
    s.wait_http(&format!("{}/subjects", s.registry)).await;
    let (a, b) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    // Wait for the relay to have created the tables.
    s.eventually(30, "event store", || async {
        (s.count("SELECT count(*) FROM events").await == 0).then_some(())
    })
    .await;

    let mut slow = s.pool.begin().await.unwrap();
    append_first(&mut slow, &a, "Slow").await;
    let first_id: i64 =
        sqlx::query_scalar("SELECT currval(pg_get_serial_sequence('event_outbox', 'id'))")
            .fetch_one(&mut *slow)
            .await
            .unwrap();
    // The relay may publish (and delete) the fast row at once: read its id from the sequence on
    // the same session instead of from the table.
    let mut fast = s.pool.acquire().await.unwrap();
    append_first(&mut fast, &b, "Fast").await;
    let second_id: i64 =
        sqlx::query_scalar("SELECT currval(pg_get_serial_sequence('event_outbox', 'id'))")
            .fetch_one(&mut *fast)
            .await
            .unwrap();
    assert!(
        second_id > first_id,
        "the fast transaction sits later in the outbox"
    );

    s.eventually(30, "fast event published", || async {
        published(&s)
            .await
            .iter()
            .any(|(_, k, _)| *k == b)
            .then_some(())
    })
    .await;
    assert!(
        !published(&s).await.iter().any(|(_, k, _)| *k == a),
        "uncommitted event must not be published"
    );
    slow.commit().await.unwrap();
    s.eventually(30, "slow event published", || async {
        published(&s)
            .await
            .iter()
            .any(|(_, k, _)| *k == a)
            .then_some(())
    })
    .await;
    outbox_drained(&s).await;
}

/// Many concurrent writers, including concurrent updates of the same titles (optimistic-concurrency
/// conflicts): every committed event is on Kafka exactly once, in sequence order per aggregate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_publish_every_event_once_in_order() {
    let mut s = Stack::new("concurrent").await;
    s.start("api,registry,relay");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    let titles = 300;
    let mut requests = Vec::new();
    for version in 0..3 {
        for i in 0..titles {
            let offers = json!([
                offer("netflix", "subscription", None),
                offer("apple_tv", "rent", Some(1.0 + version as f64))
            ]);
            requests.push(title(
                &format!("tt30{i:05}"),
                &format!("Concurrent {i} v{version}"),
                2000,
                offers,
            ));
        }
    }
    let s_ref = &s;
    let results: Vec<u16> = futures::stream::iter(requests.iter())
        .map(|r| async move { s_ref.ingest(r).await.0 })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        results.iter().all(|&c| c == 200),
        "every ingest succeeds (conflicts are retried): {:?}",
        results.iter().filter(|&&c| c != 200).count()
    );
    assert_eq!(
        s.count("SELECT count(DISTINCT aggregate_id) FROM events")
            .await,
        titles as i64,
        "one title per external id"
    );

    outbox_drained(&s).await;
    let on_kafka = published(&s).await;
    let committed = committed(&s).await;
    let keys: Vec<(String, i64)> = on_kafka.iter().map(|(_, k, q)| (k.clone(), *q)).collect();
    let unique: HashSet<(String, i64)> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), keys.len(), "no event published twice");
    assert_eq!(unique, committed, "every committed event published");
    // Per topic and key, sequences only increase.
    let mut last: HashMap<(String, String), i64> = HashMap::new();
    for (t, k, q) in on_kafka {
        let prev = last.insert((t.clone(), k.clone()), q).unwrap_or(0);
        assert!(q > prev, "{t}/{k}: sequence {q} after {prev}");
    }
}
