//! Catalog vocabulary: what a title is, where it can be watched, and the canonical record that every
//! ingestion source is normalised into before an aggregate sees it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ValidationErrors;

/// Longest accepted title / overview, in characters; generous but bounded so one record cannot bloat
/// every downstream store.
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_OVERVIEW_CHARS: usize = 10_000;
pub const MAX_GENRES: usize = 30;
pub const MAX_OFFERS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    Movie,
    Series,
    Episode,
    Short,
    Documentary,
    Special,
}

impl ContentType {
    pub const ALL: [ContentType; 6] = [
        ContentType::Movie,
        ContentType::Series,
        ContentType::Episode,
        ContentType::Short,
        ContentType::Documentary,
        ContentType::Special,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Movie => "movie",
            ContentType::Series => "series",
            ContentType::Episode => "episode",
            ContentType::Short => "short",
            ContentType::Documentary => "documentary",
            ContentType::Special => "special",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityType {
    Subscription,
    Rent,
    Buy,
    Free,
    Ads,
}

impl AvailabilityType {
    pub const ALL: [AvailabilityType; 5] = [
        AvailabilityType::Subscription,
        AvailabilityType::Rent,
        AvailabilityType::Buy,
        AvailabilityType::Free,
        AvailabilityType::Ads,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AvailabilityType::Subscription => "subscription",
            AvailabilityType::Rent => "rent",
            AvailabilityType::Buy => "buy",
            AvailabilityType::Free => "free",
            AvailabilityType::Ads => "ads",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Descriptive metadata of a title. Events carry it whole, so a projector can apply the newest
/// snapshot and ignore older ones regardless of the topic they arrived on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TitleMetadata {
    pub content_type: ContentType,
    pub title: String,
    pub original_title: Option<String>,
    pub overview: Option<String>,
    pub release_date: NaiveDate,
    pub genres: Vec<String>,
    pub runtime_minutes: Option<u16>,
    /// Leading cast, billing order: entity-resolution evidence and the search graph's "shared
    /// cast" edges. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cast: Vec<String>,
    /// What audiences think of it, where a provider says (absent in records written before it
    /// existed, and for sources that do not rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<AudienceRating>,
}

/// An audience rating as a provider reports it (TMDb's vote average and count, Watchmode's user
/// rating, Streaming Availability's score), on one scale so sources compare: 0–100, and the votes
/// behind it (0 where the provider does not count them). Integers, so metadata stays `Eq` and a
/// re-sent record with the same rating is no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AudienceRating {
    pub score: u8,
    pub votes: u32,
}

impl AudienceRating {
    /// From an average out of `scale` (10 for TMDb, 100 for Streaming Availability); `None` when
    /// it is not a number within the scale.
    pub fn from_scale(average: f64, scale: f64, votes: u64) -> Option<Self> {
        (average.is_finite() && (0.0..=scale).contains(&average) && scale > 0.0).then(|| Self {
            score: (average / scale * 100.0).round() as u8,
            votes: u32::try_from(votes).unwrap_or(u32::MAX),
        })
    }

    /// 0–10: the scale of `filters.rating_range` and `catalog.content.average_rating`.
    pub fn average(self) -> f32 {
        f32::from(self.score) / 10.0
    }

    /// Reads one from a record: the average at `average` (field name, value) out of `scale`, the
    /// count at `votes` where the source has one. An absent count is unknown (0 votes, the rating
    /// kept); an explicit 0 is "unrated" (TMDb sends 0 / 0). Each bad field goes to
    /// `bad(name, why)`, both when both are bad.
    pub fn read(
        average: (&str, Option<&Value>),
        scale: f64,
        votes: Option<(&str, Option<&Value>)>,
        mut bad: impl FnMut(&str, String),
    ) -> Option<Self> {
        fn present(v: Option<&Value>) -> Option<&Value> {
            v.filter(|v| !v.is_null())
        }
        let mut bad_count = false;
        let count = match votes.and_then(|(name, v)| present(v).map(|v| (name, v))) {
            Some((name, v)) => {
                let n = v.as_u64().filter(|n| *n <= u64::from(u32::MAX));
                if n.is_none() {
                    bad(name, "must be a non-negative integer".into());
                    bad_count = true;
                }
                n
            }
            None => None,
        };
        let value = present(average.1)?;
        let Some(rating) = value
            .as_f64()
            .and_then(|a| Self::from_scale(a, scale, count.unwrap_or(0)))
        else {
            bad(average.0, format!("must be a number between 0 and {scale}"));
            return None;
        };
        (!bad_count && count != Some(0)).then_some(rating)
    }

    /// Of two reports, the one more people stand behind (the newer on a tie: a provider's own
    /// count only grows).
    pub fn better_of(current: Option<Self>, new: Option<Self>) -> Option<Self> {
        match (current, new) {
            (Some(c), Some(n)) if c.votes > n.votes => Some(c),
            (c, None) => c,
            (_, n) => n,
        }
    }
}

/// Identifier type → value (`imdb` → `tt0133093`). Ordered so events and hashes are deterministic.
pub type ExternalIds = BTreeMap<String, String>;

/// Identity of an offer within a title: one platform can rent and sell the same title in a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OfferKey {
    pub platform: String,
    pub region: String,
    pub availability_type: AvailabilityType,
}

/// Where and how a title can be watched (seed `platform_availability`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub platform: String,
    pub region: String,
    pub availability_type: AvailabilityType,
    pub price_amount: Option<Decimal>,
    pub price_currency: Option<String>,
    pub deep_link: String,
    pub web_url: String,
    pub available_from: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Best picture quality offered: `sd`, `hd` or `uhd` (absent in records written before it existed).
    #[serde(default)]
    pub video_quality: Option<String>,
}

