//! YouTube Data API v3 video resources (`videos.list?part=snippet,contentDetails,status`).
//!
//! A public video is a free (ad-supported) offer on `youtube` in every region it is not blocked in;
//! 40 minutes or longer counts as a movie, shorter as a short.

use serde_json::Value;

use super::reader::root;
use super::{title_text, Draft, OfferDraft};
use crate::catalog::{AvailabilityType, CanonicalTitle, ContentType};
use crate::error::ValidationErrors;

pub(super) fn parse(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(o) = root(raw, &mut errs) else {
        return Err(errs);
    };
    let mut d = Draft::default();
    if let Some(kind) = o.get("kind").and_then(Value::as_str) {
        if kind != "youtube#video" && kind != "youtube#searchResult" {
            errs.push(o.p("kind"), "must be `youtube#video`");
        }
    }
    // search.list results carry `id: {kind, videoId}`, videos.list a plain string.
    let id = match o.obj("id", false, &mut ValidationErrors::default()) {
        Some(idobj) => idobj.id("videoId", true, &mut errs),
        None => o.id("id", true, &mut errs),
    };
    let id = id.filter(|v| {
        let ok = v.len() <= 64
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !ok {
            errs.push(o.p("id"), "must be a YouTube video id ([A-Za-z0-9_-])");
        }
        ok
    });
    d.id("youtube", id.clone());

    let snippet = o.obj("snippet", true, &mut errs);
    if let Some(s) = &snippet {
        d.title(title_text(s, "title", true, &mut errs));
        d.overview = s.overview("description", &mut errs);
        d.release_date = s
            .timestamp("publishedAt", &mut errs)
            .map(|t| t.date_naive());
        if !s.has("publishedAt") {
            errs.push(s.p("publishedAt"), "is required");
        }
        d.genres = s
            .get("categoryId")
            .and_then(Value::as_str)
            .and_then(category)
            .map(|g| vec![g.to_string()])
            .unwrap_or_default();
    }
    let details = o.obj("contentDetails", true, &mut errs);
    let mut hd = None;
    let mut allowed_here = true;
    if let Some(c) = &details {
        match c.get("duration").and_then(Value::as_str) {
            Some(dur) => match parse_iso8601_duration_minutes(dur) {
                Some(m) => {
                    d.runtime_minutes = (m > 0).then_some(m.min(6000) as u16);
                    d.content_type = Some(if m >= 40 {
                        ContentType::Movie
                    } else {
                        ContentType::Short
                    });
                }
                None => errs.push(
                    c.p("duration"),
                    "must be an ISO 8601 duration such as PT1H32M10S",
                ),
            },
            None => errs.push(c.p("duration"), "is required"),
        }
        hd = c
            .get("definition")
            .and_then(Value::as_str)
            .map(|q| q == "hd");
        if let Some(rr) = c.obj("regionRestriction", false, &mut errs) {
            let listed = |k: &str| -> Option<bool> {
                rr.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().any(|r| r.as_str() == Some(region)))
            };
            if listed("blocked") == Some(true) || listed("allowed") == Some(false) {
                allowed_here = false;
            }
        }
    }
    let public = match o.obj("status", false, &mut errs) {
        Some(st) => st
            .get("privacyStatus")
            .and_then(Value::as_str)
            .is_none_or(|p| p == "public"),
        None => true,
    };
    if let (Some(id), true, true) = (id, public, allowed_here) {
        d.offer(
            region,
            OfferDraft {
                platform: "youtube".into(),
                availability_type: AvailabilityType::Ads,
                price: None,
                deep_link: format!("vnd.youtube://www.youtube.com/watch?v={id}"),
                web_url: format!("https://www.youtube.com/watch?v={id}"),
                available_from: None,
                expires_at: None,
                video_quality: hd.map(|hd| if hd { "hd" } else { "sd" }),
            },
        );
    }
    d.finish(errs)
}

/// `PT1H32M10S` → 93 (seconds round up); `P1DT2H` is accepted too. `None` if malformed.
pub fn parse_iso8601_duration_minutes(s: &str) -> Option<u32> {
    let rest = s.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut secs: u64 = 0;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut num = String::new();
        let mut unit_idx = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                if num.len() > 9 {
                    return None;
                }
            } else {
                let pos = units[unit_idx..].iter().position(|(u, _)| *u == c)? + unit_idx;
                let n: u64 = num.parse().ok()?;
                secs = secs.checked_add(n.checked_mul(units[pos].1)?)?;
                num.clear();
                unit_idx = pos + 1;
                any = true;
            }
        }
        num.is_empty().then_some(())
    };
    take(
        days,
        &[('Y', 365 * 86_400), ('W', 7 * 86_400), ('D', 86_400)],
    )?;
    take(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    if !any || (s.contains('T') && time.is_empty()) {
        return None;
    }
    u32::try_from(secs.div_ceil(60)).ok()
}

/// Genres for the YouTube video categories that describe films and shows.
fn category(id: &str) -> Option<&'static str> {
    Some(match id {
        "1" => "film & animation",
        "23" | "34" => "comedy",
        "27" => "education",
        "24" => "entertainment",
        "10" => "music",
        "17" => "sports",
        "25" => "news",
        "28" => "science & technology",
        "30" => "movies",
        "31" => "anime/animation",
        "35" => "documentary",
        "36" => "drama",
        "37" => "family",
        "39" => "horror",
        "40" => "sci-fi/fantasy",
        "41" => "thriller",
        "44" => "trailers",
        _ => return None,
    })
}
