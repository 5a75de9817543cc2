//! Streaming Availability API v4 show objects (`GET /shows/{id}`, items of `/shows/search/filters`):
//! `streamingOptions` keyed by lower-case country, with prices, quality, `availableSince` and
//! `expiresOn` (Unix seconds).

use serde_json::Value;

use super::reader::{as_obj, root, MAX_ITEMS};
use super::{quality, title_text, Draft, OfferDraft};
use crate::catalog::{AvailabilityType, CanonicalTitle, ContentType};
use crate::error::ValidationErrors;

pub(super) fn parse(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(o) = root(raw, &mut errs) else {
        return Err(errs);
    };
    let mut d = Draft::default();
    d.id("streaming_availability", o.id("id", true, &mut errs));
    d.id("imdb", o.id("imdbId", false, &mut errs));
    if let Some(t) = o.id("tmdbId", false, &mut errs) {
        match t.split_once('/') {
            Some(("movie", id)) if !id.is_empty() => d.id("tmdb_movie", Some(id.to_string())),
            Some(("tv", id)) if !id.is_empty() => d.id("tmdb_tv", Some(id.to_string())),
            _ => errs.push(o.p("tmdbId"), "must look like `movie/603` or `tv/1396`"),
        }
    }
    let series = match o.text("showType", true, 20, &mut errs).as_deref() {
        Some("movie") => Some(false),
        Some("series") => Some(true),
        None => None,
        Some(_) => {
            errs.push(o.p("showType"), "must be `movie` or `series`");
            None
        }
    };
    d.content_type = series.map(|s| {
        if s {
            ContentType::Series
        } else {
            ContentType::Movie
        }
    });
    d.title(title_text(&o, "title", true, &mut errs));
    d.original_title = title_text(&o, "originalTitle", false, &mut errs);
    d.overview = o.overview("overview", &mut errs);
    let year_f = if series == Some(true) {
        "firstAirYear"
    } else {
        "releaseYear"
    };
    d.release_date = o.year(year_f, &mut errs);
    if !o.has(year_f) {
        errs.push(o.p(year_f), "is required");
    }
    d.genres = o.genres("genres", &mut errs);
    d.rating = o.rating("rating", 100.0, None, &mut errs);
    d.runtime_minutes = o
        .int("runtime", 0..=6000, &mut errs)
        .filter(|m| *m > 0)
        .map(|m| m as u16);
    d.cast = o.names("cast", 15);

    let country = region.to_ascii_lowercase();
    if let Some(so) = o.obj("streamingOptions", false, &mut errs) {
        for item in so.items(&country, MAX_ITEMS, &mut errs) {
            let Some(s) = as_obj(&item, &mut errs) else {
                continue;
            };
            let service = s.obj("service", true, &mut errs);
            let platform = service.as_ref().and_then(|sv| sv.platform("id", &mut errs));
            let availability_type = match s.text("type", true, 20, &mut errs).as_deref() {
                None => None,
                Some("subscription" | "addon") => Some(AvailabilityType::Subscription),
                Some("rent") => Some(AvailabilityType::Rent),
                Some("buy") => Some(AvailabilityType::Buy),
                Some("free") => Some(AvailabilityType::Free),
                Some(_) => {
                    errs.push(
                        s.p("type"),
                        "must be one of subscription, addon, rent, buy, free",
                    );
                    None
                }
            };
            let link = s.web_url("link", true, &mut errs);
            let video_link = s.link("videoLink", &mut errs);
            let price = s.price("price", &mut errs);
            let available_from = s.epoch_seconds("availableSince", &mut errs);
            let expires_at = s.epoch_seconds("expiresOn", &mut errs);
            let (Some(platform), Some(availability_type), Some(link)) =
                (platform, availability_type, link)
            else {
                continue;
            };
            d.offer(
                region,
                OfferDraft {
                    platform,
                    availability_type,
                    price,
                    deep_link: video_link.unwrap_or_else(|| link.clone()),
                    web_url: link,
                    available_from,
                    expires_at,
                    video_quality: s.get("quality").and_then(Value::as_str).and_then(quality),
                },
            );
        }
    }
    d.finish(errs)
}
