//! `mediagw ingest file <path> --format jsonl|tmdb-export|wikipedia-movies`: bulk import through the same command path as
//! `POST /internal/ingest`, with a progress bar and a final report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use mediagw_commands::{CommandError, IngestAction, IngestRequest};
use serde_json::Value;

use crate::app::App;

/// Titles per bulk transaction.
const CHUNK: usize = 500;

#[derive(Debug, Default)]
pub struct Report {
    pub created: u64,
    pub updated: u64,
    pub merged: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Reason → count (first 20 distinct reasons).
    pub reasons: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// One line: either a full `IngestRequest` or a bare record of `platform` (then `region` applies).
fn to_request(line: &str, region: &str, platform: &str) -> Result<IngestRequest, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e}"))?;
    if v.get("raw_content").is_some() {
        serde_json::from_value(v).map_err(|e| format!("not an IngestRequest: {e}"))
    } else {
        Ok(IngestRequest {
            platform: platform.into(),
            raw_content: v,
            region: region.into(),
        })
    }
}

pub async fn file(
    app: &App,
    path: &Path,
    format: &str,
    region: &str,
    concurrency: usize,
) -> anyhow::Result<Report> {
    app.migrate().await?;
    let parsed = match format {
        "jsonl" => read_jsonl(path, region, "generic")?,
        "tmdb-export" => read_jsonl(path, region, "tmdb")?,
        "wikipedia-movies" => read_wikipedia_movies(path)?,
        other => anyhow::bail!(
            "unknown --format `{other}` (supported: jsonl, tmdb-export, wikipedia-movies)"
        ),
    };
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(parsed.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} ingest [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let titles = app.titles();
    let started = Instant::now();
    let mut report = Report::default();
    let mut results =
        futures::stream::iter(parsed.chunks(CHUNK))
            .map(|chunk| {
                let titles = titles.clone();
                async move {
                    let requests: Vec<IngestRequest> = chunk
                        .iter()
                        .filter_map(|r| r.as_ref().ok().cloned())
                        .collect();
                    let mut answers = titles.ingest_many(&requests).await.into_iter();
                    chunk
                        .iter()
                        .map(|r| match r {
                            Err(e) => Err(e.clone()),
                            Ok(_) => answers
                                .next()
                                .expect("one answer per request")
                                .map_err(|e| match e {
                                    CommandError::Validation(v) => format!("invalid: {v}"),
                                    other => other.to_string(),
                                }),
                        })
                        .collect::<Vec<_>>()
                }
            })
            .buffer_unordered(concurrency.max(1))
            .flat_map(futures::stream::iter);
    while let Some(res) = results.next().await {
        bar.inc(1);
        match res {
            Ok(r) if r.events == 0 => report.unchanged += 1,
            Ok(r) => match r.action {
                IngestAction::Created => report.created += 1,
                IngestAction::Updated => report.updated += 1,
                IngestAction::Merged => report.merged += 1,
            },
            Err(reason) => {
                report.rejected += 1;
                if report.reasons.len() < 20 || report.reasons.contains_key(&reason) {
                    *report.reasons.entry(reason).or_default() += 1;
                }
            }
        }
    }
    bar.finish_and_clear();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

type Parsed = Vec<Result<IngestRequest, String>>;

/// One JSON record per line; parse errors are reported per line. `platform` applies to bare records
/// (`generic` canonical titles, or `tmdb` details objects as dumped by `GET /3/movie/{id}`).
fn read_jsonl(path: &Path, region: &str, platform: &str) -> anyhow::Result<Parsed> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| to_request(l, region, platform).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect())
}

/// The Wikipedia American-films dataset (`movies-*.json` arrays of {title, year, cast, genres,
/// href, extract}); `path` is one file or the folder holding them. Only the year is known, so the
/// release date is 1 January of it; the article slug is the `wikipedia` external id.
fn read_wikipedia_movies(path: &Path) -> anyhow::Result<Parsed> {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut f: Vec<_> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        f.sort();
        f
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let items: Vec<Value> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON array", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, m) in items.into_iter().enumerate() {
            out.push(wikipedia_movie(&m).map_err(|e| format!("{name}[{i}]: {e}")));
        }
    }
    Ok(out)
}

fn wikipedia_movie(m: &Value) -> Result<IngestRequest, String> {
    let year = m
        .get("year")
        .and_then(Value::as_i64)
        .ok_or("`year` is missing or not a number")?;
    let mut raw = serde_json::json!({
        "content_type": "movie",
        "title": m.get("title").cloned().unwrap_or(Value::Null),
        "release_date": format!("{year:04}-01-01"),
        "genres": m.get("genres").cloned().unwrap_or(Value::Null),
        "overview": m.get("extract").cloned().unwrap_or(Value::Null),
        "cast": m.get("cast").cloned().unwrap_or(Value::Null),
    });
    if let Some(href) = m
        .get("href")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
    {
        raw["external_ids"] = serde_json::json!({ "wikipedia": href });
    }
    Ok(IngestRequest {
        platform: "generic".into(),
        raw_content: raw,
        region: "US".into(),
    })
}

impl Report {
    pub fn print(&self) {
        let total = self.created + self.updated + self.merged + self.unchanged + self.rejected;
        println!(
            "ingested {total} records in {:.2} s ({:.0}/s): created {}, updated {}, merged {}, unchanged {}, rejected {}",
            self.seconds,
            total as f64 / self.seconds.max(1e-9),
            self.created,
            self.updated,
            self.merged,
            self.unchanged,
            self.rejected
        );
        for (reason, n) in &self.reasons {
            println!("  rejected ×{n}: {reason}");
        }
    }
}
