//! The mapping between domain events and their wire DTOs: stored event → record (what the relay
//! publishes) and record → domain event (what projectors fold), validating what Avro cannot express.

use chrono::{DateTime, NaiveDate};
use mediagw_domain::catalog::{
    AudienceRating, AvailabilityType, ContentType, Offer, OfferKey, TitleMetadata,
};
use mediagw_domain::title::{OfferChange, TitleEvent};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::dto::*;
use crate::set::{EventMeta, ToRecord};
use crate::EventRecord;

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
    /// An audit event as stored (`aggregate_id` = its own id, sequence 1).
    pub fn from_audit(meta: &EventMeta, event: &mediagw_domain::auth::AuditEvent) -> Self {
        EventRecord::AuthAudit(AuthAuditV1 {
            event_id: meta.event_id.to_string(),
            content_id: meta.content_id.to_string(),
            sequence: meta.sequence,
            occurred_at_ms: meta.occurred_at.timestamp_millis(),
            source: "auth".into(),
            kind: event.kind().into(),
            user_id: event.user_id().map(|u| u.to_string()),
            detail: serde_json::to_string(event).unwrap_or_default(),
        })
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
            EventRecord::SearchPerformed(_)
            | EventRecord::SearchesPerformed(_)
            | EventRecord::SyncOperationRecorded(_)
            | EventRecord::FeedbackRecorded(_)
            | EventRecord::ServicesSet(_)
            | EventRecord::DeviceRegistered(_)
            | EventRecord::DeviceRemoved(_)
            | EventRecord::PlaybackStarted(_)
            | EventRecord::PlaybackControlled(_)
            | EventRecord::PlaybackEnded(_)
            | EventRecord::AuthAudit(_) => return Err(bad("event", "not a title event")),
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
        cast: m.cast.clone(),
        rating: m.rating.map(|r| RatingDto {
            score: i32::from(r.score),
            votes: i64::from(r.votes),
        }),
    }
}

fn metadata_domain(m: MetadataDto) -> Result<TitleMetadata, MappingError> {
    Ok(TitleMetadata {
        content_type: ContentType::parse(&m.content_type)
            .ok_or_else(|| bad("metadata.content_type", &m.content_type))?,
        // An upcast: titles logged before sources were read in reading order ("Goonies, The")
        // read as they are written now, so a replay puts every existing title right.
        title: mediagw_domain::catalog::reading_order(m.title),
        original_title: m.original_title,
        overview: m.overview,
        release_date: NaiveDate::parse_from_str(&m.release_date, "%Y-%m-%d")
            .map_err(|e| bad("metadata.release_date", e))?,
        genres: m.genres,
        runtime_minutes: m
            .runtime_minutes
            .map(|r| u16::try_from(r).map_err(|e| bad("metadata.runtime_minutes", e)))
            .transpose()?,
        cast: m.cast,
        rating: m
            .rating
            .map(|r| {
                Ok::<_, MappingError>(AudienceRating {
                    score: u8::try_from(r.score)
                        .ok()
                        .filter(|s| *s <= 100)
                        .ok_or_else(|| bad("metadata.rating.score", r.score))?,
                    votes: u32::try_from(r.votes).map_err(|e| bad("metadata.rating.votes", e))?,
                })
            })
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

impl ToRecord<EventRecord> for TitleEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_domain(meta, self)
    }
}

impl ToRecord<EventRecord> for mediagw_domain::auth::AuditEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_audit(meta, self)
    }
}

impl ToRecord<EventRecord> for mediagw_domain::sync::SyncEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_sync(meta, self)
    }
}

