//! `mediagw replay <projection> [--from] [--to] [--partitions] [--dry-run] [--into] [--no-swap]`
//! and `mediagw replay --list`.

use std::fmt;
use std::io::IsTerminal;

use anyhow::Context;
use clap::ValueEnum;
use mediagw_projectors::catalog::{CatalogProjection, LIVE_SCHEMA};
use mediagw_projectors::profiles::ProfileProjection;
use mediagw_projectors::replay::{plan, replay, standing, Plan, Position, ReplaySpec};
use mediagw_projectors::search::SearchProjection;
use mediagw_projectors::search_activity::SearchActivityProjection;
use mediagw_projectors::sync::SyncProjection;
use mediagw_projectors::Projection;
use serde_json::json;

use crate::app::App;

/// A replay's catalog rate on this machine (docs/perf.md, "Replay"): the dry run's estimate.
const ESTIMATE_EVENTS_PER_S: f64 = 20_000.0;

/// `earliest`/`latest`, an RFC 3339 time, or a record offset.
pub fn parse_position(flag: &str, s: &str) -> anyhow::Result<Position> {
    match s {
        "earliest" => return Ok(Position::Earliest),
        "latest" => return Ok(Position::Latest),
        _ => {}
    }
    if let Ok(o) = s.parse::<i64>() {
        anyhow::ensure!(o >= 0, "{flag} offset must be ≥ 0, got {o}");
        return Ok(Position::Offset(o));
    }
    let t = chrono::DateTime::parse_from_rfc3339(s).with_context(|| {
        format!("{flag} must be `earliest`, `latest`, an RFC 3339 time or an offset, got `{s}`")
    })?;
    Ok(Position::Timestamp(t.timestamp_millis()))
}

/// Whether the rebuild replaces the live projection. Anything but a full rebuild (a start time or
/// offset, an end, a subset of partitions) lacks events: swapping it in would silently drop them,
/// so it needs `--swap-partial` (or `--no-swap`/`--into` to inspect it beside the live tables).
pub fn decide_swap(
    projection: ProjectionName,
    spec: &ReplaySpec,
    no_swap: bool,
    swap_partial: bool,
) -> anyhow::Result<bool> {
    if no_swap {
        return Ok(false);
    }
    if spec.is_full() || swap_partial {
        return Ok(true);
    }
    anyhow::bail!(
        "refusing to replace the live `{projection}` projection with a partial rebuild (--from, \
         --to or --partitions leave events out): pass --no-swap (or --into <schema>) to rebuild it \
         beside the live tables for inspection, --swap-partial to replace it anyway, or drop those \
         flags for a full rebuild"
    )
}

/// A schema name a rebuild may be written into: a plain identifier that is no live projection's.
pub fn check_into(schema: &str) -> anyhow::Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && !schema.starts_with("pg_");
    anyhow::ensure!(
        ok,
        "--into must be a lowercase identifier (a-z, 0-9, _; ≤ 63 characters), got `{schema}`"
    );
    let reserved = ProjectionName::value_variants()
        .iter()
        .map(|p| p.live_schema())
        .chain(["public", "information_schema", "auth", "recommend"]);
    for r in reserved {
        anyhow::ensure!(
            schema != r,
            "--into `{schema}` is a live schema; pick a new name"
        );
    }
    Ok(())
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

