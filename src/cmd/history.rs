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
    let mut sink = Output::open(out)?;
    let sink_ref = &mut sink.writer;
    let written = history::for_each(&app.pool, selection, &prefix, 1_000, |batch| {
        let result = batch.iter().try_for_each(|h| {
            serde_json::to_writer(&mut *sink_ref, &json_line(h, &prefix))
                .map_err(std::io::Error::other)
                .and_then(|()| sink_ref.write_all(b"\n"))
        });
        std::future::ready(result.map_err(|e| HistoryError::Io(e.to_string())))
    })
    .await;
    match written {
        Ok(n) => sink.commit(&format!(
            "{n} events in {:.2} s",
            started.elapsed().as_secs_f64()
        )),
        Err(e) => sink.abort(e.into()),
    }
}

/// Where an export goes: stdout, or a file written under a temporary name and renamed only once
/// complete, so a failed export leaves nothing behind.
pub(crate) struct Output {
    pub(crate) writer: Box<dyn Write>,
    /// (temporary, final) paths of a file output.
    file: Option<(PathBuf, PathBuf)>,
}

impl Output {
    pub(crate) fn open(out: Option<PathBuf>) -> anyhow::Result<Self> {
        Ok(match out {
            Some(path) => {
                let tmp = path.with_extension("partial");
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                Self {
                    writer: Box::new(std::io::BufWriter::new(f)),
                    file: Some((tmp, path)),
                }
            }
            None => Self {
                writer: Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                file: None,
            },
        })
    }

    /// Flushes and, for a file, renames it into place; `what` goes into the closing line.
    pub(crate) fn commit(mut self, what: &str) -> anyhow::Result<()> {
        if let Err(e) = self.writer.flush() {
            return self.abort(e.into());
        }
        drop(self.writer);
        if let Some((tmp, path)) = self.file {
            std::fs::rename(&tmp, &path)?;
            eprintln!("exported {what} to {}", path.display());
        }
        Ok(())
    }

