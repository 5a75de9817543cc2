//! Provider normalisers: each aggregator's documented JSON → [`CanonicalTitle`] for one region.
//!
//! They are pure functions, so the same code validates `POST /internal/ingest`, the connectors and
//! bulk files, and can be fuzzed. Every problem is reported under the provider's own field path.

mod gracenote;
mod reader;
mod streaming_availability;
mod tmdb;
mod watchmode;
mod youtube;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::catalog::{
    is_slug, AudienceRating, AvailabilityType, CanonicalTitle, ContentType, ExternalIds,
    IngestSource, Offer, OfferKey, TitleMetadata, MAX_TITLE_CHARS,
};
use crate::error::ValidationErrors;

pub use youtube::parse_iso8601_duration_minutes;

/// Normalises one provider record for `region` (an upper-case ISO 3166-1 code).
pub fn normalize(
    source: IngestSource,
    raw: &Value,
    region: &str,
) -> Result<CanonicalTitle, ValidationErrors> {
    match source {
        IngestSource::Generic => crate::catalog::parse_generic(raw, region),
        IngestSource::Tmdb => tmdb::parse(raw, region),
        IngestSource::Watchmode => watchmode::parse(raw, region),
        IngestSource::StreamingAvailability => streaming_availability::parse(raw, region),
        IngestSource::Youtube => youtube::parse(raw, region),
        IngestSource::Gracenote => gracenote::parse(raw, region),
    }
}

/// A record being assembled; `finish` turns it into a title once every required part is present.
#[derive(Default)]
pub(crate) struct Draft {
    pub external_ids: ExternalIds,
    pub content_type: Option<ContentType>,
    pub title: Option<String>,
    pub original_title: Option<String>,
    pub overview: Option<String>,
    pub release_date: Option<NaiveDate>,
    pub genres: Vec<String>,
    pub runtime_minutes: Option<u16>,
    pub cast: Vec<String>,
    pub rating: Option<AudienceRating>,
    offers: BTreeMap<OfferKey, Offer>,
}

/// The parts of an offer a provider gives; links are validated by the reader beforehand.
pub(crate) struct OfferDraft {
    pub platform: String,
    pub availability_type: AvailabilityType,
    pub price: Option<(Decimal, String)>,
    pub deep_link: String,
    pub web_url: String,
    pub available_from: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub video_quality: Option<&'static str>,
}

impl Draft {
    pub fn id(&mut self, id_type: &str, value: Option<String>) {
        if let Some(v) = value {
            self.external_ids.insert(id_type.to_string(), v);
        }
    }

    pub fn title(&mut self, title: Option<String>) {
        self.title = title.map(crate::catalog::reading_order);
    }

    /// Adds an offer; when a provider lists the same platform and type twice (one per quality),
    /// the better quality wins, then the lower price.
    pub fn offer(&mut self, region: &str, o: OfferDraft) {
        let offer = Offer {
            platform: o.platform,
            region: region.to_string(),
            availability_type: o.availability_type,
            price_amount: o.price.as_ref().map(|p| p.0),
            price_currency: o.price.map(|p| p.1),
            deep_link: o.deep_link,
            web_url: o.web_url,
            available_from: o.available_from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            expires_at: o.expires_at.filter(|e| Some(*e) > o.available_from),
            video_quality: o.video_quality.map(str::to_string),
        };
        let key = offer.key();
        match self.offers.get(&key) {
            Some(cur) if !better(&offer, cur) => {}
            _ => {
                if self.offers.len() < crate::catalog::MAX_OFFERS {
                    self.offers.insert(key, offer);
                }
            }
        }
    }

