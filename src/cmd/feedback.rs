//! `mediagw ingest feedback --ratings <file> --items <file> --format movielens|movietweetings|jsonl
//! [--titles create|match]`: rating datasets through the product's command path. Titles go through
//! entity resolution (matched to catalog titles, created when unknown; `--titles match` only
//! matches, so a dataset's titles never add bare records to a catalog that has its own). Each
//! rating becomes a `Rated` feedback of the dataset user `N`, whose id is the UUIDv5 of
//! `"<format>:N"`, with the original timestamp and an event id derived from (user, item,
//! timestamp), so a re-run records nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use mediagw_commands::{IngestAction, IngestRequest};
use mediagw_domain::history::TitleRef;
use mediagw_domain::interaction::{Feedback, Signal};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::App;

/// Titles per bulk transaction.
const TITLE_CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// MovieLens: `u.data` (tab-separated `user item rating timestamp`, 1–5) or `ratings.dat`
    /// (`::`-separated); `u.item` (`|`-separated, latin-1) or `movies.dat` (`::`).
    Movielens,
    /// MovieTweetings: `ratings.dat` (`user::imdb id::rating::timestamp`, 0–10) and `movies.dat`.
    Movietweetings,
    /// One JSON object per line: ratings `{"user","item","rating","timestamp"[,"scale"]}`,
    /// items `{"id","title","year"[,"genres","imdb"]}`.
    Jsonl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Movielens => "movielens",
            Format::Movietweetings => "movietweetings",
            Format::Jsonl => "jsonl",
        }
    }

    /// The scale ratings are on (JSONL lines may say otherwise).
    pub fn scale(self) -> u8 {
        match self {
            Format::Movielens => 5,
            Format::Movietweetings | Format::Jsonl => 10,
        }
    }

    /// The dataset user's id in the product.
    pub fn user_id(self, user: &str) -> Uuid {
        Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("{}:{user}", self.name()).as_bytes(),
        )
    }
}

/// What happens to a dataset's title the catalog does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Titles {
    /// Ingested as a catalog record (created when unknown, merged when matched).
    #[default]
    Create,
    /// Only matched (IMDb id, then title and year); ratings of unmatched titles are counted as
    /// unknown and not sent. Nothing is written to the catalog.
    Match,
}

/// A rating as the dataset has it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRating {
    pub user: String,
    pub item: String,
    pub rating: f32,
    pub scale: u8,
    pub at_s: i64,
}

/// A title as the dataset has it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawItem {
    pub id: String,
    pub title: String,
    pub year: Option<i32>,
    pub genres: Vec<String>,
    pub imdb: Option<String>,
}

/// Bytes as text: UTF-8 when valid, else latin-1 (MovieLens-100k's `u.item`).
fn text(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
    })
}

pub fn read_ratings(path: &Path, format: Format) -> anyhow::Result<Vec<RawRating>> {
    let text = text(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        if format == Format::Jsonl {
            #[derive(Deserialize)]
            struct J {
                user: serde_json::Value,
                item: serde_json::Value,
                rating: f32,
                timestamp: i64,
                #[serde(default)]
                scale: Option<u8>,
            }
            let j: J = serde_json::from_str(line).with_context(at)?;
            let s = |v: serde_json::Value| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            out.push(RawRating {
                user: s(j.user),
                item: s(j.item),
                rating: j.rating,
                scale: j.scale.unwrap_or(format.scale()),
                at_s: j.timestamp,
            });
            continue;
        }
        let fields: Vec<&str> = if line.contains("::") {
            line.split("::").collect()
        } else {
            line.split(['\t', ',']).collect()
        };
        anyhow::ensure!(
            fields.len() >= 4,
            "{}: expected user, item, rating, timestamp",
            at()
        );
        out.push(RawRating {
            user: fields[0].trim().to_string(),
            item: fields[1].trim().to_string(),
            rating: fields[2]
                .trim()
                .parse()
                .with_context(|| format!("{}: rating", at()))?,
            scale: format.scale(),
            at_s: fields[3]
                .trim()
                .parse()
                .with_context(|| format!("{}: timestamp", at()))?,
        });
    }
    Ok(out)
}