    pub(crate) fn abort(self, error: anyhow::Error) -> anyhow::Result<()> {
        drop(self.writer);
        if let Some((tmp, _)) = self.file {
            let _ = std::fs::remove_file(tmp);
        }
        Err(error.context("export failed; nothing was written"))
    }
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

/// `mediagw export projection catalog --format csv`: one row per title, its external ids and
/// offers as JSON columns, streamed from PostgreSQL's `COPY … TO STDOUT` (bounded memory), to
/// `out` (complete or absent) or stdout.
pub async fn export_catalog_csv(app: &App, out: Option<PathBuf>) -> anyhow::Result<()> {
    use futures::TryStreamExt;
    const QUERY: &str = "COPY (
        SELECT c.id, c.content_type, c.title, c.original_title, c.release_date, c.release_year,
               c.runtime_minutes, array_to_string(c.genres, '|') AS genres, c.popularity_score,
               c.average_rating, c.vote_count, c.last_updated,
               COALESCE((SELECT json_object_agg(e.id_type, e.id_value) FROM catalog.external_ids e
                         WHERE e.content_id = c.id), '{}') AS external_ids,
               COALESCE((SELECT json_agg(json_build_object(
                           'platform', a.platform, 'region', a.region,
                           'availability_type', a.availability_type, 'price_amount', a.price_amount,
                           'price_currency', a.price_currency, 'deep_link', a.deep_link,
                           'web_url', a.web_url, 'available_from', a.available_from,
                           'expires_at', a.expires_at) ORDER BY a.platform, a.region, a.availability_type)
                         FROM catalog.platform_availability a WHERE a.content_id = c.id), '[]') AS availability
        FROM catalog.content c ORDER BY c.id
    ) TO STDOUT WITH (FORMAT csv, HEADER true)";
    let mut sink = Output::open(out)?;
    let result: anyhow::Result<()> = async {
        let mut conn = app.pool.acquire().await?;
        let mut rows = conn.copy_out_raw(QUERY).await?;
        while let Some(chunk) = rows.try_next().await? {
            sink.writer.write_all(&chunk)?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => sink.commit("the catalog"),
        Err(e) => sink.abort(e),
    }
}

/// `export events --format avro`: one Avro Object Container File per event type under `dir`
/// (`<dir>/<record full name>.avro`), each with that type's registered schema as its writer
/// schema. Streamed; files are written under temporary names and renamed when all are complete.
pub async fn export_events_avro(
    app: &App,
    selection: &Selection,
    dir: PathBuf,
) -> anyhow::Result<()> {
    use std::collections::HashMap;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let schemas: HashMap<&'static str, apache_avro::Schema> = mediagw_schemas::SCHEMAS
        .iter()
        .map(|s| Ok((s.full_name, apache_avro::Schema::parse_str(s.text)?)))
        .collect::<Result<_, apache_avro::Error>>()?;
    let prefix = app.config.kafka.topic_prefix.clone();
    let mut writers: HashMap<
        &'static str,
        apache_avro::Writer<'_, std::io::BufWriter<std::fs::File>>,
    > = HashMap::new();
    let partial = |name: &str| dir.join(format!("{name}.avro.partial"));
    let mut failure: Option<anyhow::Error> = None;
    let written = history::for_each(&app.pool, selection, &prefix, 1_000, |batch| {
        let mut step = || -> anyhow::Result<()> {
            for h in &batch {
                let name = h.record.full_name();
                let schema = schemas
                    .get(name)
                    .with_context(|| format!("no registered schema for {name}"))?;
                if !writers.contains_key(name) {
                    let f = std::fs::File::create(partial(name))?;
                    writers.insert(
                        name,
                        apache_avro::Writer::new(schema, std::io::BufWriter::new(f))?,
                    );
                }
                let value = apache_avro::to_value(&h.record)?.resolve(schema)?;
                writers
                    .get_mut(name)
                    .expect("inserted")
                    .append_value(value)?;
            }
            Ok(())
        };
        let result = step().map_err(|e| {
            let text = format!("{e:#}");
            failure = Some(e);
            HistoryError::Io(text)
        });
        std::future::ready(result)
    })
    .await;
    let names: Vec<&'static str> = writers.keys().copied().collect();
    let mut finished = written.map_err(anyhow::Error::from);
    for (_, w) in writers.drain() {
        if let Err(e) = w
            .into_inner()
            .map_err(anyhow::Error::from)
            .and_then(|mut f| {
                f.flush()?;
                Ok(())
            })
        {
            finished = finished.and(Err(e));
        }
    }
    match finished {
        Ok(n) => {
            for name in &names {
                std::fs::rename(partial(name), dir.join(format!("{name}.avro")))?;
            }
            eprintln!(
                "exported {n} events into {} Avro container files in {}",
                names.len(),
                dir.display()
            );
            Ok(())
        }
        Err(e) => {
            for name in &names {
                let _ = std::fs::remove_file(partial(name));
            }
            Err(failure
                .unwrap_or(e)
                .context("export failed; nothing was written"))
        }
    }
}

/// `export events --format parquet`: one row per event (the JSON line's fields, the wire record as
/// a JSON `payload` column), streamed into row groups.
pub async fn export_events_parquet(
    app: &App,
    selection: &Selection,
    out: PathBuf,
) -> anyhow::Result<()> {
    use crate::cmd::parquet::{Cell, Kind, ParquetFile};
    let prefix = app.config.kafka.topic_prefix.clone();
    let started = Instant::now();
    let mut file = ParquetFile::create(
        &out,
        "event",
        &[
            ("topic", Kind::Text),
            ("event_type", Kind::Text),
            ("event_id", Kind::Text),
            ("aggregate_type", Kind::Text),
            ("aggregate_id", Kind::Text),
            ("sequence", Kind::Int),
            ("event_version", Kind::Text),
            ("recorded_at", Kind::Millis),
            ("payload", Kind::Text),
        ],
    )?;
    let sink = &mut file;
    let written = history::for_each(&app.pool, selection, &prefix, 1_000, |batch| {
        let result = batch.iter().try_for_each(|h| {
            let text = |s: &str| Cell::Text(Some(s.to_string()));
            sink.push(vec![
                text(&format!("{prefix}{}", h.record.topic())),
                text(h.record.full_name()),
                text(h.record.envelope().event_id()),
                text(&h.aggregate_type),
                text(&h.aggregate_id),
                Cell::Int(Some(h.sequence)),
                text(&h.event_version),
                Cell::Int(h.recorded_at.map(|t| t.timestamp_millis())),
                Cell::Text(serde_json::to_string(&h.record).ok()),
            ])
        });
        std::future::ready(result.map_err(|e| HistoryError::Io(e.to_string())))
    })
    .await;
    let finished = match written {
        Ok(_) => file.finish(),
        Err(e) => {
            file.abandon();
            Err(e.into())
        }
    };
    match finished {
        Ok(n) => {
            eprintln!(
                "exported {n} events in {:.2} s to {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        Err(e) => Err(e.context("export failed; nothing was written")),
    }
}

/// `export projection catalog --format parquet`: the CSV export's columns, typed.
pub async fn export_catalog_parquet(app: &App, out: PathBuf) -> anyhow::Result<()> {
    use crate::cmd::parquet::{Cell, Kind, ParquetFile};
    use futures::TryStreamExt;
    use sqlx::Row;
    let mut file = ParquetFile::create(
        &out,
        "title",
        &[
            ("id", Kind::Text),
            ("content_type", Kind::Text),
            ("title", Kind::Text),
            ("original_title", Kind::Text),
            ("release_date", Kind::Text),
            ("release_year", Kind::Int),
            ("runtime_minutes", Kind::Int),
            ("genres", Kind::Text),
            ("popularity_score", Kind::Float),
            ("average_rating", Kind::Float),
            ("vote_count", Kind::Int),
            ("last_updated", Kind::Millis),
            ("external_ids", Kind::Text),
            ("availability", Kind::Text),
        ],
    )?;
    let result: anyhow::Result<u64> = async {
        let mut conn = app.pool.acquire().await?;
        let mut rows = sqlx::query(
            "SELECT c.id::text, c.content_type::text, c.title, c.original_title, c.release_date::text,
                    c.release_year::int8, c.runtime_minutes::int8, array_to_string(c.genres, '|'),
                    c.popularity_score::float8, c.average_rating::float8, c.vote_count::int8,
                    (extract(epoch FROM c.last_updated) * 1000)::int8,
                    COALESCE((SELECT json_object_agg(e.id_type, e.id_value) FROM catalog.external_ids e
                              WHERE e.content_id = c.id), '{}')::text,
                    COALESCE((SELECT json_agg(json_build_object(
                                'platform', a.platform, 'region', a.region,
                                'availability_type', a.availability_type, 'price_amount', a.price_amount,
                                'price_currency', a.price_currency, 'deep_link', a.deep_link,
                                'web_url', a.web_url, 'available_from', a.available_from,
                                'expires_at', a.expires_at) ORDER BY a.platform, a.region, a.availability_type)
                              FROM catalog.platform_availability a WHERE a.content_id = c.id), '[]')::text
             FROM catalog.content c ORDER BY c.id",
        )
        .fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            let mut row = Vec::with_capacity(14);
            for i in 0..14 {
                row.push(match i {
                    5 | 6 | 10 | 11 => Cell::Int(r.try_get(i)?),
                    8 | 9 => Cell::Float(r.try_get(i)?),
                    _ => Cell::Text(r.try_get(i)?),
                });
            }
            file.push(row)?;
        }
        drop(rows);
        Ok(0)
    }
    .await;
    match result {
        Ok(_) => {
            let n = file.finish()?;
            eprintln!("exported {n} titles to {}", out.display());
            Ok(())
        }
        Err(e) => {
            file.abandon();
            Err(e.context("export failed; nothing was written"))
        }
    }
}
