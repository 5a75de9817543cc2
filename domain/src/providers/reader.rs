//! A small JSON reader that records every problem under the provider's own field path
//! (`raw_content.streamingOptions.us[0].service.id`), so a 4xx names exactly what was wrong.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::catalog::{
    normalize_genre, normalize_region, AudienceRating, MAX_GENRES, MAX_OFFERS, MAX_OVERVIEW_CHARS,
};
use crate::error::ValidationErrors;

#[derive(Clone)]
pub(crate) struct Obj<'a> {
    pub m: &'a Map<String, Value>,
    pub path: String,
}

/// A value with the path it was found at.
pub(crate) struct At<'a> {
    pub v: &'a Value,
    pub path: String,
}

pub(crate) fn root<'a>(raw: &'a Value, errs: &mut ValidationErrors) -> Option<Obj<'a>> {
    match raw {
        Value::Object(m) => Some(Obj {
            m,
            path: "raw_content".to_string(),
        }),
        _ => {
            errs.push("raw_content", "must be a JSON object");
            None
        }
    }
}

pub(crate) fn as_obj<'a>(at: &At<'a>, errs: &mut ValidationErrors) -> Option<Obj<'a>> {
    match at.v {
        Value::Object(m) => Some(Obj {
            m,
            path: at.path.clone(),
        }),
        _ => {
            errs.push(at.path.clone(), "must be an object");
            None
        }
    }
}

impl<'a> Obj<'a> {
    pub fn p(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// The value of `name`, treating JSON `null` as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.m.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Trimmed text; empty text counts as absent.
    pub fn text(
        &self,
        name: &str,
        required: bool,
        max_chars: usize,
        errs: &mut ValidationErrors,
    ) -> Option<String> {
        match self.get(name) {
            None if required => {
                errs.push(self.p(name), "is required");
                None
            }
            None => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    if required {
                        errs.push(self.p(name), "must not be empty");
                    }
                    None
                } else if s.chars().count() > max_chars {
                    errs.push(
                        self.p(name),
                        format!("must be at most {max_chars} characters"),
                    );
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(_) => {
                errs.push(self.p(name), "must be a string");
                None
            }
        }
    }

    pub fn overview(&self, name: &str, errs: &mut ValidationErrors) -> Option<String> {
        self.text(name, false, MAX_OVERVIEW_CHARS, errs)
    }

    /// An identifier given as a string or an integer (providers use both).
    pub fn id(&self, name: &str, required: bool, errs: &mut ValidationErrors) -> Option<String> {
        let v = match self.get(name) {
            None => {
                if required {
                    errs.push(self.p(name), "is required");
                }
                return None;
            }
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(_) => {
                errs.push(self.p(name), "must be a string or a non-negative integer");
                return None;
            }
        };
        if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
            errs.push(self.p(name), "must be 1 to 255 printable characters");
            return None;
        }
        Some(v)
    }

