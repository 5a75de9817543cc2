//! `mediagw`: one binary for every role of Media Gateway. This file is CLI, configuration and wiring
//! only; the behaviour lives in the workspace crates.

mod account;
mod app;
mod bench;
mod cmd;
mod config;
mod eval;
mod kafka;
mod ports;
mod recommend;
mod role;
mod sample;
mod search;
mod serve;
mod telemetry;
mod watch;

/// A search allocates and frees thousands of small objects (hits, payload strings, JSON) across
/// threads; glibc's allocator took ~20 % of the API's CPU under load (docs/perf.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mediagw",
    version,
    about = "Media Gateway: find, track and start any movie or TV show"
)]
struct Cli {
    /// Configuration file (TOML) layered over the defaults; MEDIAGW__* env vars override both.
    #[arg(long, global = true, env = "MEDIAGW_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: `all` roles in one process, or e.g. `--role relay` / `--role projector:catalog`.
    Serve {
        #[arg(long, default_value = "all")]
        role: String,
    },
    /// Create tables and Kafka topics, then exit.
    Migrate,
    /// Rebuild a read model from Kafka into fresh tables and swap it in atomically.
    Replay {
        /// Projection to rebuild.
        #[arg(value_enum, required_unless_present = "list")]
        projection: Option<cmd::replay::ProjectionName>,
        /// Where to start in each partition: `earliest`, an RFC 3339 time or an offset.
        #[arg(long, default_value = "earliest")]
        from: String,
        /// Where to stop (exclusive): `latest` (the log's end when the replay starts), an RFC 3339
        /// time or an offset.
        #[arg(long, default_value = "latest")]
        to: String,
        /// Only these partitions, e.g. `0,3`.
        #[arg(long, value_delimiter = ',')]
        partitions: Option<Vec<i32>>,
        /// Report what would be read (events per topic and partition, estimated time); change
        /// nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rebuild into this new schema, beside the live one (implies --no-swap).
        #[arg(long)]
        into: Option<String>,
        /// Leave the rebuilt tables in `<schema>_rebuild` beside the live ones (nothing swapped).
        #[arg(long)]
        no_swap: bool,
        /// Swap in a partial rebuild (--from, --to, --partitions), although it lacks events.
        #[arg(long, conflicts_with_all = ["no_swap", "into"])]
        swap_partial: bool,
        /// List every projection with its position per partition and its lag.
        #[arg(long, conflicts_with_all = ["projection", "dry_run", "into", "no_swap", "swap_partial"])]
        list: bool,
    },
    /// Events out of the event store, for a warehouse, a bug report or a backfill elsewhere.
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// A person's history into the product.
    Import {
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// Erase a user everywhere (GDPR erasure; ADR 0024).
    Erase {
        #[command(subcommand)]
        what: EraseCmd,
    },
    /// Re-send events from the event store to Kafka (after broker data loss) with their original
    /// keys, ids and headers; projectors drop what they already hold.
    Republish {
        /// Only events published on this topic (with or without the deployment's prefix).
        #[arg(long)]
        topic: Option<String>,
        /// Only events committed at or after this RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only events committed before this RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
    },
    /// Avro schemas against the registry.
    Schemas {
        #[command(subcommand)]
        action: SchemasCmd,
    },
    /// Bulk ingestion.
    Ingest {
        #[command(subcommand)]
        action: IngestCmd,
    },
    /// Quality evaluations (no services needed).
    Eval {
        #[command(subcommand)]
        action: eval::EvalCmd,
    },
    /// Provider connectors.
    Connectors {
        #[command(subcommand)]
        action: ConnectorsCmd,
    },
    /// Accounts, OAuth clients, signing keys and tokens (operators).
    Auth {
        #[command(subcommand)]
        action: AuthCmd,
    },
    /// Learned models: `recommendations` trains the collaborative model from the profiles;
    /// `search-ranker` learns the search reranker's weights from labeled queries.
    Train {
        #[command(subcommand)]
        what: TrainWhat,
    },
    /// MCP over stdio for desktop agents, talking to a running API with the agent's token
    /// (`MEDIAGW_TOKEN`, or `--sign-in` for a device-grant sign-in shown on stderr).
    Mcp {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// Sign in through the device grant when `MEDIAGW_TOKEN` is not set.
        #[arg(long)]
        sign_in: bool,
        /// The OAuth client the sign-in uses (it must allow the device grant).
        #[arg(long, default_value = "mediagw-mcp")]
        client_id: String,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        action: bench::BenchCmd,
    },
}

#[derive(Subcommand)]
enum SchemasCmd {
    /// Fail (exit 1) if any local schema is incompatible with the latest registered version.
    Check {
        /// Read `.avsc` files from this folder instead of the built-in copies.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Register every schema (idempotent); a new version needs an operator token in `MEDIAGW_TOKEN`
    /// or `registry.url` pointing at the registry's internal listener.
    Register {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List subjects and versions.
    List,
}

#[derive(Subcommand)]
enum IngestCmd {
    /// Import a file: `jsonl` (one IngestRequest or canonical title per line), `tmdb-export` (one TMDb
    /// details object per line) or `wikipedia-movies`
    /// (the shared dataset's `movies-*.json`, a file or their folder).
    File {
        path: PathBuf,
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Region for lines that are bare canonical titles.
        #[arg(long, default_value = "US")]
        region: String,
        /// 500-title chunks in flight. One is fastest on 2 cores: concurrent chunks that share
        /// identifiers conflict and are planned again.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Import a rating dataset as users' feedback through the command path: titles resolved to
    /// catalog titles (created when unknown), dataset user N as the UUIDv5 of "<format>:N",
    /// original timestamps kept; idempotent.
    Feedback {
        #[arg(long)]
        ratings: PathBuf,
        #[arg(long)]
        items: PathBuf,
        #[arg(long, value_enum)]
        format: cmd::feedback::Format,
        /// `create`: a title the catalog lacks becomes a catalog record; `match`: only matched
        /// (ratings of unmatched titles are skipped), so the catalog stays as it was.
        #[arg(long, value_enum, default_value = "create")]
        titles: cmd::feedback::Titles,
    },
}

#[derive(Subcommand)]
enum TrainWhat {
    /// The recommendation model (EASE + popularity prior) from every user's engaged titles.
    Recommendations,
    /// The search reranker's weights, from the train split of labeled query sets (schema of
    /// tests/fixtures/search/queries.json with `split`), against a running API; prints the
    /// `[search.ranker]` config section and the dev split's MRR@10 before and after.
    SearchRanker {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// Labeled sets (repeat the flag); each weighs the same in the objective.
        #[arg(long, required = true)]
        queries: Vec<PathBuf>,
        /// Fused titles reordered per search (the `search.ranker.depth` it prints).
        #[arg(long, default_value_t = 50)]
        depth: u32,
        /// Boosted trees on top of the linear model: exactly this many (0: linear only); by
        /// default as many as improve the dev split.
        #[arg(long)]
        trees: Option<usize>,
        /// Trains as if this feature were always 0 (repeat the flag): an ablation, measured on dev.
        #[arg(long)]
        without: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ConnectorsCmd {
    /// Run one job of one provider now (tmdb, watchmode, streaming_availability, youtube,
    /// gracenote) and print its report as JSON.
    Run {
        provider: String,
        /// catalog_refresh, availability_sync or metadata_enrichment.
        #[arg(long, default_value = "catalog_refresh")]
        job: String,
        /// Stop after this many pages (default: `connectors.max_pages`).
        #[arg(long)]
        max_pages: Option<u32>,
    },
    /// Remove offers whose expiry has passed (the 15-minute expiry sweep, once).
    Expire,
}

#[derive(Subcommand)]
enum AuthCmd {
    /// Create a user (password from MEDIAGW_PASSWORD or stdin); prints the user id.
    AddUser {
        #[arg(long)]
        email: String,
        /// Extra roles (`admin`); every user has `user`.
        #[arg(long)]
        role: Vec<String>,
        #[arg(long, default_value = "free")]
        tier: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Register an OAuth client; prints its id (and the secret of a confidential client) as JSON.
    AddClient {
        #[arg(long)]
        name: String,
        /// A fixed id (idempotent); default: generated.
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        redirect_uri: Vec<String>,
        #[arg(long)]
        confidential: bool,
        /// authorization_code, refresh_token, device_code.
        #[arg(long, default_values_t = ["authorization_code".to_string(), "refresh_token".to_string()])]
        grant: Vec<String>,
        #[arg(long)]
        scope: Option<String>,
        /// Someone else's app: its tokens never carry the user's admin role.
        #[arg(long)]
        third_party: bool,
    },
    /// Publish a new signing key (it signs after `auth.key_prepublish_s`); prints its kid.
    RotateKey,
    /// Mint an access token without a sign-in (service accounts, benchmarks).
    Token {
        #[arg(long)]
        user: uuid::Uuid,
        /// Space-separated scopes (default: all).
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        role: Vec<String>,
        #[arg(long, default_value = "free")]
        tier: String,
        #[arg(long)]
        device_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Every stored event as a JSON line (topic, event_type, event_id, aggregate_id, recorded_at,
    /// payload …), oldest first, streamed.
    Events {
        /// Only events published on this topic (with or without the deployment's prefix).
        #[arg(long)]
        topic: Option<String>,
        /// Only events committed at or after this RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only events committed before this RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Write here instead of stdout (complete or not at all).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Everything the product holds about one user, as one JSON document (the `mediagw` import
    /// format; the GDPR access right).
    User {
        #[arg(long)]
        user: uuid::Uuid,
        /// Write here instead of stdout (complete or not at all).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// A read model as a table, streamed.
    Projection {
        #[arg(value_enum)]
        projection: ProjectionExport,
        #[arg(long, value_enum, default_value = "csv")]
        format: TableFormat,
        /// Write here instead of stdout (complete or not at all).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCmd {
    /// A Trakt (JSON), Letterboxd (CSV), IMDb (CSV) or mediagw (export JSON) file into the
    /// user's feedback, watchlist and playback positions; titles matched through entity
    /// resolution, what does not match reported.
    User {
        #[arg(long)]
        user: uuid::Uuid,
        #[arg(long, value_parser = parse_history_format)]
        format: mediagw_domain::history::HistoryFormat,
        /// Which list a CSV is when its header cannot tell (`diary`, `ratings`, `watched`,
        /// `watchlist`); by default taken from the file name.
        #[arg(long, value_parser = parse_list_kind)]
        list: Option<mediagw_domain::history::ListKind>,
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum EraseCmd {
    /// Destroys the user's key (every published record about them becomes unreadable) and
    /// deletes their streams, account, read-model rows and cache keys.
    User {
        #[arg(long)]
        user: uuid::Uuid,
    },
}

fn parse_history_format(s: &str) -> Result<mediagw_domain::history::HistoryFormat, String> {
    mediagw_domain::history::HistoryFormat::parse(s)
        .ok_or_else(|| "must be trakt, letterboxd, imdb or mediagw".into())
}

fn parse_list_kind(s: &str) -> Result<mediagw_domain::history::ListKind, String> {
    mediagw_domain::history::ListKind::parse(s)
        .ok_or_else(|| "must be diary, ratings, watched or watchlist".into())
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProjectionExport {
    /// One row per title; external ids and offers as JSON columns.
    Catalog,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TableFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// Apache Parquet (Snappy), typed columns (`--out` required).
    Parquet,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Avro Object Container Files, one per event type, with the registered schema (`--out` is
    /// a directory).
    Avro,
    /// Apache Parquet (Snappy): one row per event, the wire record as a JSON `payload` column
    /// (`--out` required).
    Parquet,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    mediagw_schemas::install_tls_provider();
    let cli = Cli::parse();
    let config = config::Config::load(cli.config.as_deref()).context("loading configuration")?;
    // The process's name in logs and metrics: the roles it serves, or the command.
    let service = match &cli.command {
        Command::Serve { role } => role.clone(),
        _ => "cli".to_string(),
    };
    let traces = telemetry::init_logging(&config.log, &config.otel, &service)?;
    let metrics = telemetry::init_metrics(&service);
    let result = run(cli, config, metrics).await;
    // Spans still buffered are exported before the process ends.
    tokio::task::spawn_blocking(move || traces.shutdown()).await?;
    result
}

async fn run(
    cli: Cli,
    config: config::Config,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { role } => {
            let roles = role::parse_roles(&role)?;
            let app = app::App::connect(config).await?;
            serve::serve(app, roles, metrics).await
        }
        Command::Migrate => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            kafka::ensure_topics(&app.config).await?;
            println!("tables and topics are in place");
            Ok(())
        }
        Command::Replay {
            projection,
            from,
            to,
            partitions,
            dry_run,
            into,
            no_swap,
            swap_partial,
            list,
        } => {
            if list {
                let app = app::App::connect(config).await?;
                return cmd::replay::list(&app).await;
            }
            let projection = projection.context("name the projection to replay")?;
            let spec = mediagw_projectors::replay::ReplaySpec {
                from: cmd::replay::parse_position("--from", &from)?,
                to: cmd::replay::parse_position("--to", &to)?,
                partitions,
            };
            if let Some(schema) = &into {
                cmd::replay::check_into(schema)?;
            }
            let swap = cmd::replay::decide_swap(
                projection,
                &spec,
                no_swap || into.is_some(),
                swap_partial,
            )?;
            let app = app::App::connect(config).await?;
            cmd::replay::run(
                &app,
                cmd::replay::Request {
                    projection,
                    spec,
                    swap,
                    dry_run,
                    into,
                },
            )
            .await
        }
        Command::Export {
            what:
                ExportCmd::Events {
                    topic,
                    from,
                    to,
                    format,
                    out,
                },
        } => {
            let selection = cmd::history::selection(topic, from.as_deref(), to.as_deref())?;
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            match format {
                ExportFormat::Jsonl => cmd::history::export_events(&app, &selection, out).await,
                ExportFormat::Avro => {
                    let dir = out.context(
                        "--format avro writes one file per event type: name a directory with --out",
                    )?;
                    cmd::history::export_events_avro(&app, &selection, dir).await
                }
                ExportFormat::Parquet => {
                    let file = out.context("--format parquet needs a file: name it with --out")?;
                    cmd::history::export_events_parquet(&app, &selection, file).await
                }
            }
        }
        Command::Export {
            what:
                ExportCmd::Projection {
                    projection: ProjectionExport::Catalog,
                    format,
                    out,
                },
        } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            match format {
                TableFormat::Csv => cmd::history::export_catalog_csv(&app, out).await,
                TableFormat::Parquet => {
                    let file = out.context("--format parquet needs a file: name it with --out")?;
                    cmd::history::export_catalog_parquet(&app, file).await
                }
            }
        }
        Command::Export {
            what: ExportCmd::User { user, out },
        } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            cmd::account::export_user(&app, user, out).await
        }
        Command::Import {
            what:
                ImportCmd::User {
                    user,
                    format,
                    list,
                    file,
                },
        } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            cmd::account::import_user(&app, user, format, list, &file).await
        }
        Command::Erase {
            what: EraseCmd::User { user },
        } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            cmd::account::erase_user(&app, user).await
        }
        Command::Republish { topic, from, to } => {
            let selection = cmd::history::selection(topic, from.as_deref(), to.as_deref())?;
            let app = app::App::connect(config).await?;
            cmd::history::republish(&app, &selection).await
        }
        Command::Schemas { action } => match action {
            SchemasCmd::Check { dir } => {
                if cmd::schemas::check(&config, dir.as_deref()).await? {
                    Ok(())
                } else {
                    eprintln!("schema check failed: incompatible changes (see above)");
                    std::process::exit(1);
                }
            }
            SchemasCmd::Register { dir } => cmd::schemas::register(&config, dir.as_deref()).await,
            SchemasCmd::List => cmd::schemas::list(&config).await,
        },
        Command::Ingest {
            action:
                IngestCmd::File {
                    path,
                    format,
                    region,
                    concurrency,
                },
        } => {
            let app = app::App::connect(config).await?;
            let report = cmd::ingest::file(&app, &path, &format, &region, concurrency).await?;
            report.print();
            Ok(())
        }
        Command::Ingest {
            action:
                IngestCmd::Feedback {
                    ratings,
                    items,
                    format,
                    titles,
                },
        } => {
            let app = app::App::connect(config).await?;
            let report = cmd::feedback::ingest(&app, &ratings, &items, format, titles).await?;
            report.print();
            Ok(())
        }
        Command::Train {
            what:
                TrainWhat::SearchRanker {
                    api,
                    queries,
                    depth,
                    trees,
                    without,
                },
        } => eval::ranker::train(&api, &queries, depth, trees, &without).await,
        Command::Train {
            what: TrainWhat::Recommendations,
        } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            let r = mediagw_projectors::recommender::train(&app.pool, app.model_params()).await?;
            println!(
                "model {}: {} users, {} titles, {} interactions, trained in {:.1} s",
                r.version, r.users, r.items, r.interactions, r.seconds
            );
            Ok(())
        }
        Command::Eval { action } => eval::run(action, config).await,
        Command::Bench { action } => bench::run(action, config, &metrics).await,
        Command::Mcp {
            api,
            sign_in,
            client_id,
        } => cmd::mcp::stdio(&api, sign_in, &client_id).await,
        Command::Auth { action } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            match action {
                AuthCmd::AddUser {
                    email,
                    role,
                    tier,
                    display_name,
                } => cmd::auth::add_user(&app, &email, &role, &tier, display_name.as_deref()).await,
                AuthCmd::AddClient {
                    name,
                    client_id,
                    redirect_uri,
                    confidential,
                    grant,
                    scope,
                    third_party,
                } => {
                    cmd::auth::add_client(
                        &app,
                        cmd::auth::NewClient {
                            client_id,
                            name,
                            redirect_uris: redirect_uri,
                            confidential,
                            grant_types: grant,
                            scope,
                            third_party,
                        },
                    )
                    .await
                }
                AuthCmd::RotateKey => cmd::auth::rotate_key(&app).await,
                AuthCmd::Token {
                    user,
                    scope,
                    role,
                    tier,
                    device_id,
                } => cmd::auth::mint(&app, user, scope.as_deref(), &role, &tier, device_id).await,
            }
        }
        Command::Connectors { action } => {
            let app = app::App::connect(config).await?;
            app.migrate().await?;
            cmd::connectors::run(&app, action_args(action)).await
        }
    }
}

fn action_args(a: ConnectorsCmd) -> cmd::connectors::Action {
    match a {
        ConnectorsCmd::Run {
            provider,
            job,
            max_pages,
        } => cmd::connectors::Action::Run {
            provider,
            job,
            max_pages,
        },
        ConnectorsCmd::Expire => cmd::connectors::Action::Expire,
    }
}
