//! Gracenote (TMS OnConnect) program records with their program availabilities. Field names follow
//! OnConnect's program resource (`tmsId`, `entityType`, `subType`, `releaseYear`, `runTime`,
//! `topCast`); availabilities carry `licenseType` (SVOD, TVOD, EST, AVOD, FVOD) per `countryCode`.

use serde_json::Value;

use super::reader::{as_obj, root, MAX_ITEMS};
use super::youtube::parse_iso8601_duration_minutes;
use super::{quality, title_text, Draft, OfferDraft};
use crate::catalog::{AvailabilityType, CanonicalTitle, ContentType};
use crate::error::ValidationErrors;

pub(super) fn parse(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(o) = root(raw, &mut errs) else {
        return Err(errs);
    };
    let mut d = Draft::default();
    d.id("gracenote", o.id("tmsId", true, &mut errs));
    if let Some(ids) = o.obj("externalIds", false, &mut errs) {
        d.id("imdb", ids.id("imdb", false, &mut errs));
        d.id("eidr", ids.id("eidr", false, &mut errs));
    }
    let sub = o
        .get("subType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    d.content_type = match o.text("entityType", true, 30, &mut errs).as_deref() {
        None => None,
        Some(_) if sub.contains("short") => Some(ContentType::Short),
        Some(_) if sub.contains("documentary") => Some(ContentType::Documentary),
        Some("Movie") => Some(ContentType::Movie),
        Some("Show" | "Series") => Some(ContentType::Series),
        Some("Episode") => Some(ContentType::Episode),
        Some("Sports" | "Special") => Some(ContentType::Special),
        Some(_) => {
            errs.push(
                o.p("entityType"),
                "must be one of Movie, Show, Series, Episode, Sports, Special",
            );
            None
        }
    };
    d.title(title_text(&o, "title", true, &mut errs));
    d.overview = o
        .overview("longDescription", &mut errs)
        .or_else(|| o.overview("shortDescription", &mut errs));
    d.release_date = o
        .date("releaseDate", &mut errs)
        .or_else(|| o.year("releaseYear", &mut errs));
    if !o.has("releaseDate") && !o.has("releaseYear") {
        errs.push(o.p("releaseYear"), "is required (or `releaseDate`)");
    }
    d.genres = o.genres("genres", &mut errs);
    if let Some(rt) = o.get("runTime") {
        match rt.as_str().and_then(parse_iso8601_duration_minutes) {
            Some(m) => d.runtime_minutes = (1..=6000).contains(&m).then_some(m as u16),
            None => errs.push(
                o.p("runTime"),
                "must be an ISO 8601 duration such as PT02H16M",
            ),
        }
    }
    d.cast = o.names("topCast", 15);

    for item in o.items("availabilities", MAX_ITEMS, &mut errs) {
        let Some(a) = as_obj(&item, &mut errs) else {
            continue;
        };
        if !a.in_region("countryCode", region, &mut errs) {
            continue;
        }
        let availability_type = match a.text("licenseType", true, 10, &mut errs).as_deref() {
            None => None,
            Some("SVOD") => Some(AvailabilityType::Subscription),
            Some("TVOD") => Some(AvailabilityType::Rent),
            Some("EST") => Some(AvailabilityType::Buy),
            Some("AVOD") => Some(AvailabilityType::Ads),
            Some("FVOD" | "FREE") => Some(AvailabilityType::Free),
            Some(_) => {
                errs.push(
                    a.p("licenseType"),
                    "must be one of SVOD, TVOD, EST, AVOD, FVOD",
                );
                None
            }
        };
        let platform = a.platform("sourceName", &mut errs);
        let web_url = a.web_url("url", true, &mut errs);
        let deep_link = a.link("deepLink", &mut errs);
        let price = a.price("price", &mut errs);
        let available_from = a.timestamp("startDate", &mut errs);
        let expires_at = a.timestamp("endDate", &mut errs);
        let (Some(availability_type), Some(platform), Some(web_url)) =
            (availability_type, platform, web_url)
        else {
            continue;
        };
        d.offer(
            region,
            OfferDraft {
                platform,
                availability_type,
                price,
                deep_link: deep_link.unwrap_or_else(|| web_url.clone()),
                web_url,
                available_from,
                expires_at,
                video_quality: a
                    .get("videoQuality")
                    .and_then(Value::as_str)
                    .and_then(quality),
            },
        );
    }
    d.finish(errs)
}