mod sync_mapping {
    //! `SyncOperationRecorded` ⇄ `mediagw_domain::sync::SyncEvent`.
    use super::*;
    use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, SyncEvent};

    fn hlc_dto(h: &Hlc) -> HlcDto {
        HlcDto {
            physical_ms: h.physical_ms as i64,
            logical: h.logical as i32,
            device_id: h.device_id.to_string(),
        }
    }

    fn hlc_domain(field: &'static str, h: HlcDto) -> Result<Hlc, MappingError> {
        Ok(Hlc {
            physical_ms: u64::try_from(h.physical_ms).map_err(|e| bad(field, e))?,
            logical: u32::try_from(h.logical).map_err(|e| bad(field, e))?,
            device_id: Uuid::parse_str(&h.device_id).map_err(|e| bad(field, e))?,
        })
    }

    fn uuid(field: &'static str, s: &str) -> Result<Uuid, MappingError> {
        Uuid::parse_str(s).map_err(|e| bad(field, e))
    }

    fn non_negative(field: &'static str, v: Option<i64>) -> Result<u64, MappingError> {
        let v = v.ok_or_else(|| bad(field, "required for this operation type"))?;
        u64::try_from(v).map_err(|e| bad(field, e))
    }

    impl EventRecord {
        pub fn from_sync(meta: &EventMeta, event: &SyncEvent) -> Self {
            let SyncEvent::OperationRecorded {
                user_id,
                operation: op,
                cursor,
            } = event;
            let (mut tags, mut position_ms, mut duration_ms, mut count) =
                (vec![], None, None, None);
            match &op.operation_type {
                OperationType::WatchlistAdd { tag, .. } => tags.push(tag.to_string()),
                OperationType::WatchlistRemove { tags: t, .. } => {
                    tags = t.iter().map(Uuid::to_string).collect()
                }
                OperationType::PlaybackUpdate {
                    position_ms: p,
                    duration_ms: d,
                    ..
                } => {
                    position_ms = Some(*p as i64);
                    duration_ms = d.map(|d| d as i64);
                }
                OperationType::ViewCount { count: c, .. } => count = Some(*c as i64),
                OperationType::DeviceOnline | OperationType::DeviceOffline => {}
            }
            EventRecord::SyncOperationRecorded(SyncOperationRecordedV1 {
                event_id: meta.event_id.to_string(),
                user_id: user_id.to_string(),
                sequence: meta.sequence,
                occurred_at_ms: meta.occurred_at.timestamp_millis(),
                operation_id: op.operation_id.to_string(),
                operation_type: op.operation_type.name().to_string(),
                device_id: op.device_id.to_string(),
                content_id: op.operation_type.content_id().map(|c| c.to_string()),
                tags,
                position_ms,
                duration_ms,
                count,
                timestamp: hlc_dto(&op.timestamp),
                cursor: hlc_dto(cursor),
                payload: (!op.payload.is_null()).then(|| op.payload.to_string()),
            })
        }
    }

    impl SyncOperationRecordedV1 {
        /// Back to the domain, validating what the schema cannot express.
        pub fn into_domain(self) -> Result<(i64, SyncEvent), MappingError> {
            if self.sequence < 1 {
                return Err(bad("sequence", "must be at least 1"));
            }
            let content = || -> Result<Uuid, MappingError> {
                uuid(
                    "content_id",
                    self.content_id
                        .as_deref()
                        .ok_or_else(|| bad("content_id", "required for this operation type"))?,
                )
            };
            let tags = self
                .tags
                .iter()
                .map(|t| uuid("tags", t))
                .collect::<Result<Vec<_>, _>>()?;
            let operation_type = match self.operation_type.as_str() {
                "WatchlistAdd" => OperationType::WatchlistAdd {
                    content_id: content()?,
                    tag: *tags
                        .first()
                        .ok_or_else(|| bad("tags", "an add carries its tag"))?,
                },
                "WatchlistRemove" => OperationType::WatchlistRemove {
                    content_id: content()?,
                    tags,
                },
                "PlaybackUpdate" => OperationType::PlaybackUpdate {
                    content_id: content()?,
                    position_ms: non_negative("position_ms", self.position_ms)?,
                    duration_ms: self
                        .duration_ms
                        .map(|d| u64::try_from(d).map_err(|e| bad("duration_ms", e)))
                        .transpose()?,
                },
                "ViewCount" => OperationType::ViewCount {
                    content_id: content()?,
                    count: non_negative("count", self.count)?,
                },
                "DeviceOnline" => OperationType::DeviceOnline,
                "DeviceOffline" => OperationType::DeviceOffline,
                other => return Err(bad("operation_type", other)),
            };
            let payload = match &self.payload {
                Some(p) => serde_json::from_str(p).map_err(|e| bad("payload", e))?,
                None => serde_json::Value::Null,
            };
            let operation = CrdtOperation {
                operation_id: uuid("operation_id", &self.operation_id)?,
                operation_type,
                timestamp: hlc_domain("timestamp", self.timestamp)?,
                device_id: uuid("device_id", &self.device_id)?,
                payload,
            };
            Ok((
                self.sequence,
                SyncEvent::OperationRecorded {
                    user_id: uuid("user_id", &self.user_id)?,
                    operation,
                    cursor: hlc_domain("cursor", self.cursor)?,
                },
            ))
        }
    }
}

