//! Avro DTOs (one per `.avsc`) and the mapping between them and domain events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use mediagw_domain::catalog::{AvailabilityType, ContentType, Offer, OfferKey, TitleMetadata};
use mediagw_domain::title::{OfferChange, TitleEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::topics;

/// Where an event sits in the log of its aggregate; travels inside every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    pub event_id: Uuid,
    pub content_id: Uuid,
    pub sequence: i64,
    pub occurred_at: DateTime<Utc>,
}

impl EventMeta {
    /// Event ids are derived from (aggregate, sequence) so a re-published event keeps its id.
    pub fn new(content_id: Uuid, sequence: i64, occurred_at: DateTime<Utc>) -> Self {
        let name = format!("{content_id}/{sequence}");
        Self {
            event_id: Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()),
            content_id,
            sequence,
            occurred_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataDto {
    pub content_type: String,
    pub title: String,
    pub original_title: Option<String>,
    pub overview: Option<String>,
    pub release_date: String,
    pub genres: Vec<String>,
    pub runtime_minutes: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferDto {
    pub platform: String,
    pub region: String,
    pub availability_type: String,
    pub price_amount: Option<String>,
    pub price_currency: Option<String>,
    pub deep_link: String,
    pub web_url: String,
    pub available_from_ms: i64,
    pub expires_at_ms: Option<i64>,
    #[serde(default)]
    pub video_quality: Option<String>,
}

macro_rules! envelope_record {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            pub event_id: String,
            pub content_id: String,
            pub sequence: i64,
            pub occurred_at_ms: i64,
            pub source: String,
            $(pub $field: $ty,)*
        }
    };
}

envelope_record!(TitleIngestedV1 { metadata: MetadataDto, external_ids: BTreeMap<String, String> });
envelope_record!(TitleUpdatedV1 { metadata: MetadataDto, external_ids: BTreeMap<String, String> });
envelope_record!(AvailabilityArrivedV1 { offer: OfferDto });
envelope_record!(AvailabilityUpdatedV1 {
    offer: OfferDto,
    change: Option<String>
});
envelope_record!(AvailabilityLeftV1 {
    platform: String,
    region: String,
    availability_type: String
});
envelope_record!(TitlesMergedV1 {
    survivor_id: String,
    confidence: f32,
    reasons: Vec<String>
});

envelope_record!(SearchPerformedV1 {
    query: String,
    user_id: Option<String>,
    genres: Vec<String>,
    result_ids: Vec<String>
});

/// A record as it travels on Kafka.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRecord {
    TitleIngested(TitleIngestedV1),
    TitleUpdated(TitleUpdatedV1),
    AvailabilityArrived(AvailabilityArrivedV1),
    AvailabilityUpdated(AvailabilityUpdatedV1),
    AvailabilityLeft(AvailabilityLeftV1),
    TitlesMerged(TitlesMergedV1),
    /// Not a title event: searches answered, for trending and affinity (topic `search.queries`).
    SearchPerformed(SearchPerformedV1),
}

/// A record whose fields do not map back to a valid domain event.
#[derive(Debug, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct MappingError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl ToString) -> MappingError {
    MappingError {
        field,
        message: message.to_string(),
    }
}