impl Offer {
    pub fn key(&self) -> OfferKey {
        OfferKey {
            platform: self.platform.clone(),
            region: self.region.clone(),
            availability_type: self.availability_type,
        }
    }
}

/// A provider record after normalisation: the only shape the title aggregate accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalTitle {
    pub external_ids: ExternalIds,
    pub metadata: TitleMetadata,
    pub availability: Vec<Offer>,
}

/// Ingestion sources accepted on `POST /internal/ingest` (seed `IngestRequest.platform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestSource {
    /// Our canonical title JSON (field names follow the seed's content contract).
    Generic,
    /// TMDb v3 movie / TV details.
    Tmdb,
    /// Watchmode v1 title details with sources.
    Watchmode,
    /// Streaming Availability API v4 shows.
    StreamingAvailability,
    /// YouTube Data API v3 videos.
    Youtube,
    /// Gracenote (TMS OnConnect) programs with availabilities.
    Gracenote,
}

impl IngestSource {
    pub const ALL: [IngestSource; 6] = [
        IngestSource::Generic,
        IngestSource::Tmdb,
        IngestSource::Watchmode,
        IngestSource::StreamingAvailability,
        IngestSource::Youtube,
        IngestSource::Gracenote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IngestSource::Generic => "generic",
            IngestSource::Tmdb => "tmdb",
            IngestSource::Watchmode => "watchmode",
            IngestSource::StreamingAvailability => "streaming_availability",
            IngestSource::Youtube => "youtube",
            IngestSource::Gracenote => "gracenote",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// `^[a-z0-9][a-z0-9_+.-]{0,49}$`: platform slugs and id types share this shape.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 50
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_+.-".contains(c))
}

/// ISO 3166-1 alpha-2 region code, upper case (`US`, `GB`).
pub fn is_region(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase())
}

fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|c| c.is_ascii_uppercase())
}

