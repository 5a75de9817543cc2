//! A person's viewing history in and out of the product: the `mediagw` export document (the GDPR
//! access right, and a lossless import format) and the parsers of other services' exports (Trakt
//! JSON, Letterboxd CSV, IMDb CSV). Pure: files in, typed entries out, every problem with its line.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::interaction::Subscription;

/// Problems reported per file at most (the first ones are what a person fixes first).
pub const MAX_ERRORS: usize = 20;

/// Where a user's history comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryFormat {
    /// Trakt JSON export: `watched-history.json`/`history`, `ratings-*.json`, `watchlist-*.json`,
    /// `playback` (one array per file, or one object holding several arrays).
    Trakt,
    /// Letterboxd CSV export: `diary.csv`, `ratings.csv`, `watched.csv`, `watchlist.csv`.
    Letterboxd,
    /// IMDb CSV export: ratings (`Const,Your Rating,Date Rated,…`) or a list/watchlist
    /// (`Position,Const,Created,…`).
    Imdb,
    /// This product's own export document ([`UserExport`]).
    Mediagw,
}

impl HistoryFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "trakt" => Some(Self::Trakt),
            "letterboxd" => Some(Self::Letterboxd),
            "imdb" => Some(Self::Imdb),
            "mediagw" => Some(Self::Mediagw),
            _ => None,
        }
    }
}

/// Which Letterboxd/IMDb list a CSV is, when its header cannot tell (Letterboxd's `watched.csv`
/// and `watchlist.csv` share one header): given by the caller or taken from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    Diary,
    Ratings,
    Watched,
    Watchlist,
}

impl ListKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "diary" => Some(Self::Diary),
            "ratings" => Some(Self::Ratings),
            "watched" | "history" => Some(Self::Watched),
            "watchlist" => Some(Self::Watchlist),
            _ => None,
        }
    }

    /// From a file name such as `watchlist.csv` or `ratings-movies.json`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        [
            ("watchlist", Self::Watchlist),
            ("diary", Self::Diary),
            ("rating", Self::Ratings),
            ("watched", Self::Watched),
            ("history", Self::Watched),
        ]
        .into_iter()
        .find(|(k, _)| n.contains(k))
        .map(|(_, v)| v)
    }
}

/// How an entry names its title; matched to the catalog by entity resolution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TitleRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// `movie` or `series`, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl fmt::Display for TitleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.title, self.year, &self.imdb, self.content_id) {
            (Some(t), Some(y), _, _) => write!(f, "{t} ({y})"),
            (Some(t), None, _, _) => write!(f, "{t}"),
            (None, _, Some(i), _) => write!(f, "{i}"),
            (None, _, None, Some(c)) => write!(f, "{c}"),
            _ => write!(f, "(untitled)"),
        }
    }
}

/// What a person did with a title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "lowercase")]
pub enum Entry {
    Watched {
        completion: f32,
    },
    /// `rating` on `scale` (5: 1–5, 10: 0–10), as the product's feedback takes it.
    Rated {
        rating: u8,
        scale: u8,
    },
    /// On the watchlist.
    Added,
    Dismissed,
    /// Where playback stands: an exact position, or a fraction of the runtime (Trakt's progress).
    Position {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<f32>,
    },
}

/// One entry of an imported file.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// 1-based line of the file the entry starts on.
    pub line: usize,
    pub title: TitleRef,
    pub entry: Entry,
    pub at: DateTime<Utc>,
    /// Stable within the source (format, list, title, time, entry id): a re-import of the same file
    /// derives the same event ids and records nothing twice.
    pub source_key: String,
    pub route: Route,
}

/// Which commands an entry becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    /// Feedback, and for watchlist and playback entries the synced watchlist or position too.
    #[default]
    Both,
    /// A recorded feedback event only (a `mediagw` history entry).
    Feedback,
    /// The synced watchlist or playback position only (a `mediagw` watchlist or position entry).
    Sync,
}

/// An entry understood but not imported, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub line: usize,
    pub reason: String,
}

/// A parsed file: everything in it is valid, or nothing is returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedHistory {
    pub items: Vec<HistoryItem>,
    pub skipped: Vec<Skipped>,
    /// Services and region (the `mediagw` format only).
    pub services: Option<ServicesExport>,
}