    pub fn finish(self, errs: ValidationErrors) -> Result<CanonicalTitle, ValidationErrors> {
        if !errs.is_empty() {
            return Err(errs);
        }
        let (Some(content_type), Some(title), Some(release_date)) =
            (self.content_type, self.title, self.release_date)
        else {
            // Every provider reports its own missing field; this is the safety net.
            let mut errs = errs;
            errs.push("raw_content", "lacks a content type, title or release date");
            return Err(errs);
        };
        Ok(CanonicalTitle {
            external_ids: self.external_ids,
            metadata: TitleMetadata {
                content_type,
                title,
                original_title: self.original_title,
                overview: self.overview,
                release_date,
                genres: self.genres,
                runtime_minutes: self.runtime_minutes,
                cast: self.cast,
                rating: self.rating,
            },
            availability: self.offers.into_values().collect(),
        })
    }
}

fn better(a: &Offer, b: &Offer) -> bool {
    let q = |o: &Offer| match o.video_quality.as_deref() {
        Some("uhd") => 3,
        Some("hd") => 2,
        Some("sd") => 1,
        _ => 0,
    };
    match q(a).cmp(&q(b)) {
        std::cmp::Ordering::Equal => match (a.price_amount, b.price_amount) {
            (Some(x), Some(y)) => x < y,
            _ => false,
        },
        o => o.is_gt(),
    }
}

pub(crate) fn title_text(
    o: &reader::Obj<'_>,
    name: &str,
    required: bool,
    errs: &mut ValidationErrors,
) -> Option<String> {
    o.text(name, required, MAX_TITLE_CHARS, errs)
}

/// Our slug for a provider's service name or id (`Amazon Prime Video` → `prime_video`).
pub fn platform_slug(name: &str) -> Option<String> {
    let lower = name.trim().to_lowercase();
    let known = match lower.as_str() {
        "netflix" | "netflix basic with ads" | "netflix standard with ads" => "netflix",
        "prime" | "amazon prime video" | "prime video" | "amazon video" | "amazon" => "prime_video",
        "disney" | "disney plus" | "disney+" => "disney_plus",
        "hbo" | "max" | "hbo max" | "max amazon channel" => "max",
        "apple" | "apple tv plus" | "apple tv+" => "apple_tv_plus",
        "apple tv" | "itunes" | "apple itunes" => "apple_tv",
        "google play movies" | "google play" | "google" => "google_play",
        "paramount" | "paramount plus" | "paramount+" => "paramount_plus",
        "hulu" => "hulu",
        "peacock" | "peacock premium" => "peacock",
        "youtube" | "youtube premium" => "youtube",
        _ => "",
    };
    if !known.is_empty() {
        return Some(known.to_string());
    }
    let mut slug = String::new();
    for c in lower.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug
        .trim_end_matches('_')
        .chars()
        .take(50)
        .collect::<String>();
    is_slug(&slug).then_some(slug)
}

/// The currency prices are quoted in when a provider gives an amount without one (Watchmode).
pub fn region_currency(region: &str) -> Option<&'static str> {
    Some(match region {
        "US" | "PR" => "USD",
        "GB" => "GBP",
        "CA" => "CAD",
        "AU" => "AUD",
        "NZ" => "NZD",
        "JP" => "JPY",
        "IN" => "INR",
        "BR" => "BRL",
        "MX" => "MXN",
        "CH" => "CHF",
        "SE" => "SEK",
        "NO" => "NOK",
        "DK" => "DKK",
        "PL" => "PLN",
        "KR" => "KRW",
        "DE" | "FR" | "ES" | "IT" | "NL" | "BE" | "AT" | "IE" | "PT" | "FI" | "GR" | "LU"
        | "SK" | "SI" | "EE" | "LV" | "LT" | "HR" | "CY" | "MT" => "EUR",
        _ => return None,
    })
}

pub(crate) fn quality(q: &str) -> Option<&'static str> {
    match q.trim().to_ascii_lowercase().as_str() {
        "sd" | "480p" => Some("sd"),
        "hd" | "qhd" | "fhd" | "720p" | "1080p" => Some("hd"),
        "uhd" | "4k" | "2160p" => Some("uhd"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
