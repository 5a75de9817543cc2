//! Fault injection: SIGKILL the relay and the catalog projector again and again in the middle of a
//! 10,000-event ingest; after restart every event is in the read model exactly once.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{offer, title, Stack};
use futures::StreamExt;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_relay_and_projector_lose_and_double_nothing() {
    let mut s = Stack::new("faults").await;
    s.start("api,registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    s.start("relay");
    s.start("projector:catalog");

    let titles = 3_334; // × 3 events (title + 2 offers) ≈ 10,000 events
    let requests: Vec<_> = (0..titles)
        .map(|i| {
            title(
                &format!("tt40{i:05}"),
                &format!("Fault {i}"),
                1950 + i % 70,
                json!([
                    offer("netflix", "subscription", None),
                    offer("apple_tv", "buy", Some(5.0 + (i % 10) as f64))
                ]),
            )
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let (api, flag) = (s.api.clone(), done.clone());
    let http = s.http.clone();
    let writer = tokio::spawn(async move {
        let codes: Vec<u16> = futures::stream::iter(requests)
            .map(|r| {
                let (http, api) = (http.clone(), api.clone());
                async move {
                    http.post(format!("{api}/internal/ingest"))
                        .json(&r)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        flag.store(true, Ordering::SeqCst);
        codes
    });

    let mut kills = 0;
    while !done.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(300 + (kills * 137) % 500)).await;
        let role = if kills % 2 == 0 {
            "relay"
        } else {
            "projector:catalog"
        };
        s.kill(role);
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.start(role);
        kills += 1;
    }
    let codes = writer.await.unwrap();
    assert!(
        codes.iter().all(|&c| c == 200),
        "{} ingests failed",
        codes.iter().filter(|&&c| c != 200).count()
    );
    assert!(kills >= 4, "the ingest outlived only {kills} kills");
    eprintln!("{kills} SIGKILLs during the ingest");

    let events = s.count("SELECT count(*) FROM events").await;
    assert_eq!(events, 3 * titles as i64);
    s.eventually(120, "read model complete", || async {
        let offers = s
            .count("SELECT count(*) FROM catalog.platform_availability")
            .await;
        let content = s.count("SELECT count(*) FROM catalog.content").await;
        let outbox = s.count("SELECT count(*) FROM event_outbox").await;
        (offers == 2 * titles as i64 && content == titles as i64 && outbox == 0).then_some(())
    })
    .await;
    // Exactly once in effect: counts, and every row's content, match what was ingested.
    assert_eq!(
        s.count("SELECT count(*) FROM catalog.content").await,
        titles as i64
    );
    assert_eq!(
        s.count("SELECT count(*) FROM catalog.external_ids").await,
        titles as i64
    );
    let wrong = s
        .count(
            "SELECT count(*) FROM catalog.content c JOIN catalog.external_ids e ON e.content_id = c.id
             WHERE c.title <> 'Fault ' || (substr(e.id_value, 5)::int)::text
                OR c.release_year <> 1950 + (substr(e.id_value, 5)::int) % 70
                OR c.version <> 1"
        )
        .await;
    assert_eq!(wrong, 0, "titles match their records");
    let wrong_price = s
        .count(
            "SELECT count(*) FROM catalog.platform_availability a JOIN catalog.external_ids e ON e.content_id = a.content_id
             WHERE a.platform = 'apple_tv' AND a.price_amount <> 5 + (substr(e.id_value, 5)::int) % 10",
        )
        .await;
    assert_eq!(wrong_price, 0, "offers match their records");
    assert_eq!(
        s.count("SELECT count(*) FROM catalog.availability_versions WHERE version <> 3")
            .await,
        0
    );
    let applied: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(next_offset), 0)::bigint FROM catalog.projector_offsets",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    eprintln!("projector consumed {applied} records for {events} events (the difference is relay re-publication after kills, dropped as duplicates)");
    assert!(applied >= events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_commits_and_exits_cleanly() {
    let mut s = Stack::new("sigterm").await;
    s.start("api,registry,relay");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;
    s.start("projector:catalog");
    let titles = 300;
    let s_ref = &s;
    let codes: Vec<u16> = futures::stream::iter(0..titles)
        .map(|i| async move {
            s_ref
                .ingest(&title(
                    &format!("tt50{i:05}"),
                    &format!("Term {i}"),
                    2001,
                    json!([]),
                ))
                .await
                .0
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(codes.iter().all(|&c| c == 200));
    // Stop the projector while it is (probably) mid-stream: it finishes its batch and exits 0.
    let status = s.terminate("projector:catalog");
    assert!(status.success(), "projector exit status {status:?}");
    let projected = s.count("SELECT count(*) FROM catalog.content").await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(next_offset), 0)::bigint FROM catalog.projector_offsets",
    )
    .fetch_one(&s.pool)
    .await
    .unwrap();
    assert_eq!(stored, projected, "stored positions match what was applied");
    s.start("projector:catalog");
    s.eventually(60, "rest projected after restart", || async {
        (s.count("SELECT count(*) FROM catalog.content").await == titles as i64).then_some(())
    })
    .await;
    let status = s.terminate("api,registry,relay");
    assert!(status.success(), "api exit status {status:?}");
}
