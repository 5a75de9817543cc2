//! The availability change feed per region and platform ("new arrivals", "leaving", price changes),
//! projected from the log, so it can be read from any point in time; plus a live Server-Sent Events
//! stream of the same feed and the "leaving soon" list.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures::Stream;
use mediagw_auth::ClientIp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::ApiError;

const MAX_LIMIT: i64 = 500;

/// Live change streams open at once, in all and per client address: each holds a connection
/// open, so an anonymous client must not be able to open thousands.
pub const MAX_STREAMS: usize = 1_000;
pub const MAX_STREAMS_PER_IP: usize = 4;

/// How often the one shared poller looks for new changes (it only reads the catalog projector's
/// position; streams query their own filter when that moved).
const POLL: Duration = Duration::from_millis(250);

/// A change can be projected a moment before its title (they arrive on different topics): a live
/// stream holds an untitled change this long for the title to land rather than send it without one.
const TITLE_WAIT: Duration = Duration::from_secs(5);
/// Only a change this recent is held: an old one without a title (its title merged away) will not
/// get one, and a stream replaying history must not stall on each.
const FRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The feed's shared state: the pool, the stream caps and the change signal every stream waits on.
pub struct Feed {
    pool: PgPool,
    streams: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    moved: watch::Receiver<i64>,
}

/// A stream's place under the caps, released when the stream ends.
struct StreamSlot {
    feed: Arc<Feed>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut per_ip = self.feed.per_ip.lock().expect("stream caps lock");
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        metrics::gauge!("availability_streams").decrement(1.0);
    }
}

impl Feed {
    /// Starts the shared poller (until `shutdown`).
    pub fn start(pool: PgPool, shutdown: CancellationToken) -> Arc<Feed> {
        let (tx, moved) = watch::channel(0i64);
        let poller = pool.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => {}
                }
                // No stream open: no query.
                if tx.receiver_count() <= 1 {
                    continue;
                }
                match sqlx::query_scalar::<_, i64>(
                    "SELECT COALESCE(sum(next_offset), 0)::int8 FROM catalog.projector_offsets",
                )
                .fetch_one(&poller)
                .await
                {
                    Ok(head) => {
                        tx.send_if_modified(|h| std::mem::replace(h, head) != head);
                    }
                    Err(e) => tracing::warn!(error = %e, "availability feed poll failed"),
                }
            }
        });
        Arc::new(Feed {
            pool,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            per_ip: Mutex::new(HashMap::new()),
            moved,
        })
    }

    fn open(self: &Arc<Self>, ip: IpAddr) -> Result<StreamSlot, ApiError> {
        let busy = || ApiError::RateLimited { retry_after_s: 30 };
        let permit = self
            .streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy())?;
        let mut per_ip = self.per_ip.lock().expect("stream caps lock");
        let n = per_ip.entry(ip).or_default();
        if *n >= MAX_STREAMS_PER_IP {
            metrics::counter!("availability_streams_refused_total").increment(1);
            return Err(busy());
        }
        *n += 1;
        metrics::gauge!("availability_streams").increment(1.0);
        Ok(StreamSlot {
            feed: self.clone(),
            ip,
            _permit: permit,
        })
    }
}

pub fn router(feed: Arc<Feed>) -> Router {
    Router::new()
        .route("/v1/availability/changes", get(changes))
        .route("/v1/availability/changes/stream", get(stream))
        .route("/v1/availability/leaving-soon", get(leaving_soon))
        .with_state(feed)
}

