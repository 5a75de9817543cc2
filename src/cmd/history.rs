//! `mediagw export events` and `mediagw republish`: the event store (the truth) read back as the
//! log, to a file or to Kafka again.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use mediagw_commands::history::{self, HistoryError, Selection};
use mediagw_schemas::bus::EventBus;
use mediagw_schemas::EventSet;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// `--from`/`--to` as commit times (RFC 3339).
pub fn selection(
    topic: Option<String>,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<Selection> {
    let time = |flag: &str, s: Option<&str>| -> anyhow::Result<Option<DateTime<Utc>>> {
        s.map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .with_context(|| format!("{flag} must be an RFC 3339 time, got `{s}`"))
        })
        .transpose()
    };
    Ok(Selection {
        topic,
        from: time("--from", from)?,
        to: time("--to", to)?,
    })
}

/// One JSON line per event: where it was published and what it says (the wire record).
fn json_line(h: &history::Historic, prefix: &str) -> serde_json::Value {
    json!({
        "topic": format!("{prefix}{}", h.record.topic()),
        "event_type": h.record.full_name(),
        "event_id": h.record.envelope().event_id(),
        "aggregate_type": h.aggregate_type,
        "aggregate_id": h.aggregate_id,
        "sequence": h.sequence,
        "event_version": h.event_version,
        "recorded_at": h.recorded_at,
        "payload": h.record,
    })
}

/// Streams the selected events as JSON lines to `out` (stdout without it); written to a temporary
/// file renamed at the end, so a failed export leaves no partial file behind.
pub async fn export_events(
    app: &App,
    selection: &Selection,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let prefix = app.config.kafka.topic_prefix.clone();
    let started = Instant::now();
    let (mut sink, tmp): (Box<dyn Write>, Option<PathBuf>) = match &out {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            (Box::new(std::io::BufWriter::new(f)), Some(tmp))
        }
        None => (
            Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            None,
        ),
    };
    let sink_ref = &mut sink;
    let written = history::for_each(&app.pool, selection, &prefix, 1_000, |batch| {
        let result = batch.iter().try_for_each(|h| {
            serde_json::to_writer(&mut *sink_ref, &json_line(h, &prefix))
                .map_err(std::io::Error::other)
                .and_then(|()| sink_ref.write_all(b"\n"))
        });
        std::future::ready(result.map_err(|e| HistoryError::Io(e.to_string())))
    })
    .await;
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            drop(sink);
            if let Some(tmp) = &tmp {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e).context("export failed; nothing was written");
        }
    };
    sink.flush()?;
    drop(sink);
    if let (Some(tmp), Some(path)) = (tmp, &out) {
        std::fs::rename(&tmp, path)?;
        eprintln!(
            "exported {written} events to {} in {:.2} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Re-sends the selected events to Kafka through the outbox, running a relay in this process
/// until they are all acknowledged (an already running relay may publish them instead).
pub async fn republish(app: &App, selection: &Selection) -> anyhow::Result<()> {
    app.migrate().await?;
    crate::kafka::ensure_topics(&app.config).await?;
    let started = Instant::now();
    let prefix = app.config.kafka.topic_prefix.clone();
    let (queued, last_id) = history::requeue(&app.pool, selection, &prefix)
        .await
        .context("queueing the events for publishing")?;
    let shutdown = CancellationToken::new();
    let relay = app.relay(app.bus()? as Arc<dyn EventBus>);
    let stop = shutdown.clone();
    let relay = tokio::spawn(async move { relay.run(stop).await });
    let tty = std::io::stderr().is_terminal();
    let mut last_note = Instant::now();
    while !history::published_through(&app.pool, last_id).await? {
        if last_note.elapsed() > Duration::from_secs(5) {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox WHERE id <= $1")
                .bind(last_id)
                .fetch_one(&app.pool)
                .await?;
            if tty {
                eprintln!("republishing: {left} of {queued} events still to publish…");
            } else {
                eprintln!(
                    "{}",
                    json!({"progress": queued as i64 - left, "total": queued})
                );
            }
            last_note = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let _ = relay.await;
    let secs = started.elapsed().as_secs_f64();
    if std::io::stdout().is_terminal() {
        println!(
            "republished {queued} events in {secs:.2} s ({:.0} events/s)",
            queued as f64 / secs.max(1e-9)
        );
    } else {
        println!(
            "{}",
            json!({"republished": queued, "duration_s": secs, "events_per_s": queued as f64 / secs.max(1e-9)})
        );
    }
    Ok(())
}
