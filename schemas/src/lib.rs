//! The wire contract: Avro schemas (`avro/*.avsc`), the DTOs persisted on Kafka, their mapping to and
//! from domain events, the Confluent wire codec, and the embedded Confluent-compatible schema registry.
//!
//! DTOs are deliberately separate from `mediagw_domain` events: the domain may refactor freely while
//! the wire format only evolves BACKWARD-compatibly (checked by `mediagw schemas check`).

pub mod bus;
pub mod codec;
pub mod dto;
pub mod events;
pub mod mapping;
pub mod registry;
pub mod sealed;
pub mod set;
pub mod topics;

pub use codec::{CodecError, Decoded, EventCodec};

/// Makes ring the process's TLS provider: reqwest (registry and connector clients) is built
/// without one, to keep aws-lc out of the build, and panics if none is installed. Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use events::EventRecord;
pub use mapping::{DeviceFacts, MappingError};
pub use set::{Envelope, EventMeta, EventSet, ToRecord};

/// What [`declare_events!`] expands to refers to, so a declaring crate needs no extra dependencies.
#[doc(hidden)]
pub mod __private {
    pub use apache_avro;
    pub use mediagw_domain::event::decode;
    pub use serde;
    pub use serde_json;
}

/// One `.avsc` file shipped in the binary.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// Full Avro record name, e.g. `mediagw.catalog.TitleIngested`.
    pub full_name: &'static str,
    /// Topic (without deployment prefix) that carries records of this schema.
    pub topic: &'static str,
    /// Path of the `.avsc` relative to the declaring crate (`avro/TitleIngested.avsc`).
    pub file: &'static str,
    pub text: &'static str,
}

/// Every event schema, generated from the one declaration in [`events`].
pub const SCHEMAS: &[SchemaFile] = <EventRecord as EventSet>::SCHEMAS;

/// Subject under the TopicRecordNameStrategy: several event types share a topic.
pub fn subject(topic: &str, full_name: &str) -> String {
    format!("{topic}-{full_name}")
}
