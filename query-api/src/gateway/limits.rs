//! Per-user and per-IP rate limits and the revoked-token list, shared by every instance through
//! Redis. One round trip per request: a Lua script checks the token's `jti` against the deny list
//! and then takes one request from the caller's bucket (GCRA: `requests_per_minute` sustained,
//! `burst` at once), with Redis's clock so instances never disagree.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::Deserialize;
use uuid::Uuid;

/// One tier of the seed's rate limits (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RatePolicy {
    pub requests_per_minute: u32,
    pub burst: u32,
}

impl RatePolicy {
    /// Microseconds between requests at the sustained rate.
    fn interval_us(self) -> u64 {
        60_000_000 / u64::from(self.requests_per_minute.max(1))
    }

    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): quota per 60 s window, burst.
    pub fn header(self) -> String {
        format!("{};w=60;burst={}", self.requests_per_minute, self.burst)
    }
}

/// The seed's tiers plus two for the auth server's own endpoints (per IP).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RateTiers {
    pub anonymous: RatePolicy,
    pub free: RatePolicy,
    pub premium: RatePolicy,
    /// Password and user-code attempts (brute force).
    pub sign_in: RatePolicy,
    /// Token, device and revocation endpoints.
    pub oauth: RatePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The token's `jti` is on the deny list.
    Revoked,
    Allowed {
        remaining: u64,
        reset_s: u64,
    },
    Limited {
        retry_after_s: u64,
        reset_s: u64,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("rate-limit store: {0}")]
pub struct GateError(String);

/// The gateway's shared state port: rate buckets and the revoked-token list.
#[async_trait]
pub trait GateStore: Send + Sync {
    /// Checks `jti` (when given) against the deny list, then spends one request of `key`.
    async fn admit(
        &self,
        key: &str,
        policy: RatePolicy,
        jti: Option<Uuid>,
    ) -> Result<Admission, GateError>;
    /// Denies `jti` until it would have expired anyway.
    async fn revoke(&self, jti: Uuid, until: DateTime<Utc>) -> Result<(), GateError>;
}

const ADMIT: &str = r#"
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  return {-1, 0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, math.ceil((allow_at - now) / 1000000), math.ceil((tat - now) / 1000000)}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), math.ceil((new_tat - now) / 1000000)}
"#;

/// Longest a request waits for Redis (reconnects included) before the gateway's fallback.
const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

pub struct RedisGate {
    conn: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl RedisGate {
    pub async fn connect(client: redis::Client, prefix: &str) -> Result<Self, GateError> {
        // Bounded waits: a hung Redis must turn into an error (and the gateway's fallback), not a
        // hung request.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(TIMEOUT)
            .set_connection_timeout(TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(200);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| GateError(e.to_string()))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            script: redis::Script::new(ADMIT),
        })
    }

    fn deny_key(&self, jti: Uuid) -> String {
        format!("{}jwt_blacklist:{jti}", self.prefix)
    }
}

#[async_trait]
impl GateStore for RedisGate {
    async fn admit(
        &self,
        key: &str,
        policy: RatePolicy,
        jti: Option<Uuid>,
    ) -> Result<Admission, GateError> {
        let bucket = format!("{}ratelimit:{key}", self.prefix);
        let deny = jti
            .map(|j| self.deny_key(j))
            .unwrap_or_else(|| bucket.clone());
        let mut conn = self.conn.clone();
        let mut invocation = self.script.prepare_invoke();
        let call = invocation
            .key(&bucket)
            .key(&deny)
            .arg(policy.interval_us())
            .arg(policy.burst.max(1))
            .arg(if jti.is_some() { "1" } else { "0" })
            .invoke_async(&mut conn);
        let (verdict, a, b): (i64, u64, u64) = tokio::time::timeout(TIMEOUT, call)
            .await
            .map_err(|_| GateError("timed out".into()))?
            .map_err(|e| GateError(e.to_string()))?;
        Ok(match verdict {
            -1 => Admission::Revoked,
            1 => Admission::Allowed {
                remaining: a,
                reset_s: b,
            },
            _ => Admission::Limited {
                retry_after_s: a.max(1),
                reset_s: b,
            },
        })
    }

    async fn revoke(&self, jti: Uuid, until: DateTime<Utc>) -> Result<(), GateError> {
        let ttl = (until - Utc::now()).num_seconds() + 60;
        if ttl <= 0 {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.deny_key(jti)).arg(1).arg("EX").arg(ttl);
        tokio::time::timeout(TIMEOUT * 4, cmd.query_async::<()>(&mut conn))
            .await
            .map_err(|_| GateError("timed out".into()))?
            .map_err(|e| GateError(e.to_string()))
    }
}