/// A problem at a line of an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// An entry whose title is not in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmatched {
    pub line: usize,
    pub title: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub user_id: Uuid,
    /// Entries understood in the file.
    pub entries: usize,
    /// Entries whose title was found in the catalog.
    pub matched: usize,
    /// Feedback events newly recorded (watched, rated, watchlisted, dismissed).
    pub feedback_recorded: usize,
    /// Watchlist additions and playback positions newly synced.
    pub sync_operations: usize,
    /// Entries imported before (the same file twice, or the same entry in two files).
    pub duplicates: usize,
    pub services_set: bool,
    pub unmatched: Vec<Unmatched>,
    pub skipped: Vec<Skipped>,
}

/// What erasing a user removed (`DELETE /v1/user/{id}`). Records published to Kafka are not
/// deleted but made unreadable: the key they were sealed with is gone (ADR 0024).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErasureReport {
    pub user_id: Uuid,
    /// Whether the key sealing the user's published records existed and is now destroyed.
    pub key_destroyed: bool,
    pub events_deleted: u64,
    /// Rows deleted per `schema.table` (account, read models).
    pub rows_deleted: BTreeMap<String, u64>,
    pub cache_keys_deleted: u64,
    /// Live access tokens put on the deny list.
    pub tokens_revoked: u64,
}

/// Parses a whole file; any error rejects the file (nothing is imported from a file with errors).
pub fn parse(
    format: HistoryFormat,
    list: Option<ListKind>,
    text: &str,
) -> Result<ParsedHistory, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        HistoryFormat::Trakt => trakt(text),
        HistoryFormat::Letterboxd => letterboxd(list, text),
        HistoryFormat::Imdb => imdb(list, text),
        HistoryFormat::Mediagw => mediagw(text),
    }
}

/// Collects errors up to [`MAX_ERRORS`].
#[derive(Default)]
struct Errors(Vec<LineError>);

impl Errors {
    fn push(&mut self, line: usize, message: impl Into<String>) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(LineError {
                line,
                message: message.into(),
            });
        }
    }
    fn finish(self, parsed: ParsedHistory) -> Result<ParsedHistory, Vec<LineError>> {
        if self.0.is_empty() {
            Ok(parsed)
        } else {
            Err(self.0)
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn json_error(e: serde_json::Error) -> Vec<LineError> {
    vec![LineError {
        line: e.line().max(1),
        message: format!("not valid JSON: {e}"),
    }]
}

fn timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(12, 0, 0).expect("noon exists").and_utc());
    }
    Err(format!(
        "`{raw}` is not a date (YYYY-MM-DD) or an RFC 3339 time"
    ))
}

// ---------------------------------------------------------------- Trakt

/// `{"title", "year", "ids": {"trakt", "slug", "imdb", "tmdb"}}`.
#[derive(Deserialize)]
struct TraktMedia {
    title: Option<String>,
    year: Option<i32>,
    #[serde(default)]
    ids: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct TraktEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<serde_json::Value>,
    movie: Option<TraktMedia>,
    show: Option<TraktMedia>,
    watched_at: Option<String>,
    last_watched_at: Option<String>,
    rated_at: Option<String>,
    rating: Option<serde_json::Value>,
    listed_at: Option<String>,
    paused_at: Option<String>,
    progress: Option<f64>,
}

fn trakt(text: &str) -> Result<ParsedHistory, Vec<LineError>> {
    // One array per file, or an object of arrays (several lists exported together).
    let lists: Vec<(String, Vec<&serde_json::value::RawValue>)> =
        if text.trim_start().starts_with('[') {
            vec![(
                String::new(),
                serde_json::from_str(text).map_err(json_error)?,
            )]
        } else {
            let object: BTreeMap<String, &serde_json::value::RawValue> =
                serde_json::from_str(text).map_err(json_error)?;
            let mut out = Vec::new();
            for (name, raw) in object {
                if raw.get().trim_start().starts_with('[') {
                    out.push((name, serde_json::from_str(raw.get()).map_err(json_error)?));
                }
            }
            out
        };
    let mut parsed = ParsedHistory::default();
    let mut errors = Errors::default();
    for (list, entries) in lists {
        for raw in entries {
            let line = line_of(text, raw.get().as_ptr() as usize - text.as_ptr() as usize);
            let e: TraktEntry = match serde_json::from_str(raw.get()) {
                Ok(e) => e,
                Err(err) => {
                    errors.push(line, format!("not a Trakt entry: {err}"));
                    continue;
                }
            };
            match trakt_entry(&list, e, line) {
                Ok(Ok(item)) => parsed.items.push(item),
                Ok(Err(skip)) => parsed.skipped.push(Skipped { line, reason: skip }),
                Err(message) => errors.push(line, message),
            }
        }
    }
    errors.finish(parsed)
}