#[cfg(test)]
mod sync_tests {
    use super::*;
    use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, SyncEvent};

    #[test]
    fn sync_operations_round_trip_through_the_wire_dto() {
        let dev = Uuid::from_u128(7);
        let ts = Hlc {
            physical_ms: 1_700_000_000_000,
            logical: 3,
            device_id: dev,
        };
        let types = [
            OperationType::WatchlistAdd {
                content_id: Uuid::from_u128(1),
                tag: Uuid::from_u128(2),
            },
            OperationType::WatchlistRemove {
                content_id: Uuid::from_u128(1),
                tags: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
            },
            OperationType::PlaybackUpdate {
                content_id: Uuid::from_u128(1),
                position_ms: 5,
                duration_ms: Some(9),
            },
            OperationType::ViewCount {
                content_id: Uuid::from_u128(1),
                count: 4,
            },
            OperationType::DeviceOnline,
            OperationType::DeviceOffline,
        ];
        for (i, t) in types.into_iter().enumerate() {
            let event = SyncEvent::OperationRecorded {
                user_id: Uuid::from_u128(9),
                operation: CrdtOperation {
                    operation_id: Uuid::from_u128(100 + i as u128),
                    operation_type: t,
                    timestamp: ts,
                    device_id: dev,
                    payload: serde_json::json!({"name": "TV"}),
                },
                cursor: Hlc {
                    device_id: Uuid::nil(),
                    ..ts
                },
            };
            let meta = EventMeta::new(Uuid::from_u128(9), i as i64 + 1, chrono::Utc::now());
            let EventRecord::SyncOperationRecorded(dto) = EventRecord::from_sync(&meta, &event)
            else {
                panic!("wrong record")
            };
            assert_eq!(dto.into_domain().unwrap(), (i as i64 + 1, event));
        }
    }

    #[test]
    fn a_sync_record_missing_its_content_is_refused_naming_the_field() {
        let dto = SyncOperationRecordedV1 {
            event_id: Uuid::nil().to_string(),
            user_id: Uuid::nil().to_string(),
            sequence: 1,
            occurred_at_ms: 0,
            operation_id: Uuid::from_u128(1).to_string(),
            operation_type: "PlaybackUpdate".into(),
            device_id: Uuid::from_u128(2).to_string(),
            content_id: None,
            tags: vec![],
            position_ms: Some(1),
            duration_ms: None,
            count: None,
            timestamp: HlcDto {
                physical_ms: 1,
                logical: 0,
                device_id: Uuid::from_u128(2).to_string(),
            },
            cursor: HlcDto {
                physical_ms: 1,
                logical: 0,
                device_id: Uuid::nil().to_string(),
            },
            payload: None,
        };
        assert_eq!(dto.into_domain().unwrap_err().field, "content_id");
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    /// The batch DTO and `SearchesPerformed.avsc` agree: a batch encodes under the schema and
    /// decodes back unchanged (the codec relies on exactly this).
    #[test]
    fn a_search_batch_round_trips_through_its_avro_schema() {
        let text = crate::SCHEMAS
            .iter()
            .find(|s| s.full_name == "mediagw.search.SearchesPerformed")
            .expect("schema listed")
            .text;
        let schema = apache_avro::Schema::parse_str(text).unwrap();
        let search = |q: &str, user: Option<&str>| SearchDto {
            event_id: Uuid::now_v7().to_string(),
            occurred_at_ms: 1_764_400_000_000,
            source: "rest".into(),
            query: q.into(),
            user_id: user.map(str::to_string),
            genres: vec!["comedy".into()],
            result_ids: vec![Uuid::from_u128(1).to_string()],
        };
        let batch = SearchesPerformedV1 {
            event_id: Uuid::from_u128(5).to_string(),
            content_id: Uuid::from_u128(5).to_string(),
            sequence: 1,
            occurred_at_ms: 1_764_400_000_500,
            source: "api".into(),
            searches: vec![
                search("funny movies", Some(&Uuid::from_u128(9).to_string())),
                search("space westerns", None),
            ],
        };
        let value = apache_avro::to_value(&batch)
            .unwrap()
            .resolve(&schema)
            .unwrap();
        let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .unwrap()
            .write_value_to_vec(value)
            .unwrap();
        let back = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .build()
            .unwrap()
            .read_value(&mut bytes.as_slice())
            .unwrap();
        assert_eq!(
            apache_avro::from_value::<SearchesPerformedV1>(&back).unwrap(),
            batch
        );
        let record = EventRecord::SearchesPerformed(batch);
        assert_eq!(record.topic(), crate::topics::SEARCH_QUERIES);
        assert_eq!(record.full_name(), "mediagw.search.SearchesPerformed");
    }
}

