//! cqrs-es binding of the pure title aggregate. The domain crate stays free of cqrs-es (which pulls
//! tokio); this newtype pair is the only glue.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use mediagw_domain::title::{Title, TitleCommand, TitleError, TitleEvent};
use serde::{Deserialize, Serialize};

/// A title event as stored in the `events` table (JSON payload, version 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredTitleEvent(pub TitleEvent);

impl DomainEvent for StoredTitleEvent {
    fn event_type(&self) -> String {
        self.0.event_type().to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TitleAggregate(pub Title);

impl Aggregate for TitleAggregate {
    const TYPE: &'static str = Title::TYPE;
    type Command = TitleCommand;
    type Event = StoredTitleEvent;
    type Error = TitleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: TitleCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), TitleError> {
        for event in self.0.handle(command)? {
            sink.write(StoredTitleEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: StoredTitleEvent) {
        self.0.apply(event.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use mediagw_domain::catalog::{CanonicalTitle, ContentType, TitleMetadata};
    use uuid::Uuid;

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
        let ingested = StoredTitleEvent(TitleEvent::TitleIngested {
            content_id: id,
            source: "generic".into(),
            metadata: record().metadata,
            external_ids: record().external_ids,
        });
        TestFramework::<TitleAggregate>::with(())
            .given_no_previous_events()
            .when(cmd.clone())
            .then_expect_events(vec![ingested.clone()]);
        TestFramework::<TitleAggregate>::with(())
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
        TestFramework::<TitleAggregate>::with(())
            .given_no_previous_events()
            .when(cmd)
            .then_expect_error(TitleError::NotFound);
    }
}
