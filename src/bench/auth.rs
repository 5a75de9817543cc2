//! `mediagw bench auth`: JWT validation cost in process, gateway overhead per request over HTTP,
//! and how exactly the rate limits hold under a 10× burst from many connections, against a running
//! API with the seed's free and anonymous tiers (`scripts/bench-auth`).

use std::time::Instant;

use mediagw_auth::Grant;
use mediagw_domain::auth::{Role, Scopes, Tier};
use uuid::Uuid;

use crate::app::App;
use crate::sample::percentile;

pub async fn run(app: &App, api: &str, requests: usize) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let grant = |tier: Tier| Grant {
        user_id: Uuid::new_v4(),
        client_id: "mediagw-bench".into(),
        scopes: Scopes::all(),
        roles: vec![Role::User],
        tier,
        device_id: None,
    };
    // 1. Validation: signature (RS256, 2048-bit), claims, kid lookup; no I/O.
    let token = tokens.issue(&grant(Tier::Premium))?.token;
    for _ in 0..200 {
        tokens.validate(&token).await?;
    }
    let n = 20_000;
    let mut each = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(tokens.validate(&token).await?);
        each.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mean = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    each.sort_by(f64::total_cmp);
    println!(
        "JWT validation ({n} tokens, one core): mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
        percentile(&each, 0.5),
        percentile(&each, 0.99)
    );

    // 2. Gateway overhead: the same trivial work behind the full gate (token + deny list + rate
    // bucket in Redis) versus outside it (`/health/live` passes only request ids, tracing, metrics).
    let http = reqwest::Client::new();
    let premium = tokens.issue(&grant(Tier::Premium))?.token;
    let run = |path: &'static str, bearer: Option<String>| {
        let http = http.clone();
        async move {
            let mut lat = Vec::with_capacity(requests);
            for _ in 0..requests {
                let mut rb = http.get(format!("{api}{path}"));
                if let Some(t) = &bearer {
                    rb = rb.bearer_auth(t);
                }
                let t = Instant::now();
                let r = rb.send().await?;
                anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
                r.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat.sort_by(f64::total_cmp);
            Ok::<_, anyhow::Error>(lat)
        }
    };
    let bare = run("/health/live", None).await?;
    let gated = run("/v1/auth/me", Some(premium)).await?;
    let p = |v: &[f64], q| percentile(v, q);
    println!(
        "HTTP, sequential, {requests} requests each: outside the gate p50 {:.3} ms p95 {:.3} ms; \
         behind it p50 {:.3} ms p95 {:.3} ms → gateway overhead p50 {:.3} ms, p95 {:.3} ms",
        p(&bare, 0.5),
        p(&bare, 0.95),
        p(&gated, 0.5),
        p(&gated, 0.95),
        p(&gated, 0.5) - p(&bare, 0.5),
        p(&gated, 0.95) - p(&bare, 0.95)
    );

    // 3. Rate limits under a 10× burst from `connections` connections at once.
    for (name, tier, burst, per_minute) in [
        ("free", Some(Tier::Free), 20u64, 100u64),
        ("anonymous", None, 5, 10),
    ] {
        let bearer = match tier {
            Some(t) => Some(tokens.issue(&grant(t))?.token),
            None => None,
        };
        let total = (burst * 10) as usize;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..total {
            // A client each: every request on its own connection.
            let client = reqwest::Client::new();
            let (url, bearer) = (format!("{api}/v1/search/trending"), bearer.clone());
            tasks.spawn(async move {
                let mut rb = client.get(url);
                if let Some(t) = bearer {
                    rb = rb.bearer_auth(t);
                }
                rb.send().await.map(|r| r.status().as_u16())
            });
        }
        let (mut ok, mut limited) = (0u64, 0u64);
        while let Some(st) = tasks.join_next().await {
            match st?? {
                200 => ok += 1,
                429 => limited += 1,
                other => anyhow::bail!("unexpected status {other}"),
            }
        }
        let took = started.elapsed().as_secs_f64();
        let refill = (took * per_minute as f64 / 60.0).floor() as u64;
        println!(
            "{name} tier ({per_minute}/min, burst {burst}): {total} requests at once over {total} connections in {took:.2} s → \
             {ok} admitted, {limited} refused (allowed: {burst}..={})",
            burst + refill
        );
    }
    Ok(())
}