/// ISO 3166-1 alpha-3 → alpha-2 for the markets streaming catalogs cover (the seed's MCP tools
/// say `USA`).
const ALPHA3: &[(&str, &str)] = &[
    ("USA", "US"),
    ("GBR", "GB"),
    ("CAN", "CA"),
    ("AUS", "AU"),
    ("NZL", "NZ"),
    ("IRL", "IE"),
    ("DEU", "DE"),
    ("FRA", "FR"),
    ("ESP", "ES"),
    ("ITA", "IT"),
    ("PRT", "PT"),
    ("NLD", "NL"),
    ("BEL", "BE"),
    ("LUX", "LU"),
    ("CHE", "CH"),
    ("AUT", "AT"),
    ("DNK", "DK"),
    ("SWE", "SE"),
    ("NOR", "NO"),
    ("FIN", "FI"),
    ("ISL", "IS"),
    ("POL", "PL"),
    ("CZE", "CZ"),
    ("SVK", "SK"),
    ("HUN", "HU"),
    ("ROU", "RO"),
    ("BGR", "BG"),
    ("GRC", "GR"),
    ("HRV", "HR"),
    ("SVN", "SI"),
    ("SRB", "RS"),
    ("UKR", "UA"),
    ("RUS", "RU"),
    ("TUR", "TR"),
    ("ISR", "IL"),
    ("ARE", "AE"),
    ("SAU", "SA"),
    ("QAT", "QA"),
    ("EGY", "EG"),
    ("ZAF", "ZA"),
    ("NGA", "NG"),
    ("KEN", "KE"),
    ("MAR", "MA"),
    ("IND", "IN"),
    ("PAK", "PK"),
    ("BGD", "BD"),
    ("LKA", "LK"),
    ("CHN", "CN"),
    ("HKG", "HK"),
    ("TWN", "TW"),
    ("JPN", "JP"),
    ("KOR", "KR"),
    ("SGP", "SG"),
    ("MYS", "MY"),
    ("IDN", "ID"),
    ("THA", "TH"),
    ("VNM", "VN"),
    ("PHL", "PH"),
    ("MEX", "MX"),
    ("BRA", "BR"),
    ("ARG", "AR"),
    ("CHL", "CL"),
    ("COL", "CO"),
    ("PER", "PE"),
    ("VEN", "VE"),
    ("URY", "UY"),
    ("PRY", "PY"),
    ("BOL", "BO"),
    ("ECU", "EC"),
    ("CRI", "CR"),
    ("PAN", "PA"),
    ("GTM", "GT"),
    ("DOM", "DO"),
    ("PRI", "PR"),
    ("JAM", "JM"),
    ("TTO", "TT"),
    ("EST", "EE"),
    ("LVA", "LV"),
    ("LTU", "LT"),
    ("CYP", "CY"),
    ("MLT", "MT"),
];

/// Normalised copy of a request region (alpha-2, or alpha-3 mapped to alpha-2), or `None` if it
/// is not a region code.
pub fn normalize_region(s: &str) -> Option<String> {
    let up = s.trim().to_ascii_uppercase();
    if up.len() == 3 {
        return ALPHA3
            .iter()
            .find(|(a3, _)| *a3 == up)
            .map(|(_, a2)| a2.to_string());
    }
    is_region(&up).then_some(up)
}

/// A title as people read it: catalogs sorted by name send "Goonies, The" or "Godfather, The:
/// Part II"; shown, searched for and suggested, it is "The Goonies". Only English articles move
/// ("Tanz, Der" may be a word of the title, not an inverted article).
pub fn reading_order(title: String) -> String {
    article_in_front(&title, &["the", "a", "an"]).unwrap_or(title)
}

/// The title with an inverted article put back in front ("Godfather, The: Part II" → "The
/// Godfather: Part II"), if it ends its main title with one of `articles`.
pub fn article_in_front(title: &str, articles: &[&str]) -> Option<String> {
    let (head, tail) = title.split_at(title.find(':').unwrap_or(title.len()));
    let (name, art) = head.rsplit_once(',')?;
    (!name.trim().is_empty() && articles.contains(&art.trim().to_lowercase().as_str()))
        .then(|| format!("{} {}{tail}", art.trim(), name.trim()))
}