impl ProjectionName {
    fn live_schema(self) -> &'static str {
        match self {
            Self::Catalog => LIVE_SCHEMA,
            Self::SearchIndex => mediagw_projectors::search::LIVE_SCHEMA,
            Self::SearchActivity => mediagw_projectors::search_activity::LIVE_SCHEMA,
            Self::Sync => mediagw_projectors::sync::LIVE_SCHEMA,
            Self::UserProfiles => mediagw_projectors::profiles::LIVE_SCHEMA,
            Self::Playback => mediagw_projectors::playback::LIVE_SCHEMA,
        }
    }

    /// The projection bound to `schema`; the search index needs the model and index (`app`).
    async fn bind(self, app: &App, schema: &str) -> anyhow::Result<Box<dyn Projection>> {
        Ok(match self {
            Self::Catalog => Box::new(CatalogProjection::new(schema)),
            Self::SearchIndex => {
                let p = app.search_parts().await?;
                Box::new(SearchProjection::new(schema, p.index, p.embedder, p.cache))
            }
            Self::SearchActivity => Box::new(SearchActivityProjection::new(schema)),
            Self::Sync => Box::new(SyncProjection::new(schema)),
            Self::UserProfiles => Box::new(ProfileProjection::new(schema)),
            Self::Playback => Box::new(mediagw_projectors::playback::PlaybackProjection::new(
                schema,
            )),
        })
    }

    /// The projector's name in its offsets table and its topics (without the deployment prefix).
    fn identity(self) -> (&'static str, &'static [&'static str]) {
        let p: Box<dyn Projection> = match self {
            Self::SearchIndex => {
                return (
                    mediagw_projectors::search::NAME,
                    mediagw_schemas::topics::CATALOG_TOPICS,
                )
            }
            Self::Catalog => Box::new(CatalogProjection::new(LIVE_SCHEMA)),
            Self::SearchActivity => Box::new(SearchActivityProjection::new(self.live_schema())),
            Self::Sync => Box::new(SyncProjection::new(self.live_schema())),
            Self::UserProfiles => Box::new(ProfileProjection::new(self.live_schema())),
            Self::Playback => Box::new(mediagw_projectors::playback::PlaybackProjection::new(
                self.live_schema(),
            )),
        };
        (p.name(), p.topics())
    }
}

impl fmt::Display for ProjectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.to_possible_value().expect("no variant is skipped");
        f.write_str(value.get_name())
    }
}

/// What `replay` was asked to do.
pub struct Request {
    pub projection: ProjectionName,
    pub spec: ReplaySpec,
    pub swap: bool,
    pub dry_run: bool,
    /// The schema the rebuild is written to (`<live>_rebuild` unless `--into`).
    pub into: Option<String>,
}

/// A line for people on a terminal, a JSON object otherwise.
fn emit(human: String, machine: serde_json::Value) {
    if std::io::stdout().is_terminal() {
        println!("{human}");
    } else {
        println!("{machine}");
    }
}

pub async fn run(app: &App, req: Request) -> anyhow::Result<()> {
    let projection = req.projection;
    let live = projection.live_schema();
    let scratch = req
        .into
        .clone()
        .unwrap_or_else(|| format!("{live}_rebuild"));
    let (_, topics) = projection.identity();
    let topics: Vec<String> = topics.iter().map(|t| app.codec.topic(t)).collect();
    let plan = plan(&app.config.kafka_consumer(), &topics, &req.spec)
        .await
        .context("reading the topics' offsets")?;
    if req.dry_run {
        return dry_run(projection, &plan, live, &scratch, req.swap);
    }
    app.migrate().await?;
    let rebuild = projection.bind(app, &scratch).await?;
    eprintln!(
        "replaying {projection} ({} events) into a fresh schema `{scratch}`…",
        plan.events()
    );
    let report = replay(
        &app.pool,
        &app.config.kafka_consumer(),
        &app.codec,
        rebuild.as_ref(),
        live,
        &plan,
        req.swap,
        std::io::stderr().is_terminal(),
    )
    .await
    .context("replay failed; the live projection is untouched")?;
    let outcome = if req.swap {
        format!("swapped into `{live}`")
    } else {
        format!("left in `{scratch}` (the live `{live}` is untouched)")
    };
    emit(
        format!(
            "replay {projection}: {} events read, {} applied, {} already held, {} unappliable skipped (dead-lettered when first seen) in {:.2} s = {:.0} events/s; {outcome}",
            report.events,
            report.applied,
            report.skipped,
            report.skipped_poison,
            report.duration.as_secs_f64(),
            report.rate()
        ),
        json!({
            "projection": projection.to_string(),
            "events_read": report.events,
            "applied": report.applied,
            "skipped": report.skipped,
            "dlq": report.skipped_poison,
            "duration_s": report.duration.as_secs_f64(),
            "events_per_s": report.rate(),
            "swapped": req.swap,
            "schema": if req.swap { live } else { scratch.as_str() },
        }),
    );
    Ok(())
}