/// MovieLens-100k's genre flags, in column order.
const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Dataset genre names in the catalog's vocabulary.
fn genre(g: &str) -> Option<String> {
    let g = g.trim().to_lowercase();
    Some(match g.as_str() {
        "" | "unknown" | "(no genres listed)" => return None,
        "sci-fi" => "science fiction".into(),
        "children's" | "children" => "family".into(),
        "film-noir" => "noir".into(),
        _ => g,
    })
}

/// `"Shawshank Redemption, The (1994)"` → (`"The Shawshank Redemption"`, 1994).
pub fn title_and_year(raw: &str) -> (String, Option<i32>) {
    let raw = raw.trim();
    let (mut title, year) = match raw.rfind(" (") {
        Some(i) if raw.ends_with(')') => {
            let inner = &raw[i + 2..raw.len() - 1];
            match inner.parse::<i32>() {
                Ok(y) => (raw[..i].trim().to_string(), Some(y)),
                Err(_) => (raw.to_string(), None),
            }
        }
        _ => (raw.to_string(), None),
    };
    for article in [
        "The", "A", "An", "Les", "La", "Le", "Il", "Das", "Der", "Die", "El",
    ] {
        let suffix = format!(", {article}");
        if title.ends_with(&suffix) {
            title = format!("{article} {}", &title[..title.len() - suffix.len()]);
            break;
        }
    }
    (title, year)
}

