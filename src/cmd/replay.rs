//! `mediagw replay <projection> [--from earliest|<RFC 3339>]`.

use std::fmt;
use std::io::IsTerminal;

use anyhow::Context;
use clap::ValueEnum;
use mediagw_projectors::catalog::{CatalogProjection, LIVE_SCHEMA};
use mediagw_projectors::profiles::ProfileProjection;
use mediagw_projectors::replay::{replay, ReplayFrom};
use mediagw_projectors::search::SearchProjection;
use mediagw_projectors::search_activity::SearchActivityProjection;
use mediagw_projectors::sync::SyncProjection;
use mediagw_projectors::Projection;

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

/// Whether the rebuild replaces the live projection. A rebuild from a point in time holds only the
/// events from then on: swapping it in would silently drop everything older, so it needs
/// `--swap-partial` (or `--no-swap` to inspect it beside the live tables).
pub fn decide_swap(
    projection: ProjectionName,
    from: ReplayFrom,
    no_swap: bool,
    swap_partial: bool,
) -> anyhow::Result<bool> {
    match (from, no_swap, swap_partial) {
        (_, true, _) => Ok(false),
        (ReplayFrom::Earliest, false, _) => Ok(true),
        (ReplayFrom::Timestamp(_), false, true) => Ok(true),
        (ReplayFrom::Timestamp(_), false, false) => anyhow::bail!(
            "refusing to replace the live `{projection}` projection with a rebuild that starts at \
             --from (every older event would be missing): pass --no-swap to rebuild it beside the \
             live tables for inspection, --swap-partial to replace it anyway, or --from earliest \
             for a full rebuild"
        ),
    }
}

/// The projections a replay rebuilds (`mediagw replay --help` lists them from here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectionName {
    /// The catalog: titles and where to watch them.
    Catalog,
    /// The search index, into a fresh index generation swapped in with its schema.
    SearchIndex,
    /// Search activity: trending query counts and users' genre affinity.
    SearchActivity,
    /// Each user's canonical sync state.
    Sync,
    /// Each user's taste signals per title and activity pattern (recommendations read them).
    UserProfiles,
    /// The device registry and playback sessions.
    Playback,
}

impl fmt::Display for ProjectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.to_possible_value().expect("no variant is skipped");
        f.write_str(value.get_name())
    }
}

pub async fn run(
    app: &App,
    projection: ProjectionName,
    from: ReplayFrom,
    swap: bool,
) -> anyhow::Result<()> {
    app.migrate().await?;
    let (rebuild, live): (Box<dyn Projection>, &str) = match projection {
        ProjectionName::Catalog => (
            Box::new(CatalogProjection::new("catalog_rebuild")),
            LIVE_SCHEMA,
        ),
        ProjectionName::SearchIndex => {
            let p = app.search_parts().await?;
            (
                Box::new(SearchProjection::new(
                    "search_rebuild",
                    p.index,
                    p.embedder,
                    p.cache,
                )),
                mediagw_projectors::search::LIVE_SCHEMA,
            )
        }
        ProjectionName::SearchActivity => (
            Box::new(SearchActivityProjection::new("search_activity_rebuild")),
            mediagw_projectors::search_activity::LIVE_SCHEMA,
        ),
        ProjectionName::Sync => (
            Box::new(SyncProjection::new("sync_rebuild")),
            mediagw_projectors::sync::LIVE_SCHEMA,
        ),
        ProjectionName::UserProfiles => (
            Box::new(ProfileProjection::new("profiles_rebuild")),
            mediagw_projectors::profiles::LIVE_SCHEMA,
        ),
        ProjectionName::Playback => (
            Box::new(mediagw_projectors::playback::PlaybackProjection::new(
                "playback_rebuild",
            )),
            mediagw_projectors::playback::LIVE_SCHEMA,
        ),
    };
    let scratch = rebuild.schema().to_string();
    eprintln!("replaying {projection} from {from:?} into a fresh schema `{scratch}`…");
    let report = replay(
        &app.pool,
        &app.config.kafka_consumer(),
        &app.codec,
        rebuild.as_ref(),
        live,
        from,
        swap,
        std::io::stderr().is_terminal(),
    )
    .await
    .context("replay failed; the live projection is untouched")?;
    let outcome = if swap {
        format!("swapped into `{live}`")
    } else {
        format!("left in `{scratch}` (the live `{live}` is untouched)")
    };
    println!(
        "replay {projection}: {} events ({} applied, {} undecodable skipped) in {:.2} s = {:.0} events/s; {outcome}",
        report.events,
        report.applied,
        report.skipped_poison,
        report.duration.as_secs_f64(),
        report.rate()
    );
    Ok(())
}
