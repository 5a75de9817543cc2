//! `mediagw bench recommendations`: `POST /v1/recommendations` latency and throughput for warm
//! users (profiles with history, cache bypassed, every stage), and the feedback → profile lag.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use uuid::Uuid;

use crate::app::App;
use crate::sample::percentile;

pub async fn run(
    app: &App,
    api: &str,
    concurrency: &[usize],
    seconds: u64,
    lag_samples: usize,
) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let users: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM profiles.users WHERE interactions > 0 ORDER BY interactions DESC, user_id LIMIT 5000",
    )
    .fetch_all(&app.pool)
    .await?;
    anyhow::ensure!(
        !users.is_empty(),
        "no user with history: load some feedback first"
    );
    let operator = super::user_token(&tokens, Uuid::new_v4(), true)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    // Warm-up: every connection and the model.
    for u in users.iter().take(50) {
        one(&http, api, &operator, *u).await?;
    }
    println!("recommendations: {} warm users (most interactions first), cache bypassed, all stages, limit 20", users.len());
    for &c in concurrency {
        let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for w in 0..c {
            let (http, api, op, users, lat) = (
                http.clone(),
                api.to_string(),
                operator.clone(),
                users.clone(),
                lat.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    one(&http, &api, &op, users[i % users.len()]).await?;
                    lat.lock()
                        .expect("lat")
                        .push(t.elapsed().as_secs_f64() * 1000.0);
                    i += c;
                }
                anyhow::Ok(())
            }));
        }
        for w in workers {
            w.await??;
        }
        let mut l = std::mem::take(&mut *lat.lock().expect("lat"));
        l.sort_by(f64::total_cmp);
        println!(
            "  {c} clients: {} requests, {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
            l.len(),
            l.len() as f64 / started.elapsed().as_secs_f64(),
            percentile(&l, 0.5),
            percentile(&l, 0.95),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(f64::NAN)
        );
    }
    if lag_samples > 0 {
        let mut lags = Vec::with_capacity(lag_samples);
        let content: Uuid = sqlx::query_scalar("SELECT id FROM catalog.content LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .context("no title in the catalog")?;
        for _ in 0..lag_samples {
            let user = Uuid::new_v4();
            let t = super::user_token(&tokens, user, false)?;
            let started = Instant::now();
            let r = http
                .post(format!("{api}/v1/user/{user}/feedback"))
                .bearer_auth(&t)
                .json(&json!({"content_id": content, "event_type": "Rated", "rating": 4}))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "feedback: {}", r.status());
            loop {
                let n: Option<i64> = sqlx::query_scalar(
                    "SELECT interactions FROM profiles.users WHERE user_id = $1",
                )
                .bind(user)
                .fetch_optional(&app.pool)
                .await?;
                if n == Some(1) {
                    break;
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(30),
                    "profile not updated in 30 s"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            lags.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        lags.sort_by(f64::total_cmp);
        println!(
            "  feedback → profile updated ({} samples, sequential, 2 ms polling): p50 {:.0} ms p95 {:.0} ms p99 {:.0} ms",
            lags.len(),
            percentile(&lags, 0.5),
            percentile(&lags, 0.95),
            percentile(&lags, 0.99)
        );
    }
    Ok(())
}

async fn one(http: &reqwest::Client, api: &str, token: &str, user: Uuid) -> anyhow::Result<()> {
    let r = http
        .post(format!("{api}/v1/recommendations"))
        .bearer_auth(token)
        .header("cache-control", "no-cache")
        .json(&json!({"user_id": user, "limit": 20}))
        .send()
        .await?;
    let status = r.status();
    let _ = r.bytes().await?;
    anyhow::ensure!(status.is_success(), "recommendations: {status}");
    Ok(())
}