impl EventRecord {
    pub fn full_name(&self) -> &'static str {
        match self {
            EventRecord::TitleIngested(_) => "mediagw.catalog.TitleIngested",
            EventRecord::TitleUpdated(_) => "mediagw.catalog.TitleUpdated",
            EventRecord::AvailabilityArrived(_) => "mediagw.catalog.AvailabilityArrived",
            EventRecord::AvailabilityUpdated(_) => "mediagw.catalog.AvailabilityUpdated",
            EventRecord::AvailabilityLeft(_) => "mediagw.catalog.AvailabilityLeft",
            EventRecord::TitlesMerged(_) => "mediagw.catalog.TitlesMerged",
            EventRecord::SearchPerformed(_) => "mediagw.search.SearchPerformed",
        }
    }

    fn envelope(&self) -> (&str, &str, i64, i64) {
        match self {
            EventRecord::TitleIngested(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::TitleUpdated(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::AvailabilityArrived(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::AvailabilityUpdated(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::AvailabilityLeft(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::TitlesMerged(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
            EventRecord::SearchPerformed(r) => {
                (&r.event_id, &r.content_id, r.sequence, r.occurred_at_ms)
            }
        }
    }

    pub fn event_id(&self) -> &str {
        self.envelope().0
    }

    pub fn content_id(&self) -> &str {
        self.envelope().1
    }

    /// Commit time of the event in the event store (epoch ms).
    pub fn occurred_at_ms(&self) -> i64 {
        self.envelope().3
    }

    /// Topic (unprefixed) this record is published on.
    pub fn topic(&self) -> &'static str {
        match self {
            EventRecord::TitleIngested(_) => topics::CONTENT_INGESTED,
            EventRecord::TitleUpdated(_) | EventRecord::TitlesMerged(_) => topics::CONTENT_UPDATED,
            EventRecord::SearchPerformed(_) => topics::SEARCH_QUERIES,
            _ => topics::AVAILABILITY_CHANGED,
        }
    }

    pub fn from_domain(meta: &EventMeta, event: &TitleEvent) -> Self {
        macro_rules! env {
            ($t:ident, $source:expr, { $($f:ident : $v:expr),* }) => {
                $t {
                    event_id: meta.event_id.to_string(),
                    content_id: meta.content_id.to_string(),
                    sequence: meta.sequence,
                    occurred_at_ms: meta.occurred_at.timestamp_millis(),
                    source: $source.clone(),
                    $($f: $v,)*
                }
            };
        }
        match event {
            TitleEvent::TitleIngested {
                source,
                metadata,
                external_ids,
                ..
            } => EventRecord::TitleIngested(
                env!(TitleIngestedV1, source, { metadata: metadata_dto(metadata), external_ids: external_ids.clone() }),
            ),
            TitleEvent::TitleUpdated {
                source,
                metadata,
                external_ids,
            } => EventRecord::TitleUpdated(
                env!(TitleUpdatedV1, source, { metadata: metadata_dto(metadata), external_ids: external_ids.clone() }),
            ),
            TitleEvent::AvailabilityArrived { source, offer } => EventRecord::AvailabilityArrived(
                env!(AvailabilityArrivedV1, source, { offer: offer_dto(offer) }),
            ),
            TitleEvent::AvailabilityUpdated {
                source,
                offer,
                change,
            } => EventRecord::AvailabilityUpdated(env!(AvailabilityUpdatedV1, source, {
                offer: offer_dto(offer),
                change: Some(change.as_str().to_string())
            })),
            TitleEvent::AvailabilityLeft { source, key } => {
                EventRecord::AvailabilityLeft(env!(AvailabilityLeftV1, source, {
                    platform: key.platform.clone(),
                    region: key.region.clone(),
                    availability_type: key.availability_type.as_str().to_string()
                }))
            }
            TitleEvent::TitlesMerged {
                survivor_id,
                confidence,
                reasons,
            } => EventRecord::TitlesMerged(env!(TitlesMergedV1, String::from("resolution"), {
                survivor_id: survivor_id.to_string(),
                confidence: *confidence,
                reasons: reasons.clone()
            })),
        }
    }

    /// Back to the domain, validating what the schema cannot express (enums, dates, uuids).
    pub fn into_domain(self) -> Result<(EventMeta, TitleEvent), MappingError> {
        macro_rules! meta {
            ($r:expr) => {{
                let content_id =
                    Uuid::parse_str(&$r.content_id).map_err(|e| bad("content_id", e))?;
                let event_id = Uuid::parse_str(&$r.event_id).map_err(|e| bad("event_id", e))?;
                let occurred_at = DateTime::from_timestamp_millis($r.occurred_at_ms)
                    .ok_or_else(|| bad("occurred_at_ms", "out of range"))?;
                if $r.sequence < 1 {
                    return Err(bad("sequence", "must be at least 1"));
                }
                EventMeta {
                    event_id,
                    content_id,
                    sequence: $r.sequence,
                    occurred_at,
                }
            }};
        }
        Ok(match self {
            EventRecord::TitleIngested(r) => {
                let m = meta!(r);
                let ev = TitleEvent::TitleIngested {
                    content_id: m.content_id,
                    source: r.source,
                    metadata: metadata_domain(r.metadata)?,
                    external_ids: r.external_ids,
                };
                (m, ev)
            }
            EventRecord::TitleUpdated(r) => {
                let m = meta!(r);
                (
                    m,
                    TitleEvent::TitleUpdated {
                        source: r.source,
                        metadata: metadata_domain(r.metadata)?,
                        external_ids: r.external_ids,
                    },
                )
            }
            EventRecord::AvailabilityArrived(r) => {
                let m = meta!(r);
                (
                    m,
                    TitleEvent::AvailabilityArrived {
                        source: r.source,
                        offer: offer_domain(r.offer)?,
                    },
                )
            }
            EventRecord::AvailabilityUpdated(r) => {
                let m = meta!(r);
                let change = match r.change.as_deref() {
                    None => OfferChange::Updated,
                    Some(c) => OfferChange::parse(c).ok_or_else(|| bad("change", c))?,
                };
                (
                    m,
                    TitleEvent::AvailabilityUpdated {
                        source: r.source,
                        offer: offer_domain(r.offer)?,
                        change,
                    },
                )
            }
            EventRecord::AvailabilityLeft(r) => {
                let m = meta!(r);
                let availability_type = AvailabilityType::parse(&r.availability_type)
                    .ok_or_else(|| bad("availability_type", &r.availability_type))?;
                (
                    m,
                    TitleEvent::AvailabilityLeft {
                        source: r.source,
                        key: OfferKey {
                            platform: r.platform,
                            region: r.region,
                            availability_type,
                        },
                    },
                )
            }
            EventRecord::TitlesMerged(r) => {
                let m = meta!(r);
                let survivor_id =
                    Uuid::parse_str(&r.survivor_id).map_err(|e| bad("survivor_id", e))?;
                (
                    m,
                    TitleEvent::TitlesMerged {
                        survivor_id,
                        confidence: r.confidence,
                        reasons: r.reasons,
                    },
                )
            }
            EventRecord::SearchPerformed(_) => {
                return Err(bad("event", "SearchPerformed is not a title event"))
            }
        })
    }
}

fn metadata_dto(m: &TitleMetadata) -> MetadataDto {
    MetadataDto {
        content_type: m.content_type.as_str().to_string(),
        title: m.title.clone(),
        original_title: m.original_title.clone(),
        overview: m.overview.clone(),
        release_date: m.release_date.format("%Y-%m-%d").to_string(),
        genres: m.genres.clone(),
        runtime_minutes: m.runtime_minutes.map(i32::from),
    }
}

fn metadata_domain(m: MetadataDto) -> Result<TitleMetadata, MappingError> {
    Ok(TitleMetadata {
        content_type: ContentType::parse(&m.content_type)
            .ok_or_else(|| bad("metadata.content_type", &m.content_type))?,
        title: m.title,
        original_title: m.original_title,
        overview: m.overview,
        release_date: NaiveDate::parse_from_str(&m.release_date, "%Y-%m-%d")
            .map_err(|e| bad("metadata.release_date", e))?,
        genres: m.genres,
        runtime_minutes: m
            .runtime_minutes
            .map(|r| u16::try_from(r).map_err(|e| bad("metadata.runtime_minutes", e)))
            .transpose()?,
    })
}

fn offer_dto(o: &Offer) -> OfferDto {
    OfferDto {
        platform: o.platform.clone(),
        region: o.region.clone(),
        availability_type: o.availability_type.as_str().to_string(),
        price_amount: o.price_amount.map(|d| d.to_string()),
        price_currency: o.price_currency.clone(),
        deep_link: o.deep_link.clone(),
        web_url: o.web_url.clone(),
        available_from_ms: o.available_from.timestamp_millis(),
        expires_at_ms: o.expires_at.map(|t| t.timestamp_millis()),
        video_quality: o.video_quality.clone(),
    }
}

fn offer_domain(o: OfferDto) -> Result<Offer, MappingError> {
    let ts = |field, ms: i64| {
        DateTime::from_timestamp_millis(ms).ok_or_else(|| bad(field, "out of range"))
    };
    Ok(Offer {
        availability_type: AvailabilityType::parse(&o.availability_type)
            .ok_or_else(|| bad("offer.availability_type", &o.availability_type))?,
        platform: o.platform,
        region: o.region,
        price_amount: o
            .price_amount
            .map(|p| {
                p.parse::<Decimal>()
                    .map_err(|e| bad("offer.price_amount", e))
            })
            .transpose()?,
        price_currency: o.price_currency,
        deep_link: o.deep_link,
        web_url: o.web_url,
        available_from: ts("offer.available_from_ms", o.available_from_ms)?,
        expires_at: o
            .expires_at_ms
            .map(|ms| ts("offer.expires_at_ms", ms))
            .transpose()?,
        video_quality: o.video_quality,
    })
}