pub fn read_items(path: &Path, format: Format) -> anyhow::Result<Vec<RawItem>> {
    let text = text(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        if format == Format::Jsonl {
            #[derive(Deserialize)]
            struct J {
                id: serde_json::Value,
                title: String,
                #[serde(default)]
                year: Option<i32>,
                #[serde(default)]
                genres: Vec<String>,
                #[serde(default)]
                imdb: Option<String>,
            }
            let j: J = serde_json::from_str(line).with_context(at)?;
            out.push(RawItem {
                id: match j.id {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
                title: j.title,
                year: j.year,
                genres: j.genres.iter().filter_map(|g| genre(g)).collect(),
                imdb: j.imdb,
            });
            continue;
        }
        if line.contains("::") {
            // movies.dat: id::Title (Year)::Genre|Genre
            let f: Vec<&str> = line.splitn(3, "::").collect();
            anyhow::ensure!(f.len() >= 2, "{}: expected id::title::genres", at());
            let (title, year) = title_and_year(f[1]);
            let id = f[0].trim().to_string();
            out.push(RawItem {
                imdb: (format == Format::Movietweetings).then(|| format!("tt{id}")),
                id,
                title,
                year,
                genres: f
                    .get(2)
                    .map_or(vec![], |g| g.split('|').filter_map(genre).collect()),
            });
        } else {
            // u.item: id|title (year)|release date|video release|IMDb URL|19 genre flags
            let f: Vec<&str> = line.split('|').collect();
            anyhow::ensure!(f.len() >= 2, "{}: expected id|title|…", at());
            let (title, mut year) = title_and_year(f[1]);
            if year.is_none() {
                year = f
                    .get(2)
                    .and_then(|d| d.rsplit('-').next())
                    .and_then(|y| y.parse().ok());
            }
            let flags = f.len().saturating_sub(19);
            let genres = if f.len() >= 24 {
                f[flags..]
                    .iter()
                    .zip(ML100K_GENRES)
                    .filter(|(v, _)| v.trim() == "1")
                    .filter_map(|(_, g)| genre(g))
                    .collect()
            } else {
                vec![]
            };
            out.push(RawItem {
                id: f[0].trim().to_string(),
                title,
                year,
                genres,
                imdb: None,
            });
        }
    }
    Ok(out)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    pub titles_created: u64,
    pub titles_merged: u64,
    pub titles_existing: u64,
    pub titles_rejected: u64,
    /// Titles `--titles match` found no catalog title for.
    pub titles_unmatched: u64,
    pub users: u64,
    pub recorded: u64,
    pub duplicates: u64,
    /// Ratings of items the items file does not list (or whose title was rejected).
    pub unknown_items: u64,
    pub rejected: u64,
    pub reasons: BTreeMap<String, u64>,
    pub seconds: f64,
}

impl Report {
    pub fn print(&self) {
        println!(
            "feedback import in {:.1} s: titles created {}, matched to existing titles {} (merged {}), not matched {}, rejected {}; \
             {} users, {} ratings recorded, {} already recorded, {} of unknown items, {} rejected",
            self.seconds,
            self.titles_created,
            self.titles_existing + self.titles_merged,
            self.titles_merged,
            self.titles_unmatched,
            self.titles_rejected,
            self.users,
            self.recorded,
            self.duplicates,
            self.unknown_items,
            self.rejected
        );
        for (reason, n) in &self.reasons {
            println!("  rejected ×{n}: {reason}");
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = if std::io::stderr().is_terminal() {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Matches the dataset's titles to catalog titles without writing anything (the lookup history
/// imports use: IMDb id, then title and year with a "same" verdict).
pub async fn match_titles(
    app: &App,
    items: &[RawItem],
    report: &mut Report,
) -> anyhow::Result<HashMap<String, Uuid>> {
    let refs: Vec<TitleRef> = items
        .iter()
        .map(|i| TitleRef {
            imdb: i.imdb.clone(),
            title: Some(i.title.clone()),
            year: i.year,
            kind: Some("movie".into()),
            ..TitleRef::default()
        })
        .collect();
    let mut ids = HashMap::new();
    for (chunk, refs) in items.chunks(TITLE_CHUNK).zip(refs.chunks(TITLE_CHUNK)) {
        let matched = mediagw_commands::resolution::lookup(&app.pool, refs).await?;
        for (item, m) in chunk.iter().zip(matched) {
            match m {
                Some(m) => {
                    report.titles_existing += 1;
                    ids.insert(item.id.clone(), m.content_id);
                }
                None => report.titles_unmatched += 1,
            }
        }
    }
    Ok(ids)
}

/// Resolves the dataset's titles to catalog titles (entity resolution; created when unknown).
pub async fn ingest_titles(
    app: &App,
    items: &[RawItem],
    report: &mut Report,
) -> anyhow::Result<HashMap<String, Uuid>> {
    let titles = app.titles();
    let bar = bar(items.len() as u64, "titles");
    let mut ids = HashMap::new();
    for chunk in items.chunks(TITLE_CHUNK) {
        let requests: Vec<IngestRequest> = chunk.iter().map(item_request).collect();
        let answers = titles.ingest_many(&requests).await;
        for (item, answer) in chunk.iter().zip(answers) {
            match answer {
                Ok(r) => {
                    match (r.action, r.events) {
                        (IngestAction::Created, _) => report.titles_created += 1,
                        (IngestAction::Merged, _) => report.titles_merged += 1,
                        _ => report.titles_existing += 1,
                    }
                    ids.insert(item.id.clone(), r.content_id);
                }
                Err(e) => {
                    report.titles_rejected += 1;
                    let reason = format!("title {}: {e}", item.id);
                    if report.reasons.len() < 20 {
                        report.reasons.insert(reason, 1);
                    }
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(ids)
}

fn item_request(item: &RawItem) -> IngestRequest {
    let mut raw = serde_json::json!({
        "content_type": "movie",
        "title": item.title,
        "genres": item.genres,
    });
    if let Some(y) = item.year {
        raw["release_date"] = format!("{y:04}-01-01").into();
    }
    raw["external_ids"] = match &item.imdb {
        Some(imdb) => serde_json::json!({ "imdb": imdb }),
        None => serde_json::json!({ "movielens": item.id }),
    };
    IngestRequest {
        platform: "generic".into(),
        raw_content: raw,
        region: "US".into(),
    }
}

/// The ratings as feedback, per product user (ratings of unknown items are counted, not sent).
pub fn to_feedback(
    format: Format,
    ratings: &[RawRating],
    titles: &HashMap<String, Uuid>,
    report: &mut Report,
) -> BTreeMap<Uuid, Vec<Feedback>> {
    let mut by_user: BTreeMap<Uuid, Vec<Feedback>> = BTreeMap::new();
    for r in ratings {
        let Some(content_id) = titles.get(&r.item) else {
            report.unknown_items += 1;
            continue;
        };
        let user = format.user_id(&r.user);
        let event = format!("{}:{}:{}:{}", format.name(), r.user, r.item, r.at_s);
        by_user.entry(user).or_default().push(Feedback {
            event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, event.as_bytes()),
            content_id: *content_id,
            signal: Signal::Rated {
                rating: r.rating.round().clamp(0.0, 255.0) as u8,
                scale: r.scale,
            },
            at_ms: r.at_s * 1000,
        });
    }
    by_user
}

/// Records each user's feedback through the `UserInteractions` aggregate (four users at a time).
pub async fn record(
    app: &App,
    by_user: BTreeMap<Uuid, Vec<Feedback>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let service = app.interactions();
    let total: usize = by_user.values().map(Vec::len).sum();
    let bar = bar(total as u64, "ratings");
    report.users += by_user.len() as u64;
    let mut results = futures::stream::iter(by_user)
        .map(|(user, feedback)| {
            let service = service.clone();
            async move {
                let mut out = Vec::new();
                for chunk in feedback.chunks(mediagw_domain::interaction::MAX_BATCH) {
                    out.push((chunk.len(), service.feedback(user, chunk.to_vec()).await));
                }
                out
            }
        })
        .buffer_unordered(4);
    while let Some(batches) = results.next().await {
        for (n, r) in batches {
            bar.inc(n as u64);
            match r {
                Ok(r) => {
                    report.recorded += r.recorded as u64;
                    report.duplicates += r.duplicates as u64;
                }
                Err(e) => {
                    report.rejected += n as u64;
                    let reason = e.to_string();
                    if report.reasons.len() < 20 || report.reasons.contains_key(&reason) {
                        *report.reasons.entry(reason).or_default() += n as u64;
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

pub async fn ingest(
    app: &App,
    ratings: &Path,
    items: &Path,
    format: Format,
    mode: Titles,
) -> anyhow::Result<Report> {
    app.migrate().await?;
    let started = Instant::now();
    let items = read_items(items, format)?;
    let ratings = read_ratings(ratings, format)?;
    let mut report = Report::default();
    let titles = match mode {
        Titles::Create => ingest_titles(app, &items, &mut report).await?,
        Titles::Match => match_titles(app, &items, &mut report).await?,
    };
    let by_user = to_feedback(format, &ratings, &titles, &mut report);
    record(app, by_user, &mut report).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_their_year_and_get_their_article_back() {
        assert_eq!(
            title_and_year("Shawshank Redemption, The (1994)"),
            ("The Shawshank Redemption".into(), Some(1994))
        );
        assert_eq!(title_and_year("Heat (1995)"), ("Heat".into(), Some(1995)));
        assert_eq!(title_and_year("Untitled"), ("Untitled".into(), None));
    }

    #[test]
    fn both_item_layouts_parse() {
        let dir = std::env::temp_dir().join(format!("mgw-items-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let dat = dir.join("movies.dat");
        std::fs::write(&dat, "0133093::The Matrix (1999)::Action|Sci-Fi\n").unwrap();
        let items = read_items(&dat, Format::Movietweetings).unwrap();
        assert_eq!(items[0].imdb.as_deref(), Some("tt0133093"));
        assert_eq!(items[0].genres, vec!["action", "science fiction"]);
        // u.item in latin-1 (é = 0xE9).
        let uitem = dir.join("u.item");
        let mut line =
            b"1|Am\xe9lie (2001)|01-Jan-2001||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|1|0|0|0|0\n"
                .to_vec();
        line.extend_from_slice(
            b"2|Heat (1995)|01-Jan-1995||http://x|0|1|0|0|0|0|1|0|0|0|0|0|0|0|0|0|1|0|0\n",
        );
        std::fs::write(&uitem, line).unwrap();
        let items = read_items(&uitem, Format::Movielens).unwrap();
        assert_eq!(items[0].title, "Amélie");
        assert_eq!(items[0].genres, vec!["comedy", "romance"]);
        assert_eq!(items[1].genres, vec!["action", "crime", "thriller"]);
        let udata = dir.join("u.data");
        std::fs::write(&udata, "196\t242\t3\t881250949\n").unwrap();
        let r = read_ratings(&udata, Format::Movielens).unwrap();
        assert_eq!(
            (r[0].user.as_str(), r[0].rating, r[0].scale),
            ("196", 3.0, 5)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dataset_users_get_stable_ids_per_format() {
        assert_eq!(
            Format::Movielens.user_id("1"),
            Format::Movielens.user_id("1")
        );
        assert_ne!(
            Format::Movielens.user_id("1"),
            Format::Movietweetings.user_id("1")
        );
    }
}
