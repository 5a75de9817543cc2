//! Avro DTOs, one per `.avsc`: the records as they travel (mapped to and from domain events in
//! the `mapping` module).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::set::Envelope;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataDto {
    pub content_type: String,
    pub title: String,
    pub original_title: Option<String>,
    pub overview: Option<String>,
    pub release_date: String,
    pub genres: Vec<String>,
    pub runtime_minutes: Option<i32>,
    #[serde(default)]
    pub cast: Vec<String>,
    #[serde(default)]
    pub rating: Option<RatingDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingDto {
    pub score: i32,
    pub votes: i64,
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
    ($name:ident { $($field:ident : $ty:ty),* $(,)? } $(subject($r:ident) => $subject:expr)?) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            pub event_id: String,
            pub content_id: String,
            pub sequence: i64,
            pub occurred_at_ms: i64,
            pub source: String,
            $(pub $field: $ty,)*
        }

        impl Envelope for $name {
            fn event_id(&self) -> &str {
                &self.event_id
            }
            fn key(&self) -> &str {
                &self.content_id
            }
            fn sequence(&self) -> i64 {
                self.sequence
            }
            fn occurred_at_ms(&self) -> i64 {
                self.occurred_at_ms
            }
            $(
                fn data_subject(&self) -> Option<&str> {
                    let $r = self;
                    $subject
                }
            )?
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
} subject(r) => r.user_id.as_deref());

/// One search inside a [`SearchesPerformedV1`] batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDto {
    pub event_id: String,
    pub occurred_at_ms: i64,
    pub source: String,
    pub query: String,
    pub user_id: Option<String>,
    pub genres: Vec<String>,
    pub result_ids: Vec<String>,
}

// A batch is about a user only when every search in it is theirs (the publisher batches each
// signed-in user's searches apart from the others; a mixed batch is never sealed for one of them).
envelope_record!(SearchesPerformedV1 {
    searches: Vec<SearchDto>
} subject(r) => {
    let first = r.searches.first()?.user_id.as_deref()?;
    r.searches
        .iter()
        .all(|s| s.user_id.as_deref() == Some(first))
        .then_some(first)
});

envelope_record!(AuthAuditV1 {
    kind: String,
    user_id: Option<String>,
    detail: String
} subject(r) => r.user_id.as_deref());

/// Hybrid logical clock on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlcDto {
    pub physical_ms: i64,
    pub logical: i32,
    pub device_id: String,
}

/// `mediagw.sync.SyncOperationRecorded`: flat, so consumers in any language can read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncOperationRecordedV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub operation_id: String,
    pub operation_type: String,
    pub device_id: String,
    pub content_id: Option<String>,
    pub tags: Vec<String>,
    pub position_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub count: Option<i64>,
    pub timestamp: HlcDto,
    pub cursor: HlcDto,
    pub payload: Option<String>,
}

/// Keyed by user: a user's operations stay ordered in one partition.
impl Envelope for SyncOperationRecordedV1 {
    fn event_id(&self) -> &str {
        &self.event_id
    }
    fn key(&self) -> &str {
        &self.user_id
    }
    fn sequence(&self) -> i64 {
        self.sequence
    }
    fn occurred_at_ms(&self) -> i64 {
        self.occurred_at_ms
    }
    fn data_subject(&self) -> Option<&str> {
        Some(&self.user_id)
    }
}

/// `mediagw.user.FeedbackRecorded`: flat, keyed by user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecordedV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub feedback_id: String,
    pub content_id: String,
    pub event_type: String,
    pub completion_rate: Option<f32>,
    pub rating: Option<i32>,
    pub rating_scale: Option<i32>,
    pub timestamp_ms: i64,
}

/// A subscription inside [`ServicesSetV1`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionDto {
    pub platform: String,
    pub tier: Option<String>,
}

/// `mediagw.user.ServicesSet`, keyed by user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicesSetV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub region: Option<String>,
    pub services: Vec<SubscriptionDto>,
}

/// Keyed by user: one user's interactions stay ordered in one partition.
macro_rules! user_envelope {
    ($($name:ident),*) => {$(
        impl Envelope for $name {
            fn event_id(&self) -> &str {
                &self.event_id
            }
            fn key(&self) -> &str {
                &self.user_id
            }
            fn sequence(&self) -> i64 {
                self.sequence
            }
            fn occurred_at_ms(&self) -> i64 {
                self.occurred_at_ms
            }
            fn data_subject(&self) -> Option<&str> {
                Some(&self.user_id)
            }
        }
    )*};
}
user_envelope!(
    FeedbackRecordedV1,
    ServicesSetV1,
    DeviceRegisteredV1,
    DeviceRemovedV1,
    PlaybackStartedV1,
    PlaybackControlledV1,
    PlaybackEndedV1
);

/// `mediagw.playback.DeviceRegistered`, keyed by user. The push token stays in the event store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRegisteredV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub device_id: String,
    pub device_name: String,
    pub device_type: String,
    pub supports_4k: bool,
    pub supports_hdr: bool,
    pub supports_dolby_atmos: bool,
    pub supported_platforms: Vec<String>,
    pub has_push_token: bool,
    pub registered_at_ms: i64,
}

/// `mediagw.playback.DeviceRemoved`, keyed by user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRemovedV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub device_id: String,
}

/// `mediagw.playback.PlaybackStarted`, keyed by user (`sequence` is the session's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackStartedV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub session_id: String,
    pub device_id: String,
    pub content_id: String,
    pub platform: String,
    pub deep_link: String,
    pub web_fallback: String,
    pub resume_position_ms: Option<i64>,
    pub started_at_ms: i64,
}

/// `mediagw.playback.PlaybackControlled`, keyed by user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackControlledV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub session_id: String,
    pub command: String,
    pub position_ms: Option<i64>,
    pub at_ms: i64,
}

/// `mediagw.playback.PlaybackEnded`, keyed by user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackEndedV1 {
    pub event_id: String,
    pub user_id: String,
    pub sequence: i64,
    pub occurred_at_ms: i64,
    pub session_id: String,
    pub position_ms: Option<i64>,
    pub at_ms: i64,
}