/// `Ok(Err(reason))`: understood but not imported.
fn trakt_entry(
    list: &str,
    e: TraktEntry,
    line: usize,
) -> Result<Result<HistoryItem, String>, String> {
    let kind = e
        .kind
        .as_deref()
        .unwrap_or(if e.show.is_some() && e.movie.is_none() {
            "show"
        } else {
            "movie"
        });
    let media = match kind {
        "movie" => e.movie.as_ref(),
        "show" => e.show.as_ref(),
        "episode" | "season" => {
            return Ok(Err(format!(
                "{kind}-level entries are not tracked (titles only)"
            )))
        }
        other => return Err(format!("unknown `type` `{other}`")),
    }
    .ok_or_else(|| format!("a `{kind}` entry needs a `{kind}` object"))?;
    let id = |k: &str| {
        media.ids.get(k).and_then(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let title = TitleRef {
        content_id: None,
        imdb: id("imdb"),
        tmdb: id("tmdb"),
        title: media.title.clone(),
        year: media.year,
        kind: Some(if kind == "show" { "series" } else { "movie" }.into()),
    };
    if title.imdb.is_none() && title.tmdb.is_none() && title.title.is_none() {
        return Err("the entry names no title (no `title` and no imdb/tmdb id)".into());
    }
    let list = ListKind::from_file_name(list);
    let (entry, at) = if let Some(rating) = &e.rating {
        let rating = rating
            .as_u64()
            .filter(|r| (1..=10).contains(r))
            .ok_or("`rating` must be a whole number from 1 to 10")?;
        let at = e.rated_at.as_deref().ok_or("a rating needs `rated_at`")?;
        (
            Entry::Rated {
                rating: rating as u8,
                scale: 10,
            },
            timestamp(at)?,
        )
    } else if let Some(progress) = e.progress {
        if !(0.0..=100.0).contains(&progress) {
            return Err("`progress` must be a percentage from 0 to 100".into());
        }
        let at = e
            .paused_at
            .as_deref()
            .ok_or("a playback entry needs `paused_at`")?;
        (
            Entry::Position {
                position_ms: None,
                duration_ms: None,
                progress: Some((progress / 100.0) as f32),
            },
            timestamp(at)?,
        )
    } else if let Some(at) = e.listed_at.as_deref() {
        (Entry::Added, timestamp(at)?)
    } else if let Some(at) = e.watched_at.as_deref().or(e.last_watched_at.as_deref()) {
        (Entry::Watched { completion: 1.0 }, timestamp(at)?)
    } else {
        return Err(match list {
            Some(l) => format!("a {l:?} entry needs its date (`watched_at`, `rated_at`, `listed_at` or `paused_at`)").to_lowercase(),
            None => "no `watched_at`, `rated_at`, `listed_at` or `paused_at`: not a history, rating, watchlist or playback entry".into(),
        });
    };
    let entry_id = e.id.map(|v| v.to_string()).unwrap_or_default();
    Ok(Ok(HistoryItem {
        line,
        route: Route::Both,
        source_key: format!(
            "trakt:{}:{}:{}:{}:{entry_id}",
            entry_name(&entry),
            title
                .imdb
                .as_deref()
                .or(title.tmdb.as_deref())
                .unwrap_or_default(),
            title.title.as_deref().unwrap_or_default(),
            at.timestamp_millis()
        ),
        title,
        entry,
        at,
    }))
}

fn entry_name(e: &Entry) -> &'static str {
    match e {
        Entry::Watched { .. } => "watched",
        Entry::Rated { .. } => "rated",
        Entry::Added => "added",
        Entry::Dismissed => "dismissed",
        Entry::Position { .. } => "position",
    }
}

// ---------------------------------------------------------------- CSV (Letterboxd, IMDb)

struct Csv {
    header: Vec<String>,
    records: Vec<(usize, csv::StringRecord)>,
}

/// The line a record starting at byte `at` is on. Counted from the text (the reader's own line
/// count is one short for CRLF files: a record "starts" at the `\n` of the previous `\r\n`).
fn record_line(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = at.min(bytes.len());
    while at < bytes.len() && (bytes[at] == b'\r' || bytes[at] == b'\n') {
        at += 1;
    }
    line_of(text, at)
}

fn read_csv(text: &str) -> Result<Csv, Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            vec![LineError {
                line: 1,
                message: format!("unreadable CSV header: {e}"),
            }]
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut records = Vec::new();
    let mut errors = Errors::default();
    for r in reader.records() {
        match r {
            Ok(r) => {
                let line = r
                    .position()
                    .map_or(0, |p| record_line(text, p.byte() as usize));
                if r.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                records.push((line, r));
            }
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| record_line(text, p.byte() as usize));
                errors.push(line, format!("malformed CSV: {e}"));
            }
        }
    }
    if !errors.0.is_empty() {
        return Err(errors.0);
    }
    Ok(Csv { header, records })
}

