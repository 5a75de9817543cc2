//! `mediagw auth …`: operator commands for the OAuth server (accounts, clients, keys, tokens).
//! They talk to the database directly, so they are for whoever already holds its credentials.

use std::io::BufRead;

use anyhow::Context;
use mediagw_domain::auth::{self as rules, Role, Scopes, Tier};
use mediagw_query_api::auth::oauth::{check_redirect_uri, hash_password};
use mediagw_query_api::auth::store;
use mediagw_query_api::auth::tokens::Grant;
use uuid::Uuid;

use crate::app::App;

/// Creates a user; the password comes from `MEDIAGW_PASSWORD` or the first line of stdin.
/// Prints the new user's id.
pub async fn add_user(
    app: &App,
    email: &str,
    roles: &[String],
    tier: &str,
    display_name: Option<&str>,
) -> anyhow::Result<()> {
    let email = rules::normalize_email(email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let password = match std::env::var("MEDIAGW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    rules::check_password(&password).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let roles = parse_roles(roles)?;
    let tier = Tier::parse(tier).context("--tier must be free or premium")?;
    let hash = hash_password(password).await?;
    match store::create_user(&app.pool, &email, &hash, display_name, &roles, tier).await? {
        Some(id) => println!("{id}"),
        None => {
            let existing = store::user_by_email(&app.pool, &email)
                .await?
                .context("user vanished")?;
            eprintln!("{email} exists already");
            println!("{}", existing.id);
        }
    }
    Ok(())
}

fn parse_roles(roles: &[String]) -> anyhow::Result<Vec<Role>> {
    let mut out = vec![Role::User];
    for r in roles {
        let role = Role::parse(r).with_context(|| format!("unknown role `{r}` (user, admin)"))?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

pub struct NewClient {
    pub client_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub confidential: bool,
    pub grant_types: Vec<String>,
    pub scope: Option<String>,
    pub third_party: bool,
}

/// Registers a client (idempotent for a fixed `--client-id`); prints it as JSON, with the secret
/// of a new confidential client.
pub async fn add_client(app: &App, c: NewClient) -> anyhow::Result<()> {
    for u in &c.redirect_uris {
        check_redirect_uri(u).map_err(|e| anyhow::anyhow!("--redirect-uri {e}"))?;
    }
    for g in &c.grant_types {
        anyhow::ensure!(
            matches!(
                g.as_str(),
                "authorization_code" | "refresh_token" | "device_code"
            ),
            "unknown grant type `{g}`"
        );
    }
    let scopes = match &c.scope {
        Some(s) => Scopes::parse(s).map_err(|e| anyhow::anyhow!("--scope {e}"))?,
        None => Scopes::all(),
    };
    let created = store::create_client(
        &app.pool,
        &store::NewClient {
            client_id: c.client_id.as_deref(),
            name: &c.name,
            confidential: c.confidential,
            redirect_uris: &c.redirect_uris,
            grant_types: &c.grant_types,
            scopes: &scopes,
            first_party: !c.third_party,
            created_by: None,
        },
    )
    .await?;
    let (client_id, secret, created) = match created {
        Some((id, secret)) => (id, secret, true),
        None => (c.client_id.clone().unwrap_or_default(), None, false),
    };
    println!(
        "{}",
        serde_json::json!({"client_id": client_id, "client_secret": secret, "created": created})
    );
    Ok(())
}

pub async fn rotate_key(app: &App) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let kid = tokens.keys().rotate().await?;
    println!("{kid}");
    Ok(())
}

/// Mints an access token without a sign-in (service accounts, benchmarks, break-glass access).
pub async fn mint(
    app: &App,
    user: Uuid,
    scope: Option<&str>,
    roles: &[String],
    tier: &str,
    device_id: Option<String>,
) -> anyhow::Result<()> {
    let tokens = app.tokens().await?;
    let scopes = match scope {
        Some(s) => Scopes::parse(s).map_err(|e| anyhow::anyhow!("--scope {e}"))?,
        None => Scopes::all(),
    };
    let issued = tokens.issue(&Grant {
        user_id: user,
        client_id: "mediagw-cli".into(),
        scopes,
        roles: parse_roles(roles)?,
        tier: Tier::parse(tier).context("--tier must be free or premium")?,
        device_id,
    })?;
    println!("{}", issued.token);
    Ok(())
}

/// `mediagw bench auth`: JWT validation cost in process, gateway overhead per request over HTTP,
/// and how exactly the rate limits hold under a 10× burst from many connections.
pub async fn bench(app: &App, api: &str, requests: usize) -> anyhow::Result<()> {
    use std::time::Instant;

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
        super::percentile(&each, 0.5),
        super::percentile(&each, 0.99)
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
    let p = |v: &[f64], q| super::percentile(v, q);
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
