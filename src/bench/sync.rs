//! `mediagw bench sync`: device → device latency over WebSocket with many connections held open.
//!
//! Users get two devices each (A and B, alternately on the given API instances); A devices send
//! playback updates at `--rate` per second in total; the clock runs from the moment A's frame is
//! written until B receives the `StateDelta` carrying it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType};
use mediagw_query_api::sync::protocol::{ClientMessage, ServerMessage};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::sample::percentile;

pub struct SyncBench {
    pub apis: Vec<String>,
    pub connections: usize,
    pub seconds: u64,
    pub rate: u64,
    /// Server processes whose RSS is read before and after connecting (memory per connection).
    pub server_pids: Vec<u32>,
    /// Mints each bench user's access token (signed with the deployment's key).
    pub tokens: Arc<mediagw_auth::TokenService>,
}

type Sent = Arc<Mutex<HashMap<Uuid, Instant>>>;

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn total_rss(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| rss_kib(*p)).sum()
}

fn now_ms() -> u64 {
    chrono::Utc::now().timestamp_millis() as u64
}

pub(crate) async fn open(
    api: &str,
    token: &str,
    user: Uuid,
    device: Uuid,
) -> anyhow::Result<(
    mpsc::UnboundedSender<Message>,
    impl futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>,
)> {
    let url = api.replace("http://", "ws://") + "/v1/sync/ws";
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .with_context(|| format!("connecting to {api}"))?;
    let (mut sink, mut stream) = ws.split();
    let subscribe = ClientMessage::Subscribe {
        user_id: user,
        device_id: device,
        last_seen: None,
        device_name: None,
        platform: Some("bench".into()),
    };
    sink.send(Message::Text(serde_json::to_string(&subscribe)?.into()))
        .await?;
    // Wait for the subscription's StateDelta.
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMessage::StateDelta { .. }) = serde_json::from_str(t.as_str()) {
                    break;
                }
            }
            Some(Ok(_)) => {}
            _ => anyhow::bail!("socket closed during subscribe"),
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        let mut beat = tokio::time::interval(Duration::from_secs(15));
        beat.tick().await;
        loop {
            let msg = tokio::select! {
                m = rx.recv() => match m { Some(m) => m, None => break },
                _ = beat.tick() => Message::Text(serde_json::to_string(&ClientMessage::Heartbeat).expect("json").into()),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Ok((tx, stream))
}

pub async fn run(b: SyncBench) -> anyhow::Result<()> {
    anyhow::ensure!(b.connections >= 2, "--connections must be at least 2");
    let users = b.connections / 2;
    let before = total_rss(&b.server_pids);
    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let mut senders = Vec::with_capacity(users);
    let started = Instant::now();
    for u in 0..users {
        let user = Uuid::new_v4();
        let (a, bdev) = (Uuid::new_v4(), Uuid::new_v4());
        let api_a = &b.apis[(2 * u) % b.apis.len()];
        let api_b = &b.apis[(2 * u + 1) % b.apis.len()];
        let token = super::user_token(&b.tokens, user, false)?;
        let (tx_a, mut rx_a) = open(api_a, &token, user, a).await?;
        let (tx_b, mut rx_b) = open(api_b, &token, user, bdev).await?;
        // A's reader only drains (acks, B's presence).
        tokio::spawn(async move { while let Some(Ok(_)) = rx_a.next().await {} });
        let (sent2, lat) = (sent.clone(), latencies.clone());
        tokio::spawn(async move {
            let _keep = tx_b;
            while let Some(Ok(m)) = rx_b.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(ServerMessage::StateDelta { operations, .. }) =
                    serde_json::from_str(t.as_str())
                else {
                    continue;
                };
                let at = Instant::now();
                for op in operations {
                    if let Some(t0) = sent2.lock().expect("sent").remove(&op.operation_id) {
                        lat.lock()
                            .expect("lat")
                            .push((at - t0).as_secs_f64() * 1000.0);
                    }
                }
            }
        });
        senders.push((user, a, tx_a, Hlc::zero(a)));
        if (u + 1) % 250 == 0 {
            eprintln!("{} connections open", 2 * (u + 1));
        }
    }
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = total_rss(&b.server_pids);
    println!(
        "{} connections ({} users, APIs: {}) opened in {connect_s:.1} s",
        2 * users,
        users,
        b.apis.join(", ")
    );
    if let (Some(x), Some(y)) = (before, after) {
        println!(
            "server RSS {} MiB → {} MiB: {:.1} KiB per connection",
            x / 1024,
            y / 1024,
            (y.saturating_sub(x)) as f64 / (2 * users) as f64
        );
    }
    // Send at a fixed total rate, round-robin over users.
    let interval = Duration::from_secs_f64(1.0 / b.rate.max(1) as f64);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + Duration::from_secs(b.seconds);
    let mut n = 0usize;
    let content = Uuid::new_v4();
    while Instant::now() < end {
        tick.tick().await;
        let (_, _, tx, clock) = &mut senders[n % users];
        *clock = clock.tick(now_ms());
        let op = CrdtOperation {
            operation_id: Uuid::new_v4(),
            operation_type: OperationType::PlaybackUpdate {
                content_id: content,
                position_ms: n as u64,
                duration_ms: None,
            },
            timestamp: *clock,
            device_id: clock.device_id,
            payload: serde_json::Value::Null,
        };
        sent.lock()
            .expect("sent")
            .insert(op.operation_id, Instant::now());
        let msg = ClientMessage::StateUpdate {
            operations: vec![op],
        };
        let _ = tx.send(Message::Text(serde_json::to_string(&msg)?.into()));
        n += 1;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lost = sent.lock().expect("sent").len();
    let mut l = latencies.lock().expect("lat").clone();
    l.sort_by(|a, b| a.total_cmp(b));
    let pct = |p| percentile(&l, p);
    println!(
        "{n} operations at {} /s over {} s: delivered {} (not delivered within 2 s: {lost}); device→device latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        b.rate,
        b.seconds,
        l.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        l.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