impl Csv {
    fn has(&self, column: &str) -> bool {
        self.header.iter().any(|h| h.eq_ignore_ascii_case(column))
    }
    fn get<'r>(&self, r: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let i = self
            .header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(column))?;
        r.get(i).map(str::trim).filter(|v| !v.is_empty())
    }
    fn require<'r>(&self, r: &'r csv::StringRecord, column: &str) -> Result<&'r str, String> {
        self.get(r, column)
            .ok_or_else(|| format!("`{column}` is empty"))
    }
    fn missing(&self, columns: &[&str]) -> Result<(), Vec<LineError>> {
        let missing: Vec<&str> = columns.iter().copied().filter(|c| !self.has(c)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(vec![LineError {
            line: 1,
            message: format!(
                "the header lacks {} (found: {})",
                missing
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.header.join(", ")
            ),
        }])
    }
}

fn year(raw: Option<&str>) -> Result<Option<i32>, String> {
    raw.map(|y| {
        y.parse::<i32>()
            .ok()
            .filter(|y| (1870..=2100).contains(y))
            .ok_or_else(|| format!("`Year` `{y}` is not a year"))
    })
    .transpose()
}

fn letterboxd(list: Option<ListKind>, text: &str) -> Result<ParsedHistory, Vec<LineError>> {
    let csv = read_csv(text)?;
    csv.missing(&["Date", "Name", "Year"])?;
    let kind = if csv.has("Watched Date") {
        ListKind::Diary
    } else if csv.has("Rating") && list != Some(ListKind::Diary) {
        ListKind::Ratings
    } else {
        // watched.csv and watchlist.csv share their header: the caller says which.
        list.filter(|l| matches!(l, ListKind::Watched | ListKind::Watchlist))
            .unwrap_or(ListKind::Watched)
    };
    let mut parsed = ParsedHistory::default();
    let mut errors = Errors::default();
    for (line, r) in &csv.records {
        let line = *line;
        let result = (|| -> Result<Vec<HistoryItem>, String> {
            let title = TitleRef {
                title: Some(csv.require(r, "Name")?.to_string()),
                year: year(csv.get(r, "Year"))?,
                kind: Some("movie".into()),
                ..TitleRef::default()
            };
            let date = match kind {
                ListKind::Diary => csv
                    .get(r, "Watched Date")
                    .or(csv.get(r, "Date"))
                    .ok_or("`Watched Date` is empty")?,
                _ => csv.require(r, "Date")?,
            };
            let at = timestamp(date)?;
            let uri = csv.get(r, "Letterboxd URI").unwrap_or_default();
            let rating = csv
                .get(r, "Rating")
                .map(|v| {
                    let stars: f32 = v
                        .parse()
                        .map_err(|_| format!("`Rating` `{v}` is not a number"))?;
                    let halves = stars * 2.0;
                    if !(1.0..=10.0).contains(&halves) || halves.fract() != 0.0 {
                        return Err(format!(
                            "`Rating` `{v}` must be 0.5 to 5 stars in half steps"
                        ));
                    }
                    Ok(halves as u8)
                })
                .transpose()?;
            let key = |e: &str| format!("letterboxd:{e}:{uri}:{}:{}", title, at.timestamp_millis());
            let mut out = Vec::new();
            let mut push = |entry: Entry| {
                out.push(HistoryItem {
                    line,
                    route: Route::Both,
                    source_key: key(entry_name(&entry)),
                    title: title.clone(),
                    entry,
                    at,
                })
            };
            match kind {
                ListKind::Diary | ListKind::Watched => push(Entry::Watched { completion: 1.0 }),
                ListKind::Watchlist => push(Entry::Added),
                ListKind::Ratings => {}
            }
            if let Some(rating) = rating {
                push(Entry::Rated { rating, scale: 10 });
            } else if kind == ListKind::Ratings {
                return Err("`Rating` is empty".into());
            }
            Ok(out)
        })();
        match result {
            Ok(items) => parsed.items.extend(items),
            Err(m) => errors.push(line, m),
        }
    }
    errors.finish(parsed)
}

