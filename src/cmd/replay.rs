//! `mediagw replay <projection> [--from earliest|<RFC 3339>]`.

use std::io::IsTerminal;

use anyhow::Context;
use mediagw_projectors::catalog::{CatalogProjection, LIVE_SCHEMA};
use mediagw_projectors::replay::{replay, ReplayFrom};

use crate::app::App;

pub fn parse_from(s: &str) -> anyhow::Result<ReplayFrom> {
    if s == "earliest" {
        return Ok(ReplayFrom::Earliest);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
        format!("--from must be `earliest` or an RFC 3339 timestamp, got `{s}`")
    })?;
    Ok(ReplayFrom::Timestamp(t.timestamp_millis()))
}

pub async fn run(app: &App, projection: &str, from: ReplayFrom) -> anyhow::Result<()> {
    anyhow::ensure!(
        projection == "catalog",
        "unknown projection `{projection}` (known: catalog)"
    );
    app.migrate().await?;
    let rebuild = CatalogProjection::new("catalog_rebuild");
    eprintln!("replaying {projection} from {from:?} into a fresh schema…");
    let report = replay(
        &app.pool,
        &app.config.kafka_consumer(),
        &app.codec,
        &rebuild,
        LIVE_SCHEMA,
        from,
        std::io::stderr().is_terminal(),
    )
    .await
    .context("replay failed; the live projection is untouched")?;
    println!(
        "replay {projection}: {} events ({} applied, {} undecodable skipped) in {:.2} s = {:.0} events/s; swapped into `{LIVE_SCHEMA}`",
        report.events,
        report.applied,
        report.skipped_poison,
        report.duration.as_secs_f64(),
        report.rate()
    );
    Ok(())
}