#[derive(Debug, Deserialize)]
pub struct FeedQuery {
    pub region: String,
    pub platform: Option<String>,
    /// Only this kind: `arrived` (new arrivals), `left`, `price_changed`, `expiry_set`, `updated`.
    pub change: Option<String>,
    /// RFC 3339; changes at or after this time.
    pub since: Option<String>,
    /// Cursor from a previous page's `next`.
    pub after: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Change {
    pub content_id: Uuid,
    pub sequence: i64,
    pub change: String,
    pub platform: String,
    pub region: String,
    pub availability_type: String,
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub video_quality: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// Pass as `after` to continue; absent when the page is the end of the feed for now.
    pub next: Option<String>,
}

/// Position in the feed: (occurred_at µs, content id, sequence).
type Cursor = (i64, Uuid, i64);

fn cursor_of(c: &Change) -> String {
    format!(
        "{}_{}_{}",
        c.occurred_at.timestamp_micros(),
        c.content_id,
        c.sequence
    )
}

fn parse_cursor(s: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::BadRequest {
        field: "after",
        message: "not a cursor returned by this feed".into(),
    };
    let mut it = s.split('_');
    let t = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let id = it
        .next()
        .and_then(|x| Uuid::parse_str(x).ok())
        .ok_or_else(bad)?;
    let q = it.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    Ok((t, id, q))
}

struct Filter {
    region: String,
    platform: Option<String>,
    change: Option<String>,
    start: Cursor,
}

/// Kinds of rows in the feed (see the catalog projector).
pub const CHANGE_KINDS: [&str; 5] = ["arrived", "left", "price_changed", "expiry_set", "updated"];

fn filter(q: &FeedQuery) -> Result<Filter, ApiError> {
    let region = mediagw_domain::catalog::normalize_region(&q.region).ok_or_else(|| {
        ApiError::BadRequest {
            field: "region",
            message: format!("`{}` is not an ISO 3166-1 alpha-2 code", q.region),
        }
    })?;
    let platform = q
        .platform
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if let Some(p) = &platform {
        if !mediagw_domain::catalog::is_slug(p) {
            return Err(ApiError::BadRequest {
                field: "platform",
                message: format!("`{p}` is not a platform slug"),
            });
        }
    }
    let start = match (&q.after, &q.since) {
        (Some(a), _) => parse_cursor(a)?,
        (None, Some(s)) => {
            let t = DateTime::parse_from_rfc3339(s).map_err(|_| ApiError::BadRequest {
                field: "since",
                message: format!("`{s}` is not an RFC 3339 timestamp"),
            })?;
            // Just before `since`, so changes at exactly that instant are included.
            (t.timestamp_micros() - 1, Uuid::max(), i64::MAX)
        }
        (None, None) => (i64::MIN, Uuid::nil(), 0),
    };
    let change = match q.change.as_deref() {
        None | Some("") => None,
        Some(c) if CHANGE_KINDS.contains(&c) => Some(c.to_string()),
        Some(c) => {
            return Err(ApiError::BadRequest {
                field: "change",
                message: format!(
                    "unknown change `{}` (expected one of: {})",
                    c.chars().take(40).collect::<String>(),
                    CHANGE_KINDS.join(", ")
                ),
            })
        }
    };
    Ok(Filter {
        region,
        platform,
        change,
        start,
    })
}

async fn page(pool: &PgPool, f: &Filter, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
    sqlx::query_as::<_, Change>(
        "SELECT ch.content_id, ch.sequence, ch.change, ch.platform, ch.region, ch.availability_type, ch.price_amount,
                ch.price_currency, ch.expires_at, ch.video_quality, ch.occurred_at, c.title
         FROM catalog.availability_changes ch LEFT JOIN catalog.content c ON c.id = ch.content_id
         WHERE ch.region = $1 AND ($2::text IS NULL OR ch.platform = $2) AND ($7::text IS NULL OR ch.change = $7)
           AND (ch.occurred_at, ch.content_id, ch.sequence) > (to_timestamp($3::bigint / 1e6), $4, $5)
         ORDER BY ch.occurred_at, ch.content_id, ch.sequence
         LIMIT $6",
    )
    .bind(&f.region)
    .bind(&f.platform)
    .bind(f.start.0.max(-62_135_596_800_000_000))
    .bind(f.start.1)
    .bind(f.start.2)
    .bind(limit)
    .bind(&f.change)
    .fetch_all(pool)
    .await
}

/// `GET /v1/availability/changes?region=US&platform=netflix&since=…&after=…&limit=…`
async fn changes(
    State(feed): State<Arc<Feed>>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest {
            field: "limit",
            message: format!("must be 1 to {MAX_LIMIT}"),
        });
    }
    let f = filter(&q)?;
    let changes = page(&feed.pool, &f, limit).await?;
    let next = (changes.len() as i64 == limit)
        .then(|| changes.last().map(cursor_of))
        .flatten();
    Ok(Json(FeedPage { changes, next }))
}