fn imdb(list: Option<ListKind>, text: &str) -> Result<ParsedHistory, Vec<LineError>> {
    let csv = read_csv(text)?;
    csv.missing(&["Const", "Title"])?;
    let ratings = csv.has("Your Rating") && !csv.has("Position") || list == Some(ListKind::Ratings);
    if ratings {
        csv.missing(&["Your Rating", "Date Rated"])?;
    } else {
        csv.missing(&["Created"])?;
    }
    let mut parsed = ParsedHistory::default();
    let mut errors = Errors::default();
    for (line, r) in &csv.records {
        let line = *line;
        let result = (|| -> Result<Option<HistoryItem>, String> {
            let id = csv.require(r, "Const")?;
            if !(id.starts_with("tt")
                && id.len() > 2
                && id[2..].bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!("`Const` `{id}` is not an IMDb title id (tt…)"));
            }
            let kind = csv.get(r, "Title Type").map(|t| {
                if t.to_ascii_lowercase().contains("series") {
                    "series"
                } else {
                    "movie"
                }
            });
            if csv.get(r, "Title Type").is_some_and(|t| {
                t.eq_ignore_ascii_case("tvEpisode") || t.eq_ignore_ascii_case("TV Episode")
            }) {
                return Ok(None);
            }
            let title = TitleRef {
                imdb: Some(id.to_string()),
                title: Some(csv.require(r, "Title")?.to_string()),
                year: year(csv.get(r, "Year"))?,
                kind: kind.map(str::to_string),
                ..TitleRef::default()
            };
            let (entry, date) = if ratings {
                let v = csv.require(r, "Your Rating")?;
                let rating = v
                    .parse::<u8>()
                    .ok()
                    .filter(|r| (1..=10).contains(r))
                    .ok_or_else(|| {
                        format!("`Your Rating` `{v}` must be a whole number from 1 to 10")
                    })?;
                (
                    Entry::Rated { rating, scale: 10 },
                    csv.require(r, "Date Rated")?,
                )
            } else {
                (Entry::Added, csv.require(r, "Created")?)
            };
            let at = timestamp(date)?;
            Ok(Some(HistoryItem {
                line,
                route: Route::Both,
                source_key: format!("imdb:{}:{id}:{}", entry_name(&entry), at.timestamp_millis()),
                title,
                entry,
                at,
            }))
        })();
        match result {
            Ok(Some(item)) => parsed.items.push(item),
            Ok(None) => parsed.skipped.push(Skipped {
                line,
                reason: "episodes are not tracked (titles only)".into(),
            }),
            Err(m) => errors.push(line, m),
        }
    }
    errors.finish(parsed)
}

// ---------------------------------------------------------------- mediagw

pub const EXPORT_FORMAT: &str = "mediagw.user-export";
pub const EXPORT_VERSION: u32 = 1;

/// A title as an export names it: the product's id plus what another system matches on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportTitle {
    pub content_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imdb: Option<String>,
}

impl ExportTitle {
    fn to_ref(&self) -> TitleRef {
        TitleRef {
            content_id: Some(self.content_id),
            imdb: self.imdb.clone(),
            tmdb: None,
            title: self.title.clone(),
            year: self.year,
            kind: None,
        }
    }
}

