//! `mediagw bench playback`: `POST /v1/playback/initiate` latency (device lookup, offers, the
//! user's services, routing, deep link and the session's event write) and the phone → TV control
//! path: from sending `POST /v1/playback/control` until the TV's sync socket receives the
//! `PlaybackControl` frame, with `--sockets` sockets open.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use mediagw_query_api::sync::protocol::ServerMessage;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::app::App;
use crate::sample::percentile;

struct User {
    id: Uuid,
    token: String,
    tv: Uuid,
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let r = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

fn report(what: &str, l: &mut [f64], elapsed: Duration) {
    l.sort_by(f64::total_cmp);
    println!(
        "  {what}: {} requests, {:.0}/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
        l.len(),
        l.len() as f64 / elapsed.as_secs_f64(),
        percentile(l, 0.5),
        percentile(l, 0.95),
        percentile(l, 0.99),
        l.last().copied().unwrap_or(f64::NAN)
    );
}

pub async fn run(
    app: &App,
    api: &str,
    concurrency: &[usize],
    seconds: u64,
    sockets: usize,
    controls: usize,
) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let titles: Vec<Uuid> = sqlx::query_scalar(
        "SELECT content_id FROM catalog.platform_availability
         WHERE region = 'US' AND (expires_at IS NULL OR expires_at > now()) AND available_from <= now()
         GROUP BY content_id ORDER BY content_id LIMIT 5000",
    )
    .fetch_all(&app.pool)
    .await?;
    anyhow::ensure!(
        !titles.is_empty(),
        "no title with a US offer: load the sample catalog first"
    );
    let catalog: i64 = sqlx::query_scalar("SELECT count(*) FROM catalog.content")
        .fetch_one(&app.pool)
        .await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let n_users = (sockets / 2).max(1);
    println!("playback: {catalog} titles in the catalog, {} with US offers; registering {n_users} users' TVs and phones…", titles.len());
    let mut users = Vec::with_capacity(n_users);
    for _ in 0..n_users {
        let id = Uuid::new_v4();
        let t = super::user_token(&tokens, id, false)?;
        let (st, tv) = send(&http, reqwest::Method::POST, format!("{api}/v1/devices/register"), &t, json!({
            "device_name": "Bench TV", "device_type": "tizen",
            "capabilities": {"supports_4k": true, "supports_hdr": true, "supports_dolby_atmos": false, "supported_platforms": []}
        })).await?;
        anyhow::ensure!(st == 201, "register: {st} {tv}");
        let (st, b) = send(
            &http,
            reqwest::Method::PUT,
            format!("{api}/v1/user/{id}/services"),
            &t,
            json!({"region": "US", "services": [{"platform": "netflix"}, {"platform": "max"}]}),
        )
        .await?;
        anyhow::ensure!(st == 200, "services: {st} {b}");
        let tv = serde_json::from_value(tv["device_id"].clone())?;
        users.push(User { id, token: t, tv });
    }
    let users = Arc::new(users);
    let titles = Arc::new(titles);
    // Warm-up: connections, prepared statements, the read models caught up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for i in 0..100 {
        let u = &users[i % users.len()];
        let (st, b) = send(
            &http,
            reqwest::Method::POST,
            format!("{api}/v1/playback/initiate"),
            &u.token,
            json!({"content_id": titles[i % titles.len()], "device_id": u.tv, "resume": true}),
        )
        .await?;
        anyhow::ensure!(st == 200 || st == 409, "initiate: {st} {b}");
    }
    println!("initiate (routing + deep link + session event write, resume from sync state):");
    for &c in concurrency {
        let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
        let refused = Arc::new(Mutex::new(0usize));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut workers = Vec::new();
        for w in 0..c {
            let (http, api, users, titles, lat, refused) = (
                http.clone(),
                api.to_string(),
                users.clone(),
                titles.clone(),
                lat.clone(),
                refused.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < deadline {
                    let u = &users[i % users.len()];
                    let t = Instant::now();
                    let r = http
                        .post(format!("{api}/v1/playback/initiate"))
                        .bearer_auth(&u.token)
                        .json(&json!({"content_id": titles[(i * 7) % titles.len()], "device_id": u.tv, "resume": true}))
                        .send()
                        .await?;
                    let status = r.status().as_u16();
                    let _ = r.bytes().await?;
                    match status {
                        200 => lat.lock().expect("lat").push(t.elapsed().as_secs_f64() * 1000.0),
                        409 => *refused.lock().expect("refused") += 1,
                        other => anyhow::bail!("initiate: {other}"),
                    }
                    i += c;
                }
                anyhow::Ok(())
            }));
        }
        for w in workers {
            w.await??;
        }
        let mut l = std::mem::take(&mut *lat.lock().expect("lat"));
        report(&format!("{c} clients"), &mut l, started.elapsed());
        let refused = *refused.lock().expect("refused");
        if refused > 0 {
            println!("    ({refused} answered 409 not_available, not counted)");
        }
    }

    // Control: every user's TV and phone on a socket; one session per TV.
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel::<(Uuid, Instant)>();
    let mut senders = Vec::new();
    let opened = Instant::now();
    for u in users.iter() {
        for device in [u.tv, Uuid::new_v4()] {
            let (tx, mut stream) = super::sync::open(api, &u.token, u.id, device)
                .await
                .context("opening a sync socket")?;
            senders.push(tx);
            if device == u.tv {
                let frames = frames_tx.clone();
                tokio::spawn(async move {
                    while let Some(Ok(m)) = stream.next().await {
                        if let Message::Text(t) = m {
                            if let Ok(ServerMessage::PlaybackControl { session_id, .. }) =
                                serde_json::from_str(t.as_str())
                            {
                                let _ = frames.send((session_id, Instant::now()));
                            }
                        }
                    }
                });
            } else {
                tokio::spawn(async move { while stream.next().await.is_some() {} });
            }
        }
    }
    println!(
        "control: {} sockets open in {:.1} s; phone → TV frame, {controls} commands one at a time",
        senders.len(),
        opened.elapsed().as_secs_f64()
    );
    let mut sessions = Vec::with_capacity(users.len());
    for (i, u) in users.iter().enumerate() {
        let (st, b) = send(
            &http,
            reqwest::Method::POST,
            format!("{api}/v1/playback/initiate"),
            &u.token,
            json!({"content_id": titles[i % titles.len()], "device_id": u.tv}),
        )
        .await?;
        anyhow::ensure!(st == 200, "initiate: {st} {b}");
        sessions.push(serde_json::from_value::<Uuid>(b["session_id"].clone())?);
    }
    let mut frame_ms = Vec::with_capacity(controls);
    let mut http_ms = Vec::with_capacity(controls);
    let started = Instant::now();
    for i in 0..controls {
        let k = i % users.len();
        let u = &users[k];
        let command = if (i / users.len()) % 2 == 0 {
            "pause"
        } else {
            "play"
        };
        let t = Instant::now();
        let req = http
            .post(format!("{api}/v1/playback/control"))
            .bearer_auth(&u.token)
            .json(&json!({"session_id": sessions[k], "command": command}))
            .send();
        let (r, frame) = tokio::join!(req, async {
            loop {
                match tokio::time::timeout(Duration::from_secs(5), frames_rx.recv()).await {
                    Ok(Some((s, at))) if s == sessions[k] => return Some(at),
                    Ok(Some(_)) => continue,
                    _ => return None,
                }
            }
        });
        let r = r?;
        let status = r.status();
        let _ = r.bytes().await?;
        http_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(status.is_success(), "control: {status}");
        let at = frame.context("the TV received no frame within 5 s")?;
        frame_ms.push(at.duration_since(t).as_secs_f64() * 1000.0);
    }
    let elapsed = started.elapsed();
    report("frame at the TV", &mut frame_ms, elapsed);
    report(
        "control answered (frame sent, then the event committed)",
        &mut http_ms,
        elapsed,
    );
    drop(senders);
    Ok(())
}
