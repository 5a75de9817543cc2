//! Watchmode v1 title details with sources (`GET /v1/title/{id}/details/?append_to_response=sources`).
//!
//! Sources carry a price without a currency: it is the region's currency. A source is listed once
//! per format (SD/HD/4K); the best format is kept.

use serde_json::Value;

use super::reader::{as_obj, root, MAX_ITEMS};
use super::{quality, region_currency, title_text, Draft, OfferDraft};
use crate::catalog::{AvailabilityType, CanonicalTitle, ContentType};
use crate::error::ValidationErrors;

pub(super) fn parse(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(o) = root(raw, &mut errs) else {
        return Err(errs);
    };
    let mut d = Draft::default();
    d.id("watchmode", o.id("id", true, &mut errs));
    d.id("imdb", o.id("imdb_id", false, &mut errs));
    let tmdb_type = match o.get("tmdb_type").and_then(Value::as_str) {
        Some("tv") => "tmdb_tv",
        _ => "tmdb_movie",
    };
    d.id(
        tmdb_type,
        o.id("tmdb_id", false, &mut errs).filter(|v| v != "0"),
    );

    d.content_type = match o.text("type", true, 50, &mut errs).as_deref() {
        None => None,
        Some("movie" | "tv_movie") => Some(ContentType::Movie),
        Some("tv_series" | "tv_miniseries") => Some(ContentType::Series),
        Some("tv_special") => Some(ContentType::Special),
        Some("short_film") => Some(ContentType::Short),
        Some(t) => {
            errs.push(
                o.p("type"),
                format!(
                    "unknown Watchmode type `{}` (movie, tv_series, tv_miniseries, tv_special, tv_movie, short_film)",
                    super::reader::clip(t)
                ),
            );
            None
        }
    };
    d.title(title_text(&o, "title", true, &mut errs));
    d.original_title = title_text(&o, "original_title", false, &mut errs);
    d.overview = o.overview("plot_overview", &mut errs);
    d.release_date = o
        .date("release_date", &mut errs)
        .or_else(|| o.year("year", &mut errs));
    if d.release_date.is_none() && !o.has("release_date") && !o.has("year") {
        errs.push(o.p("release_date"), "is required (or `year`)");
    }
    d.genres = o.genres("genre_names", &mut errs);
    // Watchmode's `user_rating` (0–10) counts no votes; `critic_score` is critics, not audiences.
    d.rating = o.rating("user_rating", 10.0, None, &mut errs);
    d.runtime_minutes = o
        .int("runtime_minutes", 0..=6000, &mut errs)
        .filter(|m| *m > 0)
        .map(|m| m as u16);

    for item in o.items("sources", MAX_ITEMS, &mut errs) {
        let Some(s) = as_obj(&item, &mut errs) else {
            continue;
        };
        if !s.in_region("region", region, &mut errs) {
            continue;
        }
        let availability_type = match s.text("type", true, 20, &mut errs).as_deref() {
            None => continue,
            Some("sub" | "tve") => AvailabilityType::Subscription,
            Some("rent") => AvailabilityType::Rent,
            Some("buy") => AvailabilityType::Buy,
            Some("free") => AvailabilityType::Free,
            Some(t) => {
                errs.push(
                    s.p("type"),
                    format!(
                        "unknown source type `{}` (sub, tve, rent, buy, free)",
                        super::reader::clip(t)
                    ),
                );
                continue;
            }
        };
        let platform = s.platform("name", &mut errs);
        let web_url = s.web_url("web_url", true, &mut errs);
        let ios = s.link("ios_url", &mut errs);
        let android = s.link("android_url", &mut errs);
        let price = s.amount("price", &mut errs);
        let (Some(platform), Some(web_url)) = (platform, web_url) else {
            continue;
        };
        d.offer(
            region,
            OfferDraft {
                platform,
                availability_type,
                price: price.and_then(|p| Some((p, region_currency(region)?.to_string()))),
                deep_link: ios.or(android).unwrap_or_else(|| web_url.clone()),
                web_url,
                available_from: None,
                expires_at: None,
                video_quality: s.get("format").and_then(Value::as_str).and_then(quality),
            },
        );
    }
    d.finish(errs)
}
