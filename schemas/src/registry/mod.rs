//! Embedded Confluent-compatible schema registry (REST API subset that clients such as
//! `schema_registry_converter`, Kafka Connect and kcat use), stored in PostgreSQL.
//!
//! No Confluent-API registry can be installed from this project's package sources, so `mediagw`
//! serves one itself; pointing `registry.url` at an external registry switches clients to it.

mod compat;
mod http;
mod store;

pub use compat::{check, Compatibility};
pub use http::{router, WriteAccess};
pub use store::{RegistryError, RegistryStore};
