//! The cqrs-es binding of a pure domain aggregate, written once for all of them. The domain crate
//! stays free of cqrs-es (which pulls tokio); these wrappers are the only glue.

use std::marker::PhantomData;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::DomainEvent;
use mediagw_domain::event::{upcast, Aggregate, Event};
use serde::{Deserialize, Serialize};

/// A domain event as cqrs-es stores it: the domain's JSON, its type and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stored<E>(pub E);

impl<E: Event> DomainEvent for Stored<E> {
    fn event_type(&self) -> String {
        self.0.event_type().to_string()
    }

    fn event_version(&self) -> String {
        self.0.event_version().to_string()
    }
}

/// A domain aggregate as cqrs-es drives it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bound<A>(pub A);

impl<A: Aggregate> cqrs_es::Aggregate for Bound<A>
where
    A::Command: Send,
{
    const TYPE: &'static str = A::TYPE;
    type Command = A::Command;
    type Event = Stored<A::Event>;
    type Error = A::Error;
    type Services = ();

    async fn handle(
        &mut self,
        command: A::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), A::Error> {
        for event in self.0.handle(command)? {
            sink.write(Stored(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Stored<A::Event>) {
        self.0.apply(event.0);
    }
}

/// The domain's upcasters for `E`, as one cqrs-es upcaster (it runs the whole chain).
pub struct Upcasters<E>(PhantomData<fn() -> E>);

impl<E> Default for Upcasters<E> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<E: Event> EventUpcaster for Upcasters<E> {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        E::upcasters()
            .iter()
            .any(|u| u.event_type == event_type && u.from_version == event_version)
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        let (version, payload) = upcast(
            E::upcasters(),
            &event.event_type,
            &event.event_version,
            std::mem::take(&mut event.payload),
        );
        event.event_version = version;
        event.payload = payload;
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use mediagw_domain::catalog::{CanonicalTitle, ContentType, TitleMetadata};
    use mediagw_domain::title::{Title, TitleCommand, TitleError, TitleEvent};
    use uuid::Uuid;

    type Titles = TestFramework<Bound<Title>>;

    fn record() -> CanonicalTitle {
        CanonicalTitle {
            external_ids: [("imdb".into(), "tt0062622".into())].into(),
            metadata: TitleMetadata {
                content_type: ContentType::Movie,
                title: "2001: A Space Odyssey".into(),
                original_title: None,
                overview: None,
                release_date: chrono::NaiveDate::from_ymd_opt(1968, 4, 2).unwrap(),
                genres: vec![],
                runtime_minutes: None,
                cast: vec![],
                rating: None,
            },
            availability: vec![],
        }
    }

    #[test]
    fn ingest_through_cqrs_es_then_replay_is_idempotent() {
        let id = Uuid::from_u128(1);
        let cmd = TitleCommand::IngestRecord {
            content_id: id,
            source: "generic".into(),
            region: "US".into(),
            record: record(),
        };
        let ingested = Stored(TitleEvent::TitleIngested {
            content_id: id,
            source: "generic".into(),
            metadata: record().metadata,
            external_ids: record().external_ids,
        });
        Titles::with(())
            .given_no_previous_events()
            .when(cmd.clone())
            .then_expect_events(vec![ingested.clone()]);
        Titles::with(())
            .given(vec![ingested])
            .when(cmd)
            .then_expect_events(vec![]);
    }

    #[test]
    fn availability_change_on_unknown_title_is_rejected() {
        let cmd = TitleCommand::ChangeAvailability {
            source: "generic".into(),
            region: "US".into(),
            offers: vec![],
        };
        Titles::with(())
            .given_no_previous_events()
            .when(cmd)
            .then_expect_error(TitleError::NotFound);
    }

    #[test]
    fn stored_events_carry_their_type_and_own_version() {
        let left = Stored(TitleEvent::TitlesMerged {
            survivor_id: Uuid::nil(),
            confidence: 1.0,
            reasons: vec![],
        });
        assert_eq!(
            (left.event_type(), left.event_version()),
            ("TitlesMerged".to_string(), "1.0".to_string())
        );
    }

    #[test]
    fn the_cqrs_es_upcaster_lifts_a_v1_availability_update() {
        let up = Upcasters::<TitleEvent>::default();
        assert!(up.can_upcast("AvailabilityUpdated", "1.0"));
        assert!(!up.can_upcast("AvailabilityUpdated", "2.0"));
        assert!(!up.can_upcast("TitleIngested", "1.0"));
        let v1 = SerializedEvent {
            aggregate_id: "x".into(),
            sequence: 2,
            aggregate_type: Title::TYPE.into(),
            event_type: "AvailabilityUpdated".into(),
            event_version: "1.0".into(),
            payload: serde_json::json!({"AvailabilityUpdated": {"source": "s", "offer": {}}}),
            metadata: serde_json::json!({}),
        };
        let v2 = up.upcast(v1);
        assert_eq!(v2.event_version, "2.0");
        assert_eq!(v2.payload["AvailabilityUpdated"]["change"], "updated");
    }
}
