//! The audit trail: every sign-in, grant, revocation and key rotation is appended to the event
//! store inside the transaction of the change it describes, so the relay publishes it
//! (`auth.audit`) exactly when the change is real. Its own file so that the tables (`store`) and
//! the signing keys (`keys`) can both write it without depending on each other.

use mediagw_domain::auth::AuditEvent;
use mediagw_eventstore::Appended;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::AuthError;

/// Appends an audit event on `conn` (inside the caller's transaction): its own stream, sequence 1.
pub async fn audit(conn: &mut PgConnection, event: &AuditEvent) -> Result<(), AuthError> {
    mediagw_eventstore::append(
        conn,
        AuditEvent::TYPE,
        &[Appended {
            aggregate_id: Uuid::now_v7().to_string(),
            sequence: 1,
            event,
        }],
    )
    .await?;
    Ok(())
}

/// One audit event in its own transaction.
pub async fn audit_now(pool: &PgPool, event: &AuditEvent) -> Result<(), AuthError> {
    let mut tx = pool.begin().await?;
    audit(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}
