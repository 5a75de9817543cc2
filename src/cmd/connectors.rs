//! `mediagw connectors run <provider> [--job …]` and `mediagw connectors expire`: one job now, with
//! its report; the `connectors` role runs the same jobs on their schedules.

use anyhow::Context;
use mediagw_commands::connectors::{run_job, schedule, Connector, Job};
use mediagw_domain::catalog::IngestSource;

use crate::app::App;

pub enum Action {
    Run {
        provider: String,
        job: String,
        max_pages: Option<u32>,
    },
    Expire,
}

pub async fn run(app: &App, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Run {
            provider,
            job,
            max_pages,
        } => {
            let source = IngestSource::parse(&provider)
                .filter(|s| *s != IngestSource::Generic)
                .with_context(|| {
                    format!("unknown provider `{provider}` (tmdb, watchmode, streaming_availability, youtube, gracenote)")
                })?;
            let job = Job::parse(&job).with_context(|| {
                format!(
                    "unknown job `{job}` (catalog_refresh, availability_sync, metadata_enrichment)"
                )
            })?;
            let cfg = &app.config.connectors;
            let pc = cfg
                .provider(source)
                .expect("every provider has a config section");
            let connector = Connector::new(source, pc)?;
            let started = chrono::Utc::now();
            let titles = app.titles();
            let report = run_job(
                &titles,
                &connector,
                job,
                &cfg.regions,
                max_pages.unwrap_or(cfg.max_pages),
            )
            .await;
            schedule::record_run(&app.pool, started, &report).await;
            println!("{}", serde_json::to_string_pretty(&report)?);
            anyhow::ensure!(report.error.is_none(), "the job stopped early");
            Ok(())
        }
        Action::Expire => {
            let n = app.titles().expire_offers(chrono::Utc::now()).await?;
            println!("{n} expired offers removed");
            Ok(())
        }
    }
}
