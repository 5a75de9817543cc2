//! TMDb v3 movie and TV details (`GET /3/movie/{id}` or `/3/tv/{id}` with
//! `append_to_response=external_ids,watch/providers,credits`).
//!
//! TMDb lists where a title streams (JustWatch data) but no prices and no per-platform links: every
//! offer points at TMDb's watch page for the region, which links out to the services.

use serde_json::Value;

use super::reader::{as_obj, root, Obj};
use super::{title_text, Draft, OfferDraft};
use crate::catalog::{AvailabilityType, CanonicalTitle, ContentType};
use crate::error::ValidationErrors;

pub(super) fn parse(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(o) = root(raw, &mut errs) else {
        return Err(errs);
    };
    let mut d = Draft::default();

    let is_tv = match o.get("media_type").and_then(Value::as_str) {
        Some("tv") => true,
        Some("movie") => false,
        Some(_) => {
            errs.push(o.p("media_type"), "must be `movie` or `tv`");
            false
        }
        None => !o.m.contains_key("title") && (o.has("name") || o.has("first_air_date")),
    };
    let (title_f, original_f, date_f) = if is_tv {
        ("name", "original_name", "first_air_date")
    } else {
        ("title", "original_title", "release_date")
    };
    d.content_type = Some(if is_tv {
        ContentType::Series
    } else {
        ContentType::Movie
    });
    let id_type = if is_tv { "tmdb_tv" } else { "tmdb_movie" };
    d.id(id_type, o.id("id", true, &mut errs));
    d.title(title_text(&o, title_f, true, &mut errs));
    d.original_title = title_text(&o, original_f, false, &mut errs);
    d.overview = o.overview("overview", &mut errs);
    d.release_date = o.date(date_f, &mut errs);
    if d.release_date.is_none() && !errs.0.iter().any(|e| e.field == o.p(date_f)) {
        errs.push(
            o.p(date_f),
            "is required (TMDb has no date for this title yet)",
        );
    }
    d.genres = o.genres("genres", &mut errs);
    d.rating = o.rating("vote_average", 10.0, Some("vote_count"), &mut errs);
    d.runtime_minutes = if is_tv {
        match o.get("episode_run_time") {
            Some(Value::Array(a)) => a.first().and_then(Value::as_u64),
            _ => None,
        }
        .filter(|m| (1..=6000).contains(m))
        .map(|m| m as u16)
    } else {
        o.int("runtime", 0..=6000, &mut errs)
            .filter(|m| *m > 0)
            .map(|m| m as u16)
    };

    // Ids can sit at the top level (movie details) and under `external_ids` (append_to_response).
    d.id("imdb", o.id("imdb_id", false, &mut errs));
    if let Some(x) = o.obj("external_ids", false, &mut errs) {
        if let Some(imdb) = x.id("imdb_id", false, &mut errs) {
            d.id("imdb", Some(imdb));
        }
        d.id("tvdb", x.id("tvdb_id", false, &mut errs));
        d.id("wikidata", x.id("wikidata_id", false, &mut errs));
    }
    if let Some(credits) = o.obj("credits", false, &mut errs) {
        d.cast = credits.names("cast", 15);
    }

    if let Some(wp) = o.obj("watch/providers", false, &mut errs) {
        if let Some(results) = wp.obj("results", false, &mut errs) {
            if let Some(r) = results.obj(region, false, &mut errs) {
                offers(&r, region, &mut d, &mut errs);
            }
        }
    }
    d.finish(errs)
}

fn offers(r: &Obj<'_>, region: &str, d: &mut Draft, errs: &mut ValidationErrors) {
    const KINDS: [(&str, AvailabilityType); 5] = [
        ("flatrate", AvailabilityType::Subscription),
        ("free", AvailabilityType::Free),
        ("ads", AvailabilityType::Ads),
        ("rent", AvailabilityType::Rent),
        ("buy", AvailabilityType::Buy),
    ];
    if !KINDS.iter().any(|(k, _)| r.has(k)) {
        return;
    }
    let Some(link) = r.web_url("link", true, errs) else {
        return;
    };
    for (kind, availability_type) in KINDS {
        for item in r.items(kind, super::reader::MAX_ITEMS, errs) {
            let Some(p) = as_obj(&item, errs) else {
                continue;
            };
            let Some(platform) = p.platform("provider_name", errs) else {
                continue;
            };
            d.offer(
                region,
                OfferDraft {
                    platform,
                    availability_type,
                    price: None,
                    deep_link: link.clone(),
                    web_url: link.clone(),
                    available_from: None,
                    expires_at: None,
                    video_quality: None,
                },
            );
        }
    }
}