/// One feedback event (watched, rated, added, dismissed), as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub event_id: Uuid,
    #[serde(flatten)]
    pub title: ExportTitle,
    #[serde(flatten)]
    pub entry: Entry,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistRecord {
    #[serde(flatten)]
    pub title: ExportTitle,
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionRecord {
    #[serde(flatten)]
    pub title: ExportTitle,
    pub position_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicesExport {
    pub region: Option<String>,
    pub services: Vec<Subscription>,
}

/// Everything the product holds about one user (`GET /v1/user/{id}/export`). `history`,
/// `watchlist`, `positions` and `services` are what an import of this document restores; the rest
/// is account data shown for the access right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserExport {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub user_id: Uuid,
    #[serde(default)]
    pub profile: serde_json::Value,
    #[serde(default)]
    pub services: ServicesExport,
    #[serde(default)]
    pub history: Vec<HistoryRecord>,
    #[serde(default)]
    pub watchlist: Vec<WatchlistRecord>,
    #[serde(default)]
    pub positions: Vec<PositionRecord>,
    #[serde(default)]
    pub devices: Vec<serde_json::Value>,
    #[serde(default)]
    pub consents: Vec<serde_json::Value>,
    /// Every other row held about the user, by `schema.table` (sessions, token families, read
    /// models' derived data), secrets left out.
    #[serde(default)]
    pub records: BTreeMap<String, Vec<serde_json::Value>>,
}

fn mediagw(text: &str) -> Result<ParsedHistory, Vec<LineError>> {
    let doc: UserExport = serde_json::from_str(text).map_err(json_error)?;
    if doc.format != EXPORT_FORMAT || doc.version != EXPORT_VERSION {
        return Err(vec![LineError {
            line: 1,
            message: format!(
                "`format`/`version` must be `{EXPORT_FORMAT}`/{EXPORT_VERSION} (found `{}`/{})",
                doc.format, doc.version
            ),
        }]);
    }
    // Entries carry no line of their own once parsed: report them by section and index.
    let mut parsed = ParsedHistory {
        services: Some(doc.services),
        ..ParsedHistory::default()
    };
    let mut errors = Errors::default();
    for (i, h) in doc.history.into_iter().enumerate() {
        if let Entry::Rated { rating, scale } = h.entry {
            if !(scale == 5 && (1..=5).contains(&rating) || scale == 10 && rating <= 10) {
                errors.push(
                    i + 1,
                    format!("history[{i}]: rating {rating} is not on a 1–5 or 0–10 scale"),
                );
                continue;
            }
        }
        parsed.items.push(HistoryItem {
            line: i + 1,
            title: h.title.to_ref(),
            entry: h.entry,
            at: h.at,
            route: Route::Feedback,
            source_key: format!("mediagw:{}", h.event_id),
        });
    }
    for w in doc.watchlist {
        parsed.items.push(HistoryItem {
            line: 0,
            route: Route::Sync,
            source_key: format!("mediagw:watchlist:{}", w.title.content_id),
            title: w.title.to_ref(),
            entry: Entry::Added,
            at: w.added_at,
        });
    }
    for p in doc.positions {
        parsed.items.push(HistoryItem {
            line: 0,
            route: Route::Sync,
            source_key: format!("mediagw:position:{}", p.title.content_id),
            title: p.title.to_ref(),
            entry: Entry::Position {
                position_ms: Some(p.position_ms),
                duration_ms: p.duration_ms,
                progress: None,
            },
            at: p.updated_at,
        });
    }
    errors.finish(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterboxd_diary_ratings_and_watchlist() {
        let diary = "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n\
                     2024-01-02,Heat,1995,https://boxd.it/a,4.5,,,2024-01-01\n\
                     2024-02-02,\"Crouching Tiger, Hidden Dragon\",2000,https://boxd.it/b,,Yes,,2024-02-01\n";
        let p = parse(HistoryFormat::Letterboxd, None, diary).unwrap();
        assert_eq!(p.items.len(), 3, "{:?}", p.items);
        assert_eq!(p.items[0].entry, Entry::Watched { completion: 1.0 });
        assert_eq!(
            p.items[1].entry,
            Entry::Rated {
                rating: 9,
                scale: 10
            }
        );
        assert_eq!(
            p.items[2].title.title.as_deref(),
            Some("Crouching Tiger, Hidden Dragon")
        );
        assert_eq!(p.items[2].line, 3);
        assert_eq!(p.items[0].at.date_naive().to_string(), "2024-01-01");

        let watchlist = "Date,Name,Year,Letterboxd URI\n2024-03-01,Alien,1979,https://boxd.it/c\n";
        let p = parse(
            HistoryFormat::Letterboxd,
            Some(ListKind::Watchlist),
            watchlist,
        )
        .unwrap();
        assert_eq!(p.items[0].entry, Entry::Added);
        let p = parse(HistoryFormat::Letterboxd, None, watchlist).unwrap();
        assert_eq!(p.items[0].entry, Entry::Watched { completion: 1.0 });
    }

    #[test]
    fn malformed_rows_are_reported_with_their_lines_and_nothing_is_returned() {
        let ratings = "Date,Name,Year,Letterboxd URI,Rating\n\
                       2024-01-02,Heat,1995,u,4\n\
                       2024-01-03,Alien,19x9,u,4\n\
                       2024-01-04,Up,2009,u,7\n\
                       not-a-date,Up,2009,u,3\n";
        let e = parse(HistoryFormat::Letterboxd, None, ratings).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5], "{e:?}");
        assert!(e[0].message.contains("Year"), "{}", e[0]);
        assert!(e[1].message.contains("half steps"), "{}", e[1]);

        let e = parse(HistoryFormat::Letterboxd, None, "Name,Year\nHeat,1995\n").unwrap_err();
        assert!(e[0].message.contains("`Date`"), "{}", e[0]);
        let e = parse(
            HistoryFormat::Imdb,
            None,
            "Const,Your Rating,Date Rated,Title\n\"tt1,2\n",
        )
        .unwrap_err();
        assert_eq!(e[0].line, 2, "{e:?}");
    }

    #[test]
    fn line_numbers_hold_for_crlf_files() {
        let crlf =
            "Date,Name,Year,Letterboxd URI\r\n2024-03-01,Alien,1979,u\r\n2024-03-02,Up,20x9,u\r\n";
        let e = parse(HistoryFormat::Letterboxd, Some(ListKind::Watched), crlf).unwrap_err();
        assert_eq!(e[0].line, 3, "{e:?}");
        let ok = "Date,Name,Year,Letterboxd URI\r\n2024-03-01,Alien,1979,u\r\n";
        let p = parse(HistoryFormat::Letterboxd, Some(ListKind::Watched), ok).unwrap();
        assert_eq!(p.items[0].line, 2);
    }

    #[test]
    fn imdb_ratings_and_watchlist() {
        let ratings = "Const,Your Rating,Date Rated,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year\n\
                       tt0113277,9,2023-05-01,Heat,https://www.imdb.com/title/tt0113277/,movie,8.3,170,1995\n\
                       tt0944947,8,2023-05-02,Game of Thrones,u,tvSeries,9.2,57,2011\n\
                       tt1480055,7,2023-05-03,Winter Is Coming,u,tvEpisode,8.9,62,2011\n";
        let p = parse(HistoryFormat::Imdb, None, ratings).unwrap();
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[0].title.imdb.as_deref(), Some("tt0113277"));
        assert_eq!(p.items[1].title.kind.as_deref(), Some("series"));
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].line, 4);

        let watchlist = "Position,Const,Created,Modified,Description,Title,URL,Title Type,IMDb Rating,Runtime (mins),Year\n\
                         1,tt0078748,2022-01-01,2022-01-01,,Alien,u,movie,8.5,117,1979\n";
        let p = parse(HistoryFormat::Imdb, None, watchlist).unwrap();
        assert_eq!(p.items[0].entry, Entry::Added);
        let e = parse(
            HistoryFormat::Imdb,
            None,
            "Const,Your Rating,Date Rated,Title\nnm0000158,9,2023-01-01,Tom\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("Const"), "{}", e[0]);
    }

    #[test]
    fn trakt_history_ratings_watchlist_and_playback() {
        let text = r#"{
  "history": [
    {"id": 1, "watched_at": "2023-01-01T20:00:00.000Z", "action": "watch", "type": "movie",
     "movie": {"title": "Heat", "year": 1995, "ids": {"trakt": 1, "imdb": "tt0113277", "tmdb": 949}}},
    {"id": 2, "watched_at": "2023-01-02T20:00:00.000Z", "type": "episode",
     "episode": {"season": 1, "number": 1}, "show": {"title": "Lost", "year": 2004, "ids": {}}}
  ],
  "ratings": [
    {"rated_at": "2023-01-03T00:00:00.000Z", "rating": 8, "type": "movie",
     "movie": {"title": "Alien", "year": 1979, "ids": {"imdb": "tt0078748"}}}
  ],
  "watchlist": [
    {"rank": 1, "id": 9, "listed_at": "2023-01-04T00:00:00.000Z", "type": "show",
     "show": {"title": "Dark", "year": 2017, "ids": {"tmdb": 70523}}}
  ],
  "playback": [
    {"progress": 42.5, "paused_at": "2023-01-05T00:00:00.000Z", "id": 7, "type": "movie",
     "movie": {"title": "Up", "year": 2009, "ids": {}}}
  ]
}"#;
        let p = parse(HistoryFormat::Trakt, None, text).unwrap();
        let entries: Vec<&Entry> = p.items.iter().map(|i| &i.entry).collect();
        assert_eq!(p.items.len(), 4, "{entries:?}");
        assert!(entries.contains(&&Entry::Watched { completion: 1.0 }));
        assert!(entries.contains(&&Entry::Rated {
            rating: 8,
            scale: 10
        }));
        assert!(entries.contains(&&Entry::Added));
        let heat = p
            .items
            .iter()
            .find(|i| i.title.title.as_deref() == Some("Heat"))
            .unwrap();
        assert_eq!(heat.line, 3);
        assert_eq!(heat.title.tmdb.as_deref(), Some("949"));
        assert_eq!(p.skipped.len(), 1);

        let bad = "[\n {\"type\": \"movie\", \"movie\": {\"title\": \"Heat\"}, \"rating\": 11, \"rated_at\": \"2023-01-01\"}\n]";
        let e = parse(HistoryFormat::Trakt, None, bad).unwrap_err();
        assert_eq!(e[0].line, 2);
        assert!(e[0].message.contains("rating"), "{}", e[0]);
        let e = parse(HistoryFormat::Trakt, None, "[\n{\"type\": \"movie\",\n").unwrap_err();
        assert!(e[0].message.contains("JSON"), "{}", e[0]);
    }

    #[test]
    fn a_mediagw_export_reads_back_as_its_entries() {
        let title = ExportTitle {
            content_id: Uuid::from_u128(5),
            title: Some("Heat".into()),
            year: Some(1995),
            imdb: None,
        };
        let at = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let doc = UserExport {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            exported_at: at,
            user_id: Uuid::from_u128(1),
            profile: serde_json::Value::Null,
            services: ServicesExport::default(),
            history: vec![HistoryRecord {
                event_id: Uuid::from_u128(9),
                title: title.clone(),
                entry: Entry::Rated {
                    rating: 4,
                    scale: 5,
                },
                at,
            }],
            watchlist: vec![WatchlistRecord {
                title: title.clone(),
                added_at: at,
            }],
            positions: vec![PositionRecord {
                title,
                position_ms: 60_000,
                duration_ms: Some(600_000),
                updated_at: at,
            }],
            devices: vec![],
            consents: vec![],
            records: BTreeMap::new(),
        };
        let text = serde_json::to_string_pretty(&doc).unwrap();
        assert_eq!(serde_json::from_str::<UserExport>(&text).unwrap(), doc);
        let p = parse(HistoryFormat::Mediagw, None, &text).unwrap();
        assert_eq!(p.items.len(), 3);
        assert_eq!(
            p.items[0].entry,
            Entry::Rated {
                rating: 4,
                scale: 5
            }
        );
        assert_eq!(p.items[0].title.content_id, Some(Uuid::from_u128(5)));
        let e = parse(HistoryFormat::Mediagw, None, "{\"format\": \"x\"}").unwrap_err();
        assert!(
            e[0].message.contains("JSON") || e[0].message.contains("format"),
            "{}",
            e[0]
        );
    }
}
