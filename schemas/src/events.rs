//! The event declaration: every record that travels on Kafka is declared once, here, with its
//! Avro name, topic, DTO and schema file. [`declare_events!`] generates the rest from that one list —
//! the [`EventRecord`] enum, topic routing, full names, the registry's schema list, the codec's
//! encode/decode branches and the relay's mapping from stored events — so adding an event is one
//! line here, its `.avsc`, its DTO mapping and its fold in a projector.

use crate::declare_events;
use crate::dto::*;
use crate::topics::*;

declare_events! {
    /// A record as it travels on Kafka.
    pub enum EventRecord;
    events {
        TitleIngested {
            namespace: "mediagw.catalog",
            topic: CONTENT_INGESTED,
            dto: TitleIngestedV1,
            schema: "avro/TitleIngested.avsc",
        },
        TitleUpdated {
            namespace: "mediagw.catalog",
            topic: CONTENT_UPDATED,
            dto: TitleUpdatedV1,
            schema: "avro/TitleUpdated.avsc",
        },
        AvailabilityArrived {
            namespace: "mediagw.catalog",
            topic: AVAILABILITY_CHANGED,
            dto: AvailabilityArrivedV1,
            schema: "avro/AvailabilityArrived.avsc",
        },
        AvailabilityUpdated {
            namespace: "mediagw.catalog",
            topic: AVAILABILITY_CHANGED,
            dto: AvailabilityUpdatedV1,
            schema: "avro/AvailabilityUpdated.avsc",
        },
        AvailabilityLeft {
            namespace: "mediagw.catalog",
            topic: AVAILABILITY_CHANGED,
            dto: AvailabilityLeftV1,
            schema: "avro/AvailabilityLeft.avsc",
        },
        TitlesMerged {
            namespace: "mediagw.catalog",
            topic: CONTENT_UPDATED,
            dto: TitlesMergedV1,
            schema: "avro/TitlesMerged.avsc",
        },
        /// One search answered (older logs; still read by the search-activity projector).
        SearchPerformed {
            namespace: "mediagw.search",
            topic: SEARCH_QUERIES,
            dto: SearchPerformedV1,
            schema: "avro/SearchPerformed.avsc",
        },
        /// Searches one API instance answered in one flush window (ADR 0013).
        SearchesPerformed {
            namespace: "mediagw.search",
            topic: SEARCH_QUERIES,
            dto: SearchesPerformedV1,
            schema: "avro/SearchesPerformed.avsc",
        },
        /// A device's sync operation, keyed by user.
        SyncOperationRecorded {
            namespace: "mediagw.sync",
            topic: SYNC_OPERATIONS,
            dto: SyncOperationRecordedV1,
            schema: "avro/SyncOperationRecorded.avsc",
        },
        /// A user's feedback on a title (seed `FeedbackEvent`), keyed by user.
        FeedbackRecorded {
            namespace: "mediagw.user",
            topic: USER_INTERACTION,
            dto: FeedbackRecordedV1,
            schema: "avro/FeedbackRecorded.avsc",
        },
        /// The services a user subscribes to, keyed by user.
        ServicesSet {
            namespace: "mediagw.user",
            topic: USER_INTERACTION,
            dto: ServicesSetV1,
            schema: "avro/ServicesSet.avsc",
        },
        /// A device registered (or re-registered with new details), keyed by user.
        DeviceRegistered {
            namespace: "mediagw.playback",
            topic: PLAYBACK_DEVICES,
            dto: DeviceRegisteredV1,
            schema: "avro/DeviceRegistered.avsc",
        },
        DeviceRemoved {
            namespace: "mediagw.playback",
            topic: PLAYBACK_DEVICES,
            dto: DeviceRemovedV1,
            schema: "avro/DeviceRemoved.avsc",
        },
        /// A playback session started on a device (the routing decision), keyed by user.
        PlaybackStarted {
            namespace: "mediagw.playback",
            topic: PLAYBACK_SESSIONS,
            dto: PlaybackStartedV1,
            schema: "avro/PlaybackStarted.avsc",
        },
        PlaybackControlled {
            namespace: "mediagw.playback",
            topic: PLAYBACK_SESSIONS,
            dto: PlaybackControlledV1,
            schema: "avro/PlaybackControlled.avsc",
        },
        PlaybackEnded {
            namespace: "mediagw.playback",
            topic: PLAYBACK_SESSIONS,
            dto: PlaybackEndedV1,
            schema: "avro/PlaybackEnded.avsc",
        },
        /// The auth server's audit trail (ids only).
        AuthAudit {
            namespace: "mediagw.auth",
            topic: AUTH_AUDIT,
            dto: AuthAuditV1,
            schema: "avro/AuthAudit.avsc",
        },
    }
    streams {
        mediagw_domain::title::Title::TYPE => mediagw_domain::title::TitleEvent,
        mediagw_domain::sync::UserSync::TYPE => mediagw_domain::sync::SyncEvent,
        mediagw_domain::auth::AuditEvent::TYPE => mediagw_domain::auth::AuditEvent,
        mediagw_domain::interaction::UserInteractions::TYPE => mediagw_domain::interaction::InteractionEvent,
        mediagw_domain::playback::device::UserDevices::TYPE => mediagw_domain::playback::device::DeviceEvent,
        mediagw_domain::playback::session::PlaybackSession::TYPE => mediagw_domain::playback::session::SessionEvent,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use apache_avro::reader::datum::GenericDatumReader;
    use apache_avro::writer::datum::GenericDatumWriter;
    use chrono::{NaiveDate, TimeZone, Utc};
    use mediagw_domain::auth::AuditEvent;
    use mediagw_domain::catalog::{AvailabilityType, ContentType, Offer, TitleMetadata};
    use mediagw_domain::event::Event;
    use mediagw_domain::sync::{CrdtOperation, Hlc, OperationType, SyncEvent, UserSync};
    use mediagw_domain::title::{OfferChange, Title, TitleEvent};
    use uuid::Uuid;

    use super::*;
    use crate::set::{EventMeta, EventSet};

    fn meta(seq: i64) -> EventMeta {
        EventMeta::new(
            Uuid::from_u128(42),
            seq,
            Utc.timestamp_millis_opt(1_764_400_000_000).unwrap(),
        )
    }

    fn offer() -> Offer {
        Offer {
            platform: "netflix".into(),
            region: "US".into(),
            availability_type: AvailabilityType::Rent,
            price_amount: Some("3.99".parse().unwrap()),
            price_currency: Some("USD".into()),
            deep_link: "nflx://title/1".into(),
            web_url: "https://netflix.com/title/1".into(),
            available_from: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            expires_at: Some(Utc.timestamp_millis_opt(1_800_000_000_000).unwrap()),
            video_quality: Some("4k".into()),
        }
    }

    /// Stored domain events of every stream, with the aggregate that stores them.
    fn stored_events() -> Vec<(&'static str, serde_json::Value, &'static str, &'static str)> {
        let metadata = TitleMetadata {
            content_type: ContentType::Movie,
            title: "The Matrix".into(),
            original_title: None,
            overview: Some("A hacker learns the truth.".into()),
            release_date: NaiveDate::from_ymd_opt(1999, 3, 31).unwrap(),
            genres: vec!["science fiction".into()],
            runtime_minutes: Some(136),
            cast: vec!["Keanu Reeves".into()],
            rating: None,
        };
        // Records written before ratings existed, and those with one.
        let rated = TitleMetadata {
            rating: Some(mediagw_domain::catalog::AudienceRating {
                score: 82,
                votes: 26_280,
            }),
            ..metadata.clone()
        };
        let ids = [("imdb".to_string(), "tt0133093".to_string())].into();
        let titles = [
            TitleEvent::TitleIngested {
                content_id: Uuid::from_u128(42),
                source: "tmdb".into(),
                metadata: metadata.clone(),
                external_ids: ids,
            },
            TitleEvent::TitleUpdated {
                source: "tmdb".into(),
                metadata: rated,
                external_ids: Default::default(),
            },
            TitleEvent::AvailabilityArrived {
                source: "tmdb".into(),
                offer: offer(),
            },
            TitleEvent::AvailabilityUpdated {
                source: "tmdb".into(),
                offer: offer(),
                change: OfferChange::PriceChanged,
            },
            TitleEvent::AvailabilityLeft {
                source: "tmdb".into(),
                key: offer().key(),
            },
            TitleEvent::TitlesMerged {
                survivor_id: Uuid::from_u128(7),
                confidence: 0.97,
                reasons: vec!["same title and year".into()],
            },
        ];
        let dev = Uuid::from_u128(3);
        let ts = Hlc {
            physical_ms: 1_764_400_000_000,
            logical: 1,
            device_id: dev,
        };
        let sync = SyncEvent::OperationRecorded {
            user_id: Uuid::from_u128(9),
            operation: CrdtOperation {
                operation_id: Uuid::from_u128(10),
                operation_type: OperationType::PlaybackUpdate {
                    content_id: Uuid::from_u128(42),
                    position_ms: 754_000,
                    duration_ms: Some(8_160_000),
                },
                timestamp: ts,
                device_id: dev,
                payload: serde_json::Value::Null,
            },
            cursor: ts,
        };
        let audit = AuditEvent::SignedIn {
            user_id: Uuid::from_u128(9),
            client_id: Some("demo-web".into()),
        };
        let mut out: Vec<_> = titles
            .iter()
            .map(|e| {
                (
                    Title::TYPE,
                    serde_json::to_value(e).unwrap(),
                    e.event_type(),
                    e.event_version(),
                )
            })
            .collect();
        out.push((
            UserSync::TYPE,
            serde_json::to_value(&sync).unwrap(),
            Event::event_type(&sync),
            sync.event_version(),
        ));
        use mediagw_domain::interaction::{
            Feedback, InteractionEvent, Signal, Subscription, UserInteractions,
        };
        let interactions = [
            InteractionEvent::FeedbackRecorded {
                user_id: Uuid::from_u128(9),
                feedback: Feedback {
                    event_id: Uuid::from_u128(10),
                    content_id: Uuid::from_u128(11),
                    signal: Signal::Rated {
                        rating: 9,
                        scale: 10,
                    },
                    at_ms: 1_364_690_142_000,
                },
            },
            InteractionEvent::ServicesSet {
                user_id: Uuid::from_u128(9),
                region: Some("US".into()),
                services: vec![Subscription {
                    platform: "netflix".into(),
                    tier: Some("standard".into()),
                }],
            },
        ];
        for e in &interactions {
            out.push((
                UserInteractions::TYPE,
                serde_json::to_value(e).unwrap(),
                Event::event_type(e),
                e.event_version(),
            ));
        }
        use mediagw_domain::playback::device::{
            Capabilities, Device, DeviceEvent, DeviceType, UserDevices,
        };
        use mediagw_domain::playback::session::{Control, PlaybackSession, SessionEvent, Started};
        let devices = [
            DeviceEvent::DeviceRegistered {
                user_id: Uuid::from_u128(9),
                device: Device {
                    device_id: Uuid::from_u128(3),
                    device_name: "Living room".into(),
                    device_type: DeviceType::Tizen,
                    capabilities: Capabilities {
                        supports_4k: true,
                        supports_hdr: true,
                        supports_dolby_atmos: false,
                        supported_platforms: vec!["netflix".into()],
                    },
                    push_token: Some("secret-push-token".into()),
                    registered_at_ms: 1_764_400_000_000,
                },
            },
            DeviceEvent::DeviceRemoved {
                user_id: Uuid::from_u128(9),
                device_id: Uuid::from_u128(3),
            },
        ];
        for e in &devices {
            out.push((
                UserDevices::TYPE,
                serde_json::to_value(e).unwrap(),
                Event::event_type(e),
                e.event_version(),
            ));
        }
        let sessions = [
            SessionEvent::PlaybackStarted(Started {
                session_id: Uuid::from_u128(12),
                user_id: Uuid::from_u128(9),
                device_id: Uuid::from_u128(3),
                content_id: Uuid::from_u128(42),
                platform: "netflix".into(),
                deep_link: "nflx://www.netflix.com/title/1".into(),
                web_fallback: "https://www.netflix.com/title/1".into(),
                resume_position_ms: Some(754_000),
                at_ms: 1_764_400_000_000,
            }),
            SessionEvent::PlaybackControlled {
                session_id: Uuid::from_u128(12),
                user_id: Uuid::from_u128(9),
                command: Control::Seek,
                position_ms: Some(800_000),
                at_ms: 1_764_400_001_000,
            },
            SessionEvent::PlaybackEnded {
                session_id: Uuid::from_u128(12),
                user_id: Uuid::from_u128(9),
                position_ms: None,
                at_ms: 1_764_400_002_000,
            },
        ];
        for e in &sessions {
            out.push((
                PlaybackSession::TYPE,
                serde_json::to_value(e).unwrap(),
                Event::event_type(e),
                e.event_version(),
            ));
        }
        out.push((
            AuditEvent::TYPE,
            serde_json::to_value(&audit).unwrap(),
            Event::event_type(&audit),
            audit.event_version(),
        ));
        out
    }

    /// One record of every declared event: the stored ones through the relay's mapping, the
    /// published-only ones (searches) by hand.
    fn samples() -> Vec<EventRecord> {
        let mut out: Vec<EventRecord> = stored_events()
            .into_iter()
            .enumerate()
            .map(|(i, (aggregate, payload, ty, version))| {
                EventRecord::from_stored(aggregate, ty, version, payload, &meta(i as i64 + 1))
                    .unwrap()
            })
            .collect();
        let search = SearchDto {
            event_id: Uuid::from_u128(11).to_string(),
            occurred_at_ms: 1_764_400_000_000,
            source: "rest".into(),
            query: "funny space movies".into(),
            user_id: None,
            genres: vec!["comedy".into()],
            result_ids: vec![Uuid::from_u128(42).to_string()],
        };
        out.push(
            SearchPerformedV1 {
                event_id: search.event_id.clone(),
                content_id: search.event_id.clone(),
                sequence: 1,
                occurred_at_ms: search.occurred_at_ms,
                source: "rest".into(),
                query: search.query.clone(),
                user_id: Some(Uuid::from_u128(9).to_string()),
                genres: vec![],
                result_ids: vec![],
            }
            .into(),
        );
        out.push(
            SearchesPerformedV1 {
                event_id: Uuid::from_u128(12).to_string(),
                content_id: Uuid::from_u128(12).to_string(),
                sequence: 1,
                occurred_at_ms: 1_764_400_000_500,
                source: "api".into(),
                searches: vec![search],
            }
            .into(),
        );
        out
    }

    fn schema_of(full_name: &str) -> apache_avro::Schema {
        let file = EventRecord::SCHEMAS
            .iter()
            .find(|s| s.full_name == full_name)
            .unwrap_or_else(|| panic!("`{full_name}` is not declared"));
        apache_avro::Schema::parse_str(file.text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.file))
    }

    #[test]
    fn every_declared_event_round_trips_through_its_avsc() {
        let samples = samples();
        let sampled: BTreeSet<_> = samples.iter().map(|r| r.full_name()).collect();
        let declared: BTreeSet<_> = EventRecord::SCHEMAS.iter().map(|s| s.full_name).collect();
        assert_eq!(
            sampled, declared,
            "every declared event needs a sample here"
        );
        for record in samples {
            let name = record.full_name();
            let schema = schema_of(name);
            assert_eq!(
                schema.name().map(|n| n.fullname(None)).as_deref(),
                Some(name),
                "the .avsc declares another record name"
            );
            let value = apache_avro::to_value(&record)
                .unwrap()
                .resolve(&schema)
                .unwrap_or_else(|e| panic!("{name} does not fit its schema: {e}"));
            let bytes = GenericDatumWriter::builder(&schema)
                .build()
                .unwrap()
                .write_value_to_vec(value)
                .unwrap();
            let back = GenericDatumReader::builder(&schema)
                .build()
                .unwrap()
                .read_value(&mut bytes.as_slice())
                .unwrap();
            let decoded = EventRecord::from_avro(name, &back)
                .expect("declared")
                .unwrap();
            assert_eq!(decoded, record, "{name} changed on the way");
        }
    }

    #[test]
    fn every_schema_file_belongs_to_a_declared_event() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/avro");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("avro/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|f| f.ends_with(".avsc"))
            .collect();
        let declared: BTreeSet<String> = EventRecord::SCHEMAS
            .iter()
            .map(|s| s.file.to_string())
            .collect();
        assert_eq!(
            on_disk, declared,
            "a schema without an event, or an event without a schema"
        );
    }

    #[test]
    fn stored_events_map_to_their_records_on_their_topics() {
        for (i, (aggregate, payload, ty, version)) in stored_events().into_iter().enumerate() {
            let m = meta(i as i64 + 1);
            let record = EventRecord::from_stored(aggregate, ty, version, payload, &m).unwrap();
            assert_eq!(record.event_id(), m.event_id.to_string());
            assert_eq!(record.occurred_at_ms(), 1_764_400_000_000);
            assert!(
                record.full_name().ends_with(ty)
                    || ty == "OperationRecorded"
                    || aggregate == AuditEvent::TYPE
            );
            assert!(EventRecord::topics().contains(&record.topic()));
        }
        let unknown = EventRecord::from_stored("nope", "X", "1.0", serde_json::json!({}), &meta(1));
        assert!(unknown.unwrap_err().contains("unknown aggregate type"));
    }

    #[test]
    fn a_v1_availability_update_is_upcast_on_its_way_to_the_wire() {
        let mut payload = serde_json::to_value(TitleEvent::AvailabilityUpdated {
            source: "tmdb".into(),
            offer: offer(),
            change: OfferChange::Updated,
        })
        .unwrap();
        payload["AvailabilityUpdated"]
            .as_object_mut()
            .unwrap()
            .remove("change");
        let record =
            EventRecord::from_stored(Title::TYPE, "AvailabilityUpdated", "1.0", payload, &meta(1))
                .unwrap();
        let EventRecord::AvailabilityUpdated(r) = record else {
            panic!("wrong record")
        };
        assert_eq!(r.change.as_deref(), Some("updated"));
    }

    #[test]
    fn topics_come_from_the_declaration_once_each() {
        assert_eq!(
            EventRecord::topics(),
            [
                CONTENT_INGESTED,
                CONTENT_UPDATED,
                AVAILABILITY_CHANGED,
                SEARCH_QUERIES,
                SYNC_OPERATIONS,
                USER_INTERACTION,
                PLAYBACK_DEVICES,
                PLAYBACK_SESSIONS,
                AUTH_AUDIT
            ]
        );
    }
}