/// `GET /v1/availability/changes/stream?region=US[&platform=…][&since=…]`: Server-Sent Events, one
/// `change` event per row (its id is the cursor, so a client can resume with `after`). Without
/// `since`/`after` the stream starts at the current end of the feed. A change whose title has not
/// landed yet is held up to `TITLE_WAIT` so live events carry the title.
async fn stream(
    State(feed): State<Arc<Feed>>,
    ip: Option<axum::Extension<ClientIp>>,
    Query(q): Query<FeedQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut f = filter(&q)?;
    if q.since.is_none() && q.after.is_none() {
        f.start = (Utc::now().timestamp_micros(), Uuid::nil(), 0);
    }
    let ip = ip.map_or(IpAddr::from([0, 0, 0, 0]), |e| e.0 .0);
    let slot = feed.open(ip)?;
    let moved = feed.moved.clone();
    // Reads its page, then sleeps until the shared poller sees the catalog move.
    let events = futures::stream::unfold(
        (slot, moved, f, Vec::<Change>::new(), None),
        |(slot, mut moved, mut f, mut buffered, mut untitled_since)| async move {
            loop {
                if let Some(c) = (!buffered.is_empty()).then(|| buffered.remove(0)) {
                    f.start = (c.occurred_at.timestamp_micros(), c.content_id, c.sequence);
                    let ev = Event::default()
                        .event("change")
                        .id(cursor_of(&c))
                        .json_data(&c)
                        .unwrap_or_default();
                    return Some((Ok(ev), (slot, moved, f, buffered, untitled_since)));
                }
                moved.mark_unchanged();
                match page(&slot.feed.pool, &f, 200).await {
                    Ok(mut rows) if !rows.is_empty() => {
                        let held = *untitled_since.get_or_insert_with(std::time::Instant::now);
                        match hold(&rows, Utc::now(), held.elapsed()) {
                            Hold::Wait => {
                                let _ = tokio::time::timeout(POLL, moved.changed()).await;
                                continue;
                            }
                            Hold::Send(n) => rows.truncate(n),
                        }
                        untitled_since = None;
                        buffered = rows;
                    }
                    Ok(_) => {
                        if moved.changed().await.is_err() {
                            return None;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "availability stream query failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// What a live stream does with a page it read.
#[derive(Debug, PartialEq)]
enum Hold {
    /// Send the first n changes.
    Send(usize),
    /// The first change is fresh and untitled: wait for its title.
    Wait,
}

/// `waited`: how long the page's first change has been held already. Complete changes before a
/// fresh untitled one go out; the untitled one waits at the head up to `TITLE_WAIT`.
fn hold(rows: &[Change], now: DateTime<Utc>, waited: Duration) -> Hold {
    match rows
        .iter()
        .position(|c| c.title.is_none() && c.occurred_at > now - FRESH)
    {
        Some(0) if waited < TITLE_WAIT => Hold::Wait,
        Some(0) | None => Hold::Send(rows.len()),
        Some(i) => Hold::Send(i),
    }
}

#[derive(Debug, Deserialize)]
pub struct LeavingQuery {
    pub region: String,
    pub platform: Option<String>,
    pub within_days: Option<i64>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Leaving {
    pub content_id: Uuid,
    pub title: Option<String>,
    pub platform: String,
    pub availability_type: String,
    pub expires_at: DateTime<Utc>,
    pub web_url: String,
}

/// `GET /v1/availability/leaving-soon?region=US[&platform=…][&within_days=7]`
async fn leaving_soon(
    State(feed): State<Arc<Feed>>,
    Query(q): Query<LeavingQuery>,
) -> Result<Json<Vec<Leaving>>, ApiError> {
    let days = q.within_days.unwrap_or(7);
    if !(1..=365).contains(&days) {
        return Err(ApiError::BadRequest {
            field: "within_days",
            message: "must be 1 to 365".into(),
        });
    }
    let f = filter(&FeedQuery {
        region: q.region,
        platform: q.platform,
        change: None,
        since: None,
        after: None,
        limit: None,
    })?;
    let rows = sqlx::query_as::<_, Leaving>(
        "SELECT a.content_id, c.title, a.platform, a.availability_type, a.expires_at, a.web_url
         FROM catalog.platform_availability a LEFT JOIN catalog.content c ON c.id = a.content_id
         WHERE a.region = $1 AND ($2::text IS NULL OR a.platform = $2)
           AND a.expires_at > now() AND a.expires_at <= now() + make_interval(days => $3::int)
         ORDER BY a.expires_at, a.content_id LIMIT 500",
    )
    .bind(&f.region)
    .bind(&f.platform)
    .bind(days as i32)
    .fetch_all(&feed.pool)
    .await?;
    Ok(Json(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(title: Option<&str>, age_s: i64, now: DateTime<Utc>) -> Change {
        Change {
            content_id: Uuid::nil(),
            sequence: 1,
            change: "arrived".into(),
            platform: "hulu".into(),
            region: "US".into(),
            availability_type: "subscription".into(),
            price_amount: None,
            price_currency: None,
            expires_at: None,
            video_quality: None,
            occurred_at: now - chrono::TimeDelta::seconds(age_s),
            title: title.map(str::to_string),
        }
    }

    #[test]
    fn a_live_stream_waits_briefly_for_a_fresh_changes_title() {
        let now = Utc::now();
        let zero = Duration::ZERO;
        // Complete changes before an untitled one go out; the untitled one waits at the head.
        let page = [
            change(Some("Gamma"), 1, now),
            change(None, 1, now),
            change(Some("Delta"), 1, now),
        ];
        assert_eq!(hold(&page, now, zero), Hold::Send(1));
        assert_eq!(hold(&page[1..], now, zero), Hold::Wait);
        // Given up after TITLE_WAIT: sent without a title rather than never.
        assert_eq!(hold(&page[1..], now, TITLE_WAIT), Hold::Send(2));
        // An old change without a title (merged away) is not held: replays do not stall.
        assert_eq!(hold(&[change(None, 3_600, now)], now, zero), Hold::Send(1));
        assert_eq!(hold(&page[..1], now, zero), Hold::Send(1));
    }
}