fn dry_run(
    projection: ProjectionName,
    plan: &Plan,
    live: &str,
    scratch: &str,
    swap: bool,
) -> anyhow::Result<()> {
    let events = plan.events();
    let estimate_s = events as f64 / ESTIMATE_EVENTS_PER_S;
    for p in &plan.partitions {
        emit(
            format!(
                "  {}[{}]: offsets {}..{} → {} events",
                p.topic,
                p.partition,
                p.from,
                p.to,
                p.events()
            ),
            json!({"topic": p.topic, "partition": p.partition, "from": p.from, "to": p.to, "events": p.events()}),
        );
    }
    let target = if swap {
        format!("would rebuild into `{scratch}` and swap it in for `{live}`")
    } else {
        format!("would rebuild into `{scratch}`, leaving `{live}` untouched")
    };
    emit(
        format!(
            "dry run: {projection}: {events} events from {} partitions; {target}; about {estimate_s:.1} s at {ESTIMATE_EVENTS_PER_S:.0} events/s. Nothing was changed.",
            plan.partitions.len()
        ),
        json!({"dry_run": true, "projection": projection.to_string(), "events": events,
               "partitions": plan.partitions.len(), "schema": scratch, "would_swap": swap,
               "estimated_s": estimate_s}),
    );
    Ok(())
}

/// `replay --list`: every projection, its position per partition and its lag.
pub async fn list(app: &App) -> anyhow::Result<()> {
    for projection in ProjectionName::value_variants() {
        let (name, topics) = projection.identity();
        let topics: Vec<String> = topics.iter().map(|t| app.codec.topic(t)).collect();
        let rows = standing(
            &app.pool,
            &app.config.kafka_consumer(),
            &topics,
            name,
            projection.live_schema(),
        )
        .await
        .with_context(|| format!("reading where `{projection}` stands"))?;
        let lag: i64 = rows.iter().map(|r| r.lag).sum();
        emit(
            format!(
                "{projection} (schema `{}`): lag {lag} events",
                projection.live_schema()
            ),
            json!({"projection": projection.to_string(), "schema": projection.live_schema(), "lag": lag, "partitions": rows}),
        );
        if std::io::stdout().is_terminal() {
            for r in &rows {
                println!(
                    "  {}[{}]: at {} of {} (lag {})",
                    r.topic,
                    r.partition,
                    r.position.map_or("-".to_string(), |p| p.to_string()),
                    r.end,
                    r.lag
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_bad_ones_name_the_flag() {
        assert_eq!(
            parse_position("--from", "earliest").unwrap(),
            Position::Earliest
        );
        assert_eq!(parse_position("--to", "latest").unwrap(), Position::Latest);
        assert_eq!(parse_position("--to", "42").unwrap(), Position::Offset(42));
        assert_eq!(
            parse_position("--from", "2026-12-05T00:00:00Z").unwrap(),
            Position::Timestamp(1_796_428_800_000)
        );
        let e = parse_position("--to", "yesterday").unwrap_err().to_string();
        assert!(e.contains("--to"), "{e}");
    }

    #[test]
    fn only_a_full_rebuild_swaps_without_being_told() {
        let full = ReplaySpec::full();
        assert!(decide_swap(ProjectionName::Catalog, &full, false, false).unwrap());
        for partial in [
            ReplaySpec {
                from: Position::Offset(10),
                ..ReplaySpec::full()
            },
            ReplaySpec {
                to: Position::Timestamp(0),
                ..ReplaySpec::full()
            },
            ReplaySpec {
                partitions: Some(vec![0]),
                ..ReplaySpec::full()
            },
        ] {
            let e = decide_swap(ProjectionName::Catalog, &partial, false, false).unwrap_err();
            assert!(e.to_string().contains("--swap-partial"), "{e}");
            assert!(!decide_swap(ProjectionName::Catalog, &partial, true, false).unwrap());
            assert!(decide_swap(ProjectionName::Catalog, &partial, false, true).unwrap());
        }
    }

    #[test]
    fn into_takes_new_plain_schema_names_only() {
        assert!(check_into("catalog_2026_12_05").is_ok());
        for bad in ["catalog", "public", "Cat", "a;drop", "pg_x", "9x", ""] {
            assert!(check_into(bad).is_err(), "{bad}");
        }
    }
}