    pub fn int(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        errs: &mut ValidationErrors,
    ) -> Option<i64> {
        match self.get(name) {
            None => None,
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Some(n),
                _ => {
                    errs.push(
                        self.p(name),
                        format!(
                            "must be an integer between {} and {}",
                            range.start(),
                            range.end()
                        ),
                    );
                    None
                }
            },
        }
    }

    /// An audience rating (see [`AudienceRating::read`]), errors under this object's path.
    pub fn rating(
        &self,
        average: &str,
        scale: f64,
        votes: Option<&str>,
        errs: &mut ValidationErrors,
    ) -> Option<AudienceRating> {
        AudienceRating::read(
            (average, self.get(average)),
            scale,
            votes.map(|v| (v, self.get(v))),
            |name, why| errs.push(self.p(name), why),
        )
    }

    pub fn year(&self, name: &str, errs: &mut ValidationErrors) -> Option<NaiveDate> {
        self.int(name, 1870..=2100, errs)
            .and_then(|y| NaiveDate::from_ymd_opt(y as i32, 1, 1))
    }

    /// `YYYY-MM-DD` (or a timestamp whose date part is used); empty strings count as absent.
    pub fn date(&self, name: &str, errs: &mut ValidationErrors) -> Option<NaiveDate> {
        match self.get(name) {
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => match parse_date(s.trim()) {
                Some(d) if (1870..=2100).contains(&d.year()) => Some(d),
                Some(_) => {
                    errs.push(self.p(name), "year must be between 1870 and 2100");
                    None
                }
                None => {
                    errs.push(
                        self.p(name),
                        format!("`{}` is not a YYYY-MM-DD date", clip(s)),
                    );
                    None
                }
            },
            Some(_) => {
                errs.push(self.p(name), "must be a date string (YYYY-MM-DD)");
                None
            }
        }
    }

    pub fn timestamp(&self, name: &str, errs: &mut ValidationErrors) -> Option<DateTime<Utc>> {
        match self.get(name) {
            None => None,
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .or_else(|| DateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M%#z").ok())
            {
                Some(t) => Some(t.with_timezone(&Utc)),
                None => {
                    errs.push(self.p(name), "must be an RFC 3339 timestamp");
                    None
                }
            },
            Some(_) => {
                errs.push(self.p(name), "must be an RFC 3339 timestamp string");
                None
            }
        }
    }

    /// Unix seconds (Streaming Availability's `availableSince` / `expiresOn`).
    pub fn epoch_seconds(&self, name: &str, errs: &mut ValidationErrors) -> Option<DateTime<Utc>> {
        match self.get(name) {
            None => None,
            Some(v) => match v.as_i64().and_then(|s| Utc.timestamp_opt(s, 0).single()) {
                Some(t) if (0..=4_102_444_800).contains(&t.timestamp()) => Some(t),
                _ => {
                    errs.push(self.p(name), "must be a Unix timestamp in seconds");
                    None
                }
            },
        }
    }

    pub fn obj(&self, name: &str, required: bool, errs: &mut ValidationErrors) -> Option<Obj<'a>> {
        match self.m.get(name) {
            Some(Value::Object(m)) => Some(Obj {
                m,
                path: self.p(name),
            }),
            None | Some(Value::Null) => {
                if required {
                    errs.push(self.p(name), "is required");
                }
                None
            }
            Some(_) => {
                errs.push(self.p(name), "must be an object");
                None
            }
        }
    }

    /// Items of an array field, each with its path; a non-array is reported.
    pub fn items(&self, name: &str, max: usize, errs: &mut ValidationErrors) -> Vec<At<'a>> {
        match self.get(name) {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                if a.len() > max {
                    errs.push(self.p(name), format!("at most {max} items"));
                    return Vec::new();
                }
                a.iter()
                    .enumerate()
                    .map(|(i, v)| At {
                        v,
                        path: format!("{}.{name}[{i}]", self.path),
                    })
                    .collect()
            }
            Some(_) => {
                errs.push(self.p(name), "must be an array");
                Vec::new()
            }
        }
    }

    /// Genre names from an array of strings, or of objects with a `name`.
    pub fn genres(&self, name: &str, errs: &mut ValidationErrors) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.items(name, MAX_GENRES, errs) {
            let g = match item.v {
                Value::String(s) => Some(s.as_str()),
                Value::Object(m) => m.get("name").and_then(Value::as_str),
                _ => None,
            }
            .map(normalize_genre);
            match g {
                Some(g) if !g.is_empty() && g.chars().count() <= 50 => {
                    if !out.contains(&g) {
                        out.push(g);
                    }
                }
                _ => errs.push(item.path, "must be a genre name of 1 to 50 characters"),
            }
        }
        out
    }

    /// Names from an array of strings or of objects with a `name` (cast lists), at most `keep`.
    pub fn names(&self, name: &str, keep: usize) -> Vec<String> {
        let Some(Value::Array(a)) = self.get(name) else {
            return Vec::new();
        };
        a.iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim()),
                Value::Object(m) => m.get("name").and_then(Value::as_str).map(str::trim),
                _ => None,
            })
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .take(keep)
            .map(str::to_string)
            .collect()
    }

    /// An http(s) URL of at most 2048 characters.
    pub fn web_url(
        &self,
        name: &str,
        required: bool,
        errs: &mut ValidationErrors,
    ) -> Option<String> {
        match self.get(name).and_then(Value::as_str).map(str::trim) {
            Some(u) if is_web_url(u) => Some(u.to_string()),
            None if !required && !self.has(name) => None,
            _ => {
                errs.push(
                    self.p(name),
                    "must be an http(s) URL of at most 2048 characters",
                );
                None
            }
        }
    }

    /// An app link or URL (`nflx://…`, `https://…`).
    pub fn link(&self, name: &str, errs: &mut ValidationErrors) -> Option<String> {
        match self.get(name).and_then(Value::as_str).map(str::trim) {
            Some(u)
                if u.contains("://") && u.len() <= 2048 && !u.chars().any(char::is_whitespace) =>
            {
                Some(u.to_string())
            }
            None if !self.has(name) => None,
            _ => {
                errs.push(
                    self.p(name),
                    "must be an absolute link of at most 2048 characters",
                );
                None
            }
        }
    }

    /// A price given as a number or a decimal string.
    pub fn amount(&self, name: &str, errs: &mut ValidationErrors) -> Option<Decimal> {
        let d = match self.get(name)? {
            Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
            Value::String(s) => s.trim().parse::<Decimal>().ok(),
            _ => None,
        };
        match d {
            Some(d) if d >= Decimal::ZERO && d < Decimal::from(100_000_000) => Some(d.round_dp(2)),
            _ => {
                errs.push(
                    self.p(name),
                    "must be a non-negative amount below 100000000",
                );
                None
            }
        }
    }

    /// A `{amount, currency}` price object (Streaming Availability, Gracenote).
    pub fn price(&self, name: &str, errs: &mut ValidationErrors) -> Option<(Decimal, String)> {
        let p = self.obj(name, false, errs)?;
        let amount = p.amount("amount", errs);
        let currency = p.currency("currency", errs);
        if amount.is_some() && currency.is_none() && !p.has("currency") {
            errs.push(p.p("currency"), "is required with an amount");
        }
        amount.zip(currency)
    }

    /// Whether the region code in `name` is `region`; a malformed code is reported.
    pub fn in_region(&self, name: &str, region: &str, errs: &mut ValidationErrors) -> bool {
        match self
            .text(name, true, 10, errs)
            .map(|c| normalize_region(&c))
        {
            Some(Some(c)) => c == region,
            Some(None) => {
                errs.push(self.p(name), "must be an ISO 3166-1 alpha-2 code");
                false
            }
            None => false,
        }
    }

    /// Our platform slug for the service named in `name`.
    pub fn platform(&self, name: &str, errs: &mut ValidationErrors) -> Option<String> {
        let text = self.text(name, true, 200, errs)?;
        let slug = super::platform_slug(&text);
        if slug.is_none() {
            errs.push(self.p(name), "must contain letters or digits");
        }
        slug
    }

    pub fn currency(&self, name: &str, errs: &mut ValidationErrors) -> Option<String> {
        match self.get(name) {
            None => None,
            Some(Value::String(c)) if is_currency(&c.trim().to_ascii_uppercase()) => {
                Some(c.trim().to_ascii_uppercase())
            }
            Some(_) => {
                errs.push(self.p(name), "must be an ISO 4217 code such as `USD`");
                None
            }
        }
    }
}

pub(crate) fn is_web_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() > 8
        && u.len() <= 2048
        && !u.chars().any(char::is_whitespace)
}

fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|c| c.is_ascii_uppercase())
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.date_naive()))
}

/// At most 40 characters of untrusted text, for error messages.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

pub(crate) const MAX_ITEMS: usize = MAX_OFFERS;
