//! Cache port: query results keyed by a hash of the request. Invalidation is by generation: the
//! search indexer bumps a counter whenever titles change, and keys embed the counter, so stale
//! entries are simply never read again and expire by TTL.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::{Result, SearchError};

/// Counter the search indexer bumps whenever indexed titles change; result keys embed it.
pub const CACHE_GENERATION_KEY: &str = "search:gen";

#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()>;
    /// Current value of a counter (0 when absent).
    async fn counter(&self, key: &str) -> Result<i64>;
    /// Increments a counter, returning the new value.
    async fn bump(&self, key: &str) -> Result<i64>;
}

/// Redis (or Valkey) through a reconnecting connection manager.
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisCache {
    /// `prefix` namespaces every key (test runs and deployments sharing one Redis).
    pub async fn connect(client: redis::Client, prefix: &str) -> Result<Self> {
        // Bounded: an unreachable or untrusted Redis fails the start within seconds, not never.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(2))
            .set_number_of_retries(2)
            // redis-rs retries through backon: the first wait is 1 s, then ×factor (default 100,
            // capped at 60 s), so a wrong password failed the start after about a minute.
            .set_factor(2)
            .set_max_delay(1000);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| SearchError::Cache(e.to_string()))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }
}

fn err(e: redis::RedisError) -> SearchError {
    SearchError::Cache(e.to_string())
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get(self.key(key)).await.map_err(err)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        let mut c = self.conn.clone();
        c.set_ex::<_, _, ()>(self.key(key), value, ttl.as_secs().max(1))
            .await
            .map_err(err)
    }

    async fn counter(&self, key: &str) -> Result<i64> {
        let mut c = self.conn.clone();
        let v: Option<i64> = c.get(self.key(key)).await.map_err(err)?;
        Ok(v.unwrap_or(0))
    }

    async fn bump(&self, key: &str) -> Result<i64> {
        let mut c = self.conn.clone();
        c.incr(self.key(key), 1).await.map_err(err)
    }
}
