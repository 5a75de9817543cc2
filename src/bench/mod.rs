//! `mediagw bench …`: benchmarks (docs/perf.md). No role runs them: each drives a running API or
//! a scratch database and index, and prints what it measured.

mod auth;
mod embed;
mod index;
mod ingest;
mod mcp;
mod playback;
mod recommend;
mod search;
mod sync;

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::app::App;
use crate::config::Config;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// End-to-end ingest throughput and event → read-model lag (scratch database and topics).
    Ingest {
        #[arg(long, default_value_t = 20_000)]
        titles: usize,
        /// Titles (single) or 500-title chunks (bulk) in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// `bulk` (the `ingest file` path) or `single` (one command per title, like HTTP ingest).
        #[arg(long, default_value = "bulk")]
        mode: String,
    },
    /// Embedding throughput for indexing, on the shared dataset's texts.
    Embed {
        #[arg(long, default_value = "../shared/data/wikipedia-movies")]
        data: PathBuf,
        #[arg(long, default_value_t = 2000)]
        texts: usize,
        /// Labeled queries, for the query encoders' latency and agreement.
        #[arg(long, default_value = "tests/fixtures/search/queries.json")]
        queries: PathBuf,
    },
    /// Index-only latency on a synthetic index of `--points` titles (scratch directory).
    Index {
        #[arg(long, default_value_t = 1_000_000)]
        points: usize,
        #[arg(long, default_value = "target/bench-index")]
        dir: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Query an index `dir` already holds (a previous run's, built) instead of building one.
        #[arg(long)]
        reuse: bool,
    },
    /// Device → device sync latency over WebSocket with many connections (running API).
    Sync {
        /// API base URLs; devices alternate between them (several instances).
        #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',')]
        api: Vec<String>,
        #[arg(long, default_value_t = 2000)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Operations per second, all users together.
        #[arg(long, default_value_t = 200)]
        rate: u64,
        /// Server PIDs whose memory is read before and after connecting.
        #[arg(long, value_delimiter = ',')]
        server_pid: Vec<u32>,
    },
    /// JWT validation cost, gateway overhead per request and rate limits under a 10× burst
    /// (running API with the seed's free and anonymous tiers; `scripts/bench-auth`).
    Auth {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// Sequential requests per path for the overhead measurement.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Recommendation latency and throughput for warm users (cache bypassed) and the feedback →
    /// profile lag, against a running API whose profiles hold users (`scripts/bench-recommend`).
    Recommendations {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value = "1,4,8", value_delimiter = ',')]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Feedback events whose lag to the profile is measured (one at a time).
        #[arg(long, default_value_t = 200)]
        lag_samples: usize,
    },
    /// `POST /v1/playback/initiate` latency (routing decision + session write) and phone → TV
    /// control-frame latency with many sockets open, against a running API whose catalog has
    /// offers (`scripts/bench-playback`).
    Playback {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value = "1,4", value_delimiter = ',')]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// Sync sockets held open during the control measurement (two per user: TV and phone).
        #[arg(long, default_value_t = 2000)]
        sockets: usize,
        /// Control commands measured (sequential, spread over the users).
        #[arg(long, default_value_t = 1000)]
        controls: usize,
    },
    /// What MCP adds over the direct API call: `get_content_details` through `/mcp` vs
    /// `GET /v1/content/{id}`, alternating, one at a time (running API with the sample catalog).
    Mcp {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
    },
    /// Search latency and QPS over HTTP against a running API (uncached unless `--cached`).
    Search {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value = "tests/fixtures/search/queries.json")]
        queries: PathBuf,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long)]
        cached: bool,
        /// Open loop: send this many requests per second whatever the latency (queueing
        /// included in the latencies); `--concurrency` then caps requests in flight.
        #[arg(long)]
        rate: Option<f64>,
    },
}

/// An access token with every scope for a bench user (`admin` adds the operator role), signed
/// with the deployment's key.
pub(crate) fn user_token(
    tokens: &mediagw_auth::TokenService,
    user: uuid::Uuid,
    admin: bool,
) -> anyhow::Result<String> {
    use mediagw_domain::auth::{Role, Scopes, Tier};
    let mut roles = vec![Role::User];
    if admin {
        roles.push(Role::Admin);
    }
    Ok(tokens
        .issue(&mediagw_auth::Grant {
            user_id: user,
            client_id: "mediagw-bench".into(),
            scopes: Scopes::all(),
            roles,
            tier: Tier::Premium,
            device_id: None,
        })?
        .token)
}

pub async fn run(
    action: BenchCmd,
    config: Config,
    metrics: &PrometheusHandle,
) -> anyhow::Result<()> {
    match action {
        BenchCmd::Ingest {
            titles,
            concurrency,
            mode,
        } => {
            anyhow::ensure!(
                mode == "bulk" || mode == "single",
                "--mode must be `bulk` or `single`"
            );
            ingest::run(&config, titles, concurrency, mode == "bulk", metrics).await
        }
        BenchCmd::Embed {
            data,
            texts,
            queries,
        } => embed::run(&config, &data, texts, &queries).await,
        BenchCmd::Index {
            points,
            dir,
            concurrency,
            seconds,
            reuse,
        } => index::run(&dir, points, concurrency.max(1), seconds, reuse).await,
        BenchCmd::Sync {
            api,
            connections,
            seconds,
            rate,
            server_pid,
        } => {
            let app = App::connect(config).await?;
            app.migrate().await?;
            let tokens = app.tokens().await?;
            sync::run(sync::SyncBench {
                tokens,
                apis: api
                    .iter()
                    .map(|a| a.trim_end_matches('/').to_string())
                    .collect(),
                connections,
                seconds,
                rate,
                server_pids: server_pid,
            })
            .await
        }
        BenchCmd::Recommendations {
            api,
            concurrency,
            seconds,
            lag_samples,
        } => {
            let app = App::connect(config).await?;
            recommend::run(
                &app,
                api.trim_end_matches('/'),
                &concurrency,
                seconds,
                lag_samples,
            )
            .await
        }
        BenchCmd::Playback {
            api,
            concurrency,
            seconds,
            sockets,
            controls,
        } => {
            let app = App::connect(config).await?;
            playback::run(
                &app,
                api.trim_end_matches('/'),
                &concurrency,
                seconds,
                sockets,
                controls,
            )
            .await
        }
        BenchCmd::Mcp { api, requests } => {
            let app = App::connect(config).await?;
            mcp::run(&app, api.trim_end_matches('/'), requests).await
        }
        BenchCmd::Auth { api, requests } => {
            let app = App::connect(config).await?;
            app.migrate().await?;
            auth::run(&app, api.trim_end_matches('/'), requests).await
        }
        BenchCmd::Search {
            api,
            queries,
            concurrency,
            seconds,
            cached,
            rate,
        } => {
            search::run(
                api.trim_end_matches('/'),
                &queries,
                concurrency.max(1),
                Duration::from_secs(seconds),
                cached,
                rate,
            )
            .await
        }
    }
}
