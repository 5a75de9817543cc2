//! Appends and reads of raw `events` rows, for writers that work on many aggregates per
//! transaction (bulk import) or on one-event streams (audit), and for catch-up reads.

use mediagw_domain::event::{decode, Event};
use sqlx::{PgConnection, Row};
use tracing::Instrument;

use crate::StoreError;

/// One event to append at its position in its aggregate's stream.
#[derive(Debug, Clone)]
pub struct Appended<'a, E> {
    pub aggregate_id: String,
    pub sequence: i64,
    pub event: &'a E,
}

/// An event read back from the store, upcast to today's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<E> {
    pub aggregate_id: String,
    pub sequence: i64,
    pub event: E,
}

/// Appends `events` (one statement) inside the caller's transaction, in exactly the shape cqrs-es
/// writes (JSON payload, the event's own version, metadata: the current trace context), so the outbox trigger, the relay
/// and later aggregate loads see no difference. A taken (aggregate, sequence) fails the statement
/// with a unique violation (`23505`): the caller's transaction decides what to do.
pub async fn append<E: Event>(
    conn: &mut PgConnection,
    aggregate_type: &str,
    events: &[Appended<'_, E>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let n = events.len();
    let (mut ids, mut seqs, mut types, mut versions, mut payloads) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for a in events {
        ids.push(a.aggregate_id.as_str());
        seqs.push(a.sequence);
        types.push(a.event.event_type());
        versions.push(a.event.event_version());
        payloads.push(
            serde_json::to_string(a.event).map_err(|e| StoreError::Corrupt {
                aggregate_type: aggregate_type.to_string(),
                aggregate_id: a.aggregate_id.clone(),
                sequence: a.sequence,
                message: e.to_string(),
            })?,
        );
    }
    let span = if mediagw_trace::enabled() {
        tracing::info_span!(
            "event store append",
            otel.kind = "client",
            db.system = "postgresql",
            aggregate_type,
            events = n
        )
    } else {
        tracing::Span::none()
    };
    let metadata = trace_metadata(&span);
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT $1, a, s, t, v, p::json, $7::json
         FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) AS e(a, s, t, v, p)",
    )
    .bind(aggregate_type)
    .bind(&ids)
    .bind(&seqs)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(&metadata)
    .execute(conn)
    .instrument(span)
    .await?;
    Ok(())
}

/// A span's trace context as the JSON object cqrs-es stores as metadata (`{}` when untraced).
fn trace_metadata(span: &tracing::Span) -> String {
    let carrier: serde_json::Map<String, serde_json::Value> = mediagw_trace::of(span)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::Value::Object(carrier).to_string()
}

/// The events of `aggregate_ids` after sequence `after`, ordered by aggregate and sequence, each
/// upcast from its stored version.
pub async fn read<E: Event>(
    conn: &mut PgConnection,
    aggregate_type: &str,
    aggregate_ids: &[String],
    after: i64,
) -> Result<Vec<Recorded<E>>, StoreError> {
    let rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type, event_version, payload::text FROM events
         WHERE aggregate_type = $1 AND aggregate_id = ANY($2) AND sequence > $3
         ORDER BY aggregate_id, sequence",
    )
    .bind(aggregate_type)
    .bind(aggregate_ids)
    .bind(after)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let aggregate_id: String = r.get(0);
            let sequence: i64 = r.get(1);
            let corrupt = |message: String| StoreError::Corrupt {
                aggregate_type: aggregate_type.to_string(),
                aggregate_id: aggregate_id.clone(),
                sequence,
                message,
            };
            let payload: serde_json::Value =
                serde_json::from_str(r.get::<&str, _>(4)).map_err(|e| corrupt(e.to_string()))?;
            let event =
                decode::<E>(r.get(2), r.get(3), payload).map_err(|e| corrupt(e.to_string()))?;
            Ok(Recorded {
                aggregate_id,
                sequence,
                event,
            })
        })
        .collect()
}