impl ToRecord<EventRecord> for mediagw_domain::interaction::InteractionEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_interaction(meta, self)
    }
}

mod interaction_mapping {
    //! `FeedbackRecorded` / `ServicesSet` ⇄ `mediagw_domain::interaction::InteractionEvent`.

    use mediagw_domain::interaction::{Feedback, InteractionEvent, Signal, Subscription};
    use uuid::Uuid;

    use super::{bad, MappingError};
    use crate::dto::{FeedbackRecordedV1, ServicesSetV1, SubscriptionDto};
    use crate::set::EventMeta;
    use crate::EventRecord;

    impl EventRecord {
        /// The wire record of a stored interaction event (`meta.content_id` is the user id).
        pub fn from_interaction(meta: &EventMeta, event: &InteractionEvent) -> Self {
            let (event_id, sequence, occurred_at_ms) = (
                meta.event_id.to_string(),
                meta.sequence,
                meta.occurred_at.timestamp_millis(),
            );
            match event {
                InteractionEvent::FeedbackRecorded { user_id, feedback } => {
                    let (completion_rate, rating, rating_scale) = match feedback.signal {
                        Signal::Watched { completion } => (Some(completion), None, None),
                        Signal::Rated { rating, scale } => {
                            (None, Some(rating as i32), Some(scale as i32))
                        }
                        Signal::Dismissed | Signal::Added => (None, None, None),
                    };
                    EventRecord::FeedbackRecorded(FeedbackRecordedV1 {
                        event_id,
                        user_id: user_id.to_string(),
                        sequence,
                        occurred_at_ms,
                        feedback_id: feedback.event_id.to_string(),
                        content_id: feedback.content_id.to_string(),
                        event_type: feedback.signal.name().to_string(),
                        completion_rate,
                        rating,
                        rating_scale,
                        timestamp_ms: feedback.at_ms,
                    })
                }
                InteractionEvent::ServicesSet {
                    user_id,
                    region,
                    services,
                } => EventRecord::ServicesSet(ServicesSetV1 {
                    event_id,
                    user_id: user_id.to_string(),
                    sequence,
                    occurred_at_ms,
                    region: region.clone(),
                    services: services
                        .iter()
                        .map(|s| SubscriptionDto {
                            platform: s.platform.clone(),
                            tier: s.tier.clone(),
                        })
                        .collect(),
                }),
            }
        }
    }

    fn uuid(field: &'static str, raw: &str) -> Result<Uuid, MappingError> {
        Uuid::parse_str(raw).map_err(|e| bad(field, e))
    }

    impl FeedbackRecordedV1 {
        /// The domain event and its position in the user's log.
        pub fn into_domain(self) -> Result<(i64, InteractionEvent), MappingError> {
            let small = |field, v: Option<i32>| {
                v.ok_or_else(|| bad(field, "missing"))
                    .and_then(|v| u8::try_from(v).map_err(|e| bad(field, e)))
            };
            let signal = match self.event_type.as_str() {
                "Watched" => Signal::Watched {
                    completion: self
                        .completion_rate
                        .ok_or_else(|| bad("completion_rate", "missing"))?,
                },
                "Rated" => Signal::Rated {
                    rating: small("rating", self.rating)?,
                    scale: small("rating_scale", self.rating_scale)?,
                },
                "Dismissed" => Signal::Dismissed,
                "Added" => Signal::Added,
                other => return Err(bad("event_type", other)),
            };
            Ok((
                self.sequence,
                InteractionEvent::FeedbackRecorded {
                    user_id: uuid("user_id", &self.user_id)?,
                    feedback: Feedback {
                        event_id: uuid("feedback_id", &self.feedback_id)?,
                        content_id: uuid("content_id", &self.content_id)?,
                        signal,
                        at_ms: self.timestamp_ms,
                    },
                },
            ))
        }
    }

