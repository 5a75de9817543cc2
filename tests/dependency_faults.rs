//! The broker and Redis (servers of the test's own) are killed and brought back during a steady
//! ingest (issue 22): every acknowledged write reaches the read model, readiness goes red while a
//! dependency is away and green again, and the same `mediagw` process serves throughout.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_and_redis_restarts_lose_no_acknowledged_write() {
    let mut broker = OwnBroker::start("restarts").await;
    let mut redis = OwnRedis::start().await;
    let mut s = Stack::new("restarts").await;
    s.set_env("MEDIAGW__KAFKA__BROKERS", &broker.addr);
    s.set_env("MEDIAGW__REDIS__URL", &redis.url());
    s.start("api,registry,relay,projector:catalog");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;

    // A steady ingest; a title counts once its request was answered 200 (acknowledged).
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (acked, failed, stop) = (acked.clone(), failed.clone(), stop.clone());
        let (http, api) = (s.http.clone(), s.api.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let imdb = format!("tt77{i:05}");
                let body = title(&imdb, &format!("Restart {i}"), 1990 + i % 30, json!([]));
                let ok = http
                    .post(format!("{api}/internal/ingest"))
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ok {
                    acked.lock().unwrap().push(imdb);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Readiness as a probe sees it, sampled all along.
    let seen = Arc::new(Mutex::new(Vec::<u16>::new()));
    let probe = {
        let (seen, stop, ops) = (seen.clone(), stop.clone(), s.ops.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let st = match http
                    .get(format!("{ops}/health/ready"))
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                seen.lock().unwrap().push(st);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restart(Duration::from_secs(4)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart(Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    probe.await.unwrap();

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} writes acknowledged", acked.len());
    // Every acknowledged title is projected, once.
    s.eventually(90, "every acknowledged write in the read model", || {
        let acked = acked.clone();
        let s = &s;
        async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT id_value FROM catalog.external_ids WHERE id_type = 'imdb' AND id_value LIKE 'tt77%'",
            )
            .fetch_all(&s.pool)
            .await
            .unwrap();
            acked.iter().all(|a| rows.contains(a)).then_some(())
        }
    })
    .await;
    let dupes = s
        .count("SELECT count(*) - count(DISTINCT id_value) FROM catalog.external_ids WHERE id_value LIKE 'tt77%'")
        .await;
    assert_eq!(dupes, 0);
    // Readiness went red while a dependency was away, and is green again.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.contains(&503), "readiness never noticed: {seen:?}");
    s.eventually(30, "ready again", || async {
        let r = reqwest::get(format!("{}/health/ready", s.ops)).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    // The API answers without a restart of `mediagw` (the same child process all along).
    let (st, _) = s.get("/v1/search/trending").await;
    assert_eq!(st, 200);
    let (st, v) = s
        .ingest(&title("tt7799999", "After The Storm", 2001, json!([])))
        .await;
    assert_eq!(st, 200, "{v}");
    eprintln!(
        "acknowledged {}, refused {}, readiness samples {:?}",
        acked.len(),
        failed.load(Ordering::Relaxed),
        seen
    );
}

/// PostgreSQL (a cluster of the test's own) crashes and comes back during a steady ingest: writes
/// are refused while it is away (never acknowledged and lost), readiness goes red and green, and
/// the same process serves again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_loses_no_acknowledged_write() {
    let pg = OwnPostgres::start("restart").await;
    let mut s = Stack::new("pgrestart").await;
    s.set_env("MEDIAGW__DATABASE__URL", &pg.url());
    // The harness signs its tokens with the key in the stack's own database: the server on this
    // cluster gets the same key.
    s.run_ok(&["migrate"]);
    let own = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let keys: Vec<(String, Vec<u8>, String, String)> =
        sqlx::query_as("SELECT kid, private_der, n, e FROM auth.signing_keys")
            .fetch_all(&s.pool)
            .await
            .unwrap();
    for (kid, der, n, e) in keys {
        sqlx::query("INSERT INTO auth.signing_keys (kid, private_der, n, e, active_from) VALUES ($1, $2, $3, $4, now() - interval '1 minute')")
            .bind(kid)
            .bind(der)
            .bind(n)
            .bind(e)
            .execute(&own)
            .await
            .unwrap();
    }
    s.start("api,registry,relay,projector:catalog");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<u16>::new()));
    let load = {
        let (acked, refused, stop) = (acked.clone(), refused.clone(), stop.clone());
        let (http, api) = (s.http.clone(), s.api.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let imdb = format!("tt78{i:05}");
                let body = title(&imdb, &format!("Crash {i}"), 1990 + i % 30, json!([]));
                match http
                    .post(format!("{api}/internal/ingest"))
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => acked.lock().unwrap().push(imdb),
                    Ok(r) => {
                        assert!(r.status().is_server_error(), "{}", r.status());
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let probe = {
        let (seen, stop, ops) = (seen.clone(), stop.clone(), s.ops.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let st = http
                    .get(format!("{ops}/health/ready"))
                    .timeout(Duration::from_secs(3))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                seen.lock().unwrap().push(st);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restart(Duration::from_secs(4)).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    probe.await.unwrap();

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} writes acknowledged", acked.len());
    // Requests during the outage either wait for the pool and succeed once PostgreSQL is back, or
    // are refused with a 5xx; none is acknowledged and then lost (checked below).
    eprintln!(
        "acknowledged {}, refused {}",
        acked.len(),
        refused.load(Ordering::Relaxed)
    );
    s.eventually(90, "every acknowledged write in the read model", || {
        let (acked, own) = (acked.clone(), own.clone());
        async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT id_value FROM catalog.external_ids WHERE id_type = 'imdb' AND id_value LIKE 'tt78%'",
            )
            .fetch_all(&own)
            .await
            .ok()?;
            acked.iter().all(|a| rows.contains(a)).then_some(())
        }
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|st| *st != 200),
        "readiness never noticed: {seen:?}"
    );
    s.eventually(30, "ready again", || async {
        let r = reqwest::get(format!("{}/health/ready", s.ops)).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let (st, v) = s
        .ingest(&title("tt7899999", "After The Crash", 2001, json!([])))
        .await;
    assert_eq!(st, 200, "{v}");
    eprintln!(
        "acknowledged {}, refused {}, readiness samples {seen:?}",
        acked.len(),
        refused.load(Ordering::Relaxed)
    );
}
