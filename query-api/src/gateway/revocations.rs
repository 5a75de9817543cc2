//! Each API instance's own copy of the revoked access tokens, loaded from PostgreSQL (where every
//! revocation is recorded in the revoking transaction) every [`REFRESH`], so a revocation holds
//! while Redis, the fast path that spreads it at once, is slow or down: rate limits may fail open,
//! revocation never does. Open sockets watch it and close when their token is revoked.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How stale an instance's copy may get while Redis is down.
pub const REFRESH: Duration = Duration::from_secs(1);

/// What a long-lived handler needs to notice its caller's token being revoked (a request
/// extension set by the gateway).
#[derive(Clone)]
pub struct Revocations {
    pub list: Arc<DenyList>,
    pub jti: Uuid,
}

impl Revocations {
    /// Resolves once the token is revoked (never while it is not).
    pub async fn revoked(&self) {
        let mut rx = self.list.subscribe();
        loop {
            if self.list.contains(self.jti) {
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

pub struct DenyList {
    set: RwLock<HashSet<Uuid>>,
    /// Bumped whenever a token is added: sockets re-check their own.
    added: watch::Sender<u64>,
}

impl Default for DenyList {
    fn default() -> Self {
        Self {
            set: RwLock::new(HashSet::new()),
            added: watch::channel(0).0,
        }
    }
}

impl DenyList {
    pub fn contains(&self, jti: Uuid) -> bool {
        self.set.read().map(|s| s.contains(&jti)).unwrap_or(true)
    }

    /// A revocation made through this instance, effective here at once.
    pub fn insert(&self, jti: Uuid) {
        if let Ok(mut s) = self.set.write() {
            if s.insert(jti) {
                self.added.send_modify(|v| *v += 1);
            }
        }
    }

    /// Notified whenever a token is added.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.added.subscribe()
    }

    fn replace(&self, fresh: HashSet<Uuid>) {
        let Ok(mut s) = self.set.write() else { return };
        let grew = fresh.iter().any(|j| !s.contains(j));
        *s = fresh;
        drop(s);
        if grew {
            self.added.send_modify(|v| *v += 1);
        }
    }

    /// Loads the list now (startup: an instance serves no token before it knows the list).
    pub async fn load(&self, pool: &PgPool) -> Result<usize, sqlx::Error> {
        let jtis = mediagw_auth::store::revoked_access_tokens(pool).await?;
        let n = jtis.len();
        self.replace(jtis.into_iter().collect());
        metrics::gauge!("gateway_revoked_tokens").set(n as f64);
        Ok(n)
    }

    /// Reloads every [`REFRESH`] until shutdown; a failed load keeps the last copy.
    pub async fn keep_fresh(self: Arc<Self>, pool: PgPool, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REFRESH) => {}
            }
            if let Err(e) = self.load(&pool).await {
                metrics::counter!("gateway_deny_list_refresh_errors_total").increment(1);
                tracing::warn!(error = %e, "could not reload the revoked tokens; keeping the last copy");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_notify_watchers_and_replacements_drop_expired_entries() {
        let list = DenyList::default();
        let mut rx = list.subscribe();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        list.insert(a);
        assert!(list.contains(a) && rx.has_changed().unwrap());
        rx.mark_unchanged();
        list.replace([a].into_iter().collect());
        assert!(!rx.has_changed().unwrap(), "nothing new, nobody woken");
        list.replace([b].into_iter().collect());
        assert!(list.contains(b) && !list.contains(a));
        assert!(rx.has_changed().unwrap());
    }
}