    impl ServicesSetV1 {
        pub fn into_domain(self) -> Result<(i64, InteractionEvent), MappingError> {
            Ok((
                self.sequence,
                InteractionEvent::ServicesSet {
                    user_id: uuid("user_id", &self.user_id)?,
                    region: self.region,
                    services: self
                        .services
                        .into_iter()
                        .map(|s| Subscription {
                            platform: s.platform,
                            tier: s.tier,
                        })
                        .collect(),
                },
            ))
        }
    }
}

impl ToRecord<EventRecord> for mediagw_domain::playback::device::DeviceEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_device(meta, self)
    }
}

impl ToRecord<EventRecord> for mediagw_domain::playback::session::SessionEvent {
    fn to_record(&self, meta: &EventMeta) -> EventRecord {
        EventRecord::from_session(meta, self)
    }
}

mod playback_mapping {
    //! `DeviceRegistered` / `DeviceRemoved` and `PlaybackStarted` / `PlaybackControlled` /
    //! `PlaybackEnded` ⇄ the playback domain events. The wire drops the push token.

    use mediagw_domain::playback::device::{Capabilities, DeviceEvent, DeviceType};
    use mediagw_domain::playback::session::{Control, SessionEvent, Started};
    use uuid::Uuid;

    use super::{bad, MappingError};
    use crate::dto::*;
    use crate::set::EventMeta;
    use crate::EventRecord;

    fn head(meta: &EventMeta) -> (String, i64, i64) {
        (
            meta.event_id.to_string(),
            meta.sequence,
            meta.occurred_at.timestamp_millis(),
        )
    }

    fn uuid(field: &'static str, raw: &str) -> Result<Uuid, MappingError> {
        Uuid::parse_str(raw).map_err(|e| bad(field, e))
    }

    fn position(field: &'static str, p: Option<i64>) -> Result<Option<u64>, MappingError> {
        p.map(|p| u64::try_from(p).map_err(|e| bad(field, e)))
            .transpose()
    }

    impl EventRecord {
        pub fn from_device(meta: &EventMeta, event: &DeviceEvent) -> Self {
            let (event_id, sequence, occurred_at_ms) = head(meta);
            match event {
                DeviceEvent::DeviceRegistered { user_id, device } => {
                    EventRecord::DeviceRegistered(DeviceRegisteredV1 {
                        event_id,
                        user_id: user_id.to_string(),
                        sequence,
                        occurred_at_ms,
                        device_id: device.device_id.to_string(),
                        device_name: device.device_name.clone(),
                        device_type: device.device_type.as_str().to_string(),
                        supports_4k: device.capabilities.supports_4k,
                        supports_hdr: device.capabilities.supports_hdr,
                        supports_dolby_atmos: device.capabilities.supports_dolby_atmos,
                        supported_platforms: device.capabilities.supported_platforms.clone(),
                        has_push_token: device.push_token.is_some(),
                        registered_at_ms: device.registered_at_ms,
                    })
                }
                DeviceEvent::DeviceRemoved { user_id, device_id } => {
                    EventRecord::DeviceRemoved(DeviceRemovedV1 {
                        event_id,
                        user_id: user_id.to_string(),
                        sequence,
                        occurred_at_ms,
                        device_id: device_id.to_string(),
                    })
                }
            }
        }

        pub fn from_session(meta: &EventMeta, event: &SessionEvent) -> Self {
            let (event_id, sequence, occurred_at_ms) = head(meta);
            let pos = |p: &Option<u64>| p.map(|p| p as i64);
            match event {
                SessionEvent::PlaybackStarted(s) => {
                    EventRecord::PlaybackStarted(PlaybackStartedV1 {
                        event_id,
                        user_id: s.user_id.to_string(),
                        sequence,
                        occurred_at_ms,
                        session_id: s.session_id.to_string(),
                        device_id: s.device_id.to_string(),
                        content_id: s.content_id.to_string(),
                        platform: s.platform.clone(),
                        deep_link: s.deep_link.clone(),
                        web_fallback: s.web_fallback.clone(),
                        resume_position_ms: pos(&s.resume_position_ms),
                        started_at_ms: s.at_ms,
                    })
                }
                SessionEvent::PlaybackControlled {
                    session_id,
                    user_id,
                    command,
                    position_ms,
                    at_ms,
                } => EventRecord::PlaybackControlled(PlaybackControlledV1 {
                    event_id,
                    user_id: user_id.to_string(),
                    sequence,
                    occurred_at_ms,
                    session_id: session_id.to_string(),
                    command: command.as_str().to_string(),
                    position_ms: pos(position_ms),
                    at_ms: *at_ms,
                }),
                SessionEvent::PlaybackEnded {
                    session_id,
                    user_id,
                    position_ms,
                    at_ms,
                } => EventRecord::PlaybackEnded(PlaybackEndedV1 {
                    event_id,
                    user_id: user_id.to_string(),
                    sequence,
                    occurred_at_ms,
                    session_id: session_id.to_string(),
                    position_ms: pos(position_ms),
                    at_ms: *at_ms,
                }),
            }
        }
    }

