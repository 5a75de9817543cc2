//! Topic names (seed contract). Deployments may prepend a prefix (`kafka.topic_prefix`), e.g. to
//! isolate test runs on a shared broker; every topic has a `<topic>.dlq` twin. The list of topics in
//! use comes from the event declaration (`EventRecord::topics()`).

pub const CONTENT_INGESTED: &str = "content.ingested";
pub const CONTENT_UPDATED: &str = "content.updated";
pub const AVAILABILITY_CHANGED: &str = "availability.changed";

/// Searches answered (`SearchPerformed`): trending and personalisation signals.
pub const SEARCH_QUERIES: &str = "search.queries";

/// Devices' CRDT operations (`SyncOperationRecorded`), keyed by user.
pub const SYNC_OPERATIONS: &str = "sync.operations";

/// Users' feedback and service subscriptions (`FeedbackRecorded`, `ServicesSet`), keyed by user.
pub const USER_INTERACTION: &str = "user.interaction";

/// Users' device registry (`DeviceRegistered`, `DeviceRemoved`), keyed by user.
pub const PLAYBACK_DEVICES: &str = "playback.devices";

/// Playback sessions (`PlaybackStarted`, `PlaybackControlled`, `PlaybackEnded`), keyed by user.
pub const PLAYBACK_SESSIONS: &str = "playback.sessions";

/// The OAuth server's audit trail (`AuthAudit`).
pub const AUTH_AUDIT: &str = "auth.audit";

/// Topics that carry title events.
pub const CATALOG_TOPICS: &[&str] = &[CONTENT_INGESTED, CONTENT_UPDATED, AVAILABILITY_CHANGED];

pub fn dlq(topic: &str) -> String {
    format!("{topic}.dlq")
}
