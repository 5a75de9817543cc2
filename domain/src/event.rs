//! What the event store needs from the domain, with no store in sight: an event names its type and
//! the version of its stored shape, an aggregate decides events and folds them, and upcasters lift
//! old stored payloads to the current shape (ADR 0015).
//!
//! Stored events are JSON (`events.payload`), read back by the aggregates for as long as the store
//! lives; they change through versions and upcasters. The Avro records on Kafka are a separate
//! contract (`schemas`), which only evolves BACKWARD-compatibly.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// An event as persisted in the event store.
pub trait Event:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// Past-tense name, stored in `events.event_type`.
    fn event_type(&self) -> &'static str;

    /// Version of this event type's stored shape (`events.event_version`). Bumped, with an
    /// upcaster from the previous version, whenever an old payload would no longer read as this
    /// type or would read with a different meaning.
    fn event_version(&self) -> &'static str;

    /// Upcasters for older stored versions of this enum's event types.
    fn upcasters() -> &'static [Upcaster] {
        &[]
    }
}

/// A pure aggregate: it decides which events a command produces and folds events into state. The
/// cqrs-es binding, the store and the retry loop are generic over it (`mediagw_eventstore`).
pub trait Aggregate:
    Default + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// `events.aggregate_type`.
    const TYPE: &'static str;
    type Command: Debug + Send + Sync;
    type Event: Event;
    type Error: std::error::Error + Send + Sync + 'static;

    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn apply(&mut self, event: Self::Event);
}

/// Lifts one stored version of one event type to the next.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    pub event_type: &'static str,
    pub from_version: &'static str,
    pub to_version: &'static str,
    /// Rewrites the whole stored payload (as serialised, enum tag included).
    pub upcast: fn(Value) -> Value,
}

/// Applies the chain of upcasters that starts at `version` for `event_type`, returning the
/// version reached and the payload in that shape. Unknown versions pass through unchanged.
pub fn upcast(
    upcasters: &[Upcaster],
    event_type: &str,
    version: &str,
    mut payload: Value,
) -> (String, Value) {
    let mut version = version.to_string();
    // Bounded: a cycle in the table cannot loop forever.
    for _ in 0..=upcasters.len() {
        let Some(u) = upcasters
            .iter()
            .find(|u| u.event_type == event_type && u.from_version == version)
        else {
            break;
        };
        payload = (u.upcast)(payload);
        version = u.to_version.to_string();
    }
    (version, payload)
}

/// Reads a stored payload of any version as today's `E`.
pub fn decode<E: Event>(
    event_type: &str,
    version: &str,
    payload: Value,
) -> Result<E, serde_json::Error> {
    let (_, payload) = upcast(E::upcasters(), event_type, version, payload);
    serde_json::from_value(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_b(mut v: Value) -> Value {
        v["b"] = json!(0);
        v
    }
    fn rename_b(mut v: Value) -> Value {
        let b = v["b"].take();
        v.as_object_mut().unwrap().remove("b");
        v["c"] = b;
        v
    }
    const CHAIN: &[Upcaster] = &[
        Upcaster {
            event_type: "E",
            from_version: "2.0",
            to_version: "3.0",
            upcast: rename_b,
        },
        Upcaster {
            event_type: "E",
            from_version: "1.0",
            to_version: "2.0",
            upcast: add_b,
        },
    ];

    #[test]
    fn upcasters_chain_from_the_stored_version_to_the_newest() {
        let (v, p) = upcast(CHAIN, "E", "1.0", json!({"a": 1}));
        assert_eq!((v.as_str(), p), ("3.0", json!({"a": 1, "c": 0})));
        let (v, p) = upcast(CHAIN, "E", "2.0", json!({"a": 1, "b": 5}));
        assert_eq!((v.as_str(), p), ("3.0", json!({"a": 1, "c": 5})));
    }

    #[test]
    fn current_versions_and_other_types_pass_through() {
        assert_eq!(
            upcast(CHAIN, "E", "3.0", json!({"c": 1})),
            ("3.0".to_string(), json!({"c": 1}))
        );
        assert_eq!(
            upcast(CHAIN, "F", "1.0", json!({"a": 1})),
            ("1.0".to_string(), json!({"a": 1}))
        );
    }
}