    /// A device as the read model sees it (no push token on the wire).
    #[derive(Debug, Clone, PartialEq)]
    pub struct DeviceFacts {
        pub user_id: Uuid,
        pub device_id: Uuid,
        pub device_name: String,
        pub device_type: DeviceType,
        pub capabilities: Capabilities,
        pub has_push_token: bool,
        pub registered_at_ms: i64,
    }

    impl DeviceRegisteredV1 {
        pub fn into_domain(self) -> Result<DeviceFacts, MappingError> {
            Ok(DeviceFacts {
                user_id: uuid("user_id", &self.user_id)?,
                device_id: uuid("device_id", &self.device_id)?,
                device_type: DeviceType::parse(&self.device_type)
                    .ok_or_else(|| bad("device_type", &self.device_type))?,
                device_name: self.device_name,
                capabilities: Capabilities {
                    supports_4k: self.supports_4k,
                    supports_hdr: self.supports_hdr,
                    supports_dolby_atmos: self.supports_dolby_atmos,
                    supported_platforms: self.supported_platforms,
                },
                has_push_token: self.has_push_token,
                registered_at_ms: self.registered_at_ms,
            })
        }
    }

    impl DeviceRemovedV1 {
        /// (user, device).
        pub fn into_domain(self) -> Result<(Uuid, Uuid), MappingError> {
            Ok((
                uuid("user_id", &self.user_id)?,
                uuid("device_id", &self.device_id)?,
            ))
        }
    }

    impl PlaybackStartedV1 {
        pub fn into_domain(self) -> Result<SessionEvent, MappingError> {
            Ok(SessionEvent::PlaybackStarted(Started {
                session_id: uuid("session_id", &self.session_id)?,
                user_id: uuid("user_id", &self.user_id)?,
                device_id: uuid("device_id", &self.device_id)?,
                content_id: uuid("content_id", &self.content_id)?,
                platform: self.platform,
                deep_link: self.deep_link,
                web_fallback: self.web_fallback,
                resume_position_ms: position("resume_position_ms", self.resume_position_ms)?,
                at_ms: self.started_at_ms,
            }))
        }
    }

    impl PlaybackControlledV1 {
        pub fn into_domain(self) -> Result<SessionEvent, MappingError> {
            Ok(SessionEvent::PlaybackControlled {
                session_id: uuid("session_id", &self.session_id)?,
                user_id: uuid("user_id", &self.user_id)?,
                command: Control::parse(&self.command)
                    .ok_or_else(|| bad("command", &self.command))?,
                position_ms: position("position_ms", self.position_ms)?,
                at_ms: self.at_ms,
            })
        }
    }

    impl PlaybackEndedV1 {
        pub fn into_domain(self) -> Result<SessionEvent, MappingError> {
            Ok(SessionEvent::PlaybackEnded {
                session_id: uuid("session_id", &self.session_id)?,
                user_id: uuid("user_id", &self.user_id)?,
                position_ms: position("position_ms", self.position_ms)?,
                at_ms: self.at_ms,
            })
        }
    }
}

pub use playback_mapping::DeviceFacts;

#[cfg(test)]
mod upcast_tests {
    use super::*;

    #[test]
    fn a_title_logged_in_name_sorted_order_reads_in_reading_order() {
        let logged = |title: &str| MetadataDto {
            content_type: "movie".into(),
            title: title.into(),
            original_title: None,
            overview: None,
            release_date: "1985-06-07".into(),
            genres: vec![],
            runtime_minutes: None,
            cast: vec![],
            rating: None,
        };
        let read = metadata_domain(logged("Goonies, The")).unwrap();
        assert_eq!(read.title, "The Goonies");
        let now = metadata_domain(logged("The Goonies")).unwrap();
        assert_eq!(now.title, "The Goonies");
        assert_eq!(metadata_dto(&now).title, "The Goonies");
    }
}