/// Reads a canonical title JSON object (the `generic` source), collecting every field problem.
///
/// `region` is the request's region: offers default to it and must not name another one, because a
/// record's availability list replaces that source's offers in exactly that region.
pub fn parse_generic(raw: &Value, region: &str) -> Result<CanonicalTitle, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let Some(obj) = raw.as_object() else {
        errs.push("raw_content", "must be a JSON object");
        return Err(errs);
    };
    let p = |name: &str| format!("raw_content.{name}");

    let mut external_ids = ExternalIds::new();
    match obj.get("external_ids") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let field = format!("raw_content.external_ids.{k}");
                if !is_slug(k) {
                    errs.push(
                        field,
                        "id type must be a lower-case slug of at most 50 characters",
                    );
                    continue;
                }
                let value = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        errs.push(field, "must be a string or a number");
                        continue;
                    }
                };
                if value.is_empty() || value.len() > 255 {
                    errs.push(field, "must be 1 to 255 characters");
                    continue;
                }
                external_ids.insert(k.clone(), value);
            }
        }
        Some(_) => errs.push(p("external_ids"), "must be an object of id type to value"),
    }

    let content_type = match obj.get("content_type") {
        None | Some(Value::Null) => {
            errs.push(p("content_type"), "is required");
            None
        }
        Some(Value::String(s)) => {
            let t = ContentType::parse(s);
            if t.is_none() {
                errs.push(
                    p("content_type"),
                    format!(
                        "unknown content type `{s}` (expected one of: {})",
                        ContentType::ALL.map(|t| t.as_str()).join(", ")
                    ),
                );
            }
            t
        }
        Some(_) => {
            errs.push(p("content_type"), "must be a string");
            None
        }
    };

    let title = text_field(obj, "title", true, MAX_TITLE_CHARS, &mut errs).map(reading_order);
    let original_title = text_field(obj, "original_title", false, MAX_TITLE_CHARS, &mut errs);
    let overview = text_field(obj, "overview", false, MAX_OVERVIEW_CHARS, &mut errs);

    let release_date = match obj.get("release_date") {
        None | Some(Value::Null) => {
            errs.push(p("release_date"), "is required (YYYY-MM-DD)");
            None
        }
        Some(Value::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if (1870..=2100).contains(&chrono::Datelike::year(&d)) => Some(d),
            Ok(_) => {
                errs.push(p("release_date"), "year must be between 1870 and 2100");
                None
            }
            Err(_) => {
                errs.push(
                    p("release_date"),
                    format!("`{s}` is not a date in YYYY-MM-DD form"),
                );
                None
            }
        },
        Some(_) => {
            errs.push(p("release_date"), "must be a string in YYYY-MM-DD form");
            None
        }
    };

    let mut genres = Vec::new();
    match obj.get("genres") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > MAX_GENRES {
                errs.push(p("genres"), format!("at most {MAX_GENRES} genres"));
            }
            for (i, g) in items.iter().enumerate() {
                match g.as_str().map(normalize_genre) {
                    Some(g) if !g.is_empty() && g.len() <= 50 => {
                        if !genres.contains(&g) {
                            genres.push(g);
                        }
                    }
                    _ => errs.push(
                        format!("raw_content.genres[{i}]"),
                        "must be a non-empty string of at most 50 characters",
                    ),
                }
            }
        }
        Some(_) => errs.push(p("genres"), "must be an array of strings"),
    }

    let runtime_minutes = match obj.get("runtime_minutes") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=6000).contains(&n) => Some(n as u16),
            _ => {
                errs.push(
                    p("runtime_minutes"),
                    "must be an integer between 1 and 6000",
                );
                None
            }
        },
    };

    // The seed's `average_rating` (0–10) and `vote_count`; votes alone say nothing.
    let rating = AudienceRating::read(
        ("average_rating", obj.get("average_rating")),
        10.0,
        Some(("vote_count", obj.get("vote_count"))),
        |name, why| errs.push(p(name), why),
    );

    let mut availability = Vec::new();
    match obj.get("availability") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > MAX_OFFERS {
                errs.push(p("availability"), format!("at most {MAX_OFFERS} offers"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("raw_content.availability[{i}]");
                if let Some(offer) = parse_offer(item, region, &prefix, &mut errs) {
                    if !seen.insert(offer.key()) {
                        errs.push(prefix, "duplicates another offer with the same platform, region and availability_type");
                    } else {
                        availability.push(offer);
                    }
                }
            }
        }
        Some(_) => errs.push(p("availability"), "must be an array of offers"),
    }

    if errs.is_empty() {
        let (Some(content_type), Some(title), Some(release_date)) =
            (content_type, title, release_date)
        else {
            unreachable!("required fields are reported as errors above")
        };
        Ok(CanonicalTitle {
            external_ids,
            metadata: TitleMetadata {
                content_type,
                title,
                original_title,
                overview,
                release_date,
                genres,
                runtime_minutes,
                cast: names(obj.get("cast")),
                rating,
            },
            availability,
        })
    } else {
        Err(errs)
    }
}

/// Up to 15 non-empty names from an optional array of strings (resolution hints; never rejected).
fn names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 200)
                .take(15)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Lower-case, single-spaced genre names so `Sci-Fi ` and `sci-fi` are one genre.
pub fn normalize_genre(g: &str) -> String {
    g.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn text_field(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    required: bool,
    max_chars: usize,
    errs: &mut ValidationErrors,
) -> Option<String> {
    let field = format!("raw_content.{name}");
    match obj.get(name) {
        None | Some(Value::Null) => {
            if required {
                errs.push(field, "is required");
            }
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                if required {
                    errs.push(field, "must not be empty");
                }
                None
            } else if s.chars().count() > max_chars {
                errs.push(field, format!("must be at most {max_chars} characters"));
                None
            } else {
                Some(s.to_string())
            }
        }
        Some(_) => {
            errs.push(field, "must be a string");
            None
        }
    }
}

