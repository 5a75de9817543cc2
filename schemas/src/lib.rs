//! The wire contract: Avro schemas (`avro/*.avsc`), the DTOs persisted on Kafka, their mapping to and
//! from domain events, the Confluent wire codec, and the embedded Confluent-compatible schema registry.
//!
//! DTOs are deliberately separate from `mediagw_domain` events: the domain may refactor freely while
//! the wire format only evolves BACKWARD-compatibly (checked by `mediagw schemas check`).

pub mod bus;
pub mod codec;
pub mod ddl;
pub mod dto;
pub mod registry;
pub mod topics;

pub use codec::{CodecError, EventCodec};

/// Makes ring the process's TLS provider: reqwest (registry and connector clients) is built
/// without one, to keep aws-lc out of the build, and panics if none is installed. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use dto::{EventMeta, EventRecord};

/// One `.avsc` file shipped in the binary.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// Full Avro record name, e.g. `mediagw.catalog.TitleIngested`.
    pub full_name: &'static str,
    /// Topic (without deployment prefix) that carries records of this schema.
    pub topic: &'static str,
    pub text: &'static str,
}

/// Every event schema, in one place so registration, checks and the codec never disagree.
pub const SCHEMAS: &[SchemaFile] = &[
    SchemaFile {
        full_name: "mediagw.catalog.TitleIngested",
        topic: topics::CONTENT_INGESTED,
        text: include_str!("../avro/TitleIngested.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.catalog.TitleUpdated",
        topic: topics::CONTENT_UPDATED,
        text: include_str!("../avro/TitleUpdated.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.catalog.AvailabilityArrived",
        topic: topics::AVAILABILITY_CHANGED,
        text: include_str!("../avro/AvailabilityArrived.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.catalog.AvailabilityUpdated",
        topic: topics::AVAILABILITY_CHANGED,
        text: include_str!("../avro/AvailabilityUpdated.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.catalog.AvailabilityLeft",
        topic: topics::AVAILABILITY_CHANGED,
        text: include_str!("../avro/AvailabilityLeft.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.catalog.TitlesMerged",
        topic: topics::CONTENT_UPDATED,
        text: include_str!("../avro/TitlesMerged.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.search.SearchPerformed",
        topic: topics::SEARCH_QUERIES,
        text: include_str!("../avro/SearchPerformed.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.search.SearchesPerformed",
        topic: topics::SEARCH_QUERIES,
        text: include_str!("../avro/SearchesPerformed.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.sync.SyncOperationRecorded",
        topic: topics::SYNC_OPERATIONS,
        text: include_str!("../avro/SyncOperationRecorded.avsc"),
    },
    SchemaFile {
        full_name: "mediagw.auth.AuthAudit",
        topic: topics::AUTH_AUDIT,
        text: include_str!("../avro/AuthAudit.avsc"),
    },
];

/// Subject under the TopicRecordNameStrategy: several event types share a topic.
pub fn subject(topic: &str, full_name: &str) -> String {
    format!("{topic}-{full_name}")
}