fn parse_offer(
    v: &Value,
    region: &str,
    prefix: &str,
    errs: &mut ValidationErrors,
) -> Option<Offer> {
    let Some(o) = v.as_object() else {
        errs.push(prefix, "must be an object");
        return None;
    };
    let before = errs.0.len();
    let f = |n: &str| format!("{prefix}.{n}");
    let s = |n: &str| o.get(n).and_then(Value::as_str).map(str::trim);

    let platform = match s("platform") {
        Some(p) if is_slug(p) => Some(p.to_string()),
        _ => {
            errs.push(
                f("platform"),
                "is required: a lower-case platform slug such as `netflix`",
            );
            None
        }
    };
    let offer_region = match o.get("region") {
        None | Some(Value::Null) => Some(region.to_string()),
        Some(Value::String(r)) => match normalize_region(r) {
            Some(r) if r == region => Some(r),
            Some(r) => {
                errs.push(
                    f("region"),
                    format!("`{r}` does not match the request region `{region}`"),
                );
                None
            }
            None => {
                errs.push(f("region"), "must be an ISO 3166-1 alpha-2 code");
                None
            }
        },
        Some(_) => {
            errs.push(f("region"), "must be a string");
            None
        }
    };
    let availability_type = match s("availability_type") {
        Some(t) => AvailabilityType::parse(t).or_else(|| {
            errs.push(
                f("availability_type"),
                format!(
                    "unknown availability type `{t}` (expected one of: {})",
                    AvailabilityType::ALL.map(|t| t.as_str()).join(", ")
                ),
            );
            None
        }),
        None => {
            errs.push(f("availability_type"), "is required");
            None
        }
    };
    let price_amount = match o.get("price_amount") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.to_string().parse::<Decimal>() {
            Ok(d) if d >= Decimal::ZERO && d < Decimal::from(100_000_000) => Some(d.round_dp(2)),
            _ => {
                errs.push(
                    f("price_amount"),
                    "must be a non-negative amount below 100000000",
                );
                None
            }
        },
        Some(Value::String(n)) => match n.parse::<Decimal>() {
            Ok(d) if d >= Decimal::ZERO && d < Decimal::from(100_000_000) => Some(d.round_dp(2)),
            _ => {
                errs.push(f("price_amount"), "must be a non-negative decimal amount");
                None
            }
        },
        Some(_) => {
            errs.push(f("price_amount"), "must be a number");
            None
        }
    };
    let price_currency = match o.get("price_currency") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if is_currency(&c.trim().to_ascii_uppercase()) => {
            Some(c.trim().to_ascii_uppercase())
        }
        Some(_) => {
            errs.push(
                f("price_currency"),
                "must be an ISO 4217 code such as `USD`",
            );
            None
        }
    };
    if price_amount.is_some()
        && price_currency.is_none()
        && o.get("price_currency").is_none_or(Value::is_null)
    {
        errs.push(f("price_currency"), "is required when price_amount is set");
    }
    let url = |n: &str, errs: &mut ValidationErrors| match s(n) {
        Some(u) if u.contains("://") && u.len() <= 2048 => Some(u.to_string()),
        _ => {
            errs.push(
                f(n),
                "is required: an absolute URL or app link of at most 2048 characters",
            );
            None
        }
    };
    let deep_link = url("deep_link", errs);
    let web_url = match s("web_url") {
        Some(u) if (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048 => {
            Some(u.to_string())
        }
        _ => {
            errs.push(
                f("web_url"),
                "is required: an http(s) URL of at most 2048 characters",
            );
            None
        }
    };
    let ts = |n: &str, errs: &mut ValidationErrors| -> Option<Option<DateTime<Utc>>> {
        match o.get(n) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(t)) => match DateTime::parse_from_rfc3339(t) {
                Ok(t) => Some(Some(t.with_timezone(&Utc))),
                Err(_) => {
                    errs.push(
                        f(n),
                        "must be an RFC 3339 timestamp such as 2026-01-31T00:00:00Z",
                    );
                    None
                }
            },
            Some(_) => {
                errs.push(f(n), "must be an RFC 3339 timestamp string");
                None
            }
        }
    };
    let available_from = ts("available_from", errs);
    let expires_at = ts("expires_at", errs);
    let video_quality = match o.get("video_quality") {
        None | Some(Value::Null) => None,
        Some(Value::String(q)) => match q.trim().to_ascii_lowercase().as_str() {
            "sd" => Some("sd".to_string()),
            "hd" | "fhd" | "1080p" | "720p" => Some("hd".to_string()),
            "uhd" | "4k" | "2160p" => Some("uhd".to_string()),
            _ => {
                errs.push(
                    f("video_quality"),
                    format!("unknown quality `{q}` (expected sd, hd or uhd)"),
                );
                None
            }
        },
        Some(_) => {
            errs.push(f("video_quality"), "must be a string (sd, hd or uhd)");
            None
        }
    };
    if let (Some(Some(from)), Some(Some(until))) = (available_from, expires_at) {
        if until <= from {
            errs.push(f("expires_at"), "must be later than available_from");
        }
    }
    if errs.0.len() > before {
        return None;
    }
    Some(Offer {
        platform: platform?,
        region: offer_region?,
        availability_type: availability_type?,
        price_amount,
        price_currency,
        deep_link: deep_link?,
        web_url: web_url?,
        // An offer without a start date is available from the epoch: it is already on the platform.
        available_from: available_from?.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        expires_at: expires_at?,
        video_quality,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_in_alpha_2_or_alpha_3() {
        assert_eq!(normalize_region(" us ").as_deref(), Some("US"));
        assert_eq!(normalize_region("USA").as_deref(), Some("US"));
        assert_eq!(normalize_region("gbr").as_deref(), Some("GB"));
        assert_eq!(normalize_region("DEU").as_deref(), Some("DE"));
        assert_eq!(normalize_region("XYZ"), None);
        assert_eq!(normalize_region("U5"), None);
        assert!(ALPHA3.iter().all(|(a3, a2)| a3.len() == 3 && is_region(a2)));
    }

    use super::*;
    use serde_json::json;

    fn matrix() -> Value {
        json!({
            "external_ids": {"imdb": "tt0133093", "tmdb_movie": 603},
            "content_type": "movie",
            "title": "The Matrix",
            "release_date": "1999-03-31",
            "genres": ["Science Fiction", "action", "Action"],
            "runtime_minutes": 136,
            "availability": [{
                "platform": "netflix", "availability_type": "subscription",
                "deep_link": "nflx://www.netflix.com/title/20557937",
                "web_url": "https://www.netflix.com/title/20557937"
            }]
        })
    }

    #[test]
    fn an_inverted_article_goes_back_in_front() {
        // Given titles as name-sorted catalogs send them, when read, then they read as people say them.
        for (sent, read) in [
            ("Goonies, The", "The Goonies"),
            ("Godfather, The: Part II", "The Godfather: Part II"),
            ("Man Called Horse, A", "A Man Called Horse"),
            (
                "The Good, the Bad and the Ugly",
                "The Good, the Bad and the Ugly",
            ),
            ("Me, Myself & Irene", "Me, Myself & Irene"),
            ("Blaue Engel, Der", "Blaue Engel, Der"),
            (", The", ", The"),
        ] {
            assert_eq!(reading_order(sent.to_string()), read);
        }
        let mut v = matrix();
        v["title"] = json!("Matrix, The");
        assert_eq!(
            parse_generic(&v, "US").unwrap().metadata.title,
            "The Matrix"
        );
    }

    #[test]
    fn parses_a_canonical_record() {
        let t = parse_generic(&matrix(), "US").unwrap();
        assert_eq!(t.metadata.title, "The Matrix");
        assert_eq!(t.external_ids["tmdb_movie"], "603");
        assert_eq!(t.metadata.genres, vec!["science fiction", "action"]);
        assert_eq!(t.availability[0].region, "US");
    }

    #[test]
    fn names_every_bad_field() {
        let mut v = matrix();
        v["title"] = json!("");
        v["release_date"] = json!("31/03/1999");
        v["availability"][0]["region"] = json!("GB");
        v["availability"][0]["price_amount"] = json!(3.99);
        v["availability"][0]["video_quality"] = json!("8k");
        let errs = parse_generic(&v, "US").unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "raw_content.title",
                "raw_content.release_date",
                "raw_content.availability[0].region",
                "raw_content.availability[0].price_currency",
                "raw_content.availability[0].video_quality"
            ]
        );
    }

    #[test]
    fn rejects_non_objects_and_missing_required_fields() {
        assert_eq!(
            parse_generic(&json!([1]), "US").unwrap_err().0[0].field,
            "raw_content"
        );
        let errs = parse_generic(&json!({}), "US").unwrap_err();
        let fields: Vec<_> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "raw_content.content_type",
                "raw_content.title",
                "raw_content.release_date"
            ]
        );
    }
}
